"""The File storage Brik (key `filestorage`): a team's encrypted, quota-safe, recoverable drive.

Built only on `softbrik.plugin`, as a third party's Brik would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from softbrik.plugin import BrikManifest, BrikSchema, Platform, hookimpl, platform_command
from softbrik_filestorage import service
from softbrik_filestorage.config import CONFIG

log = logging.getLogger("softbrik.filestorage")
_tasks: dict[int, asyncio.Task[None]] = {}


@hookimpl
def softbrik_brik() -> BrikManifest:
    return BrikManifest(
        key="filestorage",
        name="File storage",
        description="The team's shared drive: encrypted files and folders, versions, trash "
        "and share links.",
        price_cents=600,
        models="softbrik_filestorage.models",
        events=service.EVENTS,
    )


@hookimpl
def softbrik_schema() -> BrikSchema:
    from softbrik_filestorage.schema import NODES, FilestorageMutation, FilestorageQuery

    return BrikSchema(query=FilestorageQuery, mutations=[FilestorageMutation], nodes=NODES)


@hookimpl
def softbrik_routes() -> list[Any]:
    from softbrik_filestorage.routes import ROUTES

    return ROUTES


async def _cleanup_loop(platform: Platform) -> None:
    while True:
        await asyncio.sleep(CONFIG.cleanup_minutes * 60)
        try:
            done = await service.run_cleanup(platform)
            log.info("filestorage cleanup", extra=done)
        except Exception:
            log.exception("filestorage cleanup failed")


@hookimpl
def softbrik_startup(app: Any, platform: Platform) -> None:
    if CONFIG.cleanup_minutes > 0:
        _tasks[id(app)] = asyncio.get_running_loop().create_task(_cleanup_loop(platform))


@hookimpl
async def softbrik_shutdown(app: Any) -> None:
    task = _tasks.pop(id(app), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@hookimpl
async def softbrik_export_team(team_id: int, platform: Platform) -> dict[str, AsyncIterator[bytes]]:
    return await service.export_team(team_id, platform)


@hookimpl
async def softbrik_delete_team(team_id: int, platform: Platform) -> None:
    await service.delete_team(team_id, platform)


@hookimpl
def softbrik_cli(group: click.Group) -> None:
    @group.command()
    @click.option("--fix", is_flag=True, help="Set the recorded usage to the recomputed one.")
    @click.option("--team", "teams", type=int, multiple=True, help="Only this team (repeatable).")
    @click.option("--no-blobs", is_flag=True, help="Skip comparing rows with stored blobs.")
    @platform_command
    async def verify(platform: Platform, fix: bool, teams: tuple[int, ...], no_blobs: bool) -> None:
        """Recompute each team's usage from its stored files and report drift."""
        found = await service.verify(platform, fix, teams or None, blobs=not no_blobs)
        drifted = [d for d in found if not d.ok or d.stray_blobs]
        for d in found:
            state = "ok" if d.ok and not d.stray_blobs else "DRIFT"
            click.echo(
                f"team {d.team_id}: {state} used {d.recorded_used} (actual {d.actual_used}), "
                f"charged {d.recorded_charged} (actual {d.actual_charged}), "
                f"missing blobs {len(d.missing_blobs)}, stray blobs {len(d.stray_blobs)}"
            )
        click.echo(
            f"{len(found)} teams checked, {len(drifted)} with drift"
            + (", fixed" if fix and drifted else "")
        )
        if drifted and not fix:
            raise SystemExit(1)

    @group.command()
    @click.option("--team", "team_id", type=int, required=True, help="The team to export.")
    @click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
    @platform_command
    async def export(platform: Platform, team_id: int, output: Path) -> None:
        """Write a team's drive as a ZIP (the live tree, current versions), streamed."""
        written = 0
        with Progress(console=Console(stderr=True)) as bar, output.open("wb") as out:
            task = bar.add_task("exporting", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            async for piece in service.export_zip(team_id, platform, progress):
                out.write(piece)
                written += len(piece)
        click.echo(f"{written} bytes written to {output}")

    @group.command()
    @platform_command
    async def cleanup(platform: Platform) -> None:
        """Abort idle uploads and purge trash older than the retention (as the server does)."""
        done = await service.run_cleanup(platform)
        click.echo(
            f"{done['uploads_aborted']} idle uploads aborted, "
            f"{done['items_purged']} items purged from the trash"
        )
