"""The detectors (R-SEC-3): each reads the recent audit log and names what looks like an attack.

A detector is an async function of the runtime and the `Window` being looked at; it returns
`Candidate`s, which `findings.record` turns into findings (one open finding per attack). They
run together in `findings.scan`, every `SOFTBRIK_SECURITY_SCAN_INTERVAL_SECONDS` from the server's
lifespan and from `softbrik security scan`. Each query is grouped in the database; per-user work
(the baselines) is done only for the few users over a threshold.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.functions import Count, Max, Sum

from softbrik.core.accounts.models import Session
from softbrik.core.runtime import Runtime
from softbrik.core.security.audit import INTROSPECTION_FIELDS
from softbrik.core.security.models import AuditEntry, Severity

CREDENTIAL_STUFFING = "CREDENTIAL_STUFFING"
REQUEST_RATE = "REQUEST_RATE"
ENUMERATION = "ENUMERATION"
REVOKED_TOKEN = "REVOKED_TOKEN"
ADMIN_NEW_ADDRESS = "ADMIN_NEW_ADDRESS"
BULK_DOWNLOAD = "BULK_DOWNLOAD"
SCHEMA_PROBING = "SCHEMA_PROBING"

OPERATIONS = ("query", "mutation", "subscription")

LOCK = "lock"
REVOKE = "revoke"


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime

    @property
    def seconds(self) -> int:
        return int((self.until - self.since).total_seconds())

    def entries(self) -> Any:
        return AuditEntry.filter(at__gte=self.since, at__lte=self.until)


@dataclass
class Candidate:
    """What a detector saw: `key` names the attack (the same attack gives the same key)."""

    kind: str
    severity: Severity
    key: str
    team_id: int | None
    user_id: int | None
    evidence: dict[str, Any]
    last_at: datetime
    """The newest entry that shows it (a finding resolved after it is not raised again)."""
    act: str = ""
    """What a new high-severity finding does: `lock` the account or `revoke` its sessions."""
    extra: dict[str, Any] = field(default_factory=dict)


Detector = Callable[[Runtime, Window], Awaitable[list[Candidate]]]


def instant(value: Any) -> datetime:
    """An aggregate's datetime (SQLite answers text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def credential_stuffing(rt: Runtime, window: Window) -> list[Candidate]:
    """Repeated failed sign-ins on one account, or from one client address."""
    settings = rt.settings
    failed = window.entries().filter(kind="login").exclude(outcome="ok")
    found = []
    per_account = (
        await failed.filter(subject__isnull=False)
        .annotate(n=Count("id"), addresses=Count("client_address", distinct=True), last=Max("at"))
        .group_by("subject")
        .values("subject", "n", "addresses", "last")
    )
    for row in per_account:
        if row["n"] < settings.security_failed_logins_per_account:
            continue
        account = (
            await AuditEntry.filter(subject=row["subject"], user_id__isnull=False)
            .order_by("-at")
            .first()
            .values("user_id", "team_id")
        )
        found.append(
            Candidate(
                CREDENTIAL_STUFFING,
                Severity.HIGH,
                f"{CREDENTIAL_STUFFING}:account:{row['subject']}",
                account["team_id"] if account else None,
                account["user_id"] if account else None,
                {
                    "target": "account",
                    "account": row["subject"][:16],
                    "failed_sign_ins": row["n"],
                    "client_addresses": row["addresses"],
                    "window_seconds": window.seconds,
                },
                instant(row["last"]),
                act=LOCK,
            )
        )
    per_address = (
        await failed.exclude(client_address="")
        .annotate(n=Count("id"), accounts=Count("subject", distinct=True), last=Max("at"))
        .group_by("client_address")
        .values("client_address", "n", "accounts", "last")
    )
    for row in per_address:
        if row["n"] < settings.security_failed_logins_per_address:
            continue
        found.append(
            Candidate(
                CREDENTIAL_STUFFING,
                Severity.HIGH,
                f"{CREDENTIAL_STUFFING}:address:{row['client_address']}",
                None,
                None,
                {
                    "target": "client_address",
                    "client_address": row["client_address"],
                    "failed_sign_ins": row["n"],
                    "accounts": row["accounts"],
                    "window_seconds": window.seconds,
                },
                instant(row["last"]),
            )
        )
    return found


