"""The public plugin API: everything a Brik may import from Softbrik.

A Brik (first-party or third-party) imports from the platform only this module, and
`softbrik.testing` in its tests. See `softbrik.hookspecs` for the hooks and the README for a
walk-through of writing a Brik.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pluggy

from softbrik.core.db import TeamScoped
from softbrik.core.errors import (
    BadUserInput,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Unauthenticated,
)

__all__ = [
    "BadUserInput",
    "BrikContext",
    "BrikManifest",
    "BrikSchema",
    "Conflict",
    "DomainError",
    "DomainEvent",
    "Forbidden",
    "Insight",
    "NotFound",
    "Platform",
    "TeamScoped",
    "Unauthenticated",
    "brik_context",
    "hookimpl",
]

hookimpl = pluggy.HookimplMarker("softbrik")

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9]{1,29}$")
MIN_PRICE_CENTS = 600  # R-PROD-2
MAX_PRICE_CENTS = 1000


@dataclass(frozen=True)
class BrikManifest:
    """What a Brik is. Returned by its `softbrik_brik` hook."""

    key: str
    name: str
    description: str
    price_cents: int
    dependencies: tuple[str, ...] = ()
    models: str | None = None
    """Dotted path of the Brik's Tortoise models module; its migrations live beside it."""
    migrations: str | None = None
    """Dotted path of the migrations package; default: `<models package>.migrations`."""
    events: tuple[str, ...] = ()
    """Domain event types the Brik emits, each prefixed by the upper-cased key."""
    currency: str = "EUR"
    version: str = "0"
    """Filled in by the core from the Brik's distribution."""


@dataclass(frozen=True)
class BrikSchema:
    """A Brik's GraphQL parts. Returned by its `softbrik_schema` hook."""

    query: type | None = None
    mutations: Sequence[type] = ()
    subscriptions: Sequence[type] = ()
    types: Sequence[type] = ()


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, told after the change committed (DESIGN.md, Events)."""

    id: int
    team_id: int
    type: str
    payload: Mapping[str, Any]
    occurred_at: datetime
    actor_id: int | None = None


@dataclass(frozen=True)
class Insight:
    """A cross-Brik finding with a suggested remediation (R-PROD-4)."""

    brik: str
    type: str
    severity: str
    message: str
    remediation: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


class Platform(Protocol):
    """The platform services a Brik uses, outside and inside requests."""

    def now(self) -> datetime:
        """The current instant (UTC) from the platform's clock; never read the wall clock."""
        ...

    async def emit(
        self,
        team_id: int,
        type: str,
        payload: Mapping[str, Any],
        actor_id: int | None = None,
    ) -> None:
        """Record a domain event in the current transaction (outbox); told after commit.

        `type` is upper snake case, prefixed by the Brik's key (`NOTES_ADDED`) and listed in its
        manifest's `events`; payload keys are snake_case and values JSON. A rolled-back
        transaction leaves no event. After commit the event reaches every Brik's
        `softbrik_event` hook and every live stream of the team (`events`).
        """
        ...

    def events(
        self,
        team_id: int,
        types: Collection[str] | None = None,
        after: int | None = None,
    ) -> AsyncIterator[DomainEvent]:
        """A team's events of `types` (all when None), live, for a Brik's subscription.

        With `after` (an event id), first every stored event after it, then live: no gap and no
        duplicate, in order. Return it from an async generator subscription field; the core
        ends it when the subscriber's sign-in or seat is gone.
        """
        ...

    async def seal(self, team_id: int, plaintext: bytes, purpose: str) -> bytes:
        """Encrypt data under the team's key (R-SEC-2); `purpose` binds what it is."""
        ...

    async def open(self, team_id: int, sealed: bytes, purpose: str) -> bytes:
        """Decrypt what `seal` returned for the same team and purpose."""
        ...


@dataclass
class BrikContext:
    """Who is asking, for one request, as a Brik's resolvers see it."""

    brik: str
    team_id: int
    user_id: int
    is_admin: bool
    platform: Platform
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> datetime:
        return self.platform.now()


def brik_context(info: Any) -> BrikContext:
    """The `BrikContext` of a resolver's `info`, for the Brik that owns the field."""
    getter: Callable[[Any], BrikContext] = info.context.brik_context
    return getter(info)


MaybeAwaitable = Awaitable[None] | None
