"""Findings (R-SEC-3): recorded once per attack, acted on, told, listed and resolved.

`scan` runs every detector over the last `SOFTBRIK_SECURITY_WINDOW_SECONDS` of the audit log.
A candidate whose attack has an open finding updates it (`occurrences`, `last_seen_at`,
evidence); otherwise a new finding is written, in one transaction with what it does:

- a HIGH finding on an account locks it (credential stuffing) or ends its sessions
  (enumeration, bulk downloads), and tells live subscriptions to check their access again;
- every team finding is a `SECURITY_FINDING` event (the `securityFindings` subscription);
- after commit, a HIGH finding is e-mailed to the team's administrators.

A finding resolved by an administrator is not raised again for what it already showed: only
audit entries newer than the resolution raise it again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Role, Team, User
from softbrik.core.accounts.service import revoke_sessions
from softbrik.core.errors import NotFound
from softbrik.core.events.bus import AccessCheck
from softbrik.core.events.log import last_position, record
from softbrik.core.runtime import Runtime
from softbrik.core.security import detectors
from softbrik.core.security.detectors import LOCK, REVOKE, Candidate, Window
from softbrik.core.security.models import (
    AccountLock,
    AuditEntry,
    Finding,
    FindingStatus,
    Severity,
)

log = logging.getLogger("softbrik.security")

SECURITY_FINDING = "SECURITY_FINDING"
SESSION_REVOKED = "SESSION_REVOKED"
"""Tells live subscriptions to check their sign-in again (events.bus.ACCESS_EVENTS)."""

_SUMMARIES: dict[str, dict[str, str]] = {
    detectors.CREDENTIAL_STUFFING: {
        "en": "{failed_sign_ins} failed sign-ins within {minutes} minutes.",
        "da": "{failed_sign_ins} mislykkede log-ind inden for {minutes} minutter.",
    },
    detectors.ENUMERATION: {
        "en": "{denied_answers} answers of NOT_FOUND or FORBIDDEN within {minutes} minutes: "
        "someone is trying ids.",
        "da": "{denied_answers} svar med NOT_FOUND eller FORBIDDEN inden for {minutes} minutter: "
        "nogen prøver sig frem med id'er.",
    },
    detectors.REQUEST_RATE: {
        "en": "{requests} requests within {minutes} minutes, far above this user's usual "
        "{baseline_per_window}.",
        "da": "{requests} forespørgsler inden for {minutes} minutter, langt over brugerens "
        "sædvanlige {baseline_per_window}.",
    },
    detectors.BULK_DOWNLOAD: {
        "en": "{downloads} file downloads within {minutes} minutes, far above this user's "
        "usual {baseline_per_window}.",
        "da": "{downloads} hentede filer inden for {minutes} minutter, langt over brugerens "
        "sædvanlige {baseline_per_window}.",
    },
    detectors.REVOKED_TOKEN: {
        "en": "A signed-out sign-in token was used {uses} times.",
        "da": "Et udløbet log-ind-token blev brugt {uses} gange.",
    },
    detectors.ADMIN_NEW_ADDRESS: {
        "en": "An administrator worked from a new address: {client_address}.",
        "da": "En administrator arbejdede fra en ny adresse: {client_address}.",
    },
    detectors.SCHEMA_PROBING: {
        "en": "{introspection_requests} requests read the API's schema (introspection).",
        "da": "{introspection_requests} forespørgsler læste API'ets skema (introspection).",
    },
}
_ACTIONS = {
    LOCK: {
        "en": "The account is locked until an administrator unlocks it.",
        "da": "Kontoen er låst, indtil en administrator låser den op.",
    },
    REVOKE: {
        "en": "The user's sign-ins were ended.",
        "da": "Brugerens log-ind er afsluttet.",
    },
}


def summary(finding: Finding, language: str = "en") -> str:
    """What a finding is about, in the team's language, from its evidence."""
    language = language if language in ("da", "en") else "en"
    evidence = {**finding.evidence}
    evidence.setdefault("minutes", int(evidence.get("window_seconds", 0)) // 60)
    template = _SUMMARIES.get(finding.kind, {}).get(language, finding.kind)
    try:
        text = template.format(**evidence)
    except (KeyError, IndexError):
        text = finding.kind
    for act, texts in _ACTIONS.items():
        if act in finding.action.split(","):
            text += " " + texts[language]
    return text


async def scan(rt: Runtime) -> int:
    """Run every detector over the recent audit log; returns how many new findings it made."""
    await rt.audit.flush()
    now = rt.clock.now()
    window = Window(now - timedelta(seconds=rt.settings.security_window_seconds), now)
    made = 0
    for detect in detectors.DETECTORS:
        for candidate in await detect(rt, window):
            if await record_candidate(rt, candidate) is not None:
                made += 1
    return made


async def record_candidate(rt: Runtime, candidate: Candidate) -> Finding | None:
    """Record what a detector saw: the new finding, or None when it only updated an open one
    (or a resolution already covers it)."""
    now = rt.clock.now()
    found = await Finding.get_or_none(open_key=candidate.key)
    if found is not None:
        found.occurrences += 1
        found.last_seen_at = now
        found.evidence = candidate.evidence
        await found.save(update_fields=["occurrences", "last_seen_at", "evidence"])
        return None
    resolved = (
        await Finding.filter(dedup_key=candidate.key, status=FindingStatus.RESOLVED)
        .order_by("-resolved_at")
        .first()
    )
    if resolved is not None and resolved.resolved_at and resolved.resolved_at >= candidate.last_at:
        return None
    high = candidate.severity == Severity.HIGH
    try:
        async with in_transaction():
            finding = await Finding.create(
                team_id=candidate.team_id,
                user_id=candidate.user_id,
                kind=candidate.kind,
                severity=candidate.severity,
                dedup_key=candidate.key,
                open_key=candidate.key,
                evidence=candidate.evidence,
                created_at=now,
                last_seen_at=now,
            )
            done = await _act(rt, finding, candidate.act) if high else []
            if high and finding.team_id is not None:
                done.append("admins_emailed")
            if done:
                finding.action = ",".join(done)
                await finding.save(update_fields=["action"])
            if finding.team_id is not None:
                await record(
                    rt.clock,
                    finding.team_id,
                    SECURITY_FINDING,
                    {
                        "finding_id": finding.id,
                        "kind": finding.kind,
                        "severity": finding.severity.value,
                        "message": summary(finding),
                    },
                )
    except IntegrityError:
        return None  # another instance recorded the same attack a moment ago
    log.warning(
        "security finding",
        extra={
            "finding_id": finding.id,
            "kind": finding.kind,
            "severity": finding.severity.value,
            "team_id": finding.team_id,
            "user_id": finding.user_id,
            "action": finding.action,
        },
    )
    if high and finding.team_id is not None:
        await tell_admins(rt, finding)
    return finding


async def _act(rt: Runtime, finding: Finding, act: str) -> list[str]:
    """Lock the account or end its sessions, in the finding's transaction."""
    if finding.user_id is None or act not in (LOCK, REVOKE):
        return []
    user = await User.get_or_none(id=finding.user_id)
    if user is None:
        return []
    if act == LOCK:
        await AccountLock.get_or_create(
            user_id=user.id,
            defaults={
                "team_id": user.team_id,
                "locked_at": rt.clock.now(),
                "finding_id": finding.id,
            },
        )
    await revoke_sessions(rt, user.id)
    await record(rt.clock, user.team_id, SESSION_REVOKED, {"user_id": user.id})
    return [act]


async def tell_admins(rt: Runtime, finding: Finding) -> None:
    """E-mail a finding to the team's administrators (R-SEC-3), in the team's language."""
    from softbrik.core.mail import Message, render

    team = await Team.get_or_none(id=finding.team_id)
    if team is None:
        return
    admins = await User.filter(
        team_id=team.id, role=Role.ADMIN, access_ended_at__isnull=True
    ).order_by("id")
    details = summary(finding, team.language)
    if finding.user_id is not None:
        user = await User.get_or_none(id=finding.user_id, team_id=team.id)
        if user is not None:
            details += f"\n\n{'Bruger' if team.language == 'da' else 'User'}: {user.name}"
    subject, text = render(
        "security_alert",
        team.language,
        team_name=team.name,
        finding_type=finding.kind,
        severity=finding.severity.value,
        occurred_at=finding.created_at,
        details=details,
    )
    for admin in admins:
        try:
            await rt.mailer.send(Message(to=[admin.email], subject=subject, text=text))
        except Exception:
            log.exception("security alert not sent", extra={"finding_id": finding.id})


# --- locks ------------------------------------------------------------------------------------


async def is_locked(user_id: int) -> bool:
    return await AccountLock.filter(user_id=user_id).exists()


async def unlock_account(rt: Runtime, team: Team, user_id: int) -> User:
    """An administrator lets a locked member sign in again (a member of another team, like a
    missing one, is NOT_FOUND). Unlocking an account that is not locked changes nothing."""
    user = await User.get_or_none(id=user_id, team_id=team.id)
    if user is None:
        raise NotFound("No such user.", field="userId")
    await AccountLock.filter(user_id=user.id).delete()
    log.info("account unlocked", extra={"team_id": team.id, "user_id": user.id})
    return user


async def delete_team(team_id: int, user_ids: list[Any]) -> None:
    """At closure (R-CLOSE-3): the team's audit entries, findings and locks are deleted."""
    await AuditEntry.filter(Q(team_id=team_id) | Q(user_id__in=user_ids)).delete()
    await Finding.filter(team_id=team_id).delete()
    await AccountLock.filter(team_id=team_id).delete()


# --- reading and resolving ------------------------------------------------------------------


async def team_findings(
    team_id: int, first: int, after: int | None, max_page: int, status: str | None = None
) -> list[Finding]:
    """The team's findings, newest first, a page of `first` after the finding `after`."""
    first = max(0, min(first, max_page))
    rows = Finding.filter(team_id=team_id)
    if status is not None:
        rows = rows.filter(status=status)
    if after is not None:
        if not await Finding.filter(id=after, team_id=team_id).exists():
            raise NotFound("No such finding.", field="after")
        rows = rows.filter(id__lt=after)
    found: list[Finding] = await rows.order_by("-id").limit(first)
    return found


async def new_findings(
    rt: Runtime, team_id: int, after: int | None, check: AccessCheck | None = None
) -> AsyncIterator[list[Finding]]:
    """The team's findings newer than the finding `after` (when given, oldest first, in one
    batch), then new ones live, one at a time, each once: what a dashboard missed while it was
    away, then the rest.

    The event log's position is taken before the findings are read, and the stream goes on from
    it, so a finding made in between comes by one way or both (and is told once), never by
    neither. `check` raises when the subscriber may no longer read them; it ends the stream.
    """
    position: int | None = None
    seen: set[int] = set()
    if after is not None:
        await team_finding(team_id, after, field="after")
        position = await last_position()
        missed = await Finding.filter(team_id=team_id, id__gt=after).order_by("id")
        seen = {row.id for row in missed}
        if missed:
            yield missed
    async for event in rt.events.stream(team_id, {SECURITY_FINDING}, position, check):
        finding_id = int(event.payload["finding_id"])
        if finding_id in seen:
            continue
        live = await Finding.get_or_none(id=finding_id, team_id=team_id)
        if live is not None:
            yield [live]


async def team_finding(team_id: int, finding_id: int, field: str = "findingId") -> Finding:
    found = await Finding.get_or_none(id=finding_id, team_id=team_id)
    if found is None:
        raise NotFound("No such finding.", field=field)
    return found


async def resolve_finding(rt: Runtime, team_id: int, finding_id: int, by: int) -> Finding:
    """Close an open finding: a new attack of the same kind raises a new one."""
    finding = await team_finding(team_id, finding_id)
    if finding.status == FindingStatus.OPEN:
        finding.status = FindingStatus.RESOLVED
        finding.open_key = None
        finding.resolved_at = rt.clock.now()
        finding.resolved_by = by
        await finding.save(update_fields=["status", "open_key", "resolved_at", "resolved_by"])
    return finding


async def all_findings(
    *,
    team_id: int | None = None,
    kind: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[Finding]:
    """Findings across every team, newest first (staff, `softbrik security findings`)."""
    rows = Finding.all()
    filters: dict[str, Any] = {
        "team_id": team_id,
        "kind": kind,
        "severity": severity,
        "status": status,
        "created_at__gte": since,
    }
    rows = rows.filter(**{name: value for name, value in filters.items() if value is not None})
    found: list[Finding] = await rows.order_by("-id").limit(limit)
    return found
