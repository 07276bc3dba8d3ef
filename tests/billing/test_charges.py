"""Charges at sign-up and for added seats, and what a decline leaves (R-BILL-1, -4, -5, -13..-15,
-18, -20, -21).

Teams sign up on 12 January 2026 at 10:00 in Copenhagen (anchor 12): the first period is
12 Jan - 12 Feb (31 days), its cut-off 10 February. The `notes` Brik costs 700 cents.
"""

import pytest

from softbrik.core.accounts.models import Seat, Team, User
from softbrik.core.billing.models import Invoice
from softbrik.core.events.models import Event
from tests.billing.helpers import (
    ASSIGN,
    INVOICE_FIELDS,
    PRICE,
    REMOVE,
    RESEND,
    RESTORE,
    UNASSIGN,
    UPCOMING,
    UPDATE_CARD,
    advance,
    at,
    charges,
    check_sums,
    invoices,
)

SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }"


def sign_up_input(email: str, card: str, briks: list[str], **extra):
    return {
        "i": {
            "teamName": "Bager Ole ApS",
            "name": "Ole",
            "email": email,
            "password": "correct horse battery",
            "paymentMethod": card,
            "briks": briks,
            **extra,
        }
    }


async def test_sign_up_pays_the_first_month_at_once(gql, team_factory, softbrik_app, outbox):
    """R-BILL-1: the first month is paid at sign-up, for the admin's seats; the invoice goes to
    the admin with its PDF (R-BILL-9)."""
    team = await team_factory.sign_up(["notes"], address="Bagergade 1\n1000 København K")
    [invoice] = await invoices(gql, team.admin.token)
    assert invoice["kind"] == "SIGN_UP"
    assert invoice["status"] == "PAID"
    assert invoice["number"] == "SB-000001"
    assert (invoice["periodStart"], invoice["periodEnd"]) == ("2026-01-12", "2026-02-12")
    assert invoice["subtotalCents"] == PRICE
    assert invoice["vatRate"] == "25.00"
    assert invoice["vatCents"] == 175
    assert invoice["totalCents"] == 875
    assert invoice["currency"] == "EUR"
    assert invoice["lines"][0]["amountCents"] == PRICE
    assert invoice["lines"][0]["brik"] == "notes"
    check_sums(invoice)
    [charge] = charges(softbrik_app)
    assert (charge.amount_cents, charge.currency, charge.succeeded) == (875, "eur", True)
    [mail] = [m for m in outbox() if m["To"] == team.admin.email]
    assert "SB-000001" in mail["Subject"]
    [pdf] = [part for part in mail.iter_attachments()]
    assert pdf.get_content_type() == "application/pdf"
    assert pdf.get_content().startswith(b"%PDF-1.4")
    types = await Event.all().order_by("id").values_list("type", flat=True)
    assert types == ["SEAT_ADDED", "INVOICE_FINALIZED", "PAYMENT_SUCCEEDED"]
    payload = (await Event.filter(type="PAYMENT_SUCCEEDED").first()).payload
    assert payload["amount_cents"] == 875
    assert set(payload) == {"invoice_id", "amount_cents", "message"}


async def test_a_declined_card_at_sign_up_creates_nothing(gql, softbrik_app):
    """R-BILL-4, R-BILL-20: a declined card at sign-up creates nothing and says why."""
    error = await gql.error(
        SIGN_UP, sign_up_input("ole@bager.dk", "pm_card_chargeDeclined", ["notes"])
    )
    assert error["extensions"]["code"] == "PAYMENT_FAILED"
    assert "declined" in error["message"]
    assert await Team.all().count() == 0
    assert await User.all().count() == 0
    assert await Invoice.all().count() == 0
    assert await Event.all().count() == 0
    # The same person can sign up again with a good card; the first number is still free.
    await gql.ok(SIGN_UP, sign_up_input("ole@bager.dk", "pm_card_visa", ["notes"]))
    assert await Invoice.all().values_list("number", flat=True) == ["SB-000001"]


async def test_only_visa_and_mastercard(gql):
    """R-BILL-4: another brand gets a clear error telling the user to contact support."""
    error = await gql.error(SIGN_UP, sign_up_input("ole@bager.dk", "pm_card_amex", ["notes"]))
    assert error["extensions"]["code"] == "PAYMENT_FAILED"
    assert error["extensions"]["reason"] == "card_not_accepted"
    assert "support" in error["message"]
    assert await Team.all().count() == 0
    await gql.ok(SIGN_UP, sign_up_input("ole@bager.dk", "pm_card_mastercard", ["notes"]))


