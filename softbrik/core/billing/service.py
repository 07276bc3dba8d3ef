"""Billing services: charges, invoices, payments, reminders, calendar billing, closure.

Every rule of R-BILL-1..21 and R-CLOSE-1..4 is implemented here or in `job.py`; the rule id is
cited where. Amounts are integer cents (`money.py`); dates are local dates in the team's time
zone (R-BILL-10); the time is `rt.clock`'s.

Idempotency (R-BILL-21): every invoice has a `key` naming what it pays for (unique: one invoice
per team and period), and every charge's idempotency key is derived from the invoice key, the
attempt number and the card, so repeating a step after a crash asks the provider the same
question and gets the first answer back instead of a second charge.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Role, Seat, Team, TeamStatus, User
from softbrik.core.billing import outbox
from softbrik.core.billing.models import (
    BillingAccount,
    BillingStage,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
    PaymentAttempt,
)
from softbrik.core.billing.money import EU_COUNTRIES, prorate, vat_for
from softbrik.core.calendar import REMINDER_DAYS, BillingCalendar, Period
from softbrik.core.clock import local_date, start_of_local_day
from softbrik.core.errors import BadUserInput, Conflict, NotFound, PaymentFailed
from softbrik.core.events.log import record
from softbrik.core.mail import Attachment, Message, render
from softbrik.core.mail_templates import format_cents, format_date
from softbrik.core.payments import Card, GatewayError
from softbrik.core.runtime import Runtime

log = logging.getLogger("softbrik.billing")

RETRY_DAYS = (1, 3, 5)  # R-BILL-20: retries 1, 3 and 5 days after the billing date

# Billing event types (API.md BillingEvent); payload keys invoice_id, amount_cents, message.
INVOICE_FINALIZED = "INVOICE_FINALIZED"
PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"
PAYMENT_FAILED = "PAYMENT_FAILED"
PAYMENT_METHOD_UPDATED = "PAYMENT_METHOD_UPDATED"
REMINDER_SENT = "REMINDER_SENT"
ACCOUNT_CLOSURE_SCHEDULED = "ACCOUNT_CLOSURE_SCHEDULED"
ACCOUNT_CLOSED = "ACCOUNT_CLOSED"


# --- calendar --------------------------------------------------------------------------------


def calendar_of(team: Team) -> BillingCalendar:
    return BillingCalendar(team.anchor_day, team.calendar_from)


def today_of(rt: Runtime, team: Team) -> date:
    """R-BILL-10: calendar decisions use the local date in the team's time zone."""
    return local_date(rt.clock.now(), team.timezone)


def day_start(team: Team, day: date) -> datetime:
    return start_of_local_day(day, team.timezone)


async def account_of(team_id: int) -> BillingAccount:
    account = await BillingAccount.get_or_none(team_id=team_id)
    if account is None:
        raise NotFound("This team has no billing account.")
    return account


# --- lines and invoices ----------------------------------------------------------------------


@dataclass
class LineDraft:
    description: str
    brik: str
    user_id: int | None
    user_name: str
    quantity: int
    unit_cents: int
    amount_cents: int
    period: Period


def _price(rt: Runtime, brik: str) -> tuple[str, int]:
    found = rt.briks.get(brik)
    if found is None:
        # A Brik uninstalled since: its seats are no longer billed.
        return brik, 0
    return found.manifest.name, found.manifest.price_cents


def seat_line(
    rt: Runtime, seat: Seat, user: User, period: Period, days: int, basis: int, language: str
) -> LineDraft | None:
    """A line for one seat over `days` of `period` whose full price pays `basis` days."""
    name, unit = _price(rt, seat.brik)
    if unit <= 0 or days <= 0:
        return None
    amount = prorate(unit, 1, days, basis)  # R-BILL-13: once per change and Brik
    description = f"{name} · {user.name}"
    if days != basis:
        word = "dage" if language == "da" else "days"
        description += f" ({days}/{basis} {word})"
    return LineDraft(description, seat.brik, user.id, user.name, 1, unit, amount, period)


async def _new_invoice(
    rt: Runtime,
    team: Team,
    key: str,
    kind: InvoiceKind,
    period: Period,
    lines: list[LineDraft],
    admin_email: str,
) -> Invoice:
    vat = vat_for(team.country, team.vat_number)
    subtotal = sum(line.amount_cents for line in lines)
    vat_cents = vat.of(subtotal)
    invoice = await Invoice.create(
        team_id=team.id,
        key=key,
        kind=kind,
        status=InvoiceStatus.DRAFT,
        period_start=period.start,
        period_end=period.end,
        subtotal_cents=subtotal,
        vat_rate=vat.rate,
        vat_cents=vat_cents,
        total_cents=subtotal + vat_cents,
        reverse_charge=vat.reverse_charge,
        buyer_name=team.name,
        buyer_address=team.address,
        buyer_country=team.country,
        buyer_vat_number=team.vat_number,
        buyer_email=admin_email,
        language=team.language,
        created_at=rt.clock.now(),
    )
    await InvoiceLine.bulk_create(
        [
            InvoiceLine(
                invoice_id=invoice.id,
                description=line.description,
                brik=line.brik,
                user_id=line.user_id,
                user_name=line.user_name,
                quantity=line.quantity,
                unit_cents=line.unit_cents,
                amount_cents=line.amount_cents,
                period_start=line.period.start,
                period_end=line.period.end,
            )
            for line in lines
        ]
    )
    return invoice


