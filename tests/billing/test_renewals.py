"""Renewals on the billing date, with the test clock (R-BILL-1, -10, -11, -12, -15, -17, -18).

Teams sign up on 12 January 2026 at 10:00 in Copenhagen unless a test moves the clock first.
"""

import pytest

from softbrik.core.billing.models import BillingAccount
from tests.billing.helpers import (
    ADVANCE,
    BILLING,
    PRICE,
    advance,
    at,
    billing,
    check_sums,
    invoices,
)


async def test_renewals_every_month_on_the_sign_up_day(gql, team_factory, softbrik_app):
    """R-BILL-1: billed every month on the sign-up day; periods run from the 12th to the 12th.
    R-BILL-18: numbers in one gapless sequence, given at finalization."""
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-05-01"))
    found = await invoices(gql, team.admin.token)
    assert [(i["kind"], i["periodStart"], i["periodEnd"]) for i in found] == [
        ("SIGN_UP", "2026-01-12", "2026-02-12"),
        ("RENEWAL", "2026-02-12", "2026-03-12"),
        ("RENEWAL", "2026-03-12", "2026-04-12"),
        ("RENEWAL", "2026-04-12", "2026-05-12"),
    ]
    assert [i["number"] for i in found] == ["SB-000001", "SB-000002", "SB-000003", "SB-000004"]
    for invoice in found:
        assert invoice["status"] == "PAID"
        assert invoice["totalCents"] == 875  # a full period costs the full price (R-BILL-12)
        check_sums(invoice)
    # R-BILL-10: issued at the start of the local billing day, across the spring DST change.
    assert [i["issuedAt"] for i in found[1:]] == [
        "2026-02-11T23:00:00+00:00",
        "2026-03-11T23:00:00+00:00",
        "2026-04-11T22:00:00+00:00",
    ]
    assert await billing(gql, team.admin.token) == {
        "anchorDay": 12,
        "calendarBilling": False,
        "currentPeriodStart": "2026-04-12",
        "currentPeriodEnd": "2026-05-12",
        "nextBillingDate": "2026-05-12",
        "status": "ACTIVE",
    }


async def test_autumn_dst_change(gql, team_factory):
    """R-BILL-10: the billing day starts at local midnight after the October change too."""
    await advance(gql, at("2026-10-01"))
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-11-02"))
    found = await invoices(gql, team.admin.token)
    assert [(i["periodStart"], i["issuedAt"]) for i in found[1:]] == [
        ("2026-11-01", "2026-10-31T23:00:00+00:00"),
    ]
    assert found[0]["periodEnd"] == "2026-11-01"


@pytest.mark.parametrize(
    ("signed_up", "anchor", "dates"),
    [
        # R-BILL-11: anchor 31 bills on the month's last day, always from the anchor.
        (at("2026-01-31"), 31, ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
        # a leap day anchor: 29 February 2028, then the 29th (or 28 February)
        (at("2028-02-29"), 29, ["2028-02-29", "2028-03-29", "2028-04-29", "2028-05-29"]),
        # R-BILL-10: 23:30 UTC on 31 January is 1 February in Copenhagen
        (at("2026-01-31", 23, 30), 1, ["2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01"]),
    ],
)
async def test_month_end_leap_day_and_midnight_anchors(gql, team_factory, signed_up, anchor, dates):
    await advance(gql, signed_up)
    team = await team_factory.sign_up(["notes"])
    data = await billing(gql, team.admin.token)
    assert data["anchorDay"] == anchor
    last = dates[-1]
    await advance(gql, at(last, 12))
    found = await invoices(gql, team.admin.token)
    assert [i["periodStart"] for i in found] == dates
    for invoice in found:
        assert invoice["subtotalCents"] == PRICE  # R-BILL-12: whatever the period's length


async def test_the_test_clock_is_refused_without_the_setting(gql, softbrik_app):
    """API.md: advanceTestClock is refused unless SOFTBRIK_TEST_CLOCK is on."""
    settings = softbrik_app.state.rt.settings
    softbrik_app.state.rt.settings = settings.model_copy(update={"test_clock": False})
    try:
        error = await gql.error(ADVANCE, {"to": at("2026-03-01").isoformat()})
        assert error["extensions"]["code"] == "FORBIDDEN"
    finally:
        softbrik_app.state.rt.settings = settings
    back = await gql.error(ADVANCE, {"to": at("2026-01-01").isoformat()})
    assert back["extensions"]["code"] == "BAD_USER_INPUT"
    assert back["extensions"]["field"] == "to"


async def test_a_team_without_seats_gets_no_empty_invoices(gql, team_factory):
    team = await team_factory.sign_up([])
    await advance(gql, at("2026-04-01"))
    assert await invoices(gql, team.admin.token) == []
    account = await BillingAccount.get()
    assert account.next_billing_date.isoformat() == "2026-04-12"
    data = await gql.ok(BILLING, token=team.admin.token)
    assert data["team"]["billing"]["status"] == "ACTIVE"


async def test_invoice_list_costs_the_same_for_few_and_many_invoices(
    gql, team_factory, count_queries
):
    """DESIGN.md, Performance: the invoice list loads its lines in one query."""
    team = await team_factory.sign_up(["notes"])
    query = "{ team { invoices(first: 50) { number totalCents lines { amountCents } } } }"
    with count_queries() as small:
        await gql.ok(query, token=team.admin.token)
    await advance(gql, at("2026-12-01"))
    with count_queries() as large:
        data = await gql.ok(query, token=team.admin.token)
    assert len(data["team"]["invoices"]) == 11
    assert small.count == large.count <= 3  # session, invoices, lines
    page = await gql.ok("{ team { invoices(first: 4) { id number } } }", token=team.admin.token)
    numbers = [i["number"] for i in page["team"]["invoices"]]
    assert numbers == ["SB-000011", "SB-000010", "SB-000009", "SB-000008"]
    after = page["team"]["invoices"][-1]["id"]
    rest = await gql.ok(
        "query($a: ID!) { team { invoices(first: 100, after: $a) { number } } }",
        {"a": after},
        token=team.admin.token,
    )
    assert [i["number"] for i in rest["team"]["invoices"]][:2] == ["SB-000007", "SB-000006"]