# (day of the change, cents charged at once for the rest of the period [and the next one])
PRORATION = [
    ("2026-01-12", 700),  # the first day: the whole period
    ("2026-01-27", 361),  # 700 x 16 / 31 = 361.29 (R-BILL-13's example with this price)
    ("2026-02-10", 45),  # the cut-off day: 700 x 2 / 31 = 45.16, on the next renewal
    ("2026-02-11", 23 + 700),  # after the cut-off: 1 day + the whole next period (R-BILL-15)
]


def danish_vat(net: int) -> int:
    """25 %, half-up to the cent, in integers."""
    return (net * 25 + 50) // 100


@pytest.mark.parametrize(("day", "expected"), PRORATION)
async def test_added_seats_are_prorated_by_days_left(
    gql, team_factory, softbrik_app, day, expected
):
    """R-BILL-5, R-BILL-13, R-BILL-15: charged at once, prorated, on the saved card."""
    team = await team_factory.sign_up([])
    member = await team_factory.invite(team)
    await advance(gql, at(day))
    await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    [invoice] = await invoices(gql, team.admin.token)
    assert invoice["kind"] == "ADDITION"
    assert invoice["status"] == "PAID"
    assert invoice["subtotalCents"] == expected
    assert invoice["vatCents"] == danish_vat(expected)
    check_sums(invoice)
    assert invoice["periodStart"] == day
    assert [charge.amount_cents for charge in charges(softbrik_app)] == [invoice["totalCents"]]


async def test_after_the_cut_off_the_next_period_is_charged_at_once_and_not_renewed(
    gql, team_factory
):
    """R-BILL-15: a seat added after the cut-off pays the rest of this period and the whole
    next one now, so the renewal composed without it leaves no seat unbilled or billed twice."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team)
    await advance(gql, at("2026-02-11"))
    await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    addition = (await invoices(gql, team.admin.token))[-1]
    assert [
        (line["periodStart"], line["periodEnd"], line["amountCents"]) for line in addition["lines"]
    ] == [
        ("2026-02-11", "2026-02-12", 23),
        ("2026-02-12", "2026-03-12", 700),
    ]
    await advance(gql, at("2026-02-12"))
    renewal = (await invoices(gql, team.admin.token))[-1]
    assert renewal["kind"] == "RENEWAL"
    assert [line["user"] for line in renewal["lines"]] == [renewal["lines"][0]["user"]]
    assert renewal["subtotalCents"] == 700  # only the admin's seat
    # The following renewal has both.
    await advance(gql, at("2026-03-12"))
    assert (await invoices(gql, team.admin.token))[-1]["subtotalCents"] == 1400


@pytest.mark.parametrize(
    ("day", "renewal_cents"),
    [
        ("2026-02-10", 700),  # on the cut-off: the removal is on the 12 February invoice
        ("2026-02-11", 1400),  # after it: the seat stays a period longer, and is billed
    ],
)
async def test_removal_on_both_sides_of_the_cut_off(gql, team_factory, day, renewal_cents):
    """R-BILL-6, R-BILL-14, R-BILL-15: no credit; a removal after the cut-off ends a period later."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team, ["notes"])
    await advance(gql, at(day))
    data = await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    expected_end = "2026-02-12" if renewal_cents == 700 else "2026-03-12"
    assert data["unassignBrik"]["endsOn"] == expected_end
    before = len(await invoices(gql, team.admin.token))
    await advance(gql, at("2026-02-12"))
    found = await invoices(gql, team.admin.token)
    assert len(found) == before + 1  # no credit note: a removal gives no credit
    assert found[-1]["subtotalCents"] == renewal_cents