async def _take_number() -> tuple[int, str]:
    """The next number of the one gapless sequence (R-BILL-18), under a row lock.

    Taken in the finalizing transaction: a rolled-back finalization gives its number back.
    """
    from tortoise import Tortoise

    # One statement: the upsert creates or increments the row and holds its lock until commit.
    rows = await Tortoise.get_connection("default").execute_query_dict(
        "INSERT INTO invoice_counter (name, value) VALUES ('invoice', 1) "
        "ON CONFLICT (name) DO UPDATE SET value = invoice_counter.value + 1 RETURNING value"
    )
    value = int(rows[0]["value"])
    return value, f"SB-{value:06d}"


FINALIZED_FIELDS = ["sequence", "number", "status", "issued_at"]


async def finalize(rt: Runtime, invoice: Invoice, save: bool = True) -> None:
    """Give a draft its number and issue it; it never changes after (R-BILL-18).

    With `save=False` the caller writes FINALIZED_FIELDS itself, in the same transaction (a
    renewal is finalized and charged in one step and written once: `collect`).
    """
    invoice.sequence, invoice.number = await _take_number()
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = rt.clock.now()
    if save:
        await invoice.save(update_fields=FINALIZED_FIELDS)
    await record(
        rt.clock,
        invoice.team_id,
        INVOICE_FINALIZED,
        {
            "invoice_id": invoice.id,
            "amount_cents": invoice.total_cents,
            "message": f"Invoice {invoice.number} finalized.",
        },
    )


def _card(team: Team) -> Card:
    return Card(
        token=team.payment_token or "",
        brand=team.card_brand or "",
        last4=team.card_last4 or "",
        exp_month=team.card_exp_month or 0,
        exp_year=team.card_exp_year or 0,
    )


def charge_key(invoice: Invoice, attempt: int, customer: str, card_token: str) -> str:
    """R-BILL-21: derived from what is paid (the invoice key and amount), for whom, the attempt
    and the card."""
    card = hashlib.sha256(card_token.encode()).hexdigest()[:12]
    return f"{customer}:{invoice.key}:{invoice.total_cents}:attempt-{attempt}:card-{card}"


async def _charge(rt: Runtime, team: Team, invoice: Invoice) -> PaymentAttempt:
    number = invoice.attempts + 1
    card = _card(team)
    key = charge_key(invoice, number, team.payment_customer or "", card.token)
    try:
        charge = await rt.gateway.charge(
            customer=team.payment_customer or "",
            card=card,
            amount_cents=invoice.total_cents,
            currency=invoice.currency.lower(),
            idempotency_key=key,
            description=f"Softbrik {invoice.kind.lower()} {invoice.period_start.isoformat()}",
            metadata={"invoice_key": invoice.key, "team_id": str(team.id)},
        )
    except GatewayError as exc:
        log.warning("payment provider error", extra={"invoice_key": invoice.key, "error": str(exc)})
        raise PaymentFailed(
            "The payment provider could not be reached. Please try again in a moment.",
            reason="provider_unavailable",
        ) from exc
    attempt = await PaymentAttempt.create(
        invoice_id=invoice.id,
        number=number,
        idempotency_key=key,
        charge_id=charge.id,
        amount_cents=invoice.total_cents,
        succeeded=charge.succeeded,
        failure_message=charge.failure_message,
        at=rt.clock.now(),
    )
    invoice.attempts = number
    return attempt


async def mark_paid(rt: Runtime, invoice: Invoice, also: list[str] | None = None) -> None:
    """An invoice is paid (R-BILL-20 lifts a suspension once nothing is left open); `also`
    names more fields to write with it."""
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = rt.clock.now()
    invoice.next_attempt_at = None
    await invoice.save(
        update_fields=_fields(["status", "paid_at", "next_attempt_at", "attempts"], also)
    )
    await record(
        rt.clock,
        invoice.team_id,
        PAYMENT_SUCCEEDED,
        {
            "invoice_id": invoice.id,
            "amount_cents": invoice.total_cents,
            "message": f"Invoice {invoice.number} paid.",
        },
    )


async def admin_emails(team_id: int) -> list[str]:
    emails = await (
        User.filter(team_id=team_id, role=Role.ADMIN, access_ended_at__isnull=True)
        .order_by("id")
        .values_list("email", flat=True)
    )
    return [str(email) for email in emails]


