"""Calendar billing (R-BILL-2, -16) and account closure (R-CLOSE-1..4)."""

import pytest

from softbrik.core.accounts.models import Seat, Session, Team, User
from softbrik.core.billing.models import Invoice
from softbrik.core.crypto.models import TeamKey
from softbrik.core.events.models import Event
from tests.billing.helpers import (
    BILLING,
    CLOSE,
    NOTES,
    SWITCH,
    UPCOMING,
    advance,
    at,
    billing,
    check_sums,
    invoices,
)

NOTES_ADD = 'mutation { notesAdd(title: "Recipe", body: "secret") { title } }'


@pytest.mark.parametrize(
    ("signed_up", "switched", "schedule"),
    [
        # anchor 12: the invoice at 12 February covers [12 Feb, 1 Mar), 17 of the 28 days of
        # the anniversary period [12 Feb, 12 Mar): 700 x 17 / 28 = 425
        (
            "2026-01-12",
            "2026-01-20",
            [("2026-02-12", "2026-03-01", 425), ("2026-03-01", "2026-04-01", 700)],
        ),
        # after the cut-off the drafted renewal is composed again on the new periods
        (
            "2026-01-12",
            "2026-02-11",
            [("2026-02-12", "2026-03-01", 425), ("2026-03-01", "2026-04-01", 700)],
        ),
        # anchor 31: the next billing date is 28 February; [28 Feb, 1 Mar) is 1 of the 31 days
        # of [28 Feb, 31 Mar): 700 x 1 / 31 = 22.58 -> 23
        (
            "2026-01-31",
            "2026-02-05",
            [("2026-02-28", "2026-03-01", 23), ("2026-03-01", "2026-04-01", 700)],
        ),
        # an anchor of 1: B is already a 1st, so nothing is partial
        (
            "2026-02-01",
            "2026-02-05",
            [("2026-03-01", "2026-04-01", 700), ("2026-04-01", "2026-05-01", 700)],
        ),
    ],
)
async def test_switch_to_calendar_billing(gql, team_factory, signed_up, switched, schedule):
    """R-BILL-2, R-BILL-16: from the next billing date B, periods run from the 1st; the invoice
    at B covers [B, 1st) prorated over the anniversary period that starts at B."""
    await advance(gql, at(signed_up))
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at(switched))
    data = await gql.ok(SWITCH, token=team.admin.token)
    account = data["switchToCalendarBilling"]
    assert account["calendarBilling"] is True
    assert account["nextBillingDate"] == schedule[0][0]
    upcoming = (await gql.ok(UPCOMING, token=team.admin.token))["team"]["upcomingInvoice"]
    assert (upcoming["periodStart"], upcoming["periodEnd"], upcoming["subtotalCents"]) == schedule[
        0
    ]
    again = await gql.error(SWITCH, token=team.admin.token)
    assert again["extensions"]["code"] == "CONFLICT"
    await advance(gql, at(schedule[-1][0], 12))
    found = await invoices(gql, team.admin.token)
    assert [(i["periodStart"], i["periodEnd"], i["subtotalCents"]) for i in found[1:]] == schedule
    for invoice in found:
        check_sums(invoice)
    after = await billing(gql, team.admin.token)
    assert after["currentPeriodStart"].endswith("-01")
    assert after["nextBillingDate"].endswith("-01")


async def test_closure_deadline_both_sides(gql, team_factory):
    """R-CLOSE-1, R-CLOSE-4: on or before the next billing date - 14 days, the closure takes
    effect at that billing date (no renewal then); a day later, at the billing date after."""
    early = await team_factory.sign_up(["notes"])
    late = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-01-29", 12))  # 12 February - 14 days
    data = await gql.ok(CLOSE, {"n": early.name}, token=early.admin.token)
    assert data["requestAccountClosure"]["effectiveOn"] == "2026-02-12"
    assert data["requestAccountClosure"]["requestedAt"].startswith("2026-01-29T12:00")
    await advance(gql, at("2026-01-30", 12))
    data = await gql.ok(CLOSE, {"n": late.name}, token=late.admin.token)
    assert data["requestAccountClosure"]["effectiveOn"] == "2026-03-12"
    assert (await billing(gql, late.admin.token))["status"] == "CLOSING"
    closure = await gql.ok("{ team { closure { effectiveOn } } }", token=late.admin.token)
    assert closure["team"]["closure"] == {"effectiveOn": "2026-03-12"}
    # No renewal invoice for the period starting at the closure.
    up = await gql.ok(UPCOMING, token=early.admin.token)
    assert up["team"]["upcomingInvoice"] is None

    await advance(gql, at("2026-02-12", 12))
    assert await Invoice.filter(buyer_name=early.name).values_list("kind", flat=True) == ["SIGN_UP"]
    closed = await gql.error(BILLING, token=early.admin.token)
    assert closed["extensions"]["code"] == "UNAUTHENTICATED"
    # The late team renewed once more, then closed without renewing at 12 March.
    assert (await billing(gql, late.admin.token))["status"] == "CLOSING"
    await advance(gql, at("2026-03-12", 12))
    kinds = (
        await Invoice.filter(buyer_name=late.name)
        .order_by("sequence")
        .values_list("kind", flat=True)
    )
    assert kinds == ["SIGN_UP", "RENEWAL"]