async def enumeration(rt: Runtime, window: Window) -> list[Candidate]:
    """Bursts of NOT_FOUND/FORBIDDEN answers to one signed-in user: ids being tried."""
    rows = (
        await window.entries()
        .filter(denied__gt=0, user_id__isnull=False, token="")
        .annotate(total=Sum("denied"), n=Count("id"), last=Max("at"))
        .group_by("user_id", "team_id")
        .values("user_id", "team_id", "total", "n", "last")
    )
    return [
        Candidate(
            ENUMERATION,
            Severity.HIGH,
            f"{ENUMERATION}:user:{row['user_id']}",
            row["team_id"],
            row["user_id"],
            {
                "denied_answers": int(row["total"]),
                "requests": row["n"],
                "window_seconds": window.seconds,
            },
            instant(row["last"]),
            act=REVOKE,
        )
        for row in rows
        if int(row["total"] or 0) >= rt.settings.security_denied_per_user
    ]


async def _above_baseline(
    rt: Runtime, window: Window, kinds: tuple[str, ...], minimum: int, factor: float
) -> list[tuple[dict[str, Any], float]]:
    """Users whose entries of `kinds` in the window reach `minimum` and `factor` times their own
    average per window over the baseline days before it (their history since their first entry,
    so a new user is held to `minimum` only)."""
    rows = (
        await window.entries()
        .filter(kind__in=kinds, user_id__isnull=False, token="")
        .annotate(n=Count("id"), size=Sum("size"), last=Max("at"))
        .group_by("user_id", "team_id")
        .values("user_id", "team_id", "n", "size", "last")
    )
    found = []
    start = window.since - timedelta(days=rt.settings.security_baseline_days)
    for row in rows:
        if row["n"] < minimum:
            continue
        history = AuditEntry.filter(
            user_id=row["user_id"], kind__in=kinds, at__gte=start, at__lt=window.since
        )
        count = await history.count()
        baseline = 0.0
        if count:
            first = await history.order_by("at").first().values_list("at", flat=True)
            span = max((window.since - instant(first)).total_seconds(), window.seconds)
            baseline = count / (span / window.seconds)
        if row["n"] >= factor * baseline:
            found.append((row, baseline))
    return found


async def request_rate(rt: Runtime, window: Window) -> list[Candidate]:
    """A user's requests far above their own baseline."""
    settings = rt.settings
    return [
        Candidate(
            REQUEST_RATE,
            Severity.MEDIUM,
            f"{REQUEST_RATE}:user:{row['user_id']}",
            row["team_id"],
            row["user_id"],
            {
                "requests": row["n"],
                "baseline_per_window": round(baseline, 2),
                "window_seconds": window.seconds,
            },
            instant(row["last"]),
        )
        for row, baseline in await _above_baseline(
            rt,
            window,
            OPERATIONS,
            settings.security_rate_min_requests,
            settings.security_rate_factor,
        )
    ]


async def bulk_downloads(rt: Runtime, window: Window) -> list[Candidate]:
    """File downloads out of line with the user's own history (data being taken away)."""
    settings = rt.settings
    return [
        Candidate(
            BULK_DOWNLOAD,
            Severity.HIGH,
            f"{BULK_DOWNLOAD}:user:{row['user_id']}",
            row["team_id"],
            row["user_id"],
            {
                "downloads": row["n"],
                "bytes": int(row["size"] or 0),
                "baseline_per_window": round(baseline, 2),
                "window_seconds": window.seconds,
            },
            instant(row["last"]),
            act=REVOKE,
        )
        for row, baseline in await _above_baseline(
            rt,
            window,
            ("download",),
            settings.security_download_min_files,
            settings.security_download_factor,
        )
    ]


