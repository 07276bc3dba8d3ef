"""The Inventory Brik: a stock ledger that is always right, even under concurrent use.

Built only on `softbrik.plugin`, as a third party's Brik would be.
"""

from __future__ import annotations

from softbrik.plugin import BrikManifest, Platform, hookimpl
from softbrik_inventory import service


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
async def softbrik_delete_team(team_id: int, platform: Platform) -> None:
    await service.delete_team(team_id)
