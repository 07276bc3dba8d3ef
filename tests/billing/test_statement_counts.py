"""SQL statements per team in a billing run: few, and the same for every team (README "The
billing run over many teams"; DESIGN.md, Performance).

A team's month is three steps, each its own transaction with the billing account locked: the
reminder, the composition and the renewal (R-BILL-15, -17, -21). Each step reads the account and
the team's unsettled invoices once; the team and its admins' addresses are read once per team,
not at every step; events are written in one insert per step (on PostgreSQL with the event log's
lock and notification, two statements more); an e-mail is written in the step's transaction and
sent after it commits, under its row lock, then marked sent (three statements).
"""

from __future__ import annotations

from tortoise import Tortoise

from softbrik.core.billing.job import run_due
from softbrik.core.billing.models import Invoice
from tests.billing.helpers import at

# SQLite: team and admins 2, reminder 5 + 3, composition 6, renewal 8 + 3 (see the docstring).
PER_TEAM = 27
EVENT_STEPS = (
    2  # the reminder's REMINDER_SENT, the renewal's INVOICE_FINALIZED and PAYMENT_SUCCEEDED
)
RUN = 4  # the run's own: unsent e-mails, how many teams are due, and the pages of due teams


def per_team_limit() -> int:
    postgres = Tortoise.get_connection("default").capabilities.dialect == "postgres"
    return PER_TEAM + (2 * EVENT_STEPS if postgres else 0)


async def run_count(rt, count_queries, teams: int) -> int:
    """The statements of one run that renews `teams` teams, each with three steps due."""
    with count_queries() as counter:
        report = await run_due(rt)
    assert report.failures == []
    assert report.steps == 3 * teams
    return counter.count


async def test_a_billing_run_costs_the_same_few_statements_per_team(
    team_factory, softbrik_app, clock, count_queries
):
    """The done-once guarantees (R-BILL-21) are tests/billing/test_job.py's; this counts the
    cost: the same per team whatever the number of teams, seats or admins."""
    rt = softbrik_app.state.rt
    for _ in range(2):
        await team_factory.sign_up(["notes"])
    clock.advance(at("2026-02-12", 12))
    small = await run_count(rt, count_queries, 2)
    for _ in range(3):  # bigger teams: three members with seats
        team = await team_factory.sign_up(["notes"])
        for _ in range(2):
            await team_factory.invite(team, ["notes"])
    clock.advance(at("2026-03-12", 12))
    large = await run_count(rt, count_queries, 5)
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 2 + 5
    per_team = (large - small) / 3
    assert per_team == int(per_team), (small, large)
    assert small == RUN + 2 * per_team
    assert per_team <= per_team_limit()