async def test_undoing_a_removal_costs_nothing(gql, team_factory, softbrik_app):
    """R-BILL-14: undoing a removal before it takes effect costs nothing."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-01-20"))
    await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    paid = len(charges(softbrik_app))
    await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    assert len(charges(softbrik_app)) == paid
    await advance(gql, at("2026-02-12"))
    assert (await invoices(gql, team.admin.token))[-1]["subtotalCents"] == 1400


async def test_a_swap_of_users_is_an_added_seat(gql, team_factory):
    """R-BILL-14: removing user A and adding user B in the same period is charged as an added
    seat; A is billed to the period's end and left out of the next renewal."""
    team = await team_factory.sign_up(["notes"])
    a = await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-01-27"))
    await gql.ok(UNASSIGN, {"u": a.id, "b": "notes"}, token=team.admin.token)
    b = await team_factory.invite(team, ["notes"])
    addition = (await invoices(gql, team.admin.token))[-1]
    assert addition["kind"] == "ADDITION"
    assert addition["subtotalCents"] == 361
    await advance(gql, at("2026-02-12"))
    renewal = (await invoices(gql, team.admin.token))[-1]
    assert renewal["subtotalCents"] == 1400  # admin and B
    assert b.id != a.id


async def test_a_declined_addition_adds_nothing_and_takes_no_number(
    gql, team_factory, softbrik_app
):
    """R-BILL-20: a declined charge for an addition leaves nothing added. R-BILL-18: numbers
    stay gapless."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team)
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=team.admin.token)
    error = await gql.error(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    assert error["extensions"]["code"] == "PAYMENT_FAILED"
    assert "Nothing was added" in error["message"]
    assert await Seat.filter(user__email=member.email).count() == 0
    assert await Invoice.all().count() == 1
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_mastercard"}, token=team.admin.token)
    await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    numbers = [invoice["number"] for invoice in await invoices(gql, team.admin.token)]
    assert numbers == ["SB-000001", "SB-000002"]


async def test_a_declined_card_when_joining_adds_no_member(gql, team_factory):
    """R-BILL-20: accepting an invitation whose seats cannot be paid adds nothing."""
    team = await team_factory.sign_up(["notes"])
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=team.admin.token)
    try:
        await team_factory.invite(team, ["notes"], email="declined@example.com")
    except AssertionError as exc:
        assert "PAYMENT_FAILED" in str(exc)
    else:
        raise AssertionError("joining should have failed")
    assert not await User.filter(email="declined@example.com").exists()


async def test_upcoming_invoice_as_it_would_be_composed_now(gql, team_factory):
    """R-BILL-7: the upcoming invoice shows what the next billing date will charge."""
    team = await team_factory.sign_up(["notes"], country="DE", vatNumber="DE123456789")
    member = await team_factory.invite(team, ["notes"])
    data = await gql.ok(UPCOMING, token=team.admin.token)
    upcoming = data["team"]["upcomingInvoice"]
    assert upcoming["status"] == "DRAFT"
    assert upcoming["number"] is None
    assert (upcoming["periodStart"], upcoming["periodEnd"]) == ("2026-02-12", "2026-03-12")
    assert upcoming["subtotalCents"] == 1400
    assert upcoming["vatCents"] == 0
    assert upcoming["reverseCharge"] is True
    await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    data = await gql.ok(UPCOMING, token=team.admin.token)
    assert data["team"]["upcomingInvoice"]["subtotalCents"] == 700


async def test_another_teams_invoice_is_not_found(gql, team_factory, http):
    """DESIGN.md, Tenancy: another team's invoice answers exactly as a missing one."""
    ours = await team_factory.sign_up(["notes"])
    theirs = await team_factory.sign_up(["notes"])
    [their_invoice] = await invoices(gql, theirs.admin.token)
    missing = "SW52b2ljZTo5OTk5OTk"  # Invoice:999999
    for invoice_id in (their_invoice["id"], missing):
        error = await gql.error(
            RESEND, {"i": invoice_id, "e": "x@example.com"}, token=ours.admin.token
        )
        assert error["extensions"]["code"] == "NOT_FOUND"
        assert error["message"] == "No such invoice."
        node = await gql.error(
            "query($id: ID!) { node(id: $id) { id } }", {"id": invoice_id}, token=ours.admin.token
        )
        assert node["extensions"]["code"] == "NOT_FOUND"
        response = await http.get(
            f"/invoices/{invoice_id}.pdf",
            headers={"Authorization": f"Bearer {ours.admin.token}"},
        )
        assert response.status_code == 404
    # Their own admin reaches it.
    data = await gql.ok(
        "query($id: ID!) { node(id: $id) { ... on Invoice { " + INVOICE_FIELDS + " } } }",
        {"id": their_invoice["id"]},
        token=theirs.admin.token,
    )
    assert data["node"]["number"] == their_invoice["number"]


