"""The crypto app's rows: one wrapped data key per team."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TeamKey(Model):
    """A team's data key, wrapped by the key provider's master key.

    `team_id` is a plain id, not a foreign key: deleting the team must not silently take the key
    with it, and destroying the key (crypto-shredding, R-CLOSE-4) is an explicit act.
    """

    id = fields.IntField(primary_key=True)
    team_id = fields.IntField(unique=True)
    wrapped = fields.BinaryField()
    provider = fields.CharField(max_length=16)
    # The master key that wrapped it ("local:2", "kms:<key id>"), so a rotation can resume.
    wrapped_by = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    rotated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "crypto_team_key"
