"""The event log (outbox) and the delivery cursors of its consumers."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Event(Model):
    """A domain event, written in the same transaction as the change it reports.

    The id is the event's position in the log: ids are handed out in commit order (see
    `log.record`), so a reader that saw id N never later finds a committed event below N, and a
    subscriber can resume after the last id it saw.
    """

    id = fields.BigIntField(primary_key=True)
    team_id = fields.IntField(db_index=True)
    type = fields.CharField(max_length=64)
    payload: dict = fields.JSONField(default=dict)  # type: ignore[assignment]
    actor_id = fields.IntField(null=True)
    occurred_at = fields.DatetimeField(db_index=True)
    published_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "event"
        indexes = (("team_id", "id"),)


class EventCursor(Model):
    """How far one consumer (a Brik's `softbrik_event` handler) has read the log."""

    consumer = fields.CharField(max_length=64, primary_key=True)
    position = fields.BigIntField(default=0)
    attempts = fields.IntField(default=0)
    """Failed attempts at the event after `position`."""
    retry_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(default="")

    class Meta:
        table = "event_cursor"
