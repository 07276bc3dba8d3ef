"""The event log (outbox)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Event(Model):
    """A domain event, written in the same transaction as the change it reports.

    Ids grow monotonically, so a subscriber can resume after the last id it saw.
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
