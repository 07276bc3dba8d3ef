"""CSV import and export: exports import again unchanged; imports are checked, then all or none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from softbrik_inventory import csvio, service
from softbrik_inventory.models import Movement, Product

from conftest import make_team
from softbrik.plugin import BadUserInput

KINDS = [csvio.Kind.PRODUCTS, csvio.Kind.LOCATIONS, csvio.Kind.LEDGER, csvio.Kind.STOCK]


async def build(platform, t, clock):
    widget = await service.create_product(
        platform,
        t,
        sku="W-1",
        name='Widget, "large"',
        description="Line one\nline two",
        category="Parts",
        reorder_point=3,
        reorder_quantity=12,
        lead_time_days=5,
        barcode="5701234",
    )
    milk = await service.create_product(
        platform, t, sku="M-1", name="Mælk", tracking="lot", unit="l"
    )
    await service.create_product(platform, t, sku="OLD", name="Retired", active=False)
    main = await service.create_location(platform, t, "Main")
    shelf = await service.create_location(platform, t, "Shelf A", main.id)
    back = await service.create_location(platform, t, "Back")
    await service.receive_stock(platform, t, widget.id, main.id, 20, reference="PO 7")
    clock.advance(clock.now() + timedelta(hours=1))
    await service.transfer_stock(platform, t, widget.id, main.id, shelf.id, 5)
    wrong = await service.receive_stock(platform, t, milk.id, back.id, 9, lot="L1")
    await service.reverse_movement(platform, t, wrong.id, reference="wrong lot")
    await service.receive_stock(platform, t, milk.id, back.id, 9, lot="L2")
    await service.ship_stock(platform, t, widget.id, shelf.id, 2)
    await service.adjust_stock(platform, t, widget.id, main.id, -1)
    await service.reserve_stock(platform, t, widget.id, main.id, 4)


def lines_of(text):
    return lambda: text.splitlines(keepends=True)


async def test_an_export_imports_again_unchanged(platform, team, gql, team_factory, clock):
    await build(platform, team.team_id, clock)
    exported = {k: await csvio.export_text(team.team_id, k) for k in KINDS}
    assert exported[csvio.Kind.LEDGER].count("\n") == 8  # header + 7 movements
    assert ",reversal,M-1,Back,@supplier,L1,9,wrong lot,3\n" in exported[csvio.Kind.LEDGER]

    # Into a fresh team: products, locations, then the whole ledger.
    other = await make_team(gql, team_factory)
    for kind in (csvio.Kind.PRODUCTS, csvio.Kind.LOCATIONS, csvio.Kind.LEDGER):
        report = await csvio.import_csv(platform, other.team_id, kind, lines_of(exported[kind]))
        assert report.error_count == 0, report.errors
    for kind in KINDS:
        assert await csvio.export_text(other.team_id, kind) == exported[kind], kind
    assert await service.verify(other.team_id) == []

    # Into another: products, locations and opening stock give the same stock.
    third = await make_team(gql, team_factory)
    for kind in (csvio.Kind.PRODUCTS, csvio.Kind.LOCATIONS, csvio.Kind.STOCK):
        await csvio.import_csv(platform, third.team_id, kind, lines_of(exported[kind]))
    assert await csvio.export_text(third.team_id, csvio.Kind.STOCK) == exported[csvio.Kind.STOCK]
    assert await service.verify(third.team_id) == []

    # Importing products again changes nothing.
    report = await csvio.import_csv(
        platform, team.team_id, csvio.Kind.PRODUCTS, lines_of(exported[csvio.Kind.PRODUCTS])
    )
    assert (report.created, report.updated) == (0, 0)


async def test_semicolons_work_both_ways(platform, team, gql, team_factory, clock):
    await build(platform, team.team_id, clock)
    text = await csvio.export_text(team.team_id, csvio.Kind.PRODUCTS, ";")
    assert text.startswith("sku;name;")
    other = await make_team(gql, team_factory)
    await csvio.import_csv(platform, other.team_id, csvio.Kind.PRODUCTS, lines_of(text))
    assert await csvio.export_text(other.team_id, csvio.Kind.PRODUCTS, ";") == text


BAD_PRODUCTS = """sku,name,description,category,unit,barcode,tracking,reorder_point,reorder_quantity,lead_time_days,active
OK-1,Fine,,,,,,,,,
,No sku,,,,,,,,,
X-2,,,,,,,,,,
X-3,Bad numbers,,,,,sometimes,-1,many,,maybe
OK-1,Twice,,,,,,,,,
"""


async def test_a_dry_run_lists_every_row_and_column_error(platform, team):
    report = await csvio.import_csv(
        platform, team.team_id, "products", lines_of(BAD_PRODUCTS), dry_run=True
    )
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "sku"),
        (4, "name"),
        (5, "reorder_point"),
        (5, "reorder_quantity"),
        (5, "active"),
        (6, "sku"),
    ]
    assert report.rows == 5
    assert await Product.filter(team_id=team.team_id).count() == 0


async def test_a_real_import_with_errors_writes_nothing(platform, team):
    with pytest.raises(BadUserInput) as caught:
        await csvio.import_csv(platform, team.team_id, "products", lines_of(BAD_PRODUCTS))
    assert caught.value.extensions["errors"][0] == {
        "row": 3,
        "column": "sku",
        "message": "sku must not be empty.",
    }
    assert await Product.filter(team_id=team.team_id).count() == 0


async def test_a_wrong_header_is_reported(platform, team):
    report = await csvio.import_csv(
        platform, team.team_id, "stock", lines_of("sku,place,quantity\nA,B,1\n"), dry_run=True
    )
    assert {(e.row, e.column) for e in report.errors} == {(1, "location"), (1, "place")}


async def test_the_ledger_is_never_backdated_nor_negative_at_any_point(platform, team, clock):
    t = team.team_id
    product = await service.create_product(platform, t, sku="A-1", name="A")
    await service.create_location(platform, t, "Main")
    await service.receive_stock(platform, t, product.id, (await service.list_locations(t))[0].id, 5)
    posted = (await Movement.filter(team_id=t).first()).posted_at
    earlier = (posted - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    later = (posted + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    header = "number,posted_at,kind,sku,from,to,lot,quantity,reference,reverses\n"
    backdated = header + f"1,{earlier},receipt,A-1,@supplier,Main,,1,,\n"
    report = await csvio.import_csv(platform, t, "ledger", lines_of(backdated), dry_run=True)
    assert [(e.row, e.column) for e in report.errors] == [(2, "posted_at")]
    # Shipping 7 against 5, then receiving 10: the end is positive, the middle is not.
    dips = (
        header
        + f"1,{later},shipment,A-1,Main,@customer,,7,,\n"
        + f"2,{later},receipt,A-1,@supplier,Main,,10,,\n"
    )
    with pytest.raises(BadUserInput) as caught:
        await csvio.import_csv(platform, t, "ledger", lines_of(dips))
    assert caught.value.extensions["errors"][0]["row"] == 2
    assert caught.value.extensions["errors"][0]["column"] == "quantity"
    assert await Movement.filter(team_id=t).count() == 1
    assert await service.verify(t) == []


async def test_import_and_export_over_graphql(gql, team):
    data = await gql.ok(
        "mutation($input: ImportInput!) { inventoryImport(input: $input) { rows created errorCount errors { row column message } } }",
        {"input": {"kind": "PRODUCTS", "csv": "sku;name\nG-1;Gadget\n", "dryRun": False}},
        team.token,
    )
    assert data["inventoryImport"] == {"rows": 1, "created": 1, "errorCount": 0, "errors": []}
    data = await gql.ok("{ inventory { export(kind: PRODUCTS) } }", token=team.token)
    assert data["inventory"]["export"].splitlines()[1].startswith("G-1,Gadget,")
    error = await gql.error(
        "mutation($input: ImportInput!) { inventoryImport(input: $input) { rows } }",
        {"input": {"kind": "PRODUCTS", "csv": "sku,name\n,x\n", "dryRun": False}},
        team.token,
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["errors"] == [
        {"row": 2, "column": "sku", "message": "sku must not be empty."}
    ]


async def test_the_team_export_hook_gives_the_csv_files(platform, team, clock):
    from softbrik_inventory.plugin import softbrik_export_team

    await build(platform, team.team_id, clock)
    files = await softbrik_export_team(team.team_id, platform)
    assert sorted(files) == [
        "inventory/ledger.csv",
        "inventory/locations.csv",
        "inventory/products.csv",
        "inventory/stock.csv",
    ]
    assert files["inventory/locations.csv"] == b"path\nBack\nMain\nMain/Shelf A\n"


LEDGER = "number,posted_at,kind,sku,from,to,lot,quantity,reference,reverses\n"


async def ledger_team(platform, t):
    await service.create_product(platform, t, sku="A-1", name="A")
    await service.create_product(platform, t, sku="B-2", name="B")
    await service.create_product(platform, t, sku="L-3", name="Lots", tracking="lot")
    main = await service.create_location(platform, t, "Main")
    await service.create_location(platform, t, "Back")
    return main


async def test_an_imported_reversal_must_mirror_the_row_it_reverses(platform, team, clock):
    """Like `inventoryReverseMovement`: the same product, lot and quantity, moved back from where
    the reversed row took it to where it came from. Each way of missing that is a row error."""
    t = team.team_id
    await ledger_team(platform, t)
    at = (clock.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    rows = [
        f"1,{at},receipt,A-1,@supplier,Main,,10,,",
        f"2,{at},receipt,L-3,@supplier,Main,L1,4,,",
        f"3,{at},reversal,B-2,Main,@supplier,,10,,1",  # another product
        f"4,{at},reversal,A-1,Main,@supplier,,3,,1",  # another quantity
        f"5,{at},reversal,A-1,Back,@supplier,,10,,1",  # from elsewhere
        f"6,{at},reversal,A-1,Main,@loss,,10,,1",  # back to elsewhere
        f"7,{at},reversal,L-3,Main,@supplier,L2,4,,2",  # another lot
        f"8,{at},reversal,A-1,Main,@supplier,,10,,",  # names no row
        f"9,{at},reversal,L-3,Main,@supplier,L1,4,,2",  # mirrors row 2: fine
        f"10,{at},reversal,L-3,@supplier,Main,L1,4,,9",  # a reversal reversed
    ]
    text = LEDGER + "\n".join(rows) + "\n"
    report = await csvio.import_csv(platform, t, "ledger", lines_of(text), dry_run=True)
    assert [(e.row, e.column) for e in report.errors] == [
        (4, "sku"),
        (5, "quantity"),
        (6, "from"),
        (7, "to"),
        (8, "lot"),
        (9, "reverses"),
        (11, "reverses"),
    ]
    assert "from Main to @supplier" in report.errors[0].message
    with pytest.raises(BadUserInput):
        await csvio.import_csv(platform, t, "ledger", lines_of(text))
    assert await Movement.filter(team_id=t).count() == 0


async def test_an_imported_mirror_reversal_is_posted_and_references_its_row(platform, team, clock):
    t = team.team_id
    await ledger_team(platform, t)
    at = (clock.now() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    text = (
        LEDGER
        + f"1,{at},receipt,A-1,@supplier,Main,,10,,\n"
        + f"2,{at},transfer,A-1,Main,Back,,4,,\n"
        + f"3,{at},reversal,A-1,Back,Main,,4,wrong shelf,2\n"
    )
    report = await csvio.import_csv(platform, t, "ledger", lines_of(text))
    assert (report.error_count, report.created) == (0, 3)
    transfer, reversal = await Movement.filter(team_id=t, id__gt=1).order_by("id")
    assert reversal.reverses_id == transfer.id
    assert (reversal.from_location_id, reversal.to_location_id) == (
        transfer.to_location_id,
        transfer.from_location_id,
    )
    assert await service.verify(t) == []
    exported = await csvio.export_text(t, csvio.Kind.LEDGER)
    assert exported.splitlines()[3].endswith(",reversal,A-1,Back,Main,,4,wrong shelf,2")
