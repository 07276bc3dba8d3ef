"""Tortoise models of the billing app.

Invoices carry `team_id` as a plain column and a copy of the buyer's details, not a foreign key:
they outlive the team's data at closure, as bookkeeping law requires (R-CLOSE-4).
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class InvoiceStatus(StrEnum):
    DRAFT = "DRAFT"
    OPEN = "OPEN"
    PAID = "PAID"
    VOID = "VOID"
    UNCOLLECTIBLE = "UNCOLLECTIBLE"


class InvoiceKind(StrEnum):
    SIGN_UP = "SIGN_UP"  # the first month, paid at sign-up (R-BILL-1)
    ADDITION = "ADDITION"  # seats added mid-period, prorated (R-BILL-5, -13, -15)
    RENEWAL = "RENEWAL"  # a period's invoice, composed at the cut-off (R-BILL-15)
    CREDIT_NOTE = "CREDIT_NOTE"  # a correction of a finalized invoice (R-BILL-18)


class BillingStage(StrEnum):
    """Where a team stands on the way to its next billing date (see `job.py`)."""

    REMIND = "REMIND"  # the review reminder is due at B - 7 days (R-BILL-17)
    COMPOSE = "COMPOSE"  # the renewal invoice is composed at the start of B - 1 (R-BILL-15)
    RENEW = "RENEW"  # finalized and charged on B (R-BILL-1)
    DONE = "DONE"  # closed: nothing more to do (R-CLOSE-4)


class BillingAccount(Model):
    """A team's billing state: the next billing date, the stage towards it, and closure."""

    id = fields.IntField(primary_key=True)
    team_id = fields.IntField(unique=True)
    next_billing_date = fields.DateField()
    stage = fields.CharEnumField(BillingStage, max_length=8, default=BillingStage.REMIND)
    # The earliest instant at which billing work falls due: what `run_due` looks for.
    next_run_at = fields.DatetimeField(null=True, db_index=True)
    closure_requested_at = fields.DatetimeField(null=True)
    closure_effective_on = fields.DateField(null=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "billing_account"


class Invoice(Model):
    id = fields.IntField(primary_key=True)
    team_id = fields.IntField(db_index=True)
    # What it pays for, e.g. "renewal:12:2026-02-12": at most one invoice per team and period.
    key = fields.CharField(max_length=200, unique=True)
    kind = fields.CharEnumField(InvoiceKind, max_length=12)
    status = fields.CharEnumField(InvoiceStatus, max_length=14, default=InvoiceStatus.DRAFT)
    # Gapless, given at finalization (R-BILL-18); drafts have none.
    sequence = fields.IntField(null=True, unique=True)
    number = fields.CharField(max_length=20, null=True)
    period_start = fields.DateField()
    period_end = fields.DateField()
    currency = fields.CharField(max_length=3, default="EUR")
    subtotal_cents = fields.BigIntField(default=0)
    vat_rate = fields.DecimalField(max_digits=5, decimal_places=2, default=0)
    vat_cents = fields.BigIntField(default=0)
    total_cents = fields.BigIntField(default=0)
    reverse_charge = fields.BooleanField(default=False)
    # The buyer as invoiced (R-BILL-19), kept after closure (R-CLOSE-4).
    buyer_name = fields.CharField(max_length=200)
    buyer_address = fields.TextField(default="")
    buyer_country = fields.CharField(max_length=2)
    buyer_vat_number = fields.CharField(max_length=32, null=True)
    buyer_email = fields.CharField(max_length=254, default="")
    language = fields.CharField(max_length=5, default="da")
    credit_for_id = fields.IntField(null=True)
    note = fields.TextField(default="")
    created_at = fields.DatetimeField()
    issued_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    attempts = fields.SmallIntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    lines: fields.ReverseRelation[InvoiceLine]

    class Meta:
        table = "invoice"
        indexes = (("team_id", "status"),)


class InvoiceLine(Model):
    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "billing.Invoice", related_name="lines", on_delete=fields.CASCADE
    )
    invoice_id: int
    description = fields.CharField(max_length=300)
    brik = fields.CharField(max_length=40)
    user_id = fields.IntField(null=True)
    user_name = fields.CharField(max_length=200, default="")
    quantity = fields.IntField(default=1)
    unit_cents = fields.BigIntField()
    amount_cents = fields.BigIntField()
    period_start = fields.DateField()
    period_end = fields.DateField()

    class Meta:
        table = "invoice_line"
        indexes = (("invoice_id",),)


class InvoiceCounter(Model):
    """The one gapless invoice sequence (R-BILL-18): taken under a row lock at finalization."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=20, unique=True)
    value = fields.IntField(default=0)

    class Meta:
        table = "invoice_counter"


class PaymentAttempt(Model):
    """One call to the payment provider for an invoice, with its idempotency key (R-BILL-21)."""

    id = fields.IntField(primary_key=True)
    invoice: fields.ForeignKeyRelation[Invoice] = fields.ForeignKeyField(
        "billing.Invoice", related_name="payment_attempts", on_delete=fields.CASCADE
    )
    invoice_id: int
    number = fields.SmallIntField()
    idempotency_key = fields.CharField(max_length=255, unique=True)
    charge_id = fields.CharField(max_length=100, default="")
    amount_cents = fields.BigIntField()
    succeeded = fields.BooleanField()
    failure_message = fields.TextField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "payment_attempt"
        unique_together = (("invoice", "number"),)


class BillingStep(Model):
    """Work done once per team and key (a reminder, a closure): a re-run finds it and skips."""

    id = fields.IntField(primary_key=True)
    team_id = fields.IntField()
    key = fields.CharField(max_length=200, unique=True)
    done_at = fields.DatetimeField()

    class Meta:
        table = "billing_step"


class WebhookEvent(Model):
    """A processed Stripe webhook event id, so a replay is not processed twice."""

    id = fields.IntField(primary_key=True)
    event_id = fields.CharField(max_length=100, unique=True)
    type = fields.CharField(max_length=100)
    received_at = fields.DatetimeField()

    class Meta:
        table = "webhook_event"


class OutgoingMail(Model):
    """An e-mail of a billing step not sent yet, written in the transaction of the step and
    deleted once sent after it commits (see outbox.py). A rolled-back step sends nothing, and a
    committed one is sent once, by its run or, after a crash, by the next run."""

    id = fields.IntField(primary_key=True)
    team_id = fields.IntField()
    message: dict = fields.JSONField()  # type: ignore[assignment]
    created_at = fields.DatetimeField()

    class Meta:
        table = "outgoing_mail"
