"""The seat changes told as domain events (DESIGN.md, Events; API.md, BillingEvent)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from softbrik.core.events.log import record

if TYPE_CHECKING:
    from softbrik.core.accounts.models import Seat, Team, User
    from softbrik.core.runtime import Runtime

SEAT_ADDED = "SEAT_ADDED"
SEAT_REMOVAL_SCHEDULED = "SEAT_REMOVAL_SCHEDULED"
SEAT_REMOVED = "SEAT_REMOVED"
USER_ACCESS_ENDED = "USER_ACCESS_ENDED"

_MESSAGES = {
    SEAT_ADDED: {"da": "{name} fik {brik}.", "en": "{name} got {brik}."},
    SEAT_REMOVAL_SCHEDULED: {
        "da": "{name} mister {brik} den {ends_on}.",
        "en": "{name} loses {brik} on {ends_on}.",
    },
    SEAT_REMOVED: {"da": "{name} har ikke længere {brik}.", "en": "{name} no longer has {brik}."},
}


async def record_seat_event(
    rt: Runtime, team: Team, type: str, seat: Seat, user: User, actor_id: int | None = None
) -> None:
    """Tell a seat change in the writer's transaction (DESIGN.md, Events).

    Payload: `seat_id`, `user_id`, `brik`, `ends_on` (ISO date or null) and a `message` in the
    team's language.
    """
    from softbrik.core.mail_templates import format_date

    ends_on = seat.ends_on.isoformat() if seat.ends_on else None
    language = team.language if team.language in ("da", "en") else "da"
    when = format_date(seat.ends_on, language) if seat.ends_on else ""
    message = _MESSAGES[type][language].format(name=user.name, brik=seat.brik, ends_on=when)
    payload = {
        "seat_id": seat.id,
        "user_id": user.id,
        "brik": seat.brik,
        "ends_on": ends_on,
        "message": message,
    }
    await record(rt.clock, team.id, type, payload, actor_id)
