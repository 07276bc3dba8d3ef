"""Brokers: how committed events reach every process (DESIGN.md, Events).

The relay publishes each committed event once, in position order, to the broker. The broker
hands it to the `Hub` of every process, which fans it out to that process's inboxes (one per live
subscription, one for the Brik delivery). `LocalBroker` (the default) reaches this process only;
`RedisBroker` (SOFTBRIK_REDIS_URL) publishes on one Redis pub/sub channel that every instance
listens to. Redis pub/sub keeps nothing for a listener that is away, so when the connection
drops every inbox is marked `lost` and replays the gap from the event log: nothing is lost, and
the positions drop any duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from softbrik.plugin import DomainEvent

log = logging.getLogger("softbrik.events")

INBOX_SIZE = 1000


def to_message(event: DomainEvent) -> str:
    return json.dumps(
        {
            "id": event.id,
            "team_id": event.team_id,
            "type": event.type,
            "payload": event.payload,
            "actor_id": event.actor_id,
            "occurred_at": event.occurred_at.isoformat(),
        },
        separators=(",", ":"),
    )


def from_message(text: str | bytes) -> DomainEvent:
    data: dict[str, Any] = json.loads(text)
    return DomainEvent(
        id=int(data["id"]),
        team_id=int(data["team_id"]),
        type=str(data["type"]),
        payload=data["payload"],
        occurred_at=datetime.fromisoformat(data["occurred_at"]),
        actor_id=data.get("actor_id"),
    )


class Lost:
    """What an inbox answers after it overflowed or its broker lost events: replay the log."""


LOST = Lost()


class Inbox:
    """Events for one consumer in this process, in position order, bounded.

    A consumer that falls more than `size` events behind is not allowed to hold memory: its
    inbox drops what it holds and answers `LOST` once, and the consumer replays from the log.
    """

    def __init__(self, team_id: int | None, size: int = INBOX_SIZE) -> None:
        self.team_id = team_id
        self.size = size
        self._items: deque[DomainEvent] = deque()
        self._lost = False
        self._ready = asyncio.Event()

    def put(self, event: DomainEvent) -> None:
        if self._lost:
            return
        if len(self._items) >= self.size:
            self.mark_lost()
            return
        self._items.append(event)
        self._ready.set()

    def wake(self) -> None:
        """Make a waiting `get` return (None when nothing arrived)."""
        self._ready.set()

    def mark_lost(self) -> None:
        self._items.clear()
        self._lost = True
        self._ready.set()

    async def get(self, wait: float | None = None) -> DomainEvent | Lost | None:
        """The next event, `LOST`, or None when `wait` seconds passed without either."""
        if not self._items and not self._lost:
            self._ready.clear()
            if wait is None:
                await self._ready.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._ready.wait(), wait)
        if self._lost:
            self._lost = False
            return LOST
        if self._items:
            return self._items.popleft()
        return None


class Hub:
    """Fans events out to this process's inboxes: by team, and to inboxes of every team."""

    def __init__(self) -> None:
        self._inboxes: dict[int | None, set[Inbox]] = {}

    def open(self, team_id: int | None, size: int = INBOX_SIZE) -> Inbox:
        """An inbox for one team's events, or for every event with `team_id=None`."""
        inbox = Inbox(team_id, size)
        self._inboxes.setdefault(team_id, set()).add(inbox)
        return inbox

    def close(self, inbox: Inbox) -> None:
        found = self._inboxes.get(inbox.team_id)
        if found is not None:
            found.discard(inbox)
            if not found:
                del self._inboxes[inbox.team_id]

    def dispatch(self, event: DomainEvent) -> None:
        for inbox in self._inboxes.get(event.team_id, ()):
            inbox.put(event)
        for inbox in self._inboxes.get(None, ()):
            inbox.put(event)

    def lose_all(self) -> None:
        """Tell every inbox that events may have gone missing (a broker reconnected)."""
        for inboxes in self._inboxes.values():
            for inbox in inboxes:
                inbox.mark_lost()

    @property
    def inbox_count(self) -> int:
        return sum(len(found) for found in self._inboxes.values())


class LocalBroker:
    """The embedded default: this process only."""

    name = "local"

    def __init__(self) -> None:
        self.hub = Hub()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            self.hub.dispatch(event)


class RedisBroker:
    """Redis pub/sub on the channel `<prefix>events`, for several instances."""

    name = "redis"

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.channel = f"{prefix}events"
        self.hub = Hub()
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self) -> None:
        import redis.asyncio as redis

        self._redis = redis.Redis.from_url(self.url)
        self._subscribed = asyncio.Event()
        self._listener = asyncio.create_task(self._listen(), name="softbrik:redis")
        try:
            await asyncio.wait_for(self._subscribed.wait(), 10)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(f"cannot subscribe to Redis at {self.url}") from None

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        # One pipeline, sent in order: Redis hands the messages on in this order.
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, to_message(event))
            await pipe.execute()

    async def _listen(self) -> None:
        delay = 0.1
        first = True
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not first:
                    # Whatever was published while we were away is in the log, not here.
                    self.hub.lose_all()
                first = False
                self._subscribed.set()
                delay = 0.1
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.hub.dispatch(from_message(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("redis broker disconnected", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def broker_from_settings(settings: Any) -> LocalBroker | RedisBroker:
    if settings.redis_url:
        return RedisBroker(settings.redis_url, settings.redis_prefix)
    return LocalBroker()