def _fields(fields: list[str], also: list[str] | None) -> list[str]:
    return list(dict.fromkeys([*fields, *(also or [])]))


async def _admins(team_id: int, emails: list[str] | None) -> list[str]:
    """The admins' addresses: `emails` when the caller has read them already."""
    return emails if emails is not None else await admin_emails(team_id)


async def unsettled(team_id: int, key: str) -> list[Invoice]:
    """The team's drafts and open invoices, and the invoice with `key` whatever its status, in
    one query: what a billing step reads once under the account lock and then keeps up to date
    in memory (`compose_renewal`, `renew`, `collect`, `refresh_status`, `reschedule`)."""
    return await Invoice.filter(
        Q(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.OPEN]) | Q(key=key), team_id=team_id
    ).order_by("id")


async def _by_key(key: str, invoices: list[Invoice] | None) -> Invoice | None:
    if invoices is None:
        return await Invoice.get_or_none(key=key)
    return next((invoice for invoice in invoices if invoice.key == key), None)


async def send_invoice(rt: Runtime, invoice: Invoice, to: list[str]) -> None:
    """R-BILL-9: the invoice by e-mail with its PDF attached."""
    subject, text = render(
        "invoice",
        invoice.language,
        team_name=invoice.buyer_name,
        invoice_number=invoice.number,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        total=invoice.total_cents,
    )
    pdf = await invoice_pdf_bytes(rt, invoice)
    await outbox.send(
        rt,
        invoice.team_id,
        Message(
            to=to,
            subject=subject,
            text=text,
            attachments=[Attachment(f"{invoice.number}.pdf", pdf, "application/pdf")],
        ),
    )


async def bill_at_once(
    rt: Runtime, team: Team, user: User, seats: list[Seat], kind: InvoiceKind, key: str
) -> Invoice | None:
    """Charge new seats now, in the caller's transaction (R-BILL-1, -5, -13, -15, -20).

    Days left = next billing date - today (today counts), prorated over the period's basis. A
    seat added after the cut-off is also charged the whole next period, whose renewal invoice
    was composed without it. A decline raises PAYMENT_FAILED, so the caller's transaction rolls
    back and nothing is added (R-BILL-4, -20).
    """
    today = today_of(rt, team)
    cal = calendar_of(team)
    period = cal.period(today)
    account = await BillingAccount.get_or_none(team_id=team.id)
    closing_on = account.closure_effective_on if account else None
    lines: list[LineDraft] = []
    for seat in seats:
        current = Period(today, period.end)
        days_left = (period.end - today).days
        line = seat_line(rt, seat, user, current, days_left, cal.basis_days(period), team.language)
        if line:
            lines.append(line)
        after_cut_off = today > cal.cut_off(period.end)
        if after_cut_off and (closing_on is None or period.end < closing_on):
            following = cal.period(period.end)
            line = seat_line(
                rt,
                seat,
                user,
                following,
                following.days,
                cal.basis_days(following),
                team.language,
            )
            if line:
                lines.append(line)
    if not lines:
        return None
    end = max(line.period.end for line in lines)
    emails = await admin_emails(team.id) or [user.email]
    invoice = await _new_invoice(rt, team, key, kind, Period(today, end), lines, emails[0])
    attempt = await _charge(rt, team, invoice)
    if not attempt.succeeded:
        raise PaymentFailed(
            f"{attempt.failure_message or 'The card was declined.'} Nothing was added or "
            "charged. Please update the card and try again.",
            reason="card_declined",
        )
    await finalize(rt, invoice)
    await mark_paid(rt, invoice)
    await send_invoice(rt, invoice, emails)
    return invoice


async def open_account(rt: Runtime, team: Team, user: User, seats: list[Seat]) -> None:
    """At sign-up, in its transaction: the billing account and the first month (R-BILL-1)."""
    today = today_of(rt, team)
    cal = calendar_of(team)
    account = await BillingAccount.create(
        team_id=team.id, next_billing_date=cal.next_billing_date(today)
    )
    await reschedule(team, account)
    key = f"sign-up:{team.payment_customer}:{today.isoformat()}"
    await bill_at_once(rt, team, user, seats, InvoiceKind.SIGN_UP, key)


async def charge_added_seats(rt: Runtime, team: Team, user: User, seats: list[Seat]) -> None:
    """Seats added mid-period: charged at once, prorated, in the caller's transaction (R-BILL-5)."""
    if not seats:
        return
    today = today_of(rt, team)
    briks = "+".join(sorted(seat.brik for seat in seats))
    key = f"addition:{team.id}:{user.id}:{briks}:{today.isoformat()}"
    await bill_at_once(rt, team, user, seats, InvoiceKind.ADDITION, key)


# --- renewals (job steps) ----------------------------------------------------------------------


