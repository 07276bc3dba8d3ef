"""CSV imports of uploaded files, as jobs: the upload is streamed to a temporary file, then
checked and written in the background while `inventory { importJob(id) }` tells how far it is.

The job row records each change of status (queued, running, done or failed) and the report.
How many rows are done between those changes is kept in this process only: the writing pass is
one transaction (all rows or none), so nothing it does is visible to others until it ends.

While it runs, the process beats on the row (`heartbeat_at`, every HEARTBEAT_SECONDS, from its
own connection). A job still queued or running that no process here runs and whose last beat is
older than STALE_AFTER (platform time) belongs to a process that died (killed, out of memory,
the machine lost): the next read marks it failed, with nothing written (its transaction died
with it), instead of leaving it running for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from softbrik.plugin import BadUserInput, NotFound, Platform
from softbrik_inventory import csvio
from softbrik_inventory.models import ImportJob, ImportStatus

log = logging.getLogger("softbrik.inventory")
MAX_BYTES = "SOFTBRIK_INVENTORY_IMPORT_MAX_BYTES"
DEFAULT_MAX_BYTES = 200 * 2**20
TASK_PREFIX = "softbrik:inventory-import-"
"""The server's own background work is named `softbrik:…` (query counts leave it out)."""


@dataclass
class Progress:
    """How far a running import is: its pass, and the rows done in it."""

    phase: str = ""
    rows_done: int = 0
    rows_total: int | None = None


_running: dict[int, Progress] = {}
_tasks: dict[int, asyncio.Task[None]] = {}
HEARTBEAT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)
DIED = "The server running this import stopped; nothing was written. Please import the file again."


def max_bytes() -> int:
    return int(os.environ.get(MAX_BYTES, "") or DEFAULT_MAX_BYTES)


def opener(path: Path) -> Callable[[], Iterator[str]]:
    """Opens the file afresh for each pass of the import, a line at a time."""

    def lines() -> Iterator[str]:
        with path.open(encoding="utf-8", newline="") as file:
            yield from file

    return lines


def _discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def kind_of(value: str) -> csvio.Kind:
    try:
        return csvio.Kind(value)
    except ValueError as exc:
        kinds = ", ".join(kind.value for kind in csvio.Kind)
        raise BadUserInput(f"kind must be one of {kinds}.", field="kind") from exc


async def start_import(
    platform: Platform,
    team_id: int,
    kind: str,
    chunks: AsyncIterator[bytes],
    *,
    filename: str = "",
    dry_run: bool = True,
    actor_id: int | None = None,
) -> ImportJob:
    """Keep the uploaded file (streamed to disk, never whole in memory) and start its import."""
    kind_of(kind)
    limit = max_bytes()
    handle, name = tempfile.mkstemp(prefix="softbrik-inventory-import-", suffix=".csv")
    path = Path(name)
    size = 0
    try:
        with os.fdopen(handle, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise BadUserInput(f"The file is larger than {limit} bytes.", field="file")
                out.write(chunk)
        if size == 0:
            raise BadUserInput("The file is empty.", field="file")
        job = await ImportJob.create(
            team_id=team_id,
            kind=kind,
            dry_run=dry_run,
            filename=filename[:200],
            size_bytes=size,
            actor_id=actor_id,
            created_at=platform.now(),
            heartbeat_at=platform.now(),
        )
    except BaseException:
        _discard(path)
        raise
    _running[job.id] = Progress()
    task = asyncio.get_running_loop().create_task(
        run(platform, job.id, path), name=f"{TASK_PREFIX}{job.id}"
    )
    _tasks[job.id] = task
    task.add_done_callback(lambda _: _tasks.pop(job.id, None))
    return job


async def run(platform: Platform, job_id: int, path: Path) -> None:
    """Check every row, then (unless a dry run) write them all in one transaction."""
    progress = _running.setdefault(job_id, Progress())
    beating = asyncio.get_running_loop().create_task(
        _beat(platform, job_id), name=f"{TASK_PREFIX}{job_id}-heartbeat"
    )
    try:
        job = await ImportJob.get(id=job_id)
        job.status = ImportStatus.RUNNING
        job.heartbeat_at = platform.now()
        await job.save(update_fields=["status", "heartbeat_at"])

        def heard(phase: str, done: int, total: int | None) -> None:
            progress.phase, progress.rows_done, progress.rows_total = phase, done, total

        try:
            report = await csvio.import_csv(
                platform,
                job.team_id,
                job.kind,
                opener(path),
                dry_run=job.dry_run,
                actor_id=job.actor_id,
                progress=heard,
            )
            # A dry run is done when every row was checked: its errors are its answer.
            await finish(platform, job, ImportStatus.DONE, report)
        except csvio.ImportFailed as failed:
            await finish(platform, job, ImportStatus.FAILED, failed.report, failed.message)
        except UnicodeDecodeError:
            await finish(platform, job, ImportStatus.FAILED, None, "The file is not UTF-8 text.")
        except asyncio.CancelledError:
            message = "The server stopped during the import; nothing was written."
            await finish(platform, job, ImportStatus.FAILED, None, message)
            raise
        except Exception:
            log.exception("inventory import failed", extra={"job_id": job_id})
            message = "The import failed; nothing was written."
            await finish(platform, job, ImportStatus.FAILED, None, message)
    finally:
        beating.cancel()
        _running.pop(job_id, None)
        _discard(path)


async def _beat(platform: Platform, job_id: int) -> None:
    """Say every HEARTBEAT_SECONDS that this process still runs the job (see the module)."""
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await ImportJob.filter(
                id=job_id, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]
            ).update(heartbeat_at=platform.now())
        except Exception:  # a missed beat is not the import's failure; the next one may do
            log.warning("inventory import heartbeat failed", extra={"job_id": job_id})


