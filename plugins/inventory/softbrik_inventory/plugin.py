"""The Inventory Brik: a stock ledger that is always right, even under concurrent use.

Built only on `softbrik.plugin`, as a third party's Brik would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from softbrik.plugin import (
    BrikContext,
    BrikManifest,
    BrikSchema,
    Insight,
    Platform,
    hookimpl,
    platform_command,
)
from softbrik_inventory import csvio, imports, service

log = logging.getLogger("softbrik.inventory")
VERIFY_INTERVAL = "SOFTBRIK_INVENTORY_VERIFY_INTERVAL_SECONDS"
_tasks: dict[int, asyncio.Task[None]] = {}


@hookimpl
def softbrik_brik() -> BrikManifest:
    return BrikManifest(
        key="inventory",
        name="Inventory",
        description="Know what you have, where, and when to reorder.",
        price_cents=800,
        models="softbrik_inventory.models",
        events=(service.STOCK_LOW, service.LEDGER_MISMATCH),
    )


@hookimpl
def softbrik_schema() -> BrikSchema:
    from softbrik_inventory.schema import (
        InventoryMutation,
        InventoryQuery,
        InventorySubscription,
    )

    return BrikSchema(
        query=InventoryQuery,
        mutations=[InventoryMutation],
        subscriptions=[InventorySubscription],
    )


@hookimpl
def softbrik_context(context: BrikContext) -> dict[str, Any] | None:
    """Per request: the team's virtual locations, looked up once however many moves it posts."""
    if context.brik != "inventory":
        return None
    return {service.CACHE: service.TeamCache(context.platform, context.team_id)}


async def run_verify(platform: Platform, team_id: int | None = None) -> list[service.Difference]:
    """Recompute balances from the ledger, log and record any difference (the scheduled check)."""
    found = await service.verify(team_id)
    for d in found:
        log.error(
            "inventory balance differs from the ledger",
            extra={
                "team_id": d.team_id,
                "product_id": d.product_id,
                "location_id": d.location_id,
                "lot": d.lot,
                "what": d.what,
                "ledger": d.ledger,
                "balance": d.balance,
            },
        )
    await service.report_differences(platform, found)
    return found


async def _verify_loop(platform: Platform, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_verify(platform)
        except Exception:
            log.exception("inventory verify failed")


@hookimpl
def softbrik_startup(app: Any, platform: Platform) -> None:
    interval = float(os.environ.get(VERIFY_INTERVAL, "3600") or 0)
    if interval > 0 and platform is not None:
        _tasks[id(app)] = asyncio.get_running_loop().create_task(_verify_loop(platform, interval))


@hookimpl
async def softbrik_shutdown(app: Any) -> None:
    await imports.stop()
    task = _tasks.pop(id(app), None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@hookimpl
def softbrik_cli(group: click.Group) -> None:
    @group.command()
    @click.option("--team", "team_id", type=int, default=None, help="Only this team.")
    @platform_command
    async def verify(platform: Platform, team_id: int | None) -> None:
        """Recompute every balance from the ledger and report any difference."""
        found = await run_verify(platform, team_id)
        for d in found:
            click.echo(
                f"team {d.team_id} product {d.product_id} location {d.location_id} "
                f"lot {d.lot!r}: {d.what} is {d.balance}, the ledger says {d.ledger}"
            )
        click.echo(f"{len(found)} differences")
        if found:
            raise SystemExit(1)

    kinds = click.Choice([kind.value for kind in csvio.Kind])

    @group.command("import")
    @click.argument("kind", type=kinds)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--team", "team_id", type=int, required=True, help="The team to import into.")
    @click.option("--dry-run", is_flag=True, help="Check every row; write nothing.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @platform_command
    async def import_(
        platform: Platform, kind: str, path: Path, team_id: int, dry_run: bool, quiet: bool
    ) -> None:
        """Import a CSV file of one kind: every row checked, then all written or none."""
        with progress_bar(quiet) as heard:
            try:
                report = await csvio.import_csv(
                    platform, team_id, kind, imports.opener(path), dry_run=dry_run, progress=heard
                )
            except csvio.ImportFailed as failed:
                report = failed.report
        for error in report.errors:
            click.echo(f"line {error.row}, {error.column or '-'}: {error.message}")
        if report.error_count:
            outcome = "nothing written"
        else:
            would = "would be " if dry_run else ""
            outcome = f"{report.created} {would}created, {report.updated} {would}updated"
        click.echo(f"{report.rows} rows, {report.error_count} errors: {outcome}")
        log.info(
            "inventory import",
            extra={"team_id": team_id, "kind": kind, "dry_run": dry_run, "rows": report.rows},
        )
        if report.error_count:
            raise SystemExit(1)

    @group.command("export")
    @click.argument("kind", type=kinds)
    @click.option("--team", "team_id", type=int, required=True, help="The team to export.")
    @click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
    @click.option("--delimiter", type=click.Choice([",", ";"]), default=",")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    @platform_command
    async def export(
        platform: Platform, kind: str, team_id: int, output: Path, delimiter: str, quiet: bool
    ) -> None:
        """Write a team's CSV of one kind, as `softbrik inventory import` reads it again."""
        total = await csvio.count_rows(team_id, csvio.Kind(kind))
        written = -1  # the header is no row
        with progress_bar(quiet) as heard, open_text(output) as out:
            async for line in csvio.export(team_id, csvio.Kind(kind), delimiter):
                out.write(line)
                written += 1
                if written and written % csvio.BATCH == 0:
                    heard("exporting", written, total)
            heard("exporting", written, total)
        click.echo(f"{written} rows written to {output}")
        log.info("inventory export", extra={"team_id": team_id, "kind": kind, "rows": written})


def open_text(path: Path) -> Any:
    return path.open("w", encoding="utf-8", newline="")


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[csvio.Progress]:
    """A progress bar for a long command, and a structured log line for each step of it."""
    from rich.console import Console
    from rich.progress import Progress

    def logged(phase: str, done: int, total: int | None) -> None:
        log.info("inventory progress", extra={"phase": phase, "rows": done, "total": total})

    if quiet:
        yield logged
        return
    with Progress(console=Console(stderr=True)) as bar:
        tasks: dict[str, Any] = {}

        def heard(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)
            logged(phase, done, total)

        yield heard


@hookimpl
async def softbrik_insights(team_id: int, since: datetime, platform: Platform) -> Sequence[Insight]:
    """Low stock, with how much to reorder (R-PROD-4)."""
    return [
        Insight(
            brik="inventory",
            type=service.STOCK_LOW,
            severity="warning",
            message=(
                f"{s.product.sku} ({s.product.name}) has {s.totals.available} available, "
                f"at or below its reorder point {s.product.reorder_point}."
            ),
            remediation=f"Reorder {s.quantity} {s.product.unit} of {s.product.sku}.",
            evidence={
                "product_id": s.product.id,
                "available": s.totals.available,
                "reorder_point": s.product.reorder_point,
                "suggested_quantity": s.quantity,
                "lead_time_days": s.product.lead_time_days,
            },
        )
        for s in await service.reorder_suggestions(team_id)
    ]


@hookimpl
async def softbrik_export_team(team_id: int, platform: Platform) -> dict[str, bytes]:
    """Products, locations, stock and the ledger as the CSV files the import reads."""
    return {
        f"inventory/{kind.value}.csv": (await csvio.export_text(team_id, kind)).encode()
        for kind in csvio.Kind
    }


@hookimpl
async def softbrik_delete_team(team_id: int, platform: Platform) -> None:
    await service.delete_team(team_id)
