"""The movement ledger: double entry, balances in step, reversals, idempotency, no negatives."""

from __future__ import annotations

import pytest
from softbrik_inventory import service
from softbrik_inventory.models import Balance, LocationKind, Movement, MovementKind

from conftest import events
from softbrik.plugin import BadUserInput, Conflict, NotFound


async def on_hand(team_id, product, location, lot=""):
    row = await Balance.get_or_none(
        team_id=team_id, product_id=product.id, location_id=location.id, lot=lot
    )
    return row.on_hand if row else 0


async def test_receipts_shipments_and_transfers_keep_balances_equal_to_the_ledger(
    platform, team, stock
):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 10)
    await service.transfer_stock(platform, t, stock.product.id, stock.main.id, stock.shelf.id, 4)
    shipped = await service.ship_stock(platform, t, stock.product.id, stock.shelf.id, 3)
    assert shipped.kind == MovementKind.SHIPMENT
    assert shipped.to_location.kind == LocationKind.CUSTOMER
    assert await on_hand(t, stock.product, stock.main) == 6
    assert await on_hand(t, stock.product, stock.shelf) == 1
    totals = await service.totals(t, [stock.product.id])
    assert totals[stock.product.id] == service.Totals(on_hand=7, reserved=0)
    # Double entry: over every location, virtual ones included, the product sums to zero.
    rows = await Balance.filter(team_id=t, product_id=stock.product.id)
    assert sum(row.on_hand for row in rows) == 0
    assert await service.verify(t) == []


async def test_shipping_more_than_is_available_is_a_conflict_and_writes_nothing(
    platform, team, stock
):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 5)
    with pytest.raises(Conflict) as caught:
        await service.ship_stock(platform, t, stock.product.id, stock.main.id, 10)
    assert caught.value.extensions == {"field": "quantity", "available": 5}
    assert await Movement.filter(team_id=t).count() == 1
    assert await on_hand(t, stock.product, stock.main) == 5


async def test_bad_quantities_are_bad_user_input(platform, team, stock):
    for quantity in (0, -3, 2**40):
        with pytest.raises(BadUserInput) as caught:
            await service.receive_stock(
                platform, team.team_id, stock.product.id, stock.main.id, quantity
            )
        assert caught.value.field == "quantity"


async def test_a_retried_request_never_posts_twice(platform, team, stock):
    t = team.team_id
    first = await service.receive_stock(
        platform, t, stock.product.id, stock.main.id, 5, idempotency_key="po-1"
    )
    again = await service.receive_stock(
        platform, t, stock.product.id, stock.main.id, 5, idempotency_key="po-1"
    )
    assert again.id == first.id
    assert await on_hand(t, stock.product, stock.main) == 5
    with pytest.raises(Conflict) as caught:
        await service.receive_stock(
            platform, t, stock.product.id, stock.main.id, 6, idempotency_key="po-1"
        )
    assert caught.value.extensions["field"] == "idempotencyKey"


async def test_a_mistake_is_undone_by_a_reversing_movement_once(platform, team, stock):
    t = team.team_id
    wrong = await service.receive_stock(platform, t, stock.product.id, stock.main.id, 7)
    reversal = await service.reverse_movement(platform, t, wrong.id)
    assert reversal.reverses_id == wrong.id
    assert (reversal.from_location_id, reversal.to_location_id) == (
        wrong.to_location_id,
        wrong.from_location_id,
    )
    assert await on_hand(t, stock.product, stock.main) == 0
    with pytest.raises(Conflict):
        await service.reverse_movement(platform, t, wrong.id)
    with pytest.raises(Conflict):
        await service.reverse_movement(platform, t, reversal.id)
    # The original is still in the ledger, unchanged: never edited.
    kept = await Movement.get(id=wrong.id)
    assert kept.quantity == 7 and kept.kind == MovementKind.RECEIPT
    assert await service.verify(t) == []


async def test_a_reversal_that_would_make_stock_negative_is_refused(platform, team, stock):
    t = team.team_id
    receipt = await service.receive_stock(platform, t, stock.product.id, stock.main.id, 5)
    await service.ship_stock(platform, t, stock.product.id, stock.main.id, 4)
    with pytest.raises(Conflict):
        await service.reverse_movement(platform, t, receipt.id)
    assert await on_hand(t, stock.product, stock.main) == 1


