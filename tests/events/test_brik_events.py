"""Briks hear events through `softbrik_event` after commit, each on its own cursor, with
retries; they emit their own through the platform and may serve subscriptions of them."""

import asyncio
import importlib

import pytest

from softbrik.core.accounts.models import Team
from softbrik.core.events.log import record
from softbrik.core.events.models import Event, EventCursor

NOTES_ADDED = "subscription { notesAdded }"
ADD_NOTE = "mutation($t: String!) { notesAdd(title: $t) { title } }"


@pytest.fixture
def rt(softbrik_app):
    return softbrik_app.state.rt


@pytest.fixture
def notes(softbrik_briks):
    """The example Brik's plugin module (installed for this test session, see conftest.py)."""
    module = importlib.import_module("softbrik_notes.plugin")
    module.BROKEN.clear()
    # Team and event ids start again in every test: forget what earlier tests left.
    module.ATTEMPTS.clear()
    module.SEEN_EVENTS.clear()
    yield module
    module.BROKEN.clear()


@pytest.fixture
def tally(softbrik_briks):
    module = importlib.import_module("softbrik_tally.plugin")
    module.HEARD.clear()
    return module


async def team_id_of(team):
    return (await Team.get(name=team.name)).id


def heard(events, team_id, types=None):
    """The types of the events a Brik heard from a team (only `types`, if given)."""
    return [e.type for e in events if e.team_id == team_id and (types is None or e.type in types)]


TESTED = ("FLAKY", "AFTER")


async def wait_until(condition, limit=10.0):
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110 (state of another task, polled)
            await asyncio.sleep(0.01)


async def test_briks_hear_events_after_commit_in_order(
    notes, tally, gql, rt, team_factory, events_settled
):
    team = await team_factory.sign_up(["notes", "tally"])
    team_id = await team_id_of(team)
    await gql.ok(ADD_NOTE, {"t": "Hej"}, token=team.admin.token)
    await events_settled()
    logged = [e.type async for e in Event.filter(team_id=team_id).order_by("id")]
    assert "NOTES_ADDED" in logged
    assert heard(notes.SEEN_EVENTS, team_id) == logged
    assert heard(tally.HEARD, team_id) == logged
    added = [e for e in tally.HEARD if e.team_id == team_id][-1]
    assert added.payload == {"title": "Hej"}
    assert added.actor_id is not None


async def test_a_failing_handler_is_retried_and_holds_up_no_one_else(
    notes, tally, gql, rt, team_factory, events_settled, caplog
):
    team = await team_factory.sign_up(["notes", "tally"])
    team_id = await team_id_of(team)
    notes.BROKEN.add("FLAKY")
    flaky = await record(rt.clock, team_id, "FLAKY", {})
    after = await record(rt.clock, team_id, "AFTER", {})  # the writer is not held up
    # The other Brik hears both while notes keeps failing on the first.
    await wait_until(lambda: heard(tally.HEARD, team_id, TESTED) == ["FLAKY", "AFTER"])
    await wait_until(lambda: notes.ATTEMPTS.get(flaky.id, 0) >= 2)
    assert heard(notes.SEEN_EVENTS, team_id, TESTED) == []
    cursor = await EventCursor.get(consumer="brik:notes")
    assert cursor.position < flaky.id
    assert "notes cannot handle FLAKY" in cursor.last_error
    assert "Brik event handler failed; retrying" in caplog.text
    notes.BROKEN.clear()
    await events_settled()
    assert heard(notes.SEEN_EVENTS, team_id, TESTED) == ["FLAKY", "AFTER"]
    assert notes.ATTEMPTS[after.id] == 1
    assert heard(tally.HEARD, team_id, TESTED) == ["FLAKY", "AFTER"]  # once each


