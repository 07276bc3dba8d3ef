"""The relay: publishes committed events that are not published yet, in position order.

It wakes when this process records an event (SQLite: the relay's query waits for the writer's
transaction, so it sees the event once committed), when PostgreSQL tells it a transaction with
events committed (`pg_notify` sent by `log.record`, delivered at commit to every instance), and
every `SOFTBRIK_EVENT_RELAY_INTERVAL_SECONDS` in case a wake-up was missed. One relay at a time
publishes (a transaction-scoped advisory lock on PostgreSQL), and marks what it published in the
same transaction: a crash between commit and publish leaves the events unpublished, and the
next run publishes them. A crash after publishing but before marking publishes them again, which
subscribers drop by position. So every committed event is published, in order, at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tortoise.transactions import in_transaction

from softbrik.core.clock import SystemClock
from softbrik.core.events import log as event_log
from softbrik.core.events.models import Event
from softbrik.plugin import DomainEvent

log = logging.getLogger("softbrik.events")

RELAY_LOCK = 0x736F667472656C  # another advisory lock key than the log's
BATCH = 500


def to_domain(row: Event) -> DomainEvent:
    return DomainEvent(
        id=row.id,
        team_id=row.team_id,
        type=row.type,
        payload=row.payload,
        occurred_at=row.occurred_at,
        actor_id=row.actor_id,
    )


async def finish(task: asyncio.Task[None], ask_to_stop: Any, grace: float = 10.0) -> None:
    """Stop a worker loop between two pieces of work, cancelling it only if it will not.

    Cancelling a task inside Tortoise's `in_transaction()` entry can leave SQLite's connection
    lock held for good, so workers are asked to stop and finish what they are doing.
    """
    ask_to_stop()
    try:
        await asyncio.wait_for(asyncio.shield(task), grace)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except asyncio.CancelledError:
        task.cancel()
        raise


class Relay:
    def __init__(self, broker: Any, db_url: str, interval: float) -> None:
        self.broker = broker
        self.db_url = db_url
        self.interval = interval
        self.clock = SystemClock()  # bookkeeping, not domain time
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop_hearing: Any = None
        self._listener: Any = None
        self.published = 0
        self._stopping = False

    @property
    def postgres(self) -> bool:
        return self.db_url.startswith(("postgres", "asyncpg"))

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._stop_hearing = event_log.on_record(self.wake)
        if self.postgres:
            import asyncpg

            dsn = self.db_url.replace("asyncpg://", "postgresql://", 1).replace(
                "postgres://", "postgresql://", 1
            )
            self._listener = await asyncpg.connect(dsn)
            await self._listener.add_listener(event_log.NOTIFY_CHANNEL, self._notified)
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="softbrik:relay")

    async def stop(self) -> None:
        if self._stop_hearing is not None:
            self._stop_hearing()
            self._stop_hearing = None
        if self._task is not None:
            await finish(self._task, self._ask_to_stop)
            self._task = None
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()
            self._listener = None

    def wake(self) -> None:
        self._wake.set()

    def _ask_to_stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _notified(self, *_: Any) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                while await self.publish_pending() == BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("relay failed; retrying")
                await asyncio.sleep(min(self.interval, 1.0))
                self._wake.set()

    async def publish_pending(self) -> int:
        """Publish one batch of committed, unpublished events; returns how many."""
        async with in_transaction() as conn:
            if conn.capabilities.dialect == "postgres":
                await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [RELAY_LOCK])
            rows = await Event.filter(published_at__isnull=True).order_by("id").limit(BATCH)
            if not rows:
                return 0
            await self.broker.publish([to_domain(row) for row in rows])
            await Event.filter(id__in=[row.id for row in rows]).update(
                published_at=self.clock.now()
            )
        self.published += len(rows)
        return len(rows)

    async def pending(self) -> int:
        """How many committed events wait to be published."""
        return await Event.filter(published_at__isnull=True).count()
