"""Reading a team's events: the service behind `billingEvents` (API.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from softbrik.core.errors import NotFound
from softbrik.core.events.bus import AccessCheck
from softbrik.core.events.models import Event
from softbrik.core.runtime import Runtime
from softbrik.plugin import DomainEvent

BILLING_EVENT_TYPES = frozenset(
    {
        "INVOICE_FINALIZED",
        "PAYMENT_SUCCEEDED",
        "PAYMENT_FAILED",
        "SEAT_ADDED",
        "SEAT_REMOVAL_SCHEDULED",
        "SEAT_REMOVED",
        "PAYMENT_METHOD_UPDATED",
        "REMINDER_SENT",
        "ACCOUNT_CLOSURE_SCHEDULED",
        "ACCOUNT_CLOSED",
    }
)
"""The `BillingEvent.type`s of API.md."""


async def check_cursor(team_id: int, event_id: int, field: str = "after") -> None:
    """A resume position must be one of the team's own events: another team's id, like a
    missing (or pruned) one, is NOT_FOUND."""
    if not await Event.filter(id=event_id, team_id=team_id).exists():
        raise NotFound("No event has this id.", field=field)


async def billing_events(
    rt: Runtime, team_id: int, after: int | None, check: AccessCheck | None = None
) -> AsyncIterator[DomainEvent]:
    """The team's billing events after `after` (when given), then live, each exactly once.

    `check` raises when the subscriber may no longer read them; it ends the stream.
    """
    if after is not None:
        await check_cursor(team_id, after)
    async for event in rt.events.stream(team_id, BILLING_EVENT_TYPES, after, check):
        yield event
