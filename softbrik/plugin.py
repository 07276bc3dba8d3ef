"""The public plugin API: everything a Brik may import from Softbrik.

A Brik (first-party or third-party) imports from the platform only this module, and
`softbrik.testing` in its tests. See `softbrik.hookspecs` for the hooks and the README for a
walk-through of writing a Brik.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from softbrik.schema.node import Node

__all__ = [
    "BadUserInput",
    "BrikBlobs",
    "BrikContext",
    "BrikManifest",
    "BrikSchema",
    "Conflict",
    "DomainError",
    "DomainEvent",
    "Forbidden",
    "Insight",
    "Node",
    "NotFound",
    "Platform",
    "TeamScoped",
    "Unauthenticated",
    "brik_context",
    "hookimpl",
    "platform_command",
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


BrikNodeLoader = Callable[["BrikContext", int], Awaitable[Any]]


@dataclass(frozen=True)
class BrikSchema:
    """A Brik's GraphQL parts. Returned by its `softbrik_schema` hook."""

    query: type | None = None
    mutations: Sequence[type] = ()
    subscriptions: Sequence[type] = ()
    types: Sequence[type] = ()
    nodes: Mapping[str, BrikNodeLoader] = field(default_factory=dict)
    """Type names of the Brik's `Node` types (they implement `softbrik.plugin.Node`) mapped to
    how to load one for `node(id)`: `async (BrikContext, pk) -> object or None`, within the
    context's team; the core answers NOT_FOUND for None and FORBIDDEN without a seat."""


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


class BrikBlobs(Protocol):
    """A Brik's blob storage: bytes under keys, per team, always sealed under the team's key.

    Keys are the Brik's own ("versions/42", "uploads/abc/3"): letters, digits, `-_.` and `/`,
    no `..`. The store (a local directory or S3) only ever holds ciphertext (R-SEC-1, R-SEC-2),
    under `team/<team id>/<brik>/<key>`, so a team's blobs go with its closure (R-CLOSE-3).
    Writes are atomic: a reader sees the whole blob or none; a failing `chunks` stores nothing
    and keeps the previous blob. Memory stays flat whatever the size.
    """

    async def write(self, team_id: int, key: str, chunks: AsyncIterator[bytes]) -> int:
        """Seal and store the concatenated chunks under `key`; return the plaintext size."""
        ...

    def read(
        self, team_id: int, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        """Stream plaintext bytes [start, end) (to the end when `end` is None).

        Raises `LookupError` on first iteration if there is no blob; a ranged read decrypts only
        the segments that cover the range.
        """
        ...

    async def size(self, team_id: int, key: str) -> int | None:
        """The plaintext size of the blob, or None if there is none."""
        ...

    async def delete(self, team_id: int, key: str) -> None:
        """Delete the blob; no error if there is none."""
        ...

    async def keys(self, team_id: int, prefix: str = "") -> list[str]:
        """The team's keys of this Brik that start with `prefix`, sorted."""
        ...

    async def delete_team(self, team_id: int) -> int:
        """Delete every blob of this Brik for the team; return how many."""
        ...


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

    def blobs(self, brik: str) -> BrikBlobs:
        """The Brik's blob storage (sealed per team; see `BrikBlobs`)."""
        ...

    def sign(self, purpose: str, claims: Mapping[str, Any], ttl: timedelta) -> str:
        """A URL-safe token carrying `claims` (JSON values) for `purpose`, valid for `ttl`.

        For short-lived links (downloads, shares): the claims are readable by whoever holds the
        token, so put ids in them, never secrets.
        """
        ...

    def verify(self, purpose: str, token: str) -> dict[str, Any]:
        """The claims of a token `sign` made for `purpose`; `Forbidden` if it is forged, made
        for another purpose, or expired (by the platform's clock)."""
        ...

    async def hash_secret(self, secret: str) -> str:
        """A salted, slow hash (argon2id) of a secret such as a share-link password."""
        ...

    async def check_secret(self, hashed: str, secret: str) -> bool:
        """Whether `secret` matches what `hash_secret` returned."""
        ...

    async def has_seat(self, team_id: int, user_id: int, brik: str) -> bool:
        """Whether the user is a member of the team with an active seat for `brik` today
        (R-ACC-3); false for another team's user, a suspended team or ended access."""
        ...

    def audit(
        self,
        request: Any,
        kind: str,
        *,
        team_id: int | None,
        user_id: int | None,
        size: int = 0,
        error: str | None = None,
    ) -> None:
        """Record what a Brik's HTTP route did in the audit log (R-SEC-3); GraphQL operations
        are recorded by the core already.

        `request` is the Starlette request (the client address is read from it), `kind` what
        happened (`download`: the threat detection compares a user's downloads with their own
        history), `size` the bytes sent, `error` the refusal's code (`NOT_FOUND`, `FORBIDDEN`).
        Never put names, paths or tokens in it. Cheap: the entry is written in a batch later.
        """
        ...

    def encode_id(self, type_name: str, pk: int) -> str:
        """The opaque global id (Relay) of a row, as every GraphQL `ID` is shown."""
        ...

    def decode_id(self, global_id: str, type_name: str, field: str = "id") -> int:
        """The primary key in an id of `type_name`; `NotFound` (naming `field`) for a malformed
        id or another type's, exactly like a missing row."""
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


def platform_command(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """Make `async def command(platform, **options)` the callback of a Brik's click command.

    Use it under click's decorators in a `softbrik_cli` hook::

        @group.command()
        @click.option("--fix", is_flag=True)
        @platform_command
        async def verify(platform: Platform, fix: bool) -> None: ...

    When the command runs, the settings are read, the Briks loaded, the database initialised
    (an embedded SQLite database is migrated first) and the runtime built; the command gets the
    `Platform` first, and the database is closed afterwards. Its return value is returned.
    """

    @functools.wraps(fn)
    def callback(*args: Any, **kwargs: Any) -> Any:
        from softbrik.cli import run_with_platform

        return run_with_platform(fn, *args, **kwargs)

    return callback
