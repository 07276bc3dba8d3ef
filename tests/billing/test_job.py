"""The billing job: done once, whatever happens (R-BILL-21).

Two runs at once never charge twice or skip anything; a run killed mid-way and started again
finishes the work without charging twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from softbrik.core.billing.job import run_due
from softbrik.core.billing.models import BillingAccount, Invoice, PaymentAttempt
from softbrik.core.payments import LocalGateway
from softbrik.testing import require_service
from tests.billing.helpers import ASSIGN, advance, at, charges, invoices


@dataclass
class KilledAfterCharge:
    """Fault injection: the `n`-th charge reaches the provider, then the run dies before it
    can record anything, as a killed process would."""

    real: LocalGateway
    n: int
    calls: int = 0

    async def charge(self, **kwargs: Any) -> Any:
        self.calls += 1
        call = self.calls  # before awaiting: workers' charges overlap
        result = await self.real.charge(**kwargs)
        if call == self.n:
            raise asyncio.CancelledError("killed")
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def sign_up_teams(team_factory, count: int) -> list[Any]:
    return [await team_factory.sign_up(["notes"]) for _ in range(count)]


@contextlib.asynccontextmanager
async def renewal_day(gql, rt, clock, provider: Callable[[Any], Any]) -> AsyncIterator[Any]:
    """Reminders and drafts done the day before; then the billing date, with `provider(real)`
    standing in for the payment gateway until the block ends."""
    await advance(gql, at("2026-02-11", 12))
    clock.advance(at("2026-02-12", 12))
    real = rt.gateway
    rt.gateway = provider(real)
    try:
        yield rt.gateway
    finally:
        rt.gateway = real


async def test_a_run_killed_mid_way_resumes_without_charging_twice(
    gql, team_factory, softbrik_app, clock
):
    """R-BILL-21: killed after the provider charged team 2 but before the run recorded it; the
    next run asks the provider with the same idempotency key and gets the same charge back."""
    rt = softbrik_app.state.rt
    teams = await sign_up_teams(team_factory, 4)
    async with renewal_day(gql, rt, clock, lambda real: KilledAfterCharge(real, n=2)):
        run = asyncio.create_task(run_due(rt))
        try:
            await run
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the run should have been killed")
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 1
    provider_charges = len(charges(softbrik_app))
    assert provider_charges == 4 + 2  # sign-ups, team 1 and the lost one of team 2

    report = await run_due(rt)
    assert report.failures == []
    assert len(charges(softbrik_app)) == provider_charges + 2  # teams 3 and 4 only
    renewals = await Invoice.filter(kind="RENEWAL").order_by("team_id")
    assert [i.status for i in renewals] == ["PAID"] * 4
    assert [i.number for i in await Invoice.all().order_by("sequence")] == [
        f"SB-{n:06d}" for n in range(1, 9)
    ]
    for team in teams:
        found = await invoices(gql, team.admin.token)
        assert [i["kind"] for i in found] == ["SIGN_UP", "RENEWAL"]
    assert await PaymentAttempt.filter(succeeded=True).count() == 8
    # Team 2's charge is the one the provider made before the kill.
    second = await PaymentAttempt.get(invoice_id=renewals[1].id)
    assert second.charge_id == charges(softbrik_app)[5].id
    assert (await run_due(rt)).steps == 0


def invoice_mails(outbox, team) -> list[str]:
    """The subjects of the invoice e-mails the team's admin received."""
    return [
        m["Subject"]
        for m in outbox()
        if m["To"] == team.admin.email and m["Subject"].startswith(("Faktura", "Invoice"))
    ]


async def test_a_run_killed_after_the_charge_sends_the_invoice_once(
    gql, team_factory, softbrik_app, clock, outbox
):
    """R-BILL-9, -21: the invoice e-mail goes out after the step commits (written in the step's
    transaction, sent after it), so the step killed after the charge and done again sends it
    once, not once per attempt."""
    rt = softbrik_app.state.rt
    team = await team_factory.sign_up(["notes"])
    async with renewal_day(gql, rt, clock, lambda real: KilledAfterCharge(real, n=1)):
        with contextlib.suppress(asyncio.CancelledError):
            await run_due(rt)
    assert invoice_mails(outbox, team) == ["Faktura SB-000001 fra Softbrik"]  # the sign-up's
    assert (await run_due(rt)).failures == []
    assert invoice_mails(outbox, team) == [
        "Faktura SB-000001 fra Softbrik",
        "Faktura SB-000002 fra Softbrik",
    ]


