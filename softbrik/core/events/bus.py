"""The events of one process: broker, relay, Brik delivery, and live streams for subscriptions.

`EventBus.stream` is what `billingEvents` and Brik subscriptions read: a team's events, optionally
after a position, then live, each exactly once and in order:

1. open an inbox on the broker's hub first, so that nothing published from now on is missed;
2. replay from the log every stored event after `after`, in pages;
3. then read the inbox, dropping what the replay already gave (positions only grow);
4. an inbox that overflowed, or whose broker lost its connection, answers `LOST`: replay the
   log again after the last position given, and go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextvars import ContextVar
from typing import Any

from softbrik.core.events.broker import LOST, broker_from_settings
from softbrik.core.events.delivery import BrikDelivery
from softbrik.core.events.log import last_position
from softbrik.core.events.models import Event
from softbrik.core.events.relay import Relay, to_domain
from softbrik.plugin import DomainEvent

log = logging.getLogger("softbrik.events")

REPLAY_PAGE = 500

ACCESS_EVENTS = frozenset({"USER_ACCESS_ENDED", "USER_ROLE_CHANGED", "SESSION_REVOKED"})
"""Event types after which live streams check their subscriber's access again."""

AccessCheck = Callable[[], Awaitable[None]]
access_check: ContextVar[AccessCheck | None] = ContextVar("softbrik_access_check", default=None)
"""Set by the GraphQL layer for the subscription being run; raises when access is gone."""


class EventBus:
    def __init__(self, rt: Any) -> None:
        settings = rt.settings
        self.rt = rt
        self.broker = broker_from_settings(settings)
        self.relay = Relay(self.broker, settings.db_url, settings.event_relay_interval_seconds)
        self.delivery = BrikDelivery(
            rt.briks,
            rt.extras.get("platform"),
            self.broker.hub,
            settings.event_relay_interval_seconds,
            settings.event_retry_base_seconds,
            settings.event_handler_max_attempts,
            metrics=rt.metrics,
        )
        self.recheck_seconds = settings.subscription_recheck_seconds
        self.running = False

    async def start(self) -> None:
        """Connect the broker, then start the relay and the Brik delivery (database ready)."""
        if self.running:
            return
        self.delivery.platform = self.rt.extras.get("platform")
        await self.broker.start()
        await self.relay.start()
        await self.delivery.start()
        self.running = True
        self.relay.wake()  # publish whatever a crash left behind

    async def stop(self) -> None:
        """Stop what was started (safe after a failed or no start)."""
        self.running = False
        await self.delivery.stop()
        await self.relay.stop()
        await self.broker.stop()

    async def settle(self, limit: float = 10.0) -> None:
        """Wait until every committed event is published and handled by every Brik.

        For tests and benchmarks: it waits for a condition, never for a fixed time.
        """
        async with asyncio.timeout(limit):
            while await self.relay.pending() or not await self.delivery.caught_up():
                self.relay.wake()
                await asyncio.sleep(0.01)

    async def stream(
        self,
        team_id: int,
        types: Collection[str] | None = None,
        after: int | None = None,
        check: AccessCheck | None = None,
    ) -> AsyncIterator[DomainEvent]:
        """The team's events (of `types`), after position `after` when given, then live.

        Every `SOFTBRIK_SUBSCRIPTION_RECHECK_SECONDS`, and after an access-changing event,
        `check` (default: the `access_check` the GraphQL layer set for the running
        subscription) is awaited; it raises to end the stream.
        """
        check = check or access_check.get()
        wanted = frozenset(types) if types is not None else None
        inbox = self.broker.hub.open(team_id)
        try:
            last = after if after is not None else await last_position()
            if after is not None:
                async for event in self._replay(team_id, wanted, last):
                    last = event.id
                    yield event
            while True:
                item = await inbox.get(self.recheck_seconds if check else None)
                if item is None:
                    if check is not None:
                        await check()
                    continue
                if item is LOST:
                    async for event in self._replay(team_id, wanted, last):
                        last = event.id
                        yield event
                    continue
                assert isinstance(item, DomainEvent)
                if item.id <= last:
                    continue
                last = item.id
                if check is not None and item.type in ACCESS_EVENTS:
                    await check()
                if wanted is None or item.type in wanted:
                    yield item
        finally:
            self.broker.hub.close(inbox)

    async def _replay(
        self, team_id: int, types: frozenset[str] | None, after: int
    ) -> AsyncIterator[DomainEvent]:
        position = after
        while True:
            query = Event.filter(team_id=team_id, id__gt=position)
            if types is not None:
                query = query.filter(type__in=list(types))
            rows = await query.order_by("id").limit(REPLAY_PAGE)
            for row in rows:
                position = row.id
                yield to_domain(row)
            if len(rows) < REPLAY_PAGE:
                return


@contextlib.asynccontextmanager
async def running(bus: EventBus) -> AsyncIterator[EventBus]:
    await bus.start()
    try:
        yield bus
    finally:
        await bus.stop()
