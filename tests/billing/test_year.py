"""A year of billing for a team with changing seats, driven only through GraphQL with the test
clock: every invoice's total is the sum of its lines plus VAT and matches a schedule computed
by hand (R-BILL-1, -5, -6, -12..-15, -18..-20, R-CLOSE-4).

Anchor 12, Danish VAT 25 %, the `notes` Brik at 700 cents. Proration (R-BILL-13):
- 20 Jan, A joins: 23 of 31 days: 700 x 23 / 31 = 519.35 -> 519; VAT 129.75 -> 130
- 3 Mar, B joins: 9 of 28 days: 700 x 9 / 28 = 225; VAT 56.25 -> 56
- 11 Apr, C joins after the cut-off: 1 of 31 days (22.58 -> 23) + the whole next period 700;
  VAT 180.75 -> 181
"""

from tests.billing.helpers import (
    CLOSE,
    REMOVE,
    UNASSIGN,
    UPDATE_CARD,
    advance,
    at,
    billing,
    check_sums,
    invoices,
)

SCHEDULE = [
    # kind, period start, period end, net, VAT, total, status
    ("SIGN_UP", "2026-01-12", "2026-02-12", 700, 175, 875, "PAID"),
    ("ADDITION", "2026-01-20", "2026-02-12", 519, 130, 649, "PAID"),
    ("RENEWAL", "2026-02-12", "2026-03-12", 1400, 350, 1750, "PAID"),  # admin, A
    ("ADDITION", "2026-03-03", "2026-03-12", 225, 56, 281, "PAID"),
    ("RENEWAL", "2026-03-12", "2026-04-12", 1400, 350, 1750, "PAID"),  # admin, B (A removed)
    ("ADDITION", "2026-04-11", "2026-05-12", 723, 181, 904, "PAID"),
    ("RENEWAL", "2026-04-12", "2026-05-12", 1400, 350, 1750, "PAID"),  # C paid already
    ("RENEWAL", "2026-05-12", "2026-06-12", 2100, 525, 2625, "PAID"),  # admin, B, C
    ("RENEWAL", "2026-06-12", "2026-07-12", 1400, 350, 1750, "PAID"),  # B's seat ended
    ("RENEWAL", "2026-07-12", "2026-08-12", 1400, 350, 1750, "PAID"),  # declined, then paid
    *[
        ("RENEWAL", f"2026-{m:02d}-12", f"2026-{m + 1:02d}-12", 1400, 350, 1750, "PAID")
        for m in range(8, 12)
    ],
    ("RENEWAL", "2026-12-12", "2027-01-12", 1400, 350, 1750, "PAID"),
    # closure requested 20 December: effective 12 January 2027, no renewal then
]


async def test_a_year_of_billing(gql, team_factory):
    team = await team_factory.sign_up(["notes"])
    token = team.admin.token
    await advance(gql, at("2026-01-20"))
    a = await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-03-03"))
    await team_factory.invite(team, ["notes"])
    b = team.members[-1]
    await advance(gql, at("2026-03-05"))
    await gql.ok(REMOVE, {"u": a.id}, token=token)
    await advance(gql, at("2026-04-11"))
    await team_factory.invite(team, ["notes"])
    await advance(gql, at("2026-05-20"))
    await gql.ok(UNASSIGN, {"u": b.id, "b": "notes"}, token=token)
    await advance(gql, at("2026-07-01"))
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=token)
    await advance(gql, at("2026-07-14"))
    assert (await billing(gql, token))["status"] == "PAST_DUE"
    await advance(gql, at("2026-07-16"))
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_mastercard"}, token=token)
    assert (await billing(gql, token))["status"] == "ACTIVE"
    await advance(gql, at("2026-12-20"))
    closure = await gql.ok(CLOSE, {"n": team.name}, token=token)
    assert closure["requestAccountClosure"]["effectiveOn"] == "2027-01-12"
    await advance(gql, at("2027-01-11", 12))

    found = await invoices(gql, token)
    assert [
        (
            i["kind"],
            i["periodStart"],
            i["periodEnd"],
            i["subtotalCents"],
            i["vatCents"],
            i["totalCents"],
            i["status"],
        )
        for i in found
    ] == SCHEDULE
    assert [i["number"] for i in found] == [f"SB-{n:06d}" for n in range(1, len(SCHEDULE) + 1)]
    for invoice in found:
        check_sums(invoice)
    july = found[9]
    assert july["paidAt"].startswith("2026-07-16")
    assert sum(i["totalCents"] for i in found) == 875 + 649 + 281 + 904 + 2625 + 1750 * 10
    renewal_users = [len(i["lines"]) for i in found if i["kind"] == "RENEWAL"]
    assert renewal_users == [2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2]

    await advance(gql, at("2027-01-12", 12))
    closed = await gql.error("{ team { name } }", token=token)
    assert closed["extensions"]["code"] == "UNAUTHENTICATED"
