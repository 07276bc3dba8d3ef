"""Recording domain events in the outbox, and keeping the log to its retention (DESIGN.md, Events).

`record` is the writer's API: call it inside the transaction of the change it reports, so that a
rolled-back change leaves no event. Positions (ids) are handed out in commit order: on
PostgreSQL every event-writing transaction takes one transaction-scoped advisory lock before its
insert and holds it until commit, so an event can never commit after another with a higher id
(a plain sequence would let a slow transaction commit id 9 after id 10 was read, and a reader
resuming after 10 would skip 9). SQLite serialises writers anyway. Keep the work between
`record` and commit short: it is serialised across every writer of events.

`recorded_together()` holds back the events a block records and writes them when the block
ends, in one insert with one lock and one notification: a transaction that reports several
changes (a billing step: finalized, then paid) and does slow work between them (a PDF, a
charge) takes the lock only for its last moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from softbrik.core.clock import Clock
from softbrik.core.events.models import Event

# pg_advisory_xact_lock key of the event log ("softbrik" in ASCII, fits a bigint).
LOG_LOCK = 0x736F667462726B
NOTIFY_CHANNEL = "softbrik_events"

_recorded: list[Callable[[], None]] = []
"""Callbacks told that an event was written (the local relay's wake-up; see `relay.py`)."""

_held: ContextVar[list[Event] | None] = ContextVar("softbrik_held_events", default=None)
"""The events `recorded_together` holds back in this task, or None outside one."""


def on_record(callback: Callable[[], None]) -> Callable[[], None]:
    """Call `callback` (synchronously, no I/O) whenever this process records an event.

    Returns a function that stops the calls.
    """
    _recorded.append(callback)
    return lambda: _recorded.remove(callback) if callback in _recorded else None


async def record(
    clock: Clock,
    team_id: int,
    type: str,
    payload: Mapping[str, Any],
    actor_id: int | None = None,
) -> Event:
    """Write an event in the current transaction: a rolled-back change leaves no event.

    Payload keys are snake_case (`invoice_id`, `amount_cents`, `message`); values must be JSON.
    Outside a transaction, the event is written in one of its own. Inside `recorded_together`
    it is written when that block ends (the returned event has no id yet).
    """
    event = Event(
        team_id=team_id,
        type=type,
        payload=dict(payload),
        actor_id=actor_id,
        occurred_at=clock.now(),
    )
    held = _held.get()
    if held is not None:
        held.append(event)
    else:
        await _write([event])
    return event


@asynccontextmanager
async def recorded_together() -> AsyncIterator[None]:
    """Hold back the events recorded inside the block and write them, in order, when it ends
    without an error; use inside the transaction of the changes they report."""
    held: list[Event] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    if held:
        await _write(held)


async def _write(events: list[Event]) -> None:
    async with in_transaction() as conn:
        postgres = conn.capabilities.dialect == "postgres"
        if postgres:
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [LOG_LOCK])
        if len(events) == 1:
            await events[0].save(using_db=conn)
        else:
            await Event.bulk_create(events, using_db=conn)
        if postgres:
            # Delivered to every listening process when (and only if) the transaction commits.
            await conn.execute_query("SELECT pg_notify($1, $2)", [NOTIFY_CHANNEL, ""])
    for callback in list(_recorded):
        callback()


async def prune(clock: Clock, retention_days: int) -> int:
    """Delete events older than the retention (default 90 days); returns how many."""
    cutoff = clock.now() - timedelta(days=retention_days)
    deleted: int = await Event.filter(occurred_at__lt=cutoff).delete()
    return deleted


async def last_position() -> int:
    """The position of the newest committed event (0 for an empty log)."""
    ids: list[Any] = await Event.all().order_by("-id").limit(1).values_list("id", flat=True)
    return int(ids[0]) if ids else 0
