"""GraphQL for billing (API.md, Billing). Resolvers stay thin: parse, call one service, map."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from softbrik.core.accounts.models import Team as TeamRow
from softbrik.core.billing import job
from softbrik.core.billing import service as billing
from softbrik.core.billing.models import BillingAccount as AccountRow
from softbrik.core.billing.models import Invoice as InvoiceRow
from softbrik.core.billing.models import InvoiceLine as LineRow
from softbrik.core.billing.models import InvoiceStatus as StatusRow
from softbrik.core.calendar import Period
from softbrik.core.errors import NotFound
from softbrik.schema.context import Context
from softbrik.schema.ids import decode_id, encode_id
from softbrik.schema.node import Node, node_loader


@strawberry.enum
class BillingStatus(Enum):
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    SUSPENDED = "SUSPENDED"
    CLOSING = "CLOSING"
    CLOSED = "CLOSED"


@strawberry.enum
class InvoiceStatus(Enum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


@strawberry.enum
class InvoiceKind(Enum):
    SIGN_UP = "SIGN_UP"
    ADDITION = "ADDITION"
    RENEWAL = "RENEWAL"
    CREDIT_NOTE = "CREDIT_NOTE"


@strawberry.type
class PaymentMethod:
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    @classmethod
    def of(cls, row: TeamRow) -> PaymentMethod | None:
        if not row.card_brand:
            return None
        return cls(
            brand=row.card_brand.upper(),
            last4=row.card_last4 or "",
            exp_month=row.card_exp_month or 0,
            exp_year=row.card_exp_year or 0,
        )


@strawberry.type
class BillingAccount:
    anchor_day: int
    calendar_billing: bool
    current_period_start: date
    current_period_end: date
    next_billing_date: date
    status: BillingStatus

    @classmethod
    def of(cls, team: TeamRow, today: date) -> BillingAccount:
        period = billing.calendar_of(team).period(today)
        return cls(
            anchor_day=team.anchor_day,
            calendar_billing=team.calendar_from is not None,
            current_period_start=period.start,
            current_period_end=period.end,
            next_billing_date=period.end,
            status=BillingStatus(team.status),
        )


@strawberry.type
class InvoiceLine:
    description: str
    brik: str
    user: str | None  # the user's name as invoiced (kept after the user is gone)
    quantity: int
    unit_cents: int
    amount_cents: int
    period_start: date
    period_end: date

    @classmethod
    def of(cls, line: LineRow | billing.LineDraft, start: date, end: date) -> InvoiceLine:
        return cls(
            description=line.description,
            brik=line.brik,
            user=line.user_name or None,
            quantity=line.quantity,
            unit_cents=line.unit_cents,
            amount_cents=line.amount_cents,
            period_start=start,
            period_end=end,
        )


@strawberry.type
class Invoice(Node):
    number: str | None
    kind: InvoiceKind
    status: InvoiceStatus
    period_start: date
    period_end: date
    subtotal_cents: int
    vat_rate: str
    vat_cents: int
    total_cents: int
    reverse_charge: bool
    currency: str
    lines: list[InvoiceLine]
    issued_at: datetime | None
    paid_at: datetime | None
    pdf_url: str | None

    @classmethod
    def of(cls, row: InvoiceRow, lines: list[LineRow]) -> Invoice:
        gid = encode_id("Invoice", row.id)
        return cls(
            id=strawberry.ID(gid),
            number=row.number,
            kind=InvoiceKind(row.kind),
            status=InvoiceStatus(row.status),
            period_start=row.period_start,
            period_end=row.period_end,
            subtotal_cents=row.subtotal_cents,
            vat_rate=f"{row.vat_rate:.2f}",
            vat_cents=row.vat_cents,
            total_cents=row.total_cents,
            reverse_charge=row.reverse_charge,
            currency=row.currency,
            lines=[InvoiceLine.of(line, line.period_start, line.period_end) for line in lines],
            issued_at=row.issued_at,
            paid_at=row.paid_at,
            pdf_url=f"/invoices/{gid}.pdf" if row.number else None,
        )


@strawberry.type
class AccountClosure:
    requested_at: datetime
    effective_on: date


def upcoming_of(team: TeamRow, found: tuple[Period, list[billing.LineDraft]]) -> Invoice:
    from softbrik.core.billing.money import vat_for

    period, drafts = found
    vat = vat_for(team.country, team.vat_number)
    subtotal = sum(line.amount_cents for line in drafts)
    vat_cents = vat.of(subtotal)
    return Invoice(
        id=strawberry.ID(encode_id("UpcomingInvoice", team.id)),
        number=None,
        kind=InvoiceKind.RENEWAL,
        status=InvoiceStatus.DRAFT,
        period_start=period.start,
        period_end=period.end,
        subtotal_cents=subtotal,
        vat_rate=f"{vat.rate:.2f}",
        vat_cents=vat_cents,
        total_cents=subtotal + vat_cents,
        reverse_charge=vat.reverse_charge,
        currency="EUR",
        lines=[InvoiceLine.of(line, line.period.start, line.period.end) for line in drafts],
        issued_at=None,
        paid_at=None,
        pdf_url=None,
    )


async def invoices_of(team: TeamRow, first: int, after: str | None, max_page: int) -> list[Invoice]:
    """Finalized invoices in number order, newest first: two queries whatever the page size."""
    first = max(0, min(first, max_page))
    rows = InvoiceRow.filter(team_id=team.id, sequence__isnull=False)
    if after:
        cursor = await InvoiceRow.get_or_none(
            id=decode_id(after, "Invoice", "after"), team_id=team.id, sequence__isnull=False
        )
        if cursor is None:
            raise NotFound("No such invoice.", field="after")
        rows = rows.filter(sequence__lt=cursor.sequence)
    found = await rows.order_by("-sequence").limit(first)
    lines: dict[int, list[LineRow]] = {}
    if found:
        for line in await LineRow.filter(invoice_id__in=[r.id for r in found]).order_by("id"):
            lines.setdefault(line.invoice_id, []).append(line)
    return [Invoice.of(row, lines.get(row.id, [])) for row in found]


async def closure_of(team: TeamRow) -> AccountClosure | None:
    account = await AccountRow.get_or_none(team_id=team.id)
    if account is None or account.closure_requested_at is None:
        return None
    return AccountClosure(
        requested_at=account.closure_requested_at,
        effective_on=account.closure_effective_on,  # type: ignore[arg-type]
    )


@node_loader("Invoice")
async def _load_invoice(ctx: Context, pk: int) -> Invoice | None:
    row = await InvoiceRow.get_or_none(id=pk, team_id=ctx.require_team().id)
    if row is None or row.status == StatusRow.DRAFT:
        return None
    return Invoice.of(row, await LineRow.filter(invoice_id=row.id).order_by("id"))


@strawberry.type
class BillingMutation:
    @strawberry.mutation
    async def update_payment_method(
        self, info: Info[Context, Any], payment_method: str
    ) -> PaymentMethod:
        ctx = info.context
        ctx.require_admin()
        team = await billing.update_payment_method(ctx.rt, ctx.require_team(), payment_method)
        found = PaymentMethod.of(team)
        assert found is not None
        return found

    @strawberry.mutation
    async def resend_invoice(
        self, info: Info[Context, Any], invoice_id: strawberry.ID, email: str
    ) -> bool:
        ctx = info.context
        ctx.require_admin()
        pk = decode_id(invoice_id, "Invoice", "invoiceId")
        await billing.resend_invoice(ctx.rt, ctx.require_team(), pk, email)
        return True

    @strawberry.mutation
    async def switch_to_calendar_billing(self, info: Info[Context, Any]) -> BillingAccount:
        ctx = info.context
        ctx.require_admin()
        team = await billing.switch_to_calendar_billing(ctx.rt, ctx.require_team())
        return BillingAccount.of(team, billing.today_of(ctx.rt, team))

    @strawberry.mutation
    async def request_account_closure(
        self, info: Info[Context, Any], team_name: str
    ) -> AccountClosure:
        ctx = info.context
        ctx.require_admin()
        account = await billing.request_closure(ctx.rt, ctx.require_team(), team_name)
        return AccountClosure(
            requested_at=account.closure_requested_at,  # type: ignore[arg-type]
            effective_on=account.closure_effective_on,  # type: ignore[arg-type]
        )

    @strawberry.mutation
    async def advance_test_clock(self, info: Info[Context, Any], to: datetime) -> datetime:
        """Only with SOFTBRIK_TEST_CLOCK=1; needs no sign-in (API.md)."""
        return await job.advance_test_clock(info.context.rt, to)
