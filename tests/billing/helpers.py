"""GraphQL documents and helpers shared by the billing tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ADVANCE = "mutation($to: DateTime!) { advanceTestClock(to: $to) }"
BILLING = (
    "{ team { billing { anchorDay calendarBilling currentPeriodStart currentPeriodEnd "
    "nextBillingDate status } } }"
)
INVOICE_FIELDS = (
    "id number kind status periodStart periodEnd subtotalCents vatRate vatCents totalCents "
    "reverseCharge currency issuedAt paidAt pdfUrl "
    "lines { description brik user quantity unitCents amountCents periodStart periodEnd }"
)
INVOICES = "{ team { invoices(first: 100) { " + INVOICE_FIELDS + " } } }"
UPCOMING = "{ team { upcomingInvoice { " + INVOICE_FIELDS + " } } }"
ASSIGN = "mutation($u: ID!, $b: String!) { assignBrik(userId: $u, brik: $b) { id brik } }"
UNASSIGN = "mutation($u: ID!, $b: String!) { unassignBrik(userId: $u, brik: $b) { endsOn } }"
REMOVE = "mutation($u: ID!) { removeUser(userId: $u) { removalOn } }"
RESTORE = "mutation($u: ID!) { restoreUser(userId: $u) { removalOn } }"
UPDATE_CARD = (
    "mutation($pm: String!) { updatePaymentMethod(paymentMethod: $pm) "
    "{ brand last4 expMonth expYear } }"
)
SWITCH = (
    "mutation { switchToCalendarBilling { anchorDay calendarBilling currentPeriodStart "
    "currentPeriodEnd nextBillingDate status } }"
)
CLOSE = "mutation($n: String!) { requestAccountClosure(teamName: $n) { requestedAt effectiveOn } }"
RESEND = "mutation($i: ID!, $e: String!) { resendInvoice(invoiceId: $i, email: $e) }"
NOTES = "{ notes { notes { title } } }"
PRICE = 700  # the example `notes` Brik's price in cents


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    """An instant in UTC: `at("2026-02-12")` is 10:00 in Copenhagen in winter."""
    y, m, d = map(int, day.split("-"))
    return datetime(y, m, d, hour, minute, tzinfo=UTC)


async def advance(gql: Any, to: datetime) -> None:
    await gql.ok(ADVANCE, {"to": to.isoformat()})


async def invoices(gql: Any, token: str) -> list[dict[str, Any]]:
    """The team's invoices, oldest first."""
    data = await gql.ok(INVOICES, token=token)
    return list(reversed(data["team"]["invoices"]))


async def billing(gql: Any, token: str) -> dict[str, Any]:
    data = await gql.ok(BILLING, token=token)
    return dict(data["team"]["billing"])


def charges(app: Any) -> list[Any]:
    """Every charge the (local) payment gateway made."""
    return list(app.state.rt.gateway.charges())


def check_sums(invoice: dict[str, Any]) -> None:
    """An invoice's total is the sum of its lines plus VAT (R-BILL-19)."""
    assert invoice["subtotalCents"] == sum(line["amountCents"] for line in invoice["lines"])
    assert invoice["totalCents"] == invoice["subtotalCents"] + invoice["vatCents"]