def renewal_key(team_id: int, billing_date: date) -> str:
    """R-BILL-21: at most one invoice per team and period."""
    return f"renewal:{team_id}:{billing_date.isoformat()}"


async def renewal_lines(
    rt: Runtime, team: Team, billing_date: date
) -> tuple[Period, list[LineDraft]]:
    """The lines of the renewal invoice at `billing_date` (R-BILL-7, -12, -14, -15, -16).

    Seats started on or before the cut-off and not ended by the billing date. Seats added after
    the cut-off paid this period already at addition; removals after the cut-off end a period
    later, so they are on it. The result depends only on the seats, not on when it is composed.
    """
    cal = calendar_of(team)
    period = Period(billing_date, cal.next_billing_date(billing_date))
    basis = cal.basis_days(period)
    seats = (
        await Seat.filter(team_id=team.id, starts_on__lte=cal.cut_off(billing_date))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=billing_date))
        .select_related("user")
        .order_by("user_id", "brik")
    )
    lines = []
    for seat in seats:
        line = seat_line(rt, seat, seat.user, period, period.days, basis, team.language)
        if line:
            lines.append(line)
    return period, lines


# The job's steps pass what they have read once already: the admins' addresses (`emails`), the
# team's unsettled invoices (`invoices`, see `unsettled`, kept up to date here) and its locked
# billing account. Left out, they are read here.


async def compose_renewal(
    rt: Runtime,
    team: Team,
    billing_date: date,
    emails: list[str] | None = None,
    invoices: list[Invoice] | None = None,
) -> Invoice | None:
    """R-BILL-15: the draft renewal invoice, composed at the start of the day before."""
    key = renewal_key(team.id, billing_date)
    existing = await _by_key(key, invoices)
    if existing is not None:
        return existing
    period, lines = await renewal_lines(rt, team, billing_date)
    if not lines:
        return None
    emails = await _admins(team.id, emails)
    invoice = await _new_invoice(
        rt, team, key, InvoiceKind.RENEWAL, period, lines, emails[0] if emails else ""
    )
    if invoices is not None:
        invoices.append(invoice)
    return invoice


async def renew(
    rt: Runtime,
    team: Team,
    billing_date: date,
    emails: list[str] | None = None,
    invoices: list[Invoice] | None = None,
    account: BillingAccount | None = None,
) -> Invoice | None:
    """On the billing date: finalize the renewal invoice, send it, and charge it (R-BILL-1)."""
    invoice = await _by_key(renewal_key(team.id, billing_date), invoices)
    if invoice is None:
        invoice = await compose_renewal(rt, team, billing_date, emails, invoices)
        if invoice is None:
            return None
    if invoice.status != InvoiceStatus.DRAFT:
        return invoice
    # Charged before it takes its number, as `bill_at_once` does: the number's row lock, held
    # to the commit, is then not held over the provider's round trip, so that billing workers
    # and runs at once don't queue one behind the other for the whole of each charge.
    attempt = await _charge(rt, team, invoice)
    await finalize(rt, invoice, save=False)  # written with the payment's outcome, by `_settle`
    emails = await _admins(team.id, emails)
    if emails:
        await send_invoice(rt, invoice, emails)
    await _settle(rt, team, invoice, attempt, emails, invoices, account, also=FINALIZED_FIELDS)
    return invoice


async def collect(
    rt: Runtime,
    team: Team,
    invoice: Invoice,
    emails: list[str] | None = None,
    invoices: list[Invoice] | None = None,
    account: BillingAccount | None = None,
    also: list[str] | None = None,
) -> bool:
    """Try to collect an open invoice; on a decline schedule the next retry or suspend
    (R-BILL-20). True when paid. `also` names more fields of the invoice to write with the
    outcome (a finalization's)."""
    attempt = await _charge(rt, team, invoice)
    return await _settle(rt, team, invoice, attempt, emails, invoices, account, also)


async def _settle(
    rt: Runtime,
    team: Team,
    invoice: Invoice,
    attempt: PaymentAttempt,
    emails: list[str] | None = None,
    invoices: list[Invoice] | None = None,
    account: BillingAccount | None = None,
    also: list[str] | None = None,
) -> bool:
    """Write a charge's outcome: paid, or the next retry or the suspension (R-BILL-20)."""
    if attempt.succeeded:
        await mark_paid(rt, invoice, also)
        await refresh_status(team, invoices, account)
        return True
    now = rt.clock.now()
    retries = [day_start(team, invoice.period_start + timedelta(days=d)) for d in RETRY_DAYS]
    upcoming = [moment for moment in retries if moment > now]
    invoice.next_attempt_at = upcoming[0] if upcoming else None
    await invoice.save(update_fields=_fields(["attempts", "next_attempt_at"], also))
    message = attempt.failure_message or "The card was declined."
    await record(
        rt.clock,
        team.id,
        PAYMENT_FAILED,
        {"invoice_id": invoice.id, "amount_cents": invoice.total_cents, "message": message},
    )
    await refresh_status(team, invoices, account)
    emails = await _admins(team.id, emails)
    if emails:
        next_retry = (
            local_date(invoice.next_attempt_at, team.timezone) if invoice.next_attempt_at else None
        )
        subject, text = render(
            "payment_failed",
            team.language,
            team_name=team.name,
            invoice_number=invoice.number,
            total=invoice.total_cents,
            next_retry_on=next_retry,
            suspended=team.status == TeamStatus.SUSPENDED,
        )
        await outbox.send(rt, team.id, Message(to=emails, subject=subject, text=text))
    return False


