"""The event log (outbox): written with the change, in commit order, kept 90 days (DESIGN.md)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Team
from softbrik.core.accounts.seats import end_due_seats
from softbrik.core.events.jobs import prune_events
from softbrik.core.events.log import record
from softbrik.core.events.models import Event

UNASSIGN = "mutation($u: ID!, $b: String!) { unassignBrik(userId: $u, brik: $b) { endsOn } }"
REMOVE = "mutation($u: ID!) { removeUser(userId: $u) { removalOn } }"


@pytest.fixture
def rt(softbrik_app):
    return softbrik_app.state.rt


async def events_of(team_id):
    return [e async for e in Event.filter(team_id=team_id).order_by("id")]


async def team_id_of(team):
    return (await Team.get(name=team.name)).id


async def test_a_rolled_back_change_leaves_no_event(gql, rt, team_factory):
    team = await team_factory.sign_up()
    team_id = await team_id_of(team)
    before = await Event.filter(team_id=team_id).count()
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await record(rt.clock, team_id, "SEAT_ADDED", {"message": "never"})
            raise RuntimeError("the change failed")
    assert await Event.filter(team_id=team_id).count() == before


async def test_positions_follow_commit_order(gql, rt, team_factory):
    """A writer that records while another's transaction is open waits for it to commit,
    so the later commit always has the higher position (a reader never skips one)."""
    team = await team_factory.sign_up()
    team_id = await team_id_of(team)
    go = asyncio.Event()

    async def second_writer():
        await go.wait()
        async with in_transaction():
            return (await record(rt.clock, team_id, "SECOND", {})).id

    second = asyncio.create_task(second_writer())  # outside the first transaction's context
    async with in_transaction():
        first = await record(rt.clock, team_id, "FIRST", {})
        go.set()
        done, _ = await asyncio.wait([second], timeout=0.3)
        assert not done, "a second writer got a position while the first was uncommitted"
    assert await second > first.id


async def test_seat_changes_are_told(gql, rt, team_factory, clock):
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team, ["notes"])
    team_id = await team_id_of(team)
    await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    events = await events_of(team_id)
    # Billing tells its own events in between (INVOICE_FINALIZED, PAYMENT_SUCCEEDED).
    seat_events = [e.type for e in events if e.type.startswith("SEAT_")]
    assert seat_events == ["SEAT_ADDED", "SEAT_ADDED", "SEAT_REMOVAL_SCHEDULED"]
    assert [e.id for e in events] == sorted(e.id for e in events)
    scheduled = events[-1].payload
    assert scheduled["brik"] == "notes"
    assert scheduled["ends_on"] == "2026-02-12"
    assert scheduled["message"] == "Member mister notes den 12. februar 2026."

    assert await end_due_seats(rt) == 0  # not due yet
    clock.advance(datetime(2026, 2, 11, 23, 30, tzinfo=UTC))  # 00:30 on 12 Feb in Copenhagen
    assert await end_due_seats(rt) == 1
    assert await end_due_seats(rt) == 0  # told once
    removed = (await events_of(team_id))[-1]
    assert removed.type == "SEAT_REMOVED"
    assert removed.payload["seat_id"] == scheduled["seat_id"]


async def test_removing_a_person_schedules_each_of_their_seats(gql, rt, team_factory):
    team = await team_factory.sign_up()
    member = await team_factory.invite(team, ["notes"])
    await gql.ok(REMOVE, {"u": member.id}, token=team.admin.token)
    events = await events_of(await team_id_of(team))
    seat_events = [e.type for e in events if e.type.startswith("SEAT_")]
    assert seat_events == ["SEAT_ADDED", "SEAT_REMOVAL_SCHEDULED"]


async def test_events_are_kept_for_the_retention_then_pruned(gql, rt, team_factory, clock):
    team = await team_factory.sign_up()
    team_id = await team_id_of(team)
    old = await record(rt.clock, team_id, "OLD", {})
    clock.advance(clock.now() + timedelta(days=89))
    kept = await record(rt.clock, team_id, "KEPT", {})
    clock.advance(clock.now() + timedelta(days=2))  # `old` is now 91 days old
    assert await prune_events(rt) == 1
    remaining = {e.id for e in await events_of(team_id)}
    assert old.id not in remaining
    assert kept.id in remaining


def test_the_jobs_run_from_the_command_line(tmp_path):
    """The CLI runs the same functions as the server's lifespan tasks, showing progress."""
    import os
    import subprocess
    import sys

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
        "SOFTBRIK_DATA_DIR": str(tmp_path),
    }

    def softbrik(*args):
        return subprocess.run(
            [sys.executable, "-m", "softbrik", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )

    softbrik("migrate")
    assert "deleted 0 events" in softbrik("events", "prune").stderr
    assert "0 seats ended" in softbrik("seats", "end-due").stderr