async def revoked_tokens(rt: Runtime, window: Window) -> list[Candidate]:
    """A signed-out or revoked token used again: a copy of it may be in someone else's hands."""
    rows = (
        await window.entries()
        .filter(token="revoked", user_id__isnull=False)
        .annotate(n=Count("id"), addresses=Count("client_address", distinct=True), last=Max("at"))
        .group_by("user_id", "team_id")
        .values("user_id", "team_id", "n", "addresses", "last")
    )
    return [
        Candidate(
            REVOKED_TOKEN,
            Severity.MEDIUM,
            f"{REVOKED_TOKEN}:user:{row['user_id']}",
            row["team_id"],
            row["user_id"],
            {
                "uses": row["n"],
                "client_addresses": row["addresses"],
                "window_seconds": window.seconds,
            },
            instant(row["last"]),
        )
        for row in rows
        if row["n"] >= rt.settings.security_revoked_token_uses
    ]


async def admin_new_address(rt: Runtime, window: Window) -> list[Candidate]:
    """An administrator working from a client address never seen for them before.

    An admin without any history before the window (just signed up) is not told about.
    """
    rows = (
        await window.entries()
        .filter(admin=True, user_id__isnull=False, token="", outcome="ok")
        .exclude(client_address="")
        .annotate(n=Count("id"), last=Max("at"))
        .group_by("user_id", "team_id", "client_address")
        .values("user_id", "team_id", "client_address", "n", "last")
    )
    found = []
    start = window.since - timedelta(days=rt.settings.security_baseline_days)
    for row in rows:
        user_id, address = row["user_id"], row["client_address"]
        before = AuditEntry.filter(user_id=user_id, at__gte=start, at__lt=window.since, token="")
        sessions = Session.filter(user_id=user_id, created_at__lt=window.since)
        if not await before.exists() and not await sessions.exists():
            continue
        if (
            await before.filter(client_address=address).exists()
            or await sessions.filter(client_address=address).exists()
        ):
            continue
        found.append(
            Candidate(
                ADMIN_NEW_ADDRESS,
                Severity.MEDIUM,
                f"{ADMIN_NEW_ADDRESS}:user:{user_id}:{address}",
                row["team_id"],
                user_id,
                {"client_address": address, "requests": row["n"]},
                instant(row["last"]),
            )
        )
    return found


async def schema_probing(rt: Runtime, window: Window) -> list[Candidate]:
    """Introspection in production: nobody's frontend needs it there (SOFTBRIK_ENV)."""
    if rt.settings.env != "production":
        return []
    rows = await (
        window.entries()
        .filter(Q(selection__contains="__schema") | Q(selection__contains="__type"))
        .values("user_id", "team_id", "client_address", "selection", "at")
    )
    seen: dict[str, Candidate] = {}
    for row in rows:
        if not INTROSPECTION_FIELDS & set(row["selection"].split(",")):
            continue  # `__typename` only
        who = f"user:{row['user_id']}" if row["user_id"] else f"address:{row['client_address']}"
        candidate = seen.get(who)
        if candidate is None:
            candidate = seen[who] = Candidate(
                SCHEMA_PROBING,
                Severity.MEDIUM,
                f"{SCHEMA_PROBING}:{who}",
                row["team_id"],
                row["user_id"],
                {
                    "introspection_requests": 0,
                    "client_address": row["client_address"],
                    "window_seconds": window.seconds,
                },
                instant(row["at"]),
            )
        candidate.evidence["introspection_requests"] += 1
        candidate.last_at = max(candidate.last_at, instant(row["at"]))
    return list(seen.values())


DETECTORS: tuple[Detector, ...] = (
    credential_stuffing,
    enumeration,
    request_rate,
    bulk_downloads,
    revoked_tokens,
    admin_new_address,
    schema_probing,
)