async def test_internal_locations_go_negative_only_when_the_team_allows_it(platform, team, stock):
    t = team.team_id
    with pytest.raises(Conflict):
        await service.ship_stock(platform, t, stock.product.id, stock.main.id, 2)
    await service.set_allow_negative(t, True)
    await service.ship_stock(platform, t, stock.product.id, stock.main.id, 2)
    assert await on_hand(t, stock.product, stock.main) == -2
    assert await service.verify(t) == []


async def test_reserved_stock_is_not_available_to_others(platform, team, stock):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 5)
    held = await service.reserve_stock(platform, t, stock.product.id, stock.main.id, 3)
    totals = (await service.totals(t, [stock.product.id]))[stock.product.id]
    assert (totals.on_hand, totals.reserved, totals.available) == (5, 3, 2)
    with pytest.raises(Conflict):
        await service.ship_stock(platform, t, stock.product.id, stock.main.id, 3)
    with pytest.raises(Conflict):
        await service.reserve_stock(platform, t, stock.product.id, stock.main.id, 3)
    await service.ship_stock(
        platform, t, stock.product.id, stock.main.id, 3, reservation_id=held.id
    )
    totals = (await service.totals(t, [stock.product.id]))[stock.product.id]
    assert (totals.on_hand, totals.reserved, totals.available) == (2, 0, 2)
    with pytest.raises(Conflict):  # shipped: the reservation is closed
        await service.release_reservation(platform, t, held.id)
    again = await service.reserve_stock(platform, t, stock.product.id, stock.main.id, 2)
    await service.release_reservation(platform, t, again.id)
    totals = (await service.totals(t, [stock.product.id]))[stock.product.id]
    assert totals.available == 2
    assert await service.verify(t) == []


async def test_lot_tracked_products_need_a_lot_and_serials_are_unique(platform, team, stock):
    t = team.team_id
    lots = await service.create_product(platform, t, sku="L-1", name="Milk", tracking="lot")
    serial = await service.create_product(platform, t, sku="S-1", name="Drill", tracking="serial")
    with pytest.raises(BadUserInput) as caught:
        await service.receive_stock(platform, t, lots.id, stock.main.id, 3)
    assert caught.value.field == "lot"
    with pytest.raises(BadUserInput):
        await service.receive_stock(platform, t, stock.product.id, stock.main.id, 3, lot="X")
    await service.receive_stock(platform, t, lots.id, stock.main.id, 3, lot="B-7")
    assert await on_hand(t, lots, stock.main, "B-7") == 3
    await service.receive_stock(platform, t, serial.id, stock.main.id, 1, lot="SN-1")
    with pytest.raises(Conflict):
        await service.receive_stock(platform, t, serial.id, stock.main.id, 1, lot="SN-1")


async def test_another_teams_products_and_locations_are_not_found(
    platform, team, stock, gql, team_factory
):
    from conftest import make_team

    other = await make_team(gql, team_factory)
    with pytest.raises(NotFound):
        await service.receive_stock(platform, other.team_id, stock.product.id, stock.main.id, 1)
    theirs = await service.create_location(platform, other.team_id, "Theirs")
    with pytest.raises(NotFound):
        await service.receive_stock(platform, team.team_id, stock.product.id, theirs.id, 1)
    assert await Movement.filter(team_id__in=[team.team_id, other.team_id]).count() == 0


async def test_a_count_posts_the_difference(platform, team, stock):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 10)
    count = await service.start_count(platform, t, stock.main.id)
    done = await service.submit_count(platform, t, count.id, [service.Counted(stock.product.id, 8)])
    assert done.status == "applied"
    assert await on_hand(t, stock.product, stock.main) == 8
    posted = await Movement.filter(team_id=t, kind=MovementKind.COUNT).get()
    assert posted.quantity == 2
    assert await service.verify(t) == []


