"""The team's inventory at the end of its life: closed through the core's closure path (R-CLOSE-3,
-4) and exported through the core's `softbrik teams export` (portability)."""

from __future__ import annotations

import inspect
import zipfile
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from softbrik_inventory import csvio, imports, models, service

from conftest import make_team, softbrik
from softbrik.plugin import TeamScoped

CLOSE = "mutation($n: String!) { requestAccountClosure(teamName: $n) { effectiveOn } }"
ADVANCE = "mutation($to: DateTime!) { advanceTestClock(to: $to) }"
TEAM = "{ team { name } }"
PRODUCT = '{ inventory { product(sku: "A-1") { onHand reserved available } } }'


def team_tables() -> list[type[TeamScoped]]:
    """Every table of the Brik that holds team rows: a new one is checked without listing it."""
    found = [
        value
        for value in vars(models).values()
        if inspect.isclass(value) and issubclass(value, TeamScoped) and value is not TeamScoped
    ]
    assert len(found) >= 9
    return found


async def fill(platform: Any, team_id: int) -> None:
    """A row in every inventory table of the team."""
    product = await service.create_product(
        platform, team_id, sku="A-1", name="Widget", reorder_point=5
    )
    main = await service.create_location(platform, team_id, "Main")
    shelf = await service.create_location(platform, team_id, "Shelf", main.id)
    first = await service.receive_stock(platform, team_id, product.id, main.id, 10)
    await service.reverse_movement(platform, team_id, first.id)
    await service.receive_stock(platform, team_id, product.id, shelf.id, 8)
    await service.reserve_stock(platform, team_id, product.id, shelf.id, 4)  # low: 4 <= 5
    count = await service.start_count(platform, team_id, shelf.id)
    await service.submit_count(platform, team_id, count.id, [service.Counted(product.id, 7)])
    await service.set_allow_negative(team_id, False)

    async def upload() -> AsyncIterator[bytes]:
        yield b"path\nBack\n"

    await imports.start_import(platform, team_id, "locations", upload(), dry_run=False)
    await imports.settle()


async def rows_of(team_id: int) -> dict[str, int]:
    return {model.__name__: await model.filter(team_id=team_id).count() for model in team_tables()}


async def test_closing_an_account_deletes_its_inventory_and_leaves_other_teams(
    gql: Any, team_factory: Any, platform: Any
) -> None:
    """R-CLOSE-3, R-CLOSE-4: at the closure's date the billing job calls `softbrik_delete_team`;
    afterwards no inventory row of the team remains, and another team's are as they were."""
    closing = await make_team(gql, team_factory)
    other = await make_team(gql, team_factory)
    await fill(platform, closing.team_id)
    await fill(platform, other.team_id)
    filled = await rows_of(closing.team_id)
    assert all(filled.values()), filled  # every table has a row to delete
    kept = await rows_of(other.team_id)
    ledger_before = await service.list_movements(other.team_id)

    name = (await gql.ok(TEAM, token=closing.token))["team"]["name"]
    effective = (await gql.ok(CLOSE, {"n": name}, token=closing.token))["requestAccountClosure"]
    await advance_past(gql, effective["effectiveOn"])

    assert await rows_of(closing.team_id) == {table: 0 for table in filled}
    assert await rows_of(other.team_id) == kept
    ledger_after = await service.list_movements(other.team_id)
    assert [m.id for m in ledger_after.items] == [m.id for m in ledger_before.items]
    assert await service.verify(other.team_id) == []
    still = await gql.ok(PRODUCT, token=other.token)
    assert still["inventory"]["product"] == {"onHand": 7, "reserved": 4, "available": 3}


async def advance_past(gql: Any, day: str) -> None:
    """Move the test clock to noon UTC of `day`: the billing job runs the closure on the way."""
    noon = datetime.fromisoformat(f"{day}T12:00:00+00:00")
    await gql.ok(ADVANCE, {"to": noon.isoformat()})


async def test_the_core_team_export_holds_the_inventory_files(
    gql: Any, team_factory: Any, platform: Any, softbrik_app: Any, softbrik_db: Any, tmp_path: Any
) -> None:
    """`softbrik teams export` gathers every Brik's `softbrik_export_team` files into a ZIP: the
    Inventory Brik's are its four CSV files, with this team's data and no other's."""
    team = await make_team(gql, team_factory)
    other = await make_team(gql, team_factory)
    await fill(platform, team.team_id)
    await service.create_product(platform, other.team_id, sku="B-2", name="Gadget")
    archive = tmp_path / "team.zip"
    done = softbrik(
        "teams",
        "export",
        str(team.team_id),
        "-o",
        str(archive),
        app=softbrik_app,
        database=softbrik_db,
    )
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(archive) as opened:
        files = {name: opened.read(name) for name in opened.namelist()}
    inventory = sorted(name for name in files if name.startswith("inventory/"))
    assert inventory == [f"inventory/{kind.value}.csv" for kind in sorted(csvio.Kind)]
    for kind in csvio.Kind:
        expected = await csvio.export_text(team.team_id, kind)
        assert files[f"inventory/{kind.value}.csv"].decode() == expected
    assert files["inventory/locations.csv"] == b"path\nBack\nMain\nMain/Shelf\n"
    assert b"B-2" not in files["inventory/products.csv"]
