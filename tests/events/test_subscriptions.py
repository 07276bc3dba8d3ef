"""`billingEvents` (API.md): admins only, their team only, resumable without loss."""

import pytest
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Team
from softbrik.core.events.log import record
from softbrik.core.events.models import Event
from softbrik.core.events.service import BILLING_EVENT_TYPES
from softbrik.schema.ids import decode_id, encode_id
from softbrik.testing import SubscriptionEnded

BILLING_EVENTS = """
subscription($after: ID) { billingEvents(after: $after) { id type occurredAt amountCents message } }
"""
ASSIGN = "mutation($u: ID!, $b: String!) { assignBrik(userId: $u, brik: $b) { id } }"
UNASSIGN = "mutation($u: ID!, $b: String!) { unassignBrik(userId: $u, brik: $b) { endsOn } }"


@pytest.fixture
def rt(softbrik_app):
    return softbrik_app.state.rt


async def team_id_of(team):
    return (await Team.get(name=team.name)).id


async def billing_ids(team_id, after=None):
    """The ids a subscriber must see, in order: the team's billing events after `after`."""
    query = Event.filter(team_id=team_id, type__in=list(BILLING_EVENT_TYPES))
    if after is not None:
        query = query.filter(id__gt=decode_id(after, "BillingEvent"))
    return [encode_id("BillingEvent", e.id) async for e in query.order_by("id")]


async def receive(sub, count):
    return [(await sub.next())["billingEvents"] for _ in range(count)]


async def test_an_admin_sees_the_teams_billing_events_live(gql, team_factory, subscriptions):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()  # the subscription is running once the server answered after it
        await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
        got = await receive(sub, len(await billing_ids(await team_id_of(team))))
        event = next(e for e in got if e["type"] == "SEAT_ADDED")
        assert event["message"] == "Member fik notes."
        assert event["amountCents"] is None
        assert event["occurredAt"].startswith("2026-01-12T09:00:00")


async def test_a_subscriber_that_reconnects_with_its_last_id_gets_every_event_once_in_order(
    gql, team_factory, subscriptions, events_settled
):
    team = await team_factory.sign_up()
    a, b, c = [await team_factory.invite(team) for _ in range(3)]
    team_id = await team_id_of(team)
    admin = team.admin.token
    await events_settled()
    start = (await billing_ids(team_id) or [None])[-1]
    async with subscriptions(admin) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        await gql.ok(ASSIGN, {"u": a.id, "b": "notes"}, token=admin)
        expected = await billing_ids(team_id, start)
        seen = [e["id"] for e in await receive(sub, len(expected))]
        assert seen == expected
    # Disconnected: these happen while nobody listens.
    await gql.ok(ASSIGN, {"u": b.id, "b": "notes"}, token=admin)
    await gql.ok(UNASSIGN, {"u": a.id, "b": "notes"}, token=admin)
    async with subscriptions(admin) as conn:
        sub = await conn.subscribe(BILLING_EVENTS, {"after": seen[-1]})
        await gql.ok(UNASSIGN, {"u": b.id, "b": "notes"}, token=admin)  # live, maybe mid-replay
        expected = await billing_ids(team_id, seen[-1])
        got = await receive(sub, len(expected))
        assert [e["id"] for e in got] == expected
        types = [e["type"] for e in got]
        assert types.count("SEAT_REMOVAL_SCHEDULED") == 2
        assert "SEAT_ADDED" in types
        # Nothing else is pending: what comes next is exactly the next change's events.
        last = got[-1]["id"]
        await gql.ok(ASSIGN, {"u": c.id, "b": "notes"}, token=admin)
        expected = await billing_ids(team_id, last)
        assert [e["id"] for e in await receive(sub, len(expected))] == expected


async def test_at_the_seam_an_event_both_stored_and_published_arrives_once(gql, rt, team_factory):
    """Events committed but not yet published when a stream starts come from the log, and the
    relay's later publication of them is dropped by position: no gap, no duplicate."""
    team = await team_factory.sign_up()
    team_id = await team_id_of(team)
    start = await record(rt.clock, team_id, "SEAT_ADDED", {"message": "0"})
    await rt.events.settle()
    await rt.events.relay.stop()  # as if the process died between commit and publish
    stored = [await record(rt.clock, team_id, "SEAT_ADDED", {"message": str(i)}) for i in (1, 2)]
    stream = rt.events.stream(team_id, None, start.id)
    got = [await anext(stream), await anext(stream)]
    assert [e.id for e in got] == [e.id for e in stored]
    await rt.events.relay.start()  # publishes 1 and 2 (live duplicates) and then 3
    third = await record(rt.clock, team_id, "SEAT_ADDED", {"message": "3"})
    assert (await anext(stream)).id == third.id
    await stream.aclose()