async def test_resend_and_pdf(gql, team_factory, http, outbox):
    """R-BILL-9: an invoice can be re-sent to another address; its PDF carries what Danish
    law asks for (R-BILL-19)."""
    team = await team_factory.sign_up(
        ["notes"], country="DE", vatNumber="DE123456789", address="Hauptstraße 5\n10115 Berlin"
    )
    [invoice] = await invoices(gql, team.admin.token)
    assert await gql.ok(
        RESEND, {"i": invoice["id"], "e": "Bogholderi@Example.com"}, token=team.admin.token
    )
    [mail] = [m for m in outbox() if m["To"] == "bogholderi@example.com"]
    assert invoice["number"] in mail["Subject"]
    error = await gql.error(
        RESEND, {"i": invoice["id"], "e": "not an address"}, token=team.admin.token
    )
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == "email"
    member = await team_factory.invite(team)
    forbidden = await gql.error(RESEND, {"i": invoice["id"], "e": "a@b.dk"}, token=member.token)
    assert forbidden["extensions"]["code"] == "FORBIDDEN"

    response = await http.get(
        invoice["pdfUrl"], headers={"Authorization": f"Bearer {team.admin.token}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    for text in (
        invoice["number"],
        "Softbrik ApS",  # seller
        "CVR-nr. 12345678",  # the seller's CVR number
        team.name,  # buyer
        "Hauptstraße 5",  # buyer's address (cp1252)
        "DE123456789",  # buyer's VAT number under reverse charge
        "Omvendt betalingspligt",  # "reverse charge"
        "Moms 0 %",  # VAT rate
        "12. januar 2026",  # issue date and period
        "11. februar 2026",
        "7,00 EUR",  # net and total
    ):
        assert text.encode("cp1252") in pdf, text
    unauthenticated = await http.get(invoice["pdfUrl"])
    assert unauthenticated.status_code == 401


@pytest.mark.parametrize(
    ("extra", "rate", "vat", "reverse", "note"),
    [
        ({"country": "DK"}, "25.00", 175, False, None),
        ({"country": "DE", "vatNumber": "DE123456789"}, "0.00", 0, True, "Omvendt betalingspligt"),
        ({"country": "US"}, "0.00", 0, False, "uden for EU"),
    ],
)
async def test_vat_for_a_danish_a_german_and_a_us_team(
    gql, team_factory, http, extra, rate, vat, reverse, note
):
    """R-BILL-19: Danish VAT, reverse charge for an EU business, none outside the EU."""
    team = await team_factory.sign_up(["notes"], **extra)
    [invoice] = await invoices(gql, team.admin.token)
    assert (invoice["vatRate"], invoice["vatCents"], invoice["reverseCharge"]) == (
        rate,
        vat,
        reverse,
    )
    assert invoice["totalCents"] == PRICE + vat
    pdf = (
        await http.get(invoice["pdfUrl"], headers={"Authorization": f"Bearer {team.admin.token}"})
    ).content
    for text in ("Omvendt betalingspligt", "uden for EU"):
        assert (text.encode("cp1252") in pdf) == (text == note), text


@pytest.mark.parametrize("undo", ["assign", "restore"])
async def test_a_removal_undone_after_the_cut_off_is_billed_at_the_renewal(
    gql, team_factory, softbrik_app, undo
):
    """R-BILL-14, R-BILL-15: undoing a removal costs nothing at once, and the seat it keeps is on
    the next renewal even when that was drafted already (no seat is ever unbilled)."""
    team = await team_factory.sign_up(["notes"])
    member = await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-02-05"))
    if undo == "assign":
        await gql.ok(UNASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    else:
        await gql.ok(REMOVE, {"u": member.id}, token=team.admin.token)
    await advance(gql, at("2026-02-11", 12))  # the renewal was drafted at midnight without it
    paid = len(charges(softbrik_app))
    if undo == "assign":
        await gql.ok(ASSIGN, {"u": member.id, "b": "notes"}, token=team.admin.token)
    else:
        await gql.ok(RESTORE, {"u": member.id}, token=team.admin.token)
    assert len(charges(softbrik_app)) == paid
    await advance(gql, at("2026-02-12", 12))
    renewal = (await invoices(gql, team.admin.token))[-1]
    assert renewal["kind"] == "RENEWAL"
    assert renewal["subtotalCents"] == 1400
