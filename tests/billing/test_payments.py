"""Failed renewals, retries, suspension, a new card, and reminders (R-BILL-3, -8, -17, -20).

Teams sign up on 12 January 2026 (anchor 12); the first renewal is on 12 February.
"""

from softbrik.core.billing.models import Invoice, PaymentAttempt
from softbrik.core.events.models import Event
from tests.billing.helpers import (
    NOTES,
    UPCOMING,
    UPDATE_CARD,
    advance,
    at,
    billing,
    charges,
    invoices,
)


async def events(*types: str) -> list[Event]:
    return list(await Event.filter(type__in=types).order_by("id"))


async def test_a_declined_renewal_is_retried_then_suspends_until_paid(
    gql, team_factory, softbrik_app, outbox
):
    """R-BILL-20: the invoice stays open; retries 1, 3 and 5 days after the billing date, the
    admin told each time; after the last failure the Briks are suspended until a new card pays
    it (R-BILL-3), at once."""
    team = await team_factory.sign_up(["notes"], language="en")
    member = await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-02-01"))
    card = await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=team.admin.token)
    assert card["updatePaymentMethod"] == {
        "brand": "VISA",
        "last4": "0002",
        "expMonth": 12,
        "expYear": 2034,
    }

    def failure_mails():
        return [m for m in outbox() if m["Subject"].startswith("Payment of invoice")]

    expected = [
        # (when, attempts, status, next retry told in the e-mail)
        ("2026-02-12", 1, "PAST_DUE", "13 February 2026"),
        ("2026-02-13", 2, "PAST_DUE", "15 February 2026"),
        ("2026-02-15", 3, "PAST_DUE", "17 February 2026"),
        ("2026-02-17", 4, "SUSPENDED", "suspended"),
    ]
    for day, attempts, status, told in expected:
        await advance(gql, at(day, 12))
        renewal = (await invoices(gql, team.admin.token))[-1]
        assert renewal["status"] == "OPEN", day
        assert renewal["paidAt"] is None
        assert (await Invoice.get(number=renewal["number"])).attempts == attempts, day
        assert (await billing(gql, team.admin.token))["status"] == status, day
        mails = failure_mails()
        assert len(mails) == attempts, day
        text = mails[-1].get_body(preferencelist=("plain",)).get_content()
        assert told in text, (day, text)
        assert "EUR 17.50" in text  # two seats, 1400 + 25 % VAT
    # Nothing more is tried by itself after the last retry.
    await advance(gql, at("2026-02-25"))
    assert len(failure_mails()) == 4
    # Suspended: no Brik answers, for anyone (R-BILL-20).
    for token in (team.admin.token, member.token):
        error = await gql.error(NOTES, token=token)
        assert error["extensions"]["code"] == "FORBIDDEN"

    await gql.ok(UPDATE_CARD, {"pm": "pm_card_visa"}, token=team.admin.token)
    renewal = (await invoices(gql, team.admin.token))[-1]
    assert renewal["status"] == "PAID"
    assert renewal["paidAt"].startswith("2026-02-25")
    assert (await billing(gql, team.admin.token))["status"] == "ACTIVE"
    await gql.ok(NOTES, token=member.token)
    attempts = await PaymentAttempt.filter(invoice__number=renewal["number"]).order_by("number")
    assert [a.succeeded for a in attempts] == [False, False, False, False, True]
    assert len({a.idempotency_key for a in attempts}) == 5  # a retry is a new charge (R-BILL-21)
    paid = [c for c in charges(softbrik_app) if c.succeeded]
    assert [c.amount_cents for c in paid][-1] == 1750
    failed = await events("PAYMENT_FAILED")
    assert len(failed) == 4
    assert failed[0].payload["amount_cents"] == 1750
    assert failed[0].payload["message"] == "Your card was declined."
    assert len(await events("PAYMENT_METHOD_UPDATED")) == 2
    # The next renewal is charged as usual.
    await advance(gql, at("2026-03-12", 12))
    assert (await invoices(gql, team.admin.token))[-1]["status"] == "PAID"


async def test_a_new_card_pays_at_once_while_retries_are_pending(gql, team_factory):
    """R-BILL-3, R-BILL-20: a new card is tried at once on every open invoice."""
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-02-01"))
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=team.admin.token)
    await advance(gql, at("2026-03-12", 12))  # February suspended, March declined too
    found = await invoices(gql, team.admin.token)
    assert [i["status"] for i in found] == ["PAID", "OPEN", "OPEN"]
    assert (await billing(gql, team.admin.token))["status"] == "SUSPENDED"
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_mastercard"}, token=team.admin.token)
    found = await invoices(gql, team.admin.token)
    assert [i["status"] for i in found] == ["PAID", "PAID", "PAID"]
    assert (await billing(gql, team.admin.token))["status"] == "ACTIVE"
    # No retry is left scheduled for a paid invoice.
    assert not await Invoice.filter(next_attempt_at__isnull=False).exists()


async def test_update_payment_method_refuses_other_brands_and_members(gql, team_factory):
    """R-BILL-3, R-BILL-4: only the admin, and only VISA or Mastercard."""
    team = await team_factory.sign_up(["notes"])
    error = await gql.error(UPDATE_CARD, {"pm": "pm_card_amex"}, token=team.admin.token)
    assert error["extensions"]["code"] == "PAYMENT_FAILED"
    assert "support" in error["message"]
    error = await gql.error(UPDATE_CARD, {"pm": "pm_nonsense"}, token=team.admin.token)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "paymentMethod"
    member = await team_factory.invite(team)
    error = await gql.error(UPDATE_CARD, {"pm": "pm_card_visa"}, token=member.token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    error = await gql.error(UPDATE_CARD, {"pm": "pm_card_visa"})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    data = await gql.ok("{ team { paymentMethod { brand last4 } } }", token=team.admin.token)
    assert data["team"]["paymentMethod"] == {"brand": "VISA", "last4": "4242"}


async def test_the_review_reminder_goes_out_7_days_before(gql, team_factory, outbox):
    """R-BILL-8, R-BILL-17: 7 days before the billing date, before the cut-off, with the
    upcoming invoice's summary and a link to review seats; once."""
    team = await team_factory.sign_up(["notes"])

    def reminders():
        return [m for m in outbox() if "næste betaling" in m["Subject"]]

    await advance(gql, at("2026-02-04", 22, 59))  # 23:59 on 4 February in Copenhagen
    assert reminders() == []
    await advance(gql, at("2026-02-04", 23, 0))  # midnight: 5 February
    [mail] = reminders()
    assert mail["To"] == team.admin.email
    assert "12. februar 2026" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "7,00 EUR" in text  # the line
    assert "8,75 EUR" in text  # the total with VAT
    assert "http://127.0.0.1:8000/team/seats" in text
    [event] = await events("REMINDER_SENT")
    assert event.payload["amount_cents"] == 875
    assert event.occurred_at.isoformat() == "2026-02-04T23:00:00+00:00"
    await advance(gql, at("2026-02-08"))
    assert len(reminders()) == 1
    data = await gql.ok(UPCOMING, token=team.admin.token)
    assert data["team"]["upcomingInvoice"]["totalCents"] == 875
    await advance(gql, at("2026-03-06"))
    assert len(reminders()) == 2