async def test_another_teams_events_never_reach_a_subscriber(
    gql, team_factory, subscriptions, events_settled
):
    ours = await team_factory.sign_up()
    theirs = await team_factory.sign_up()
    their_member = await team_factory.invite(theirs)
    our_member = await team_factory.invite(ours)
    await events_settled()
    start = (await billing_ids(await team_id_of(ours)) or [None])[-1]
    async with subscriptions(ours.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        await gql.ok(ASSIGN, {"u": their_member.id, "b": "notes"}, token=theirs.admin.token)
        await gql.ok(ASSIGN, {"u": our_member.id, "b": "notes"}, token=ours.admin.token)
        # The first events this subscriber sees are its own team's, though theirs came first.
        expected = await billing_ids(await team_id_of(ours), start)
        got = await receive(sub, len(expected))
        assert [e["id"] for e in got] == expected
        assert "Member fik notes." in [e["message"] for e in got]


async def test_resuming_after_another_teams_event_id_is_not_found(gql, team_factory, subscriptions):
    ours = await team_factory.sign_up()
    theirs = await team_factory.sign_up(["notes"])
    async with subscriptions(theirs.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        member = await team_factory.invite(theirs)
        await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=theirs.admin.token)
        their_id = (await sub.next())["billingEvents"]["id"]
    async with subscriptions(ours.admin.token) as conn:
        for after in (their_id, "QmlsbGluZ0V2ZW50Ojk5OTk5"):  # theirs, and one that is missing
            ended = await (await conn.subscribe(BILLING_EVENTS, {"after": after})).ended()
            assert ended.codes == ["NOT_FOUND"]
            assert ended.errors[0]["extensions"]["field"] == "after"


async def test_a_member_who_is_not_admin_is_refused(team_factory, subscriptions):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    async with subscriptions(member.token) as conn:
        ended = await (await conn.subscribe(BILLING_EVENTS)).ended()
        assert ended.codes == ["FORBIDDEN"]


async def test_a_connection_without_a_valid_token_is_refused(subscriptions):
    with pytest.raises(SubscriptionEnded) as refused:
        async with subscriptions("not-a-token"):
            pass
    assert refused.value.close_code == 4403


async def test_a_rolled_back_change_reaches_no_subscriber(gql, rt, team_factory, subscriptions):
    team = await team_factory.sign_up()
    team_id = await team_id_of(team)
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        with pytest.raises(RuntimeError):
            async with in_transaction():
                await record(rt.clock, team_id, "SEAT_ADDED", {"message": "rolled back"})
                raise RuntimeError("the change failed")
        await record(rt.clock, team_id, "SEAT_ADDED", {"message": "committed"})
        assert (await sub.next())["billingEvents"]["message"] == "committed"


async def test_a_revoked_sign_in_ends_the_stream(gql, rt, team_factory, subscriptions, monkeypatch):
    monkeypatch.setattr(rt.events, "recheck_seconds", 0.05)
    team = await team_factory.sign_up()
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        await gql.ok("mutation { logOut }", token=team.admin.token)
        ended = await sub.ended()
        assert ended.codes == ["UNAUTHENTICATED"]


async def test_an_admin_who_loses_the_role_or_access_is_cut_off(gql, team_factory, subscriptions):
    from softbrik.core.accounts.models import Role, User

    team = await team_factory.sign_up()
    second = await team_factory.invite(team)
    await User.filter(id=decode_id(second.id, "User")).update(role=Role.ADMIN)
    async with subscriptions(second.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        # Ending someone's access is an event that makes live streams check at once.
        await gql.ok(
            "mutation($u: ID!) { endAccessNow(userId: $u) { accessEndedAt } }",
            {"u": second.id},
            token=team.admin.token,
        )
        ended = await sub.ended()
        assert ended.codes == ["UNAUTHENTICATED"]


async def test_an_admin_demoted_while_subscribed_is_cut_off_at_the_next_check(
    rt, team_factory, subscriptions, monkeypatch
):
    from softbrik.core.accounts.models import Role, User

    monkeypatch.setattr(rt.events, "recheck_seconds", 0.05)
    team = await team_factory.sign_up()
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        await User.filter(id=decode_id(team.admin.id, "User")).update(role=Role.MEMBER)
        ended = await sub.ended()
        assert ended.codes == ["FORBIDDEN"]


async def test_subscriptions_per_connection_are_capped(rt, team_factory, subscriptions):
    team = await team_factory.sign_up()
    cap = rt.settings.max_subscriptions_per_connection
    async with subscriptions(team.admin.token) as conn:
        for _ in range(cap):
            await conn.subscribe(BILLING_EVENTS)
        await conn.ping()
        refused = await (await conn.subscribe(BILLING_EVENTS)).ended()
        assert "limit" in refused.errors[0]["message"]


async def test_the_server_pings_to_keep_the_connection_alive(
    rt, team_factory, subscriptions, monkeypatch
):
    import asyncio

    monkeypatch.setattr(rt.settings, "ws_ping_interval_seconds", 0.05)
    team = await team_factory.sign_up()
    async with subscriptions(team.admin.token) as conn:
        await asyncio.wait_for(conn.pinged.wait(), 10)
        assert conn.pings_received >= 1
        await conn.ping()  # and answers ours


async def test_a_billing_event_links_its_invoice(gql, team_factory, subscriptions):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team)
    query = "subscription { billingEvents { type amountCents invoice { number totalCents } } }"
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(query)
        await conn.ping()
        await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
        got = [(await sub.next())["billingEvents"] for _ in range(3)]
    finalized = next(e for e in got if e["type"] == "INVOICE_FINALIZED")
    assert finalized["invoice"]["totalCents"] == finalized["amountCents"] > 0
    seat = next(e for e in got if e["type"] == "SEAT_ADDED")
    assert seat["invoice"] is None
