"""GraphQL of the threat detection (R-SEC-3): the audit of every operation, findings, unlocking.

`AuditOperations` records every operation (HTTP and WebSocket) in the audit log when it ends:
who, team, operation name and type, top-level fields, client address, outcome (error codes),
duration. Never variables or tokens; a sign-in only as a keyed hash of the e-mail tried.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.scalars import JSON
from strawberry.types import Info

from softbrik.core.accounts.models import Team as TeamRow
from softbrik.core.accounts.models import User as UserRow
from softbrik.core.security import findings
from softbrik.core.security.audit import Actor
from softbrik.core.security.models import Finding
from softbrik.schema.accounts import User
from softbrik.schema.context import Context
from softbrik.schema.errors import code_of
from softbrik.schema.ids import decode_id, encode_id
from softbrik.schema.node import Node, node_loader

# --- the audit of every operation -------------------------------------------------------------


def actor_of(ctx: Any) -> Actor:
    if ctx.session is not None:
        return Actor.of(ctx.session.user)
    if ctx.audit_actor is not None:
        actor: Actor = ctx.audit_actor
        return actor
    if ctx.token_owner is not None:
        return Actor.of(ctx.token_owner)
    return Actor()


def top_fields(execution: Any) -> str:
    """The top-level fields of the operation run, comma-separated (no arguments, no values)."""
    document = execution.graphql_document
    if document is None:
        return ""
    wanted = execution.operation_name
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if wanted is not None and (definition.name is None or definition.name.value != wanted):
            continue
        names = [
            selection.name.value
            for selection in definition.selection_set.selections
            if isinstance(selection, FieldNode)
        ]
        return ",".join(dict.fromkeys(names))
    return ""


def operation_kind(execution: Any) -> str:
    try:
        return str(execution.operation_type.value)
    except Exception:
        return "invalid"  # the document did not parse, or names no operation


class AuditOperations(SchemaExtension):
    """Records each operation in the audit log when it ends (a subscription: when it stops)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:  # a subscription the client stops ends here by cancellation
            self.record(round((time.perf_counter() - started) * 1000))

    def record(self, duration_ms: int) -> None:
        execution = self.execution_context
        ctx = execution.context
        if not isinstance(ctx, Context) or ctx.rt.audit is None:
            return
        errors = getattr(execution.result, "errors", None) or []
        try:
            name = execution.operation_name or ""
        except Exception:
            name = ""
        ctx.rt.audit.add(
            "login" if ctx.audit_subject is not None else operation_kind(execution),
            actor_of(ctx),
            ctx.client_address,
            operation=name,
            selection=top_fields(execution),
            codes=[code_of(error) for error in errors],
            duration_ms=duration_ms,
            token=ctx.token_state,
            subject=ctx.audit_subject,
        )


# --- findings ---------------------------------------------------------------------------------


