"""Property-based tests of the ledger invariants over random movement sequences (hypothesis).

After any sequence: every balance equals the sum of the ledger's movements (`verify` finds
nothing), each product sums to zero over all locations including virtual ones (double entry),
no internal location is negative or over-reserved, and each operation succeeded exactly when a
plain model of the stock said it should.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from softbrik_inventory import service
from softbrik_inventory.models import Balance

from softbrik.plugin import Conflict

RUN = itertools.count()
QUANTITY = st.integers(min_value=1, max_value=12)
SPOT = st.integers(min_value=0, max_value=2)  # one of three internal locations
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("receive"), SPOT, QUANTITY),
        st.tuples(st.just("ship"), SPOT, QUANTITY),
        st.tuples(st.just("transfer"), SPOT, SPOT, QUANTITY),
        st.tuples(st.just("adjust"), SPOT, st.integers(-8, 8).filter(bool)),
        st.tuples(st.just("reserve"), SPOT, QUANTITY),
        st.tuples(st.just("release"), st.integers(0, 5)),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
async def test_random_movement_sequences_keep_the_ledger_invariants(platform, team, operations):
    t = team.team_id
    run = next(RUN)
    product = await service.create_product(platform, t, sku=f"P-{run}", name="Prop")
    spots = [await service.create_location(platform, t, f"R{run}-{i}") for i in range(3)]
    on_hand = [0, 0, 0]
    reserved = [0, 0, 0]
    reservations: list[tuple[int, int, int]] = []  # (id, spot, quantity), active ones
    movements: list[tuple[int, int | None, int | None, int]] = []  # (id, from, to, quantity)
    reversed_ids: set[int] = set()

    def available(i: int) -> int:
        return on_hand[i] - reserved[i]

    for op in operations:
        name = op[0]
        if name == "receive":
            _, i, q = op
            m = await service.receive_stock(platform, t, product.id, spots[i].id, q)
            on_hand[i] += q
            movements.append((m.id, None, i, q))
        elif name == "ship":
            _, i, q = op
            expect = q <= available(i)
            try:
                m = await service.ship_stock(platform, t, product.id, spots[i].id, q)
            except Conflict:
                assert not expect
            else:
                assert expect
                on_hand[i] -= q
                movements.append((m.id, i, None, q))
        elif name == "transfer":
            _, i, j, q = op
            if i == j:
                continue
            expect = q <= available(i)
            try:
                m = await service.transfer_stock(
                    platform, t, product.id, spots[i].id, spots[j].id, q
                )
            except Conflict:
                assert not expect
            else:
                assert expect
                on_hand[i] -= q
                on_hand[j] += q
                movements.append((m.id, i, j, q))
        elif name == "adjust":
            _, i, change = op
            expect = change > 0 or -change <= available(i)
            try:
                m = await service.adjust_stock(platform, t, product.id, spots[i].id, change)
            except Conflict:
                assert not expect
            else:
                assert expect
                on_hand[i] += change
                movements.append(
                    (m.id, None if change > 0 else i, i if change > 0 else None, abs(change))
                )
        elif name == "reserve":
            _, i, q = op
            expect = q <= available(i)
            try:
                r = await service.reserve_stock(platform, t, product.id, spots[i].id, q)
            except Conflict:
                assert not expect
            else:
                assert expect
                reserved[i] += q
                reservations.append((r.id, i, q))
        elif name == "release":
            if not reservations:
                continue
            rid, i, q = reservations.pop(op[1] % len(reservations))
            await service.release_reservation(platform, t, rid)
            reserved[i] -= q
        elif name == "reverse":
            candidates = [m for m in movements if m[0] not in reversed_ids]
            if not candidates:
                continue
            mid, source, target, q = candidates[op[1] % len(candidates)]
            # Undoing takes the quantity back out of where it went.
            expect = target is None or q <= available(target)
            try:
                await service.reverse_movement(platform, t, mid)
            except Conflict:
                assert not expect
            else:
                assert expect
                reversed_ids.add(mid)
                if target is not None:
                    on_hand[target] -= q
                if source is not None:
                    on_hand[source] += q

    assert await service.verify(t) == []
    rows = await Balance.filter(team_id=t, product_id=product.id)
    assert sum(row.on_hand for row in rows) == 0
    for row in rows:
        if row.internal:
            assert 0 <= row.reserved <= row.on_hand
    by_location = {row.location_id: row for row in rows}
    for i, spot in enumerate(spots):
        found = by_location.get(spot.id)
        stored = (found.on_hand, found.reserved) if found else (0, 0)
        assert stored == (on_hand[i], reserved[i])