async def refresh_status(
    team: Team, invoices: list[Invoice] | None = None, account: BillingAccount | None = None
) -> None:
    """ACTIVE, PAST_DUE (an open invoice being retried), SUSPENDED (retries exhausted: the
    Briks stop until it is paid, R-BILL-20) or CLOSING (R-CLOSE-1)."""
    if team.status == TeamStatus.CLOSED:
        return
    retries: list[datetime | None]
    if invoices is None:
        retries = await Invoice.filter(  # type: ignore[assignment]
            team_id=team.id, status=InvoiceStatus.OPEN
        ).values_list("next_attempt_at", flat=True)
    else:
        retries = [i.next_attempt_at for i in invoices if i.status == InvoiceStatus.OPEN]
    if any(moment is None for moment in retries):
        status = TeamStatus.SUSPENDED
    elif retries:
        status = TeamStatus.PAST_DUE
    elif (
        account.closure_effective_on is not None
        if account is not None
        else await BillingAccount.filter(
            team_id=team.id, closure_effective_on__isnull=False
        ).exists()
    ):
        status = TeamStatus.CLOSING
    else:
        status = TeamStatus.ACTIVE
    if team.status != status:
        team.status = status
        await Team.filter(id=team.id).update(status=status)


async def send_reminder(
    rt: Runtime, team: Team, billing_date: date, emails: list[str] | None = None
) -> None:
    """R-BILL-8, -17: 7 days before the billing date, the upcoming invoice's summary."""
    _, lines = await renewal_lines(rt, team, billing_date)
    vat = vat_for(team.country, team.vat_number)
    subtotal = sum(line.amount_cents for line in lines)
    total = subtotal + vat.of(subtotal)
    summary = [
        f"{line.description}: {format_cents(line.amount_cents, team.language)}" for line in lines
    ]
    review_url = f"{rt.settings.public_url.rstrip('/')}/team/seats"
    emails = await _admins(team.id, emails)
    if emails:
        subject, text = render(
            "reminder",
            team.language,
            team_name=team.name,
            billing_date=billing_date,
            summary_lines=[*summary, f"= {format_cents(total, team.language)}"],
            review_url=review_url,
        )
        await outbox.send(rt, team.id, Message(to=emails, subject=subject, text=text))
    await record(
        rt.clock,
        team.id,
        REMINDER_SENT,
        {
            "invoice_id": None,
            "amount_cents": total,
            "message": f"Reminder of the payment on {billing_date.isoformat()}.",
        },
    )


# --- scheduling --------------------------------------------------------------------------------


def stage_due(team: Team, account: BillingAccount) -> datetime | None:
    billing_date = account.next_billing_date
    if account.stage == BillingStage.REMIND:
        return day_start(team, billing_date - timedelta(days=REMINDER_DAYS))
    if account.stage == BillingStage.COMPOSE:
        return day_start(team, billing_date - timedelta(days=1))
    if account.stage == BillingStage.RENEW:
        return day_start(team, billing_date)
    return None


async def reschedule(
    team: Team,
    account: BillingAccount,
    invoices: list[Invoice] | None = None,
    also: list[str] | None = None,
) -> None:
    """The next instant any billing work falls due for the team: its stage or a retry.

    Writes `next_run_at` and the fields named in `also` (the job's stage), nothing else.
    """
    candidates = [stage_due(team, account)]
    if invoices is None:
        retry = (
            await Invoice.filter(
                team_id=team.id, status=InvoiceStatus.OPEN, next_attempt_at__isnull=False
            )
            .order_by("next_attempt_at")
            .first()
            .values_list("next_attempt_at", flat=True)
        )
        candidates.append(retry)  # type: ignore[arg-type]
    else:
        candidates.extend(i.next_attempt_at for i in invoices if i.status == InvoiceStatus.OPEN)
    due = [moment for moment in candidates if moment is not None]
    account.next_run_at = min(due) if due else None
    await account.save(update_fields=_fields(["next_run_at"], also))


# --- payment method, calendar billing, invoices ------------------------------------------------