@strawberry.enum
class SecuritySeverity(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@strawberry.enum
class SecurityFindingStatus(Enum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"


@strawberry.enum(description="What the threat detection noticed (README, Security).")
class SecurityFindingType(Enum):
    CREDENTIAL_STUFFING = "CREDENTIAL_STUFFING"
    REQUEST_RATE = "REQUEST_RATE"
    ENUMERATION = "ENUMERATION"
    REVOKED_TOKEN = "REVOKED_TOKEN"
    ADMIN_NEW_ADDRESS = "ADMIN_NEW_ADDRESS"
    BULK_DOWNLOAD = "BULK_DOWNLOAD"
    SCHEMA_PROBING = "SCHEMA_PROBING"


@strawberry.type(description="Something the threat detection found, with its evidence.")
class SecurityFinding(Node):
    type: SecurityFindingType
    severity: SecuritySeverity
    status: SecurityFindingStatus
    occurred_at: datetime = strawberry.field(description="When the finding was raised.")
    last_seen_at: datetime = strawberry.field(description="The last scan that still saw it.")
    occurrences: int = strawberry.field(description="How many scans saw it.")
    evidence: JSON = strawberry.field(description="Counts and the window they were taken over.")
    message: str = strawberry.field(description="What it is about, in the team's language.")
    action: list[str] = strawberry.field(
        description="What was done: lock (account locked), revoke (sign-ins ended), admins_emailed."
    )
    user: User | None = strawberry.field(description="The user it is about, if any.")
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: Finding, user: UserRow | None, language: str) -> SecurityFinding:
        return cls(
            id=strawberry.ID(encode_id("SecurityFinding", row.id)),
            type=SecurityFindingType(row.kind),
            severity=SecuritySeverity(row.severity),
            status=SecurityFindingStatus(row.status),
            occurred_at=row.created_at,
            last_seen_at=row.last_seen_at,
            occurrences=row.occurrences,
            evidence=row.evidence,  # type: ignore[arg-type]
            message=findings.summary(row, language),
            action=[part for part in row.action.split(",") if part],
            user=User.of(user) if user is not None else None,
            resolved_at=row.resolved_at,
        )


async def findings_of(team: TeamRow, rows: list[Finding]) -> list[SecurityFinding]:
    """Findings with their users: two queries, whatever the number of findings."""
    user_ids = {row.user_id for row in rows if row.user_id is not None}
    users = (
        {user.id: user for user in await UserRow.filter(id__in=user_ids, team_id=team.id)}
        if user_ids
        else {}
    )
    return [SecurityFinding.of(row, users.get(row.user_id or 0), team.language) for row in rows]


async def findings_page(
    ctx: Context,
    team: TeamRow,
    first: int,
    after: strawberry.ID | None,
    status: SecurityFindingStatus | None,
) -> list[SecurityFinding]:
    ctx.require_admin()
    position = decode_id(after, "SecurityFinding", "after") if after else None
    rows = await findings.team_findings(
        team.id,
        first,
        position,
        ctx.rt.settings.max_page_size,
        status.value if status is not None else None,
    )
    return await findings_of(team, rows)


@node_loader("SecurityFinding")
async def _load_finding(ctx: Context, pk: int) -> SecurityFinding | None:
    user = ctx.require_user()
    if user.role != "ADMIN":
        return None
    row = await Finding.get_or_none(id=pk, team_id=user.team_id)
    return (await findings_of(ctx.require_team(), [row]))[0] if row else None


@strawberry.type
class SecurityMutation:
    @strawberry.mutation(
        description="Let a member the threat detection locked out sign in again (administrators)."
    )
    async def unlock_user(self, info: Info[Context, Any], user_id: strawberry.ID) -> User:
        ctx = info.context
        ctx.require_admin()
        user = await findings.unlock_account(
            ctx.rt, ctx.require_team(), decode_id(user_id, "User", "userId")
        )
        return User.of(user)

    @strawberry.mutation(
        description="Close a finding (administrators): the same attack seen again later raises "
        "a new one."
    )
    async def resolve_security_finding(
        self, info: Info[Context, Any], finding_id: strawberry.ID
    ) -> SecurityFinding:
        ctx = info.context
        admin = ctx.require_admin()
        team = ctx.require_team()
        row = await findings.resolve_finding(
            ctx.rt, team.id, decode_id(finding_id, "SecurityFinding", "findingId"), admin.id
        )
        return (await findings_of(team, [row]))[0]


@strawberry.type
class SecuritySubscription:
    @strawberry.subscription(
        description="The team's new security findings, live (administrators, R-SEC-3). With "
        "`after` (the last finding seen), first those newer than it, oldest first: a "
        "dashboard that reconnects misses none. Earlier ones are in `team { securityFindings }`."
    )
    async def security_findings(
        self, info: Info[Context, Any], after: strawberry.ID | None = None
    ) -> AsyncGenerator[SecurityFinding, None]:
        ctx = info.context
        ctx.require_admin()
        team = ctx.require_team()
        position = decode_id(after, "SecurityFinding", "after") if after else None
        check = ctx.access_check(admin=True)
        async for rows in findings.new_findings(ctx.rt, team.id, position, check):
            for finding in await findings_of(team, rows):  # a replay's users in one query
                yield finding