@dataclass
class KilledAfterMail:
    """Fault injection: the run dies just before the `n`-th e-mail leaves."""

    real: Any
    n: int
    calls: int = 0

    async def send(self, message: Any) -> None:
        self.calls += 1
        if self.calls == self.n:
            raise asyncio.CancelledError("killed")
        await self.real.send(message)


async def test_an_e_mail_of_a_committed_step_left_unsent_by_a_kill_goes_out_once(
    gql, team_factory, softbrik_app, clock, outbox
):
    """The step committed, the run died before the e-mail left: the next run sends it, once."""
    rt = softbrik_app.state.rt
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-02-11", 12))
    clock.advance(at("2026-02-12", 12))
    real = rt.mailer
    rt.mailer = KilledAfterMail(real, n=1)  # the renewal invoice
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run_due(rt)
    finally:
        rt.mailer = real
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 1
    assert len(invoice_mails(outbox, team)) == 1  # the sign-up's only
    assert (await run_due(rt)).steps == 0  # nothing left to do but the e-mail
    assert len(invoice_mails(outbox, team)) == 2
    assert (await run_due(rt)).steps == 0
    assert len(invoice_mails(outbox, team)) == 2


async def test_two_runs_at_once_do_each_step_once(gql, team_factory, softbrik_app, clock):
    """R-BILL-21: two workers at once (on PostgreSQL with row locks skipped, not waited on)
    share the work; every step is done once and every team charged once."""
    rt = softbrik_app.state.rt
    await sign_up_teams(team_factory, 6)
    clock.advance(at("2026-02-12", 12))
    first, second = await asyncio.gather(run_due(rt), run_due(rt))
    assert first.failures == second.failures == []
    # reminder, composition and renewal for each of the 6 teams
    assert first.steps + second.steps == 18
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 6
    assert await PaymentAttempt.all().count() == 12
    assert len(charges(softbrik_app)) == 12
    sequences = await Invoice.all().order_by("sequence").values_list("sequence", flat=True)
    assert sequences == list(range(1, 13))
    accounts = await BillingAccount.all().values_list("next_billing_date", flat=True)
    assert {day.isoformat() for day in accounts} == {"2026-03-12"}


@pytest.mark.parametrize("workers", [1, 4])
async def test_workers_of_one_run_do_each_step_once(
    gql, team_factory, softbrik_app, clock, workers
):
    """R-BILL-18, -21: a run's workers share the teams; each team is billed once, in order of
    its own steps, and the numbers stay gapless (on PostgreSQL the workers overlap)."""
    rt = softbrik_app.state.rt
    teams = await sign_up_teams(team_factory, 7)
    clock.advance(at("2026-02-12", 12))
    seen: list[tuple[int, int]] = []
    report = await run_due(
        rt, workers=workers, progress=lambda done, total: seen.append((done, total))
    )
    assert report.failures == []
    assert (report.teams, report.steps) == (7, 21)  # reminder, composition, renewal each
    assert seen == [(n, 7) for n in range(1, 8)]
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 7
    assert len(charges(softbrik_app)) == 14
    sequences = await Invoice.all().order_by("sequence").values_list("sequence", flat=True)
    assert sequences == list(range(1, 15))
    for team in teams:
        found = await invoices(gql, team.admin.token)
        assert [(i["kind"], i["status"]) for i in found] == [
            ("SIGN_UP", "PAID"),
            ("RENEWAL", "PAID"),
        ]
    assert (await run_due(rt, workers=workers)).steps == 0


async def test_a_killed_worker_ends_the_run_and_the_next_run_finishes(
    gql, team_factory, softbrik_app, clock
):
    """R-BILL-21: one of three workers dies after the provider charged; the run stops as the
    process would, and the next run charges no team twice and skips none."""
    rt = softbrik_app.state.rt
    await sign_up_teams(team_factory, 5)
    async with renewal_day(gql, rt, clock, lambda real: KilledAfterCharge(real, n=2)):
        with pytest.raises(asyncio.CancelledError):
            await run_due(rt, workers=3)
    report = await run_due(rt, workers=3)
    assert report.failures == []
    assert await Invoice.filter(kind="RENEWAL", status="PAID").count() == 5
    assert len(charges(softbrik_app)) == 10  # the lost charge was asked again, not made again
    assert await PaymentAttempt.filter(succeeded=True).count() == 10
    sequences = await Invoice.all().order_by("sequence").values_list("sequence", flat=True)
    assert sequences == list(range(1, 11))


