"""The event log's periodic work."""

from __future__ import annotations

from softbrik.core.events.log import prune
from softbrik.core.runtime import Runtime


async def prune_events(rt: Runtime) -> int:
    """Delete events past the retention (SOFTBRIK_EVENT_RETENTION_DAYS); returns how many."""
    return await prune(rt.clock, rt.settings.event_retention_days)
