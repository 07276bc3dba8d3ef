"""GraphQL for accounts and seats (API.md, Accounts and seats). Resolvers stay thin."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types import Info

from softbrik.core.accounts import models as m
from softbrik.core.accounts import seats as seat_service
from softbrik.core.accounts import service as accounts
from softbrik.core.accounts.members import team_members
from softbrik.core.accounts.models import Seat as SeatRow
from softbrik.core.accounts.models import User as UserRow
from softbrik.core.billing import service as billing
from softbrik.core.errors import DomainError, NotFound
from softbrik.core.tenancy import enter_team
from softbrik.schema.billing import (
    AccountClosure,
    BillingAccount,
    Invoice,
    PaymentMethod,
    closure_of,
    invoices_of,
    upcoming_of,
)
from softbrik.schema.context import Context
from softbrik.schema.ids import decode_id, encode_id
from softbrik.schema.node import Node, node_loader

if TYPE_CHECKING:
    from softbrik.schema.security import SecurityFinding, SecurityFindingStatus


@strawberry.enum
class Role(Enum):
    ADMIN = "ADMIN"
    MEMBER = "MEMBER"


@strawberry.type
class Brik:
    key: str
    name: str
    description: str
    price_cents: int
    currency: str
    version: str


@strawberry.type
class User(Node):
    name: str
    email: str
    role: Role

    @classmethod
    def of(cls, row: UserRow) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            email=row.email,
            role=Role(row.role),
        )


@strawberry.type
class Seat(Node):
    brik: str
    user: User
    starts_on: date
    ends_on: date | None

    @classmethod
    def of(cls, row: SeatRow, user: User | None = None) -> Seat:
        return cls(
            id=strawberry.ID(encode_id("Seat", row.id)),
            brik=row.brik,
            user=user or User.of(row.user),
            starts_on=row.starts_on,
            ends_on=row.ends_on,
        )


@strawberry.type
class Member:
    user: User
    seats: list[Seat]
    removal_on: date | None
    access_ended_at: datetime | None

    @classmethod
    def of(cls, row: UserRow, seats: list[SeatRow]) -> Member:
        user = User.of(row)
        return cls(
            user=user,
            seats=[Seat.of(seat, user) for seat in seats],
            removal_on=row.removal_on,
            access_ended_at=row.access_ended_at,
        )


@strawberry.type
class Team(Node):
    name: str
    country: str
    vat_number: str | None
    language: str
    timezone: str
    row: strawberry.Private[m.Team]

    @strawberry.field
    async def members(self, info: Info[Context, Any]) -> list[Member]:
        """Everyone on the team with their seats: two queries, whatever the team's size."""
        return [Member.of(user, seats) for user, seats in await team_members(self.row.id)]

    @strawberry.field
    def payment_method(self, info: Info[Context, Any]) -> PaymentMethod | None:
        return PaymentMethod.of(self.row)

    @strawberry.field
    def billing(self, info: Info[Context, Any]) -> BillingAccount:
        return BillingAccount.of(self.row, billing.today_of(info.context.rt, self.row))

    @strawberry.field
    async def invoices(
        self, info: Info[Context, Any], first: int = 20, after: strawberry.ID | None = None
    ) -> list[Invoice]:
        """Finalized invoices and credit notes, newest first (R-BILL-9, -18)."""
        ctx = info.context
        return await invoices_of(self.row, first, after, ctx.rt.settings.max_page_size)

    @strawberry.field
    async def upcoming_invoice(self, info: Info[Context, Any]) -> Invoice | None:
        """The next renewal invoice as it would be composed now (R-BILL-7, -15)."""
        found = await billing.upcoming_invoice(info.context.rt, self.row)
        return upcoming_of(self.row, found) if found else None

    @strawberry.field
    async def closure(self, info: Info[Context, Any]) -> AccountClosure | None:
        return await closure_of(self.row)

    @strawberry.field(
        description="What the threat detection found about the team, newest first "
        "(administrators, R-SEC-3). Page with `first` and `after` (the last finding's id)."
    )
    async def security_findings(
        self,
        info: Info[Context, Any],
        first: int = 20,
        after: strawberry.ID | None = None,
        status: Annotated[SecurityFindingStatus, strawberry.lazy("softbrik.schema.security")]
        | None = None,
    ) -> list[Annotated[SecurityFinding, strawberry.lazy("softbrik.schema.security")]]:
        from softbrik.schema.security import findings_page

        return await findings_page(info.context, self.row, first, after, status)

    @classmethod
    def of(cls, row: m.Team) -> Team:
        return cls(
            id=strawberry.ID(encode_id("Team", row.id)),
            name=row.name,
            country=row.country,
            vat_number=row.vat_number,
            language=row.language,
            timezone=row.timezone,
            row=row,
        )


@strawberry.type
class AuthPayload:
    token: str
    user: User


@strawberry.type
class Invitation:
    id: strawberry.ID
    email: str
    name: str
    briks: list[str]
    expires_at: datetime


@strawberry.input
class SignUpInput:
    team_name: str
    name: str
    email: str
    password: str
    payment_method: str
    briks: list[str] = strawberry.field(default_factory=list)
    country: str = "DK"
    vat_number: str | None = None
    address: str = ""
    language: str = "da"


@strawberry.input
class InviteUserInput:
    email: str
    name: str
    briks: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class AcceptInvitationInput:
    token: str
    name: str
    password: str


def brik_of(rt: Any, key: str) -> Brik:
    manifest = rt.briks.get(key).manifest
    return Brik(
        key=manifest.key,
        name=manifest.name,
        description=manifest.description,
        price_cents=manifest.price_cents,
        currency=manifest.currency,
        version=manifest.version,
    )