@dataclass
class WaitsForAnotherRenewal:
    """The first renewal charge waits at the provider until another team's renewal is paid."""

    real: LocalGateway
    waited: str | None = None  # the team whose charge waited

    async def charge(self, **kwargs: Any) -> Any:
        if self.waited is None:
            self.waited = kwargs["metadata"]["team_id"]
            for _ in range(500):
                if await Invoice.filter(kind="RENEWAL", status="PAID").exists():
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("no other renewal got through while a charge was waiting")
        return await self.real.charge(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_a_slow_charge_does_not_hold_the_invoice_numbers(
    gql, team_factory, softbrik_app, softbrik_db, clock
):
    """R-BILL-18 with workers: a renewal is charged before it takes its gapless number, so while
    one team's charge waits on the provider another team's renewal is numbered and paid (with
    the number taken first, the second would wait for the first's commit: deadlock here)."""
    require_service("PostgreSQL", softbrik_db.is_postgres)  # SQLite does one write at a time
    rt = softbrik_app.state.rt
    await sign_up_teams(team_factory, 2)
    async with renewal_day(gql, rt, clock, WaitsForAnotherRenewal) as gateway:
        report = await run_due(rt, workers=2)
    assert report.failures == []
    renewals = await Invoice.filter(kind="RENEWAL").order_by("sequence")
    assert [(i.status, i.sequence) for i in renewals] == [("PAID", 3), ("PAID", 4)]
    assert str(renewals[1].team_id) == gateway.waited  # the other team was numbered first


async def test_simultaneous_seat_additions(gql, team_factory, softbrik_app):
    """R-BILL-5, R-BILL-21: the same seat added twice at once is added and charged once; two
    different seats at once are both charged, with gapless numbers (R-BILL-18)."""
    team = await team_factory.sign_up(["notes"])
    a = await team_factory.invite(team)
    b = await team_factory.invite(team)
    before = len(charges(softbrik_app))
    same = await asyncio.gather(
        *(gql.execute(ASSIGN, {"u": a.id, "b": "notes"}, token=team.admin.token) for _ in range(2))
    )
    errors = [r["errors"][0]["extensions"]["code"] for r in same if r.get("errors")]
    assert errors == ["CONFLICT"]
    assert len(charges(softbrik_app)) == before + 1
    await gql.ok(
        "mutation($u: ID!) { endAccessNow(userId: $u) { removalOn } }",
        {"u": a.id},
        token=team.admin.token,
    )
    c = await team_factory.invite(team)
    both = await asyncio.gather(
        gql.execute(ASSIGN, {"u": b.id, "b": "notes"}, token=team.admin.token),
        gql.execute(ASSIGN, {"u": c.id, "b": "notes"}, token=team.admin.token),
    )
    assert [r.get("errors") for r in both] == [None, None]
    assert len(charges(softbrik_app)) == before + 3
    numbers = [i["number"] for i in await invoices(gql, team.admin.token)]
    assert numbers == [f"SB-{n:06d}" for n in range(1, 5)]


def test_billing_run_from_the_command_line(tmp_path):
    """`softbrik billing run` (for cron) does the due work and reports it."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")},
        "SOFTBRIK_DATA_DIR": str(tmp_path),
    }

    def softbrik(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "softbrik", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert softbrik("migrate").returncode == 0
    done = softbrik("billing", "run")
    assert done.returncode == 0, done.stderr
    assert "0 teams, 0 steps, 0 failures" in done.stderr
    several = softbrik("billing", "run", "--quiet", "--workers", "3")
    assert several.returncode == 0, several.stderr
    assert "0 teams, 0 steps, 0 failures" in several.stderr
    bad = softbrik("billing", "run", "--workers", "0")
    assert bad.returncode == 2
    assert "--workers" in bad.stderr
