"""The Inventory Brik: a stock ledger that is always right, even under concurrent use.

Built only on `softbrik.plugin`, as a third party's Brik would be.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence
from datetime import datetime
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
from softbrik_inventory import service

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
    from softbrik_inventory import csvio

    return {
        f"inventory/{kind.value}.csv": (await csvio.export_text(team_id, kind)).encode()
        for kind in csvio.Kind
    }


@hookimpl
async def softbrik_delete_team(team_id: int, platform: Platform) -> None:
    await service.delete_team(team_id)