async def test_closure_needs_the_name_and_cannot_be_undone(gql, team_factory):
    """R-CLOSE-2: the team's name confirms; a closure cannot be undone or asked again."""
    team = await team_factory.sign_up(["notes"])
    wrong = await gql.error(CLOSE, {"n": "Another name"}, token=team.admin.token)
    assert wrong["extensions"]["code"] == "BAD_USER_INPUT"
    assert wrong["extensions"]["field"] == "teamName"
    assert (await billing(gql, team.admin.token))["status"] == "ACTIVE"
    member = await team_factory.invite(team)
    forbidden = await gql.error(CLOSE, {"n": team.name}, token=member.token)
    assert forbidden["extensions"]["code"] == "FORBIDDEN"
    await gql.ok(CLOSE, {"n": team.name}, token=team.admin.token)
    again = await gql.error(CLOSE, {"n": team.name}, token=team.admin.token)
    assert again["extensions"]["code"] == "CONFLICT"
    switch = await gql.error(SWITCH, token=team.admin.token)
    assert switch["extensions"]["code"] == "CONFLICT"


async def test_at_closure_everything_but_the_invoices_is_deleted(
    gql, team_factory, softbrik_app, outbox
):
    """R-CLOSE-3, R-CLOSE-4: every row and blob of the team deleted (core and Briks), sessions
    ended, keys destroyed; Softbrik's invoices to the team kept. R-CLOSE-2: register anew."""
    team = await team_factory.sign_up(["notes"], address="Bagergade 1")
    member = await team_factory.invite(team, ["notes"])
    other = await team_factory.sign_up(["notes"])
    await gql.ok(NOTES_ADD, token=member.token)
    await gql.ok(NOTES_ADD, token=other.admin.token)
    team_id = (await Team.get(name=team.name)).id
    rt = softbrik_app.state.rt

    async def chunks():
        yield b"sealed bytes"

    await rt.blobs.put(f"team/{team_id}/notes/attachment", chunks())
    assert await TeamKey.filter(team_id=team_id).exists()
    await gql.ok(CLOSE, {"n": team.name}, token=team.admin.token)
    numbers_before = await Invoice.filter(team_id=team_id).values_list("number", flat=True)

    await advance(gql, at("2026-02-12", 12))
    for token in (team.admin.token, member.token):
        error = await gql.error(NOTES, token=token)
        assert error["extensions"]["code"] in ("UNAUTHENTICATED", "FORBIDDEN")
    assert not await User.filter(team_id=team_id).exists()
    assert not await Seat.filter(team_id=team_id).exists()
    assert not await Session.filter(user__team_id=team_id).exists()
    assert not await TeamKey.filter(team_id=team_id).exists()
    assert await rt.blobs.keys(f"team/{team_id}/") == []
    from softbrik_notes.models import Note

    assert not await Note.filter(team_id=team_id).exists()
    assert await Note.filter(team_id__not=team_id).count() == 1  # the other team's stays
    tombstone = await Team.get(id=team_id)
    assert (tombstone.status, tombstone.name, tombstone.address) == ("CLOSED", "", "")
    assert [e.type for e in await Event.filter(team_id=team_id)] == ["ACCOUNT_CLOSED"]
    kept = await Invoice.filter(team_id=team_id).order_by("sequence")
    assert [i.number for i in kept] == numbers_before
    assert kept[0].buyer_name == team.name  # as invoiced, for bookkeeping
    assert kept[0].buyer_address == "Bagergade 1"
    [mail] = [m for m in outbox() if "lukket" in m["Subject"]]
    assert mail["To"] == team.admin.email
    # The other team is untouched and renewed.
    assert (await invoices(gql, other.admin.token))[-1]["kind"] == "RENEWAL"
    # To use Softbrik again, the company registers anew, with the same e-mail if it likes.
    again = await team_factory.sign_up(["notes"], email=team.admin.email, name=team.name)
    assert (await billing(gql, again.admin.token))["status"] == "ACTIVE"