@strawberry.type
class AccountsQuery:
    @strawberry.field
    def me(self, info: Info[Context, Any]) -> User | None:
        user = info.context.user
        return User.of(user) if user else None

    @strawberry.field
    def team(self, info: Info[Context, Any]) -> Team:
        return Team.of(info.context.require_team())

    @strawberry.field
    def briks(self, info: Info[Context, Any]) -> list[Brik]:
        rt = info.context.rt
        return [brik_of(rt, brik.key) for brik in rt.briks]


@node_loader("User")
async def _load_user(ctx: Context, pk: int) -> User | None:
    row = await UserRow.get_or_none(id=pk, team_id=ctx.require_team().id)
    return User.of(row) if row else None


@node_loader("Seat")
async def _load_seat(ctx: Context, pk: int) -> Seat | None:
    row = await SeatRow.get_or_none(id=pk, team_id=ctx.require_team().id).select_related("user")
    return Seat.of(row) if row else None


@node_loader("Team")
async def _load_team(ctx: Context, pk: int) -> Team | None:
    team = ctx.require_team()
    return Team.of(team) if team.id == pk else None


async def _member(info: Info[Context, Any], user_id: strawberry.ID) -> Member:
    team = info.context.require_team()
    row = await UserRow.get_or_none(id=decode_id(user_id, "User", "userId"), team_id=team.id)
    if row is None:
        raise NotFound("No such user.", field="userId")
    seats = await SeatRow.filter(user_id=row.id).order_by("id")
    return Member.of(row, seats)


def signed_in(user: UserRow, token: str) -> AuthPayload:
    # The rest of the request (the payload's fields) runs as the new session's team.
    enter_team(user.team_id)
    return AuthPayload(token=token, user=User.of(user))


async def _change_member(
    info: Info[Context, Any],
    user_id: strawberry.ID,
    change: Callable[[Any, Any, int], Awaitable[object]],
) -> Member:
    """An admin's change to a member of their team; answers the member as it is after."""
    ctx = info.context
    ctx.require_admin()
    await change(ctx.rt, ctx.require_team(), decode_id(user_id, "User", "userId"))
    return await _member(info, user_id)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation
    async def sign_up(self, info: Info[Context, Any], input: SignUpInput) -> AuthPayload:
        ctx = info.context
        form = accounts.SignUp(
            team_name=input.team_name,
            name=input.name,
            email=input.email,
            password=input.password,
            payment_method=input.payment_method,
            briks=input.briks,
            country=input.country,
            vat_number=input.vat_number,
            address=input.address,
            language=input.language,
        )
        user, token = await accounts.sign_up(ctx.rt, form, ctx.client_address)
        return signed_in(user, token)

    @strawberry.mutation
    async def log_in(self, info: Info[Context, Any], email: str, password: str) -> AuthPayload:
        ctx = info.context
        try:
            user, token = await accounts.log_in(ctx.rt, email, password, ctx.client_address)
        except DomainError as exc:
            ctx.note_sign_in(email, getattr(exc, "account", None))
            raise
        ctx.note_sign_in(email, user)
        return signed_in(user, token)

    @strawberry.mutation
    async def log_out(self, info: Info[Context, Any]) -> bool:
        ctx = info.context
        if ctx.session is None:
            return False
        await accounts.log_out(ctx.rt, ctx.session)
        return True

    @strawberry.mutation
    async def invite_user(self, info: Info[Context, Any], input: InviteUserInput) -> Invitation:
        ctx = info.context
        admin = ctx.require_admin()
        row, token = await accounts.invite_user(ctx.rt, admin, input.email, input.name, input.briks)
        await accounts.send_invitation(ctx.rt, row, token, admin)
        return Invitation(
            id=strawberry.ID(encode_id("Invitation", row.id)),
            email=row.email,
            name=row.name,
            briks=row.briks,
            expires_at=row.expires_at,
        )

    @strawberry.mutation
    async def accept_invitation(
        self, info: Info[Context, Any], input: AcceptInvitationInput
    ) -> AuthPayload:
        ctx = info.context
        user, token = await accounts.accept_invitation(
            ctx.rt, input.token, input.name, input.password, ctx.client_address
        )
        return signed_in(user, token)

    @strawberry.mutation
    async def assign_brik(
        self, info: Info[Context, Any], user_id: strawberry.ID, brik: str
    ) -> Seat:
        ctx = info.context
        ctx.require_admin()
        seat = await seat_service.assign_brik(
            ctx.rt, ctx.require_team(), decode_id(user_id, "User", "userId"), brik
        )
        return Seat.of(seat)

    @strawberry.mutation
    async def unassign_brik(
        self, info: Info[Context, Any], user_id: strawberry.ID, brik: str
    ) -> Seat:
        ctx = info.context
        ctx.require_admin()
        seat = await seat_service.unassign_brik(
            ctx.rt, ctx.require_team(), decode_id(user_id, "User", "userId"), brik
        )
        return Seat.of(seat)

    @strawberry.mutation
    async def remove_user(self, info: Info[Context, Any], user_id: strawberry.ID) -> Member:
        return await _change_member(info, user_id, seat_service.remove_user)

    @strawberry.mutation
    async def restore_user(self, info: Info[Context, Any], user_id: strawberry.ID) -> Member:
        return await _change_member(info, user_id, seat_service.restore_user)

    @strawberry.mutation
    async def end_access_now(self, info: Info[Context, Any], user_id: strawberry.ID) -> Member:
        return await _change_member(info, user_id, seat_service.end_access_now)