async def finish(
    platform: Platform,
    job: ImportJob,
    status: ImportStatus,
    report: csvio.Report | None,
    message: str = "",
) -> None:
    job.status = status
    job.phase = ""
    job.message = message
    job.finished_at = platform.now()
    if report is not None:
        job.rows_done = job.rows_total = report.rows
        job.created, job.updated = report.created, report.updated  # would be, in a dry run
        job.error_count = report.error_count
        job.errors = [
            {"row": e.row, "column": e.column, "message": e.message} for e in report.errors
        ]
    await job.save()
    log.info(
        "inventory import finished",
        extra={
            "job_id": job.id,
            "team_id": job.team_id,
            "kind": job.kind,
            "dry_run": job.dry_run,
            "status": status.value,
            "rows": job.rows_total,
            "error_count": job.error_count,
        },
    )


async def get_job(
    platform: Platform, team_id: int, job_id: int, field: str = "id"
) -> tuple[ImportJob, Progress | None]:
    """The team's import job, and how far it is when it runs in this process.

    The progress is taken before the row is read: a job that ends in between has saved its row
    before it drops its progress, so the row read after is the finished one (never a running row
    without its progress). The progress goes only with a row that still runs. A running job
    whose process died is marked failed here (see the module).
    """
    live = _running.get(job_id)
    job = await ImportJob.get_or_none(team_id=team_id, id=job_id)
    if job is None:
        raise NotFound("No import has this id.", field=field)
    running = job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    if running and live is None and _stale(platform, job):
        await _died(platform, job)
        running = False
    return job, live if running else None


def _stale(platform: Platform, job: ImportJob) -> bool:
    last = job.heartbeat_at or job.created_at
    return platform.now() - last > STALE_AFTER


async def _died(platform: Platform, job: ImportJob) -> None:
    """Mark failed a job whose process died, unless it beat or ended meanwhile."""
    now = platform.now()
    marked = await ImportJob.filter(
        id=job.id,
        status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING],
        heartbeat_at=job.heartbeat_at,
    ).update(status=ImportStatus.FAILED, phase="", message=DIED, finished_at=now)
    await job.refresh_from_db()
    if marked:
        log.warning(
            "inventory import found dead",
            extra={"job_id": job.id, "team_id": job.team_id, "heartbeat_at": job.heartbeat_at},
        )


async def settle() -> None:
    """Wait for every import running in this process (tests, and the server's shutdown)."""
    while _tasks:
        await asyncio.gather(*list(_tasks.values()), return_exceptions=True)


async def stop() -> None:
    """Cancel the imports running in this process: each rolls back and is marked failed."""
    for task in list(_tasks.values()):
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await settle()
