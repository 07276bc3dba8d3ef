"""Tortoise models of the accounts app."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


class TeamStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    SUSPENDED = "SUSPENDED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


class Team(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField()
    timezone = fields.CharField(max_length=64, default="Europe/Copenhagen")
    language = fields.CharField(max_length=5, default="da")
    country = fields.CharField(max_length=2, default="DK")
    vat_number = fields.CharField(max_length=32, null=True)
    address = fields.TextField(default="")
    status = fields.CharEnumField(TeamStatus, max_length=16, default=TeamStatus.ACTIVE)
    # Billing calendar (R-BILL-1, -2): the sign-up day, and the date calendar billing starts.
    anchor_day = fields.SmallIntField()
    calendar_from = fields.DateField(null=True)
    # The card on file (R-BILL-3): a provider token and what may be shown of it.
    payment_customer = fields.CharField(max_length=64, null=True)
    payment_token = fields.CharField(max_length=128, null=True)
    card_brand = fields.CharField(max_length=20, null=True)
    card_last4 = fields.CharField(max_length=4, null=True)
    card_exp_month = fields.SmallIntField(null=True)
    card_exp_year = fields.SmallIntField(null=True)

    class Meta:
        table = "team"


class User(Model):
    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "accounts.Team", related_name="users", on_delete=fields.CASCADE
    )
    team_id: int
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=200)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=8, default=Role.MEMBER)
    created_at = fields.DatetimeField()
    # R-BILL-6: a pending removal (first day without access), and an immediate end of access.
    removal_on = fields.DateField(null=True)
    access_ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "user"
        indexes = (("team_id",),)


class Session(Model):
    """A sign-in. The client gets the token once, and only its hash is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    client_address = fields.CharField(max_length=64, default="")

    class Meta:
        table = "session"
        indexes = (("user_id",),)


class Invitation(Model):
    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "accounts.Team", related_name="invitations", on_delete=fields.CASCADE
    )
    team_id: int
    email = fields.CharField(max_length=254)
    name = fields.CharField(max_length=200)
    briks: list[str] = fields.JSONField(default=list)  # type: ignore[assignment]
    token_hash = fields.CharField(max_length=64, unique=True)
    invited_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name=False, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "invitation"
        indexes = (("team_id",),)


class Seat(Model):
    """A user's use of a Brik: billed per period from `starts_on` up to `ends_on` (exclusive)."""

    id = fields.IntField(primary_key=True)
    team: fields.ForeignKeyRelation[Team] = fields.ForeignKeyField(
        "accounts.Team", related_name="seats", on_delete=fields.CASCADE
    )
    team_id: int
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "accounts.User", related_name="seats", on_delete=fields.CASCADE
    )
    user_id: int
    brik = fields.CharField(max_length=40)
    starts_on = fields.DateField()
    # The first day without the seat when a removal is pending or done (periods are half-open).
    ends_on = fields.DateField(null=True)
    created_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    """When the removal took effect and SEAT_REMOVED was told (`seats.end_due_seats`)."""

    class Meta:
        table = "seat"
        indexes = (("team_id", "brik"), ("user_id",))


class LoginAttempt(Model):
    """Failed sign-ins, for throttling per account and per client address (R-ACC-4).

    The e-mail tried is kept as its keyed hash (the audit log's `subject`), never in clear: the
    table holds addresses of people who are no customers. Rows older than the throttling window
    are deleted (`forget_failed_sign_ins`).
    """

    id = fields.IntField(primary_key=True)
    subject = fields.CharField(max_length=64, db_index=True)
    client_address = fields.CharField(max_length=64, db_index=True)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "login_attempt"
