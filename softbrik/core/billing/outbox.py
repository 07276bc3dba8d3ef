"""E-mails of billing steps sent after the step commits (R-BILL-21: done once, even the e-mails).

Inside `mail_after_commit`, `send` writes the message into `outgoing_mail` in the current
transaction instead of sending it; when the block ends without an error (after the step's
transaction committed) the messages are sent and their rows deleted (nothing is kept once
sent). A rolled-back step sends nothing; a run killed between commit and sending leaves the
rows, and the next run sends them first (`send_pending`). Outside the block `send` sends at
once, as before.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from tortoise.transactions import in_transaction

from softbrik.core.billing.models import OutgoingMail
from softbrik.core.mail import Attachment, Message
from softbrik.core.runtime import Runtime

_held: ContextVar[list[OutgoingMail] | None] = ContextVar("softbrik_held_mail", default=None)


def encode(message: Message) -> dict[str, Any]:
    return {
        "to": message.to,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "reply_to": message.reply_to,
        "attachments": [
            {
                "filename": a.filename,
                "content": base64.b64encode(a.content).decode(),
                "mime_type": a.mime_type,
            }
            for a in message.attachments
        ],
    }


def decode(data: dict[str, Any]) -> Message:
    return Message(
        to=list(data["to"]),
        subject=data["subject"],
        text=data["text"],
        html=data.get("html"),
        reply_to=data.get("reply_to"),
        attachments=[
            Attachment(a["filename"], base64.b64decode(a["content"]), a["mime_type"])
            for a in data.get("attachments", [])
        ],
    )


async def send(rt: Runtime, team_id: int, message: Message) -> None:
    """Send `message`, after the current step commits when inside `mail_after_commit`."""
    held = _held.get()
    if held is None:
        await rt.mailer.send(message)
        return
    held.append(
        await OutgoingMail.create(
            team_id=team_id, message=encode(message), created_at=rt.clock.now()
        )
    )


@asynccontextmanager
async def mail_after_commit(rt: Runtime) -> AsyncIterator[None]:
    """Around a step's transaction: its e-mails are written in it and sent once it committed."""
    held: list[OutgoingMail] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    if held:
        await _deliver(rt, [row.id for row in held])


async def _deliver(rt: Runtime, ids: list[int]) -> int:
    """Send the ones of `ids` still unsent and delete them, under their row locks (skipped when
    another run holds them), so that two runs at once send each once; how many were sent.

    A crash after sending and before the commit sends it again: at least once, never lost.
    """
    sent: list[int] = []
    failure: BaseException | None = None
    async with in_transaction():
        rows = (
            await OutgoingMail.filter(id__in=ids).select_for_update(skip_locked=True).order_by("id")
        )
        for row in rows:
            try:
                await rt.mailer.send(decode(row.message))
            except BaseException as exc:  # what was sent is deleted, then it is raised
                failure = exc
                break
            sent.append(row.id)
        if sent:
            await OutgoingMail.filter(id__in=sent).delete()
    if failure is not None:
        raise failure
    return len(sent)


async def send_pending(rt: Runtime) -> int:
    """Send what committed steps left unsent (a run killed before sending); how many."""
    ids = await OutgoingMail.all().order_by("id").values_list("id", flat=True)
    return await _deliver(rt, [int(i) for i in ids]) if ids else 0  # type: ignore[call-overload]
