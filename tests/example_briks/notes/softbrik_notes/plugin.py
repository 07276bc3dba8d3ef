"""An example Brik, written only against `softbrik.plugin`, as a third party would."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import click
import strawberry
from strawberry.types import Info

from softbrik.plugin import (
    BadUserInput,
    BrikManifest,
    BrikSchema,
    Platform,
    brik_context,
    hookimpl,
    platform_command,
)
from softbrik_notes.models import Note as NoteRow

SEEN_EVENTS: list[Any] = []
BROKEN: set[str] = set()
"""Event types the handler fails on while listed (tests of retries and isolation)."""
ATTEMPTS: dict[int, int] = {}


@strawberry.type
class Note:
    title: str
    body: str


async def _note(info: Info[Any, Any], row: NoteRow) -> Note:
    ctx = brik_context(info)
    body = await ctx.platform.open(ctx.team_id, row.body, "notes.body")
    return Note(title=row.title, body=body.decode())


@strawberry.type
class NotesQuery:
    @strawberry.field
    async def notes(self, info: Info[Any, Any]) -> list[Note]:
        ctx = brik_context(info)
        rows = await NoteRow.filter(team_id=ctx.team_id).order_by("id")
        return [await _note(info, row) for row in rows]

    @strawberry.field
    def who(self, info: Info[Any, Any]) -> str:
        ctx = brik_context(info)
        return f"{ctx.brik}:{ctx.user_id}:{ctx.extras.get('greeting')}"


@strawberry.type
class NotesMutation:
    @strawberry.mutation
    async def notes_add(self, info: Info[Any, Any], title: str, body: str = "") -> Note:
        ctx = brik_context(info)
        if not title.strip():
            raise BadUserInput("A note needs a title.", field="title")
        sealed = await ctx.platform.seal(ctx.team_id, body.encode(), "notes.body")
        row = await NoteRow.create(
            team_id=ctx.team_id, title=title, body=sealed, author_id=ctx.user_id
        )
        await ctx.platform.emit(ctx.team_id, "NOTES_ADDED", {"title": title}, ctx.user_id)
        return await _note(info, row)


@hookimpl
def softbrik_brik() -> BrikManifest:
    return BrikManifest(
        key="notes",
        name="Notes",
        description="Team notes (an example Brik).",
        price_cents=700,
        models="softbrik_notes.models",
        events=("NOTES_ADDED",),
    )


@strawberry.type
class NotesSubscription:
    @strawberry.subscription
    async def notes_added(
        self, info: Info[Any, Any], after: str | None = None
    ) -> AsyncGenerator[str, None]:
        """The titles of notes added in the team, live."""
        ctx = brik_context(info)
        position = int(after) if after else None
        async for event in ctx.platform.events(ctx.team_id, ["NOTES_ADDED"], position):
            yield str(event.payload["title"])


@hookimpl
def softbrik_schema() -> BrikSchema:
    return BrikSchema(
        query=NotesQuery, mutations=[NotesMutation], subscriptions=[NotesSubscription]
    )


@hookimpl
def softbrik_context(context: Any) -> dict[str, Any]:
    return {"greeting": "hej"}


@hookimpl
def softbrik_event(event: Any) -> None:
    ATTEMPTS[event.id] = ATTEMPTS.get(event.id, 0) + 1
    if event.type in BROKEN:
        raise RuntimeError(f"notes cannot handle {event.type} now")
    SEEN_EVENTS.append(event)


@hookimpl
async def softbrik_delete_team(team_id: int) -> None:
    await NoteRow.filter(team_id=team_id).delete()


@hookimpl
def softbrik_cli(group: click.Group) -> None:
    @group.command()
    @click.option("--team", "team_id", type=int, required=True, help="The team's number.")
    @platform_command
    async def count(platform: Platform, team_id: int) -> None:
        """Count a team's notes and the bytes of their bodies."""
        rows = await NoteRow.filter(team_id=team_id)
        size = sum([len(await platform.open(team_id, row.body, "notes.body")) for row in rows])
        click.echo(f"{len(rows)} notes, {size} bytes, at {platform.now().isoformat()}")
