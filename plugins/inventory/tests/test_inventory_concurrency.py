"""Stock stays right under concurrent use, on SQLite and on PostgreSQL with parallel connections.

N simultaneous requests taking one unit from stock K succeed exactly min(N, K) times; writers
that lock the same rows in opposite request order never deadlock (one fixed lock order).
"""

from __future__ import annotations

import asyncio

import pytest
from softbrik_inventory import service
from softbrik_inventory.models import Movement, MovementKind

from softbrik.plugin import Conflict


async def outcomes(calls):
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, Conflict)
    ]
    assert unexpected == []
    return sum(1 for r in results if not isinstance(r, BaseException))


@pytest.mark.parametrize(("requests", "stock_level"), [(20, 7), (5, 5), (3, 8)])
async def test_n_requests_taking_one_unit_from_k_succeed_min_n_k_times(
    platform, team, stock, requests, stock_level
):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, stock_level)
    succeeded = await outcomes(
        service.ship_stock(platform, t, stock.product.id, stock.main.id, 1) for _ in range(requests)
    )
    assert succeeded == min(requests, stock_level)
    totals = (await service.totals(t, [stock.product.id]))[stock.product.id]
    assert totals.on_hand == stock_level - succeeded
    assert await service.verify(t) == []


async def test_two_requests_allocating_10_against_5_cannot_both_succeed(platform, team, stock):
    t = team.team_id
    await service.receive_stock(platform, t, stock.product.id, stock.main.id, 15)
    await service.ship_stock(platform, t, stock.product.id, stock.main.id, 10)  # 5 left
    succeeded = await outcomes(
        [
            service.reserve_stock(platform, t, stock.product.id, stock.main.id, 4),
            service.reserve_stock(platform, t, stock.product.id, stock.main.id, 4),
            service.ship_stock(platform, t, stock.product.id, stock.main.id, 4),
        ]
    )
    assert succeeded == 1
    totals = (await service.totals(t, [stock.product.id]))[stock.product.id]
    assert totals.available == 1
    assert await service.verify(t) == []


async def test_opposite_transfers_and_counts_of_several_products_do_not_deadlock(
    platform, team, stock
):
    t = team.team_id
    other = await service.create_product(platform, t, sku="B-2", name="Gadget")
    for product in (stock.product, other):
        for location in (stock.main, stock.shelf):
            await service.receive_stock(platform, t, product.id, location.id, 100)
    calls: list = []
    for i in range(12):
        product = (stock.product, other)[i % 2]
        source, target = (stock.main, stock.shelf) if i % 3 else (stock.shelf, stock.main)
        calls.append(service.transfer_stock(platform, t, product.id, source.id, target.id, 1))
    count_a = await service.start_count(platform, t, stock.main.id)
    count_b = await service.start_count(platform, t, stock.main.id)
    # Two counts naming the same products in opposite order.
    calls.append(
        service.submit_count(
            platform,
            t,
            count_a.id,
            [service.Counted(other.id, 50), service.Counted(stock.product.id, 50)],
        )
    )
    calls.append(
        service.submit_count(
            platform,
            t,
            count_b.id,
            [service.Counted(stock.product.id, 60), service.Counted(other.id, 60)],
        )
    )
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert await service.verify(t) == []


async def test_a_retry_racing_its_original_posts_once(platform, team, stock):
    t = team.team_id
    results = await asyncio.gather(
        *(
            service.receive_stock(
                platform, t, stock.product.id, stock.main.id, 3, idempotency_key="retry-1"
            )
            for _ in range(6)
        )
    )
    assert len({m.id for m in results}) == 1
    assert await Movement.filter(team_id=t, kind=MovementKind.RECEIPT).count() == 1
    assert (await service.totals(t, [stock.product.id]))[stock.product.id].on_hand == 3


async def test_one_reversal_wins_when_two_race(platform, team, stock):
    t = team.team_id
    wrong = await service.receive_stock(platform, t, stock.product.id, stock.main.id, 3)
    succeeded = await outcomes(service.reverse_movement(platform, t, wrong.id) for _ in range(4))
    assert succeeded == 1
    assert await service.verify(t) == []
