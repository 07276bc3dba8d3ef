"""Delivering events to Briks through the `softbrik_event` hook, after commit.

Each Brik with a handler has a cursor (`EventCursor`, consumer `brik:<key>`): the position of the
last event it handled. Events reach a Brik in position order, one transaction per event: the
cursor row is locked (`SKIP LOCKED`, so one instance at a time serves a Brik), the handler runs,
and the cursor moves on, all in that transaction. So what a handler writes through the ORM
commits together with the cursor, and a handler that raises leaves nothing behind: its
transaction rolls back, the failure is logged and counted, and the event is retried after a
backoff (1 s, 2 s, 4 s … up to 5 minutes). After SOFTBRIK_EVENT_HANDLER_MAX_ATTEMPTS attempts the
event is skipped with an error log, so one bad event cannot stop a Brik for good. A failing Brik
never delays the writer (delivery runs after commit, in a background task) or another Brik
(each has its own cursor).

A Brik hears only the events of teams that use it (R-SEC-4: customer data is not shared with third
parties, and a Brik may be a third party's): the team held a seat for the Brik when the event
occurred, or the event is about the Brik itself (its own seats, payload `brik`). Other events move
the Brik's cursor on without reaching it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from datetime import timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from softbrik.core.clock import SystemClock
from softbrik.core.events.log import last_position
from softbrik.core.events.models import Event, EventCursor
from softbrik.core.events.relay import finish, to_domain
from softbrik.core.metrics import Metrics

log = logging.getLogger("softbrik.events")

MAX_BACKOFF_SECONDS = 300.0


def consumer_name(brik_key: str) -> str:
    return f"brik:{brik_key}"


async def team_uses(brik_key: str, row: Event) -> bool:
    """Whether the event's team used the Brik when the event occurred (R-SEC-4)."""
    from softbrik.core.accounts.models import Seat

    if isinstance(row.payload, dict) and row.payload.get("brik") == brik_key:
        return True
    return await (
        Seat.filter(team_id=row.team_id, brik=brik_key, created_at__lte=row.occurred_at)
        .filter(Q(ended_at=None) | Q(ended_at__gte=row.occurred_at))
        .exists()
    )


class HandlerFailed(Exception):
    pass


class BrikDelivery:
    def __init__(
        self,
        briks: Any,
        platform: Any,
        hub: Any,
        interval: float,
        retry_base: float,
        max_attempts: int,
        metrics: Metrics | None = None,
    ) -> None:
        self.briks = briks
        self.platform = platform
        self.hub = hub
        self.interval = interval
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.clock = SystemClock()  # retries are operations' time, not domain time
        self.metrics = metrics or Metrics()
        self._task: asyncio.Task[None] | None = None
        self._inbox: Any = None
        self._stopping = False

    def handlers(self) -> list[Any]:
        """The Briks that implement `softbrik_event`."""
        return [brik for brik in self.briks if "softbrik_event" in brik.hooks]

    async def start(self) -> None:
        await self.ensure_cursors()
        self._inbox = self.hub.open(None)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="softbrik:delivery")

    def _ask_to_stop(self) -> None:
        self._stopping = True
        if self._inbox is not None:
            self._inbox.wake()

    async def stop(self) -> None:
        if self._task is not None:
            await finish(self._task, self._ask_to_stop)
            self._task = None
        if self._inbox is not None:
            self.hub.close(self._inbox)
            self._inbox = None

    async def ensure_cursors(self) -> None:
        """A Brik seen for the first time starts at the end of the log, not at its beginning."""
        handlers = self.handlers()
        if not handlers:
            return
        names = [consumer_name(brik.key) for brik in handlers]
        known = set(await EventCursor.filter(consumer__in=names).values_list("consumer", flat=True))
        if len(known) == len(names):
            return
        top = await last_position()
        for name in names:
            if name not in known:
                await EventCursor.get_or_create(consumer=name, defaults={"position": top})

    async def _run(self) -> None:
        while not self._stopping:
            wait = self.interval
            try:
                wait = min(wait, await self.deliver_all())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event delivery failed; retrying")
            if not self._stopping:
                await self._inbox.get(wait)

    async def deliver_all(self) -> float:
        """Deliver pending events to every Brik; returns seconds until a retry is due."""
        due = self.interval
        for brik in self.handlers():
            due = min(due, await self.deliver(brik))
        return max(due, 0.0)

    async def deliver(self, brik: Any) -> float:
        """Deliver one Brik's pending events in order; seconds until its retry is due."""
        name = consumer_name(brik.key)
        while True:
            if self._stopping:
                return self.interval
            try:
                outcome = await self._deliver_next(brik, name)
            except HandlerFailed:
                continue  # recorded; the loop reads the cursor again and sees the retry time
            if outcome is None:
                return self.interval
            if outcome > 0:
                return outcome

    async def _deliver_next(self, brik: Any, name: str) -> float | None:
        """Handle the next event: None when there is none, 0 when done, else a retry delay."""
        async with in_transaction():
            cursor = await EventCursor.filter(consumer=name).select_for_update(skip_locked=True)
            if not cursor:
                return None  # another instance is serving this Brik
            state = cursor[0]
            now = self.clock.now()
            if state.retry_at is not None and state.retry_at > now:
                return (state.retry_at - now).total_seconds()
            row = await Event.filter(id__gt=state.position).order_by("id").first()
            if row is None:
                return None
            if not await team_uses(brik.key, row):
                state.position = row.id
                await state.save(update_fields=["position"])
                return 0.0
            event = to_domain(row)
            try:
                async with in_transaction():
                    result = self.briks.call_one(
                        brik, "softbrik_event", event=event, platform=self.platform
                    )
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:
                failure = exc
            else:
                state.position = row.id
                state.attempts = 0
                state.retry_at = None
                state.last_error = ""
                await state.save()
                return 0.0
        await self._failed(brik, name, row, state.attempts + 1, failure)
        raise HandlerFailed

    async def _failed(
        self, brik: Any, name: str, row: Event, attempts: int, exc: Exception
    ) -> None:
        extra = {"brik": brik.key, "event_id": row.id, "event_type": row.type, "attempt": attempts}
        self.metrics.handler_failures.labels(brik.key).inc()
        if attempts >= self.max_attempts:
            log.error("Brik event handler gave up", exc_info=exc, extra=extra)
            await EventCursor.filter(consumer=name).update(
                position=row.id, attempts=0, retry_at=None, last_error=repr(exc)[:2000]
            )
            return
        delay = min(self.retry_base * 2 ** (attempts - 1), MAX_BACKOFF_SECONDS)
        log.warning("Brik event handler failed; retrying", exc_info=exc, extra=extra)
        await EventCursor.filter(consumer=name).update(
            attempts=attempts,
            retry_at=self.clock.now() + timedelta(seconds=delay),
            last_error=repr(exc)[:2000],
        )

    async def caught_up(self) -> bool:
        """Whether every Brik handled (or gave up on) every event in the log."""
        handlers = self.handlers()
        if not handlers:
            return True
        top = await last_position()
        positions: list[Any] = await EventCursor.filter(
            consumer__in=[consumer_name(b.key) for b in handlers]
        ).values_list("position", flat=True)
        return len(positions) == len(handlers) and all(p >= top for p in positions)
