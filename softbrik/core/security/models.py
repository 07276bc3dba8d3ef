"""Tortoise models of the security app: the audit log, findings and account locks."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class FindingStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


class AuditEntry(Model):
    """One operation: who, team, what, from where, with what outcome (R-SEC-3).

    Never the variables, tokens, passwords or e-mail addresses: a sign-in carries only a keyed
    hash of the e-mail tried (`subject`).
    """

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    team_id = fields.IntField(null=True)
    user_id = fields.IntField(null=True)
    admin = fields.BooleanField(default=False)
    kind = fields.CharField(max_length=16)
    """query, mutation, subscription, login, download or connect."""
    operation = fields.CharField(max_length=100, default="")
    selection = fields.CharField(max_length=255, default="")
    """The operation's top-level fields, comma-separated."""
    client_address = fields.CharField(max_length=64, default="")
    outcome = fields.CharField(max_length=100, default="ok")
    """ok, or the error codes of the answer, comma-separated."""
    denied = fields.SmallIntField(default=0)
    """How many NOT_FOUND and FORBIDDEN errors the answer had."""
    duration_ms = fields.IntField(default=0)
    token = fields.CharField(max_length=8, default="")
    """Why a bearer token given did not sign in: revoked, expired, ended or unknown."""
    subject = fields.CharField(max_length=64, null=True)
    """Keyed hash of the e-mail a sign-in tried."""
    size = fields.BigIntField(default=0)
    """Bytes sent, for downloads."""

    class Meta:
        table = "audit_entry"
        indexes = (("user_id", "at"), ("client_address", "at"), ("subject", "at"))


class Finding(Model):
    """Something the threat detection noticed, with its evidence (R-SEC-3).

    One attack makes one open finding: `open_key` is unique while the finding is open (and null
    once resolved), so a detector that sees the attack again updates the open finding.
    """

    id = fields.IntField(primary_key=True)
    team_id = fields.IntField(null=True, db_index=True)
    user_id = fields.IntField(null=True)
    kind = fields.CharField(max_length=32)
    severity = fields.CharEnumField(Severity, max_length=8)
    status = fields.CharEnumField(FindingStatus, max_length=8, default=FindingStatus.OPEN)
    dedup_key = fields.CharField(max_length=200, db_index=True)
    open_key = fields.CharField(max_length=200, null=True, unique=True)
    evidence: dict[str, Any] = fields.JSONField(default=dict)  # type: ignore[assignment]
    occurrences = fields.IntField(default=1)
    """How many scans saw the attack going on."""
    action = fields.CharField(max_length=100, default="")
    """What was done about it: sessions revoked, account locked, admins told."""
    created_at = fields.DatetimeField(db_index=True)
    last_seen_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    resolved_by = fields.IntField(null=True)

    class Meta:
        table = "security_finding"


class AccountLock(Model):
    """A locked account: it cannot sign in until an administrator unlocks it."""

    id = fields.IntField(primary_key=True)
    user_id = fields.IntField(unique=True)
    team_id = fields.IntField(db_index=True)
    locked_at = fields.DatetimeField()
    finding_id = fields.IntField(null=True)

    class Meta:
        table = "security_account_lock"
