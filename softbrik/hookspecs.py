# mypy: disable-error-code="empty-body"
"""The Brik hook specifications: the reference of every extension point.

A Brik implements any subset of these with `@softbrik.plugin.hookimpl`, in the module named by
its `softbrik.briks` entry point. An implementation may accept fewer arguments than the spec
(pluggy passes only those it names), which is how hooks grow without breaking Briks. A hook
name that is not specified here makes start-up fail (pluggy's `check_pending`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from softbrik.plugin import (
        BrikContext,
        BrikManifest,
        BrikSchema,
        DomainEvent,
        Insight,
        Platform,
    )

hookspec = pluggy.HookspecMarker("softbrik")


@hookspec(firstresult=True)
def softbrik_brik() -> BrikManifest:
    """Describe the Brik. Called once, when the Brik is loaded.

    Return a `BrikManifest`: its key (lowercase letters and digits, 2 to 30 characters), name,
    description, price in euro cents per user per month (600 to 1000, R-PROD-2), the keys of the
    Briks it depends on, its Tortoise models module and the domain event types it emits. The
    version is read from the Brik's distribution. A manifest that fails validation stops
    start-up with an error naming the Brik.
    """


@hookspec(firstresult=True)
def softbrik_schema() -> BrikSchema | None:
    """Contribute GraphQL schema parts. Called once, when the Brik is loaded.

    Return a `BrikSchema`: `query` is a Strawberry type served under a query field named after
    the Brik's key (`inventory { … }`); `mutations` and `subscriptions` are Strawberry types whose
    fields must all start with the key (`inventoryReceiveStock`). The core gates every one of
    these fields: only a signed-in user with an active seat for the Brik reaches them (R-ACC-3).
    """


@hookspec
def softbrik_routes() -> Sequence[BaseRoute]:
    """Contribute Starlette routes, mounted under `/briks/<key>/`. Called once, at load.

    For downloads, inbound mail or webhooks. These routes are not gated: check the caller
    yourself, for example with a signed, short-lived link.
    """
    return ()


@hookspec
def softbrik_cli(group: click.Group) -> None:
    """Add `softbrik <key> …` commands to `group`, a click group named after the Brik's key.

    Called once, when the command line is built.
    """


@hookspec
def softbrik_startup(app: Any, platform: Platform) -> Awaitable[None] | None:
    """Called when the server starts, after the database is ready. May return an awaitable."""


@hookspec
def softbrik_shutdown(app: Any, platform: Platform) -> Awaitable[None] | None:
    """Called when the server stops. May return an awaitable."""


@hookspec
def softbrik_context(context: BrikContext) -> dict[str, Any] | None:
    """Called for every request and WebSocket connection that reaches the Brik's fields.

    Return per-request objects (DataLoaders, services) by name; the Brik finds them in
    `brik_context(info).extras[name]`. They live for one request and one team only.
    """


@hookspec
def softbrik_event(event: DomainEvent, platform: Platform) -> Awaitable[None] | None:
    """React to a domain event of the core or of another Brik, after its transaction committed.

    Called once per event and Brik, never inside the writer's transaction. A handler that raises
    is logged and retried; it never breaks the writer or other Briks. Handlers must therefore be
    idempotent (use `event.id`).
    """


@hookspec
def softbrik_insights(
    team_id: int, since: datetime, platform: Platform
) -> Awaitable[Sequence[Insight]] | None:
    """Return cross-Brik findings for a team since an instant, each with a suggested remediation.

    Called on demand and on a schedule (R-PROD-4).
    """


@hookspec
def softbrik_export_team(
    team_id: int, platform: Platform
) -> Awaitable[Mapping[str, bytes | AsyncIterator[bytes]]] | None:
    """Return the team's data in open formats, as file names mapped to their bytes, or to an
    async iterator of bytes for what is too large to hold in memory (read it once, in order).

    Called when a team asks for its data (portability).
    """


@hookspec
def softbrik_delete_team(team_id: int, platform: Platform) -> Awaitable[None] | None:
    """Delete every row and blob the Brik holds for the team. Called at closure (R-CLOSE-3, -4).

    Must be idempotent: it may be called again after a crash.
    """