async def update_payment_method(rt: Runtime, team: Team, token: str) -> Team:
    """R-BILL-3: a new card; every open invoice is retried with it at once (R-BILL-20)."""
    token = token.strip()
    if not token:
        raise BadUserInput("Give a payment method.", field="paymentMethod")
    if team.status == TeamStatus.CLOSED:
        raise Conflict("This account is closed.")
    customer = team.payment_customer
    if not customer:
        raise Conflict("This team has no payment customer.")
    card = await rt.gateway.attach_card(customer, token)
    async with in_transaction():
        team = await Team.filter(id=team.id).select_for_update().get()
        team.payment_token = card.token
        team.card_brand = card.brand
        team.card_last4 = card.last4
        team.card_exp_month = card.exp_month
        team.card_exp_year = card.exp_year
        await team.save(
            update_fields=[
                "payment_token",
                "card_brand",
                "card_last4",
                "card_exp_month",
                "card_exp_year",
            ]
        )
        await record(
            rt.clock,
            team.id,
            PAYMENT_METHOD_UPDATED,
            {
                "invoice_id": None,
                "amount_cents": None,
                "message": f"Card {card.brand.upper()} •••• {card.last4} saved.",
            },
        )
    for invoice in await Invoice.filter(team_id=team.id, status=InvoiceStatus.OPEN).order_by("id"):
        async with in_transaction():
            fresh = await Invoice.filter(id=invoice.id).select_for_update().get()
            if fresh.status == InvoiceStatus.OPEN:
                await collect(rt, team, fresh)
    account = await BillingAccount.get_or_none(team_id=team.id)
    if account is not None:
        await reschedule(team, account)
    return team


async def switch_to_calendar_billing(rt: Runtime, team: Team) -> Team:
    """R-BILL-2, -16: from the next billing date B, periods run from the 1st to the 1st."""
    today = today_of(rt, team)
    async with in_transaction():
        team = await Team.filter(id=team.id).select_for_update().get()
        account = await account_of(team.id)
        if account.closure_effective_on is not None:
            raise Conflict("This account is being closed.")
        if team.calendar_from is not None:
            raise Conflict("Calendar billing is on already.")
        calendar = calendar_of(team).switch_to_calendar(today)
        team.calendar_from = calendar.calendar_from
        await team.save(update_fields=["calendar_from"])
        # A renewal drafted already (after the cut-off) is composed again on the new periods.
        await recompose_draft(rt, team)
    return team


async def recompose_draft(rt: Runtime, team: Team) -> None:
    """Compose the drafted renewal again, in the caller's transaction.

    Composition follows the seats, not the moment it runs (`renewal_lines`), so this changes it
    only for what the rules say: a removal undone after the cut-off keeps the seat in the next
    period, which is then billed (R-BILL-14: the undo costs nothing more than keeping the seat;
    R-BILL-15: no seat is ever unbilled); a calendar switch changes the period (R-BILL-16).
    """
    account = await BillingAccount.get_or_none(team_id=team.id)
    if account is None or account.stage != BillingStage.RENEW:
        return  # not drafted yet: the composition will see the seats as they are
    billing_date = account.next_billing_date
    closing = account.closure_effective_on
    if closing is not None and billing_date >= closing:
        return
    draft = await Invoice.get_or_none(key=renewal_key(team.id, billing_date))
    if draft is not None and draft.status != InvoiceStatus.DRAFT:
        return
    if draft is not None:
        await draft.delete()
    await compose_renewal(rt, team, billing_date)


async def team_invoice(team: Team, invoice_id: int) -> Invoice:
    """An invoice of this team, or NOT_FOUND exactly as for an id that does not exist."""
    invoice = await Invoice.get_or_none(id=invoice_id, team_id=team.id)
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        raise NotFound("No such invoice.", field="invoiceId")
    return invoice


async def resend_invoice(rt: Runtime, team: Team, invoice_id: int, email: str) -> None:
    """R-BILL-9: send an invoice again, to another address on request."""
    from softbrik.core.accounts.service import normalize_email

    email = normalize_email(email)
    invoice = await team_invoice(team, invoice_id)
    await send_invoice(rt, invoice, [email])


async def upcoming_invoice(rt: Runtime, team: Team) -> tuple[Period, list[LineDraft]] | None:
    """The next renewal as it would be composed now (None when closing before it)."""
    account = await BillingAccount.get_or_none(team_id=team.id)
    if account is None or account.stage == BillingStage.DONE:
        return None
    billing_date = account.next_billing_date
    if account.closure_effective_on is not None and billing_date >= account.closure_effective_on:
        return None
    draft = await Invoice.get_or_none(key=renewal_key(team.id, billing_date))
    if draft is not None:
        lines = await InvoiceLine.filter(invoice_id=draft.id).order_by("id")
        return Period(draft.period_start, draft.period_end), [
            LineDraft(
                line.description,
                line.brik,
                line.user_id,
                line.user_name,
                line.quantity,
                line.unit_cents,
                line.amount_cents,
                Period(line.period_start, line.period_end),
            )
            for line in lines
        ]
    cal = calendar_of(team)
    period = Period(billing_date, cal.next_billing_date(billing_date))
    basis = cal.basis_days(period)
    seats = (
        await Seat.filter(team_id=team.id)
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gt=billing_date))
        .select_related("user")
        .order_by("user_id", "brik")
    )
    upcoming: list[LineDraft] = []
    for seat in seats:
        line = seat_line(rt, seat, seat.user, period, period.days, basis, team.language)
        if line:
            upcoming.append(line)
    return period, upcoming


