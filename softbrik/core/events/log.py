"""Recording domain events in the outbox (DESIGN.md, Events)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from softbrik.core.clock import Clock
from softbrik.core.events.models import Event


async def record(
    clock: Clock,
    team_id: int,
    type: str,
    payload: Mapping[str, Any],
    actor_id: int | None = None,
) -> Event:
    """Write an event in the current transaction: a rolled-back change leaves no event."""
    return await Event.create(
        team_id=team_id,
        type=type,
        payload=dict(payload),
        actor_id=actor_id,
        occurred_at=clock.now(),
    )