async def test_a_handler_that_never_succeeds_is_given_up_on_after_the_last_attempt(
    notes, tally, rt, team_factory, events_settled, monkeypatch, caplog
):
    monkeypatch.setattr(rt.events.delivery, "max_attempts", 3)
    team = await team_factory.sign_up(["notes"])
    team_id = await team_id_of(team)
    notes.BROKEN.add("POISON")
    poison = await record(rt.clock, team_id, "POISON", {})
    await record(rt.clock, team_id, "NEXT", {})
    await events_settled()
    assert notes.ATTEMPTS[poison.id] == 3
    assert heard(notes.SEEN_EVENTS, team_id, ("POISON", "NEXT")) == ["NEXT"]
    assert "Brik event handler gave up" in caplog.text


async def test_a_brik_hears_only_teams_that_use_it(
    notes, tally, gql, rt, team_factory, events_settled, clock
):
    """R-SEC-4: a Brik (perhaps a third party's) never hears a team that does not use it."""
    from datetime import UTC, datetime

    from softbrik.core.accounts.seats import end_due_seats

    user = await team_factory.sign_up(["notes"])
    other = await team_factory.sign_up()
    member = await team_factory.invite(other, ["tally"])
    user_id, other_id = await team_id_of(user), await team_id_of(other)
    await gql.ok(ADD_NOTE, {"t": "Privat"}, token=user.admin.token)
    await record(rt.clock, other_id, "TALLIED", {})
    await events_settled()
    assert "NOTES_ADDED" in heard(notes.SEEN_EVENTS, user_id)
    assert heard(tally.HEARD, user_id) == []
    assert heard(notes.SEEN_EVENTS, other_id) == []
    assert "TALLIED" in heard(tally.HEARD, other_id)

    # Once the seat has ended, the Brik hears of its removal and then nothing more.
    await gql.ok(
        'mutation($u: ID!) { unassignBrik(userId: $u, brik: "tally") { endsOn } }',
        {"u": member.id},
        token=other.admin.token,
    )
    clock.advance(datetime(2026, 2, 12, 9, tzinfo=UTC))
    await end_due_seats(rt)
    await events_settled()
    assert "SEAT_REMOVED" in heard(tally.HEARD, other_id)
    clock.advance(datetime(2026, 2, 12, 10, tzinfo=UTC))
    await record(rt.clock, other_id, "LATER", {})
    await events_settled()
    assert "LATER" not in heard(tally.HEARD, other_id)


async def test_a_brik_subscription_streams_its_events_to_seat_holders(
    notes, tally, gql, team_factory, subscriptions
):
    team = await team_factory.sign_up(["notes"])
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(NOTES_ADDED)
        await conn.ping()
        await gql.ok(ADD_NOTE, {"t": "Referat"}, token=team.admin.token)
        assert (await sub.next()) == {"notesAdded": "Referat"}


async def test_a_brik_subscription_is_gated_like_its_other_fields(
    notes, tally, team_factory, subscriptions
):
    team = await team_factory.sign_up()  # no notes seat
    async with subscriptions(team.admin.token) as conn:
        ended = await (await conn.subscribe(NOTES_ADDED)).ended()
        assert ended.codes == ["FORBIDDEN"]
        assert ended.errors[0]["extensions"]["brik"] == "notes"


async def test_a_brik_subscription_ends_when_the_seat_does(
    notes, tally, gql, rt, team_factory, subscriptions, clock, monkeypatch
):
    from datetime import UTC, datetime

    monkeypatch.setattr(rt.events, "recheck_seconds", 0.05)
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team, ["notes"])
    async with subscriptions(member.token) as conn:
        sub = await conn.subscribe(NOTES_ADDED)
        await conn.ping()
        await gql.ok(
            'mutation($u: ID!) { unassignBrik(userId: $u, brik: "notes") { endsOn } }',
            {"u": member.id},
            token=team.admin.token,
        )
        clock.advance(datetime(2026, 2, 12, 9, tzinfo=UTC))
        ended = await sub.ended()
        assert ended.codes == ["FORBIDDEN"]