# --- PDF ----------------------------------------------------------------------------------------


async def invoice_pdf_bytes(rt: Runtime, invoice: Invoice) -> bytes:
    from softbrik.core.billing.pdf import PdfLine, Seller, invoice_pdf

    language = invoice.language if invoice.language in ("da", "en") else "da"
    lines = await InvoiceLine.filter(invoice_id=invoice.id).order_by("id")
    s = rt.settings
    credits = None
    if invoice.credit_for_id:
        original = await Invoice.get_or_none(id=invoice.credit_for_id)
        credits = original.number if original else None

    def money(cents: int) -> str:
        return format_cents(cents, language)

    return invoice_pdf(
        seller=Seller(s.seller_name, s.seller_address, s.seller_cvr, s.support_email),
        language=language,
        credit_note=invoice.kind == InvoiceKind.CREDIT_NOTE,
        number=invoice.number or "",
        issued_on=format_date(
            local_date(invoice.issued_at or invoice.created_at, "Europe/Copenhagen"), language
        ),
        period=f"{format_date(invoice.period_start, language)} - "
        f"{format_date(invoice.period_end - timedelta(days=1), language)}",
        buyer_name=invoice.buyer_name,
        buyer_address=invoice.buyer_address,
        buyer_country=invoice.buyer_country,
        buyer_vat_number=invoice.buyer_vat_number,
        lines=[
            PdfLine(
                line.description,
                f"{format_date(line.period_start, language)} - "
                f"{format_date(line.period_end - timedelta(days=1), language)}",
                line.quantity,
                money(line.unit_cents),
                money(line.amount_cents),
            )
            for line in lines
        ],
        net=money(invoice.subtotal_cents),
        vat_rate=f"{invoice.vat_rate:.0f}",
        vat=money(invoice.vat_cents),
        total=money(invoice.total_cents),
        reverse_charge=invoice.reverse_charge,
        outside_eu=invoice.buyer_country not in EU_COUNTRIES and invoice.buyer_country != "DK",
        credits=credits,
        paid_on=(
            format_date(local_date(invoice.paid_at, "Europe/Copenhagen"), language)
            if invoice.paid_at
            else None
        ),
    )


# --- closure -------------------------------------------------------------------------------------


async def request_closure(rt: Runtime, team: Team, team_name: str) -> BillingAccount:
    """R-CLOSE-1, -4: close at the end of a billing period; irreversible (R-CLOSE-2).

    Requested on or before the next billing date - 14 days: effective at that billing date (no
    renewal then); later: at the billing date after.
    """
    if team_name.strip() != team.name:
        raise BadUserInput("Type the team's name exactly to confirm.", field="teamName")
    today = today_of(rt, team)
    async with in_transaction():
        account = await BillingAccount.filter(team_id=team.id).select_for_update().first()
        if account is None:
            raise NotFound("This team has no billing account.")
        if account.closure_effective_on is not None:
            raise Conflict("The closure is scheduled already; it cannot be undone.")
        fresh = await Team.get(id=team.id)
        account.closure_requested_at = rt.clock.now()
        account.closure_effective_on = calendar_of(fresh).closure_effective_on(today)
        await account.save(update_fields=["closure_requested_at", "closure_effective_on"])
        # A renewal drafted for the closing date is dropped: no renewal then.
        await Invoice.filter(
            team_id=team.id,
            status=InvoiceStatus.DRAFT,
            period_start__gte=account.closure_effective_on,
        ).delete()
        await refresh_status(fresh)
        team.status = fresh.status
        await record(
            rt.clock,
            team.id,
            ACCOUNT_CLOSURE_SCHEDULED,
            {
                "invoice_id": None,
                "amount_cents": None,
                "message": f"The account closes on {account.closure_effective_on.isoformat()}.",
            },
        )
    return account