async def test_a_count_that_stock_moved_under_is_flagged_not_applied(platform, team, stock):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 10)
    count = await service.start_count(platform, t, stock.main.id)
    await service.ship_stock(platform, t, stock.product.id, stock.main.id, 1)
    done = await service.submit_count(platform, t, count.id, [service.Counted(stock.product.id, 8)])
    assert done.status == "flagged"
    assert await on_hand(t, stock.product, stock.main) == 9
    assert await Movement.filter(team_id=t, kind=MovementKind.COUNT).count() == 0
    with pytest.raises(Conflict):
        await service.submit_count(platform, t, count.id, [service.Counted(stock.product.id, 8)])


async def test_stock_low_is_told_once_per_crossing(platform, team, stock):
    t = team.team_id
    product = await service.update_product(
        platform, t, stock.product.id, reorder_point=5, reorder_quantity=20
    )
    assert len(await events(t, "INVENTORY_STOCK_LOW")) == 1  # 0 available, point 5
    await service.receive_stock(platform, t, product.id, stock.main.id, 10)
    await service.ship_stock(platform, t, product.id, stock.main.id, 5)  # 5 left: crossing
    await service.ship_stock(platform, t, product.id, stock.main.id, 1)  # still below
    told = await events(t, "INVENTORY_STOCK_LOW")
    assert len(told) == 2
    assert told[-1] == {
        "product_id": product.id,
        "sku": "A-1",
        "location_id": stock.main.id,
        "location": "Main",
        "on_hand": 5,
        "reserved": 0,
        "available": 5,
        "reorder_point": 5,
        "reorder_quantity": 20,
        "suggested_quantity": 20,
    }
    await service.receive_stock(platform, t, product.id, stock.main.id, 10)  # above again
    await service.reserve_stock(platform, t, product.id, stock.main.id, 10)  # available 4
    assert len(await events(t, "INVENTORY_STOCK_LOW")) == 3
    suggestions = await service.reorder_suggestions(t)
    assert [(s.product.sku, s.totals.available, s.quantity) for s in suggestions] == [
        ("A-1", 4, 20)
    ]


async def test_verify_finds_a_balance_that_differs_from_the_ledger(platform, team, stock):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 10)
    await Balance.filter(team_id=t, location_id=stock.main.id).update(on_hand=11)
    found = await service.verify(t)
    assert [(d.location_id, d.what, d.ledger, d.balance) for d in found] == [
        (stock.main.id, "on_hand", 10, 11)
    ]


async def test_deleting_a_team_removes_every_row_and_can_run_again(platform, team, stock):
    t = team.team_id
    first = await service.receive_stock(platform, t, stock.product.id, stock.main.id, 10)
    await service.reverse_movement(platform, t, first.id)
    await service.receive_stock(platform, t, stock.product.id, stock.shelf.id, 3)
    await service.reserve_stock(platform, t, stock.product.id, stock.shelf.id, 1)
    count = await service.start_count(platform, t, stock.shelf.id)
    await service.submit_count(platform, t, count.id, [service.Counted(stock.product.id, 1)])
    await service.delete_team(t)
    await service.delete_team(t)
    from softbrik_inventory import models

    for model in (
        models.Product,
        models.Location,
        models.Movement,
        models.Balance,
        models.Reservation,
        models.StockCount,
        models.CountLine,
    ):
        assert await model.filter(team_id=t).count() == 0


async def test_the_scheduled_check_records_a_mismatch_event(platform, team, stock):
    from softbrik_inventory.plugin import run_verify

    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 4)
    assert await run_verify(platform) == []
    assert await events(t, "INVENTORY_LEDGER_MISMATCH") == []
    await Balance.filter(team_id=t, location_id=stock.main.id).update(reserved=1)
    found = await run_verify(platform)
    assert [(d.what, d.ledger, d.balance) for d in found] == [("reserved", 0, 1)]
    [told] = await events(t, "INVENTORY_LEDGER_MISMATCH")
    assert told["count"] == 1 and told["differences"][0]["what"] == "reserved"


def test_softbrik_inventory_verify_reports_no_difference_on_a_fresh_database(tmp_path):
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "softbrik", "inventory", "verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "SOFTBRIK_DATA_DIR": str(tmp_path), "SOFTBRIK_LOG_JSON": "0"},
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "0 differences" in done.stdout