async def close_team(rt: Runtime, team: Team, account: BillingAccount) -> None:
    """R-CLOSE-3, -4: delete every row and blob of the team, end its sessions, destroy its keys;
    keep only Softbrik's invoices and credit notes to it (5 years, bookkeeping law).

    Runs inside the job step's transaction; every Brik's `softbrik_delete_team` is idempotent.
    """
    import inspect

    from softbrik.core.accounts.models import Invitation, Session
    from softbrik.core.crypto.models import TeamKey
    from softbrik.core.events.models import Event
    from softbrik.core.security.findings import delete_team as delete_security_records

    emails = await admin_emails(team.id)
    platform = rt.extras.get("platform")
    for brik in rt.briks:
        result = rt.briks.call_one(brik, "softbrik_delete_team", team_id=team.id, platform=platform)
        if inspect.isawaitable(result):
            await result
    user_ids = await User.filter(team_id=team.id).values_list("id", flat=True)
    await delete_security_records(team.id, list(user_ids))
    await Session.filter(user_id__in=list(user_ids)).delete()
    await Invitation.filter(team_id=team.id).delete()
    await Seat.filter(team_id=team.id).delete()
    await User.filter(team_id=team.id).delete()
    if rt.blobs is not None:  # whatever a Brik's hook left under the team's prefix
        await rt.blobs.delete_prefix(f"team/{int(team.id)}/")
    if rt.vault is not None:  # its keys destroyed (R-CLOSE-4), cached copies too
        await rt.vault.destroy(team.id)
    await TeamKey.filter(team_id=team.id).delete()
    await Event.filter(team_id=team.id).delete()
    closed_on = account.closure_effective_on
    # The team row stays as a nameless tombstone, so ids are never reused and status is CLOSED.
    await Team.filter(id=team.id).update(
        status=TeamStatus.CLOSED,
        name="",
        address="",
        vat_number=None,
        payment_customer=None,
        payment_token=None,
        card_brand=None,
        card_last4=None,
        card_exp_month=None,
        card_exp_year=None,
    )
    account.closed_at = rt.clock.now()
    account.stage = BillingStage.DONE
    await record(
        rt.clock,
        team.id,
        ACCOUNT_CLOSED,
        {"invoice_id": None, "amount_cents": None, "message": "The account is closed."},
    )
    if emails:
        subject, text = render(
            "account_closed", team.language, team_name=team.name, closed_on=closed_on
        )
        await outbox.send(rt, team.id, Message(to=emails, subject=subject, text=text))


# --- credit notes ---------------------------------------------------------------------------------


async def issue_credit_note(rt: Runtime, number: str, reason: str) -> Invoice:
    """R-BILL-18: a finalized invoice never changes; a correction is a credit note with its own
    number that references it. Credits the whole invoice; an unpaid one is voided too."""
    reason = reason.strip()
    if not reason:
        raise BadUserInput("Say why the invoice is credited.", field="reason")
    async with in_transaction():
        original = await Invoice.filter(number=number).select_for_update().first()
        if original is None or original.kind == InvoiceKind.CREDIT_NOTE:
            raise NotFound("No such invoice.", field="number")
        key = f"credit:{original.key}"
        if await Invoice.filter(key=key).exists():
            raise Conflict(f"Invoice {number} is credited already.")
        lines = await InvoiceLine.filter(invoice_id=original.id).order_by("id")
        now = rt.clock.now()
        note = await Invoice.create(
            team_id=original.team_id,
            key=key,
            kind=InvoiceKind.CREDIT_NOTE,
            status=InvoiceStatus.PAID,
            period_start=original.period_start,
            period_end=original.period_end,
            currency=original.currency,
            subtotal_cents=-original.subtotal_cents,
            vat_rate=original.vat_rate,
            vat_cents=-original.vat_cents,
            total_cents=-original.total_cents,
            reverse_charge=original.reverse_charge,
            buyer_name=original.buyer_name,
            buyer_address=original.buyer_address,
            buyer_country=original.buyer_country,
            buyer_vat_number=original.buyer_vat_number,
            buyer_email=original.buyer_email,
            language=original.language,
            credit_for_id=original.id,
            note=reason,
            created_at=now,
            paid_at=now,
        )
        await InvoiceLine.bulk_create(
            [
                InvoiceLine(
                    invoice_id=note.id,
                    description=line.description,
                    brik=line.brik,
                    user_id=line.user_id,
                    user_name=line.user_name,
                    quantity=line.quantity,
                    unit_cents=line.unit_cents,
                    amount_cents=-line.amount_cents,
                    period_start=line.period_start,
                    period_end=line.period_end,
                )
                for line in lines
            ]
        )
        await finalize(rt, note)
        note.status = InvoiceStatus.PAID
        await note.save(update_fields=["status"])
        if original.status == InvoiceStatus.OPEN:
            original.status = InvoiceStatus.VOID
            original.next_attempt_at = None
            await original.save(update_fields=["status", "next_attempt_at"])
        team = await Team.get(id=original.team_id)
        await refresh_status(team)
        account = await BillingAccount.get_or_none(team_id=team.id)
        if account is not None and account.stage != BillingStage.DONE:
            await reschedule(team, account)
    if note.buyer_email:
        await send_invoice(rt, note, [note.buyer_email])
    return note
