"""The billing job: all billing work that falls due, in order, done once (R-BILL-15, -17, -20, -21).

A team's account moves through stages towards its next billing date B:

    REMIND   at the start of B - 7 days: the review reminder (R-BILL-8, -17)
    COMPOSE  at the start of B - 1 day: the draft renewal invoice (R-BILL-15)
    RENEW    at the start of B: finalize, send and charge it (R-BILL-1); then B moves on
             (or, at the closure's effective date, the team is closed instead: R-CLOSE-4)

and open invoices are retried at the start of B + 1, 3 and 5 days (R-BILL-20). Each step runs in
its own transaction with the account row locked (`SELECT … FOR UPDATE SKIP LOCKED` on
PostgreSQL), re-reads the state under the lock, and commits the state change together with its
effect. So two runs at once never do a step twice, and a run killed at any point leaves every
step either done or not done: the next run picks up from there. A charge that reached the
provider before a crash is asked again with the same idempotency key and answers the same
(R-BILL-21). A step's e-mails are written in its transaction and sent after it commits
(`outbox.py`): a step undone by a crash sends nothing, and one that committed sends each once,
or the next run does when the crash came before sending.

What a run reads (tests/billing/test_statement_counts.py counts it): the team and its admins'
addresses once per team; at each step the locked account and the team's unsettled invoices in
one query each, kept up to date in memory by the step; the step's events written in one insert
when it ends (`recorded_together`), so the event log's lock is held only for its last moment.

`run_due` is what `softbrik billing run`, the periodic task in `softbrik serve` and
`advanceTestClock` all call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Team
from softbrik.core.accounts.seats import end_due_seats
from softbrik.core.billing import service
from softbrik.core.billing.models import BillingAccount, BillingStage, InvoiceStatus
from softbrik.core.billing.outbox import mail_after_commit, send_pending
from softbrik.core.clock import TestClock, to_utc
from softbrik.core.errors import BadUserInput, DomainError, Forbidden
from softbrik.core.events.log import recorded_together
from softbrik.core.runtime import Runtime
from softbrik.core.tenancy import platform_job

log = logging.getLogger("softbrik.billing.job")
BATCH = 500


@dataclass
class RunReport:
    teams: int = 0
    steps: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _TeamRun:
    """What a run reads once per team, not at every step: the team and its admins' addresses.

    The steps' state (the account, its stage, the invoices) is read again under the lock at
    every step; the team's name, address and card are what a step a moment earlier saw.
    """

    team: Team
    emails: list[str]


STAGE_FIELDS = ["stage", "next_billing_date"]


async def _step(rt: Runtime, run: _TeamRun, now: datetime) -> tuple[str, datetime | None] | None:
    """Do the team's earliest due piece of work, if any: its name and when the next is due,
    or None when nothing is due."""
    team = run.team
    async with mail_after_commit(rt), in_transaction(), recorded_together():
        account = (
            await BillingAccount.filter(team_id=team.id, next_run_at__lte=now)
            .select_for_update(skip_locked=True)
            .first()
        )
        if account is None:
            return None
        billing_date = account.next_billing_date
        invoices = await service.unsettled(team.id, service.renewal_key(team.id, billing_date))
        retries = [
            invoice
            for invoice in invoices
            if invoice.status == InvoiceStatus.OPEN
            and invoice.next_attempt_at is not None
            and invoice.next_attempt_at <= now
        ]
        retry = min(retries, key=lambda i: (i.next_attempt_at, i.id), default=None)
        stage_at = service.stage_due(team, account)
        emails = run.emails
        done: str
        if retry is not None and (
            stage_at is None or stage_at > now or retry.next_attempt_at <= stage_at  # type: ignore[operator]
        ):
            await service.collect(rt, team, retry, emails, invoices, account)
            done = "retry"
        elif stage_at is None or stage_at > now:
            done = "reschedule"
        elif account.stage == BillingStage.REMIND:
            closing = account.closure_effective_on
            if closing is None or billing_date < closing:
                await service.send_reminder(rt, team, billing_date, emails)
            account.stage = BillingStage.COMPOSE
            done = "reminder"
        elif account.stage == BillingStage.COMPOSE:
            closing = account.closure_effective_on
            if closing is None or billing_date < closing:  # R-CLOSE-4: no renewal at closure
                await service.compose_renewal(rt, team, billing_date, emails, invoices)
            account.stage = BillingStage.RENEW
            done = "compose"
        else:
            closing = account.closure_effective_on
            if closing is not None and billing_date >= closing:
                await service.close_team(rt, team, account)
                account.next_run_at = None
                await account.save(update_fields=["next_run_at", "stage", "closed_at"])
                return "closure", None
            await service.renew(rt, team, billing_date, emails, invoices, account)
            account.next_billing_date = service.calendar_of(team).next_billing_date(billing_date)
            account.stage = BillingStage.REMIND
            done = "renewal"
        await service.reschedule(team, account, invoices, also=STAGE_FIELDS)
        return done, account.next_run_at


async def run_team(rt: Runtime, team_id: int, now: datetime) -> int:
    """Every step due for one team at `now`, in order; the number done."""
    team = await Team.get_or_none(id=team_id)
    if team is None:
        return 0
    run = _TeamRun(team, await service.admin_emails(team_id))
    steps = 0
    while True:
        result = await _step(rt, run, now)
        if result is None:
            return steps
        steps += 1
        done, next_run_at = result
        if done == "closure" or next_run_at is None or next_run_at > now:
            return steps


async def run_due(
    rt: Runtime,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> RunReport:
    """Do all billing work due at `now` (default: the clock's), team by team in id order.

    `workers` teams are billed at once (default one; `softbrik billing run` and the server
    take SOFTBRIK_BILLING_WORKERS), each in its own task and database connection: steps
    interleave across teams, a team's own stay in order. `progress(done, total)` is called
    after each team. One team's failure is logged and the others go on; its work stays due
    for the next run. A worker that dies (cancelled, killed) ends the run once the
    others finished their team: what committed stays done, the rest is due for the next run.
    """
    now = to_utc(now or rt.clock.now())
    report = RunReport()
    await send_pending(rt)  # e-mails of steps a killed run committed but did not send
    total = await BillingAccount.filter(next_run_at__lte=now).count()
    due: asyncio.Queue[int | None] = asyncio.Queue(maxsize=BATCH)
    workers = max(1, workers)

    async def feed() -> None:
        last = 0
        while True:
            ids = await (
                BillingAccount.filter(next_run_at__lte=now, team_id__gt=last)
                .order_by("team_id")
                .limit(BATCH)
                .values_list("team_id", flat=True)
            )
            if not ids:
                break
            for team_id in ids:
                last = int(team_id)  # type: ignore[call-overload]
                await due.put(last)
        for _ in range(workers):
            await due.put(None)

    async def work() -> None:
        while (team_id := await due.get()) is not None:
            try:
                steps = await run_team(rt, team_id, now)  # then added: `+= await` would race
                report.steps += steps
            except DomainError as exc:
                log.warning("billing step failed", extra={"team_id": team_id, "error": exc.message})
                report.failures.append((team_id, exc.message))
            except Exception as exc:
                log.exception("billing step failed", extra={"team_id": team_id})
                report.failures.append((team_id, repr(exc)))
            report.teams += 1
            if progress is not None:
                progress(report.teams, max(total, report.teams))

    feeder = asyncio.create_task(feed())
    tasks = [feeder, *(asyncio.create_task(work()) for _ in range(workers))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        # One died: the others finish the team they are on and stop, rather than being
        # cancelled half-way through a step whose charge may already be at the provider.
        feeder.cancel()
        while not due.empty():
            due.get_nowait()
        for _ in range(workers):
            due.put_nowait(None)
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    if report.steps or report.failures:
        log.info(
            "billing run",
            extra={
                "teams": report.teams,
                "steps": report.steps,
                "failures": len(report.failures),
                "workers": workers,
            },
        )
    return report


@platform_job("test clock: does every team's due work")
async def advance_test_clock(rt: Runtime, to: datetime) -> datetime:
    """Move the test clock to `to`, doing every piece of billing work due on the way, in order,
    as if the server had been running all along (API.md, advanceTestClock); seat removals that
    take effect on the way are told too (`end_due_seats`)."""
    clock = rt.clock
    if not rt.settings.test_clock or not isinstance(clock, TestClock):
        raise Forbidden("The test clock is not enabled on this deployment.")
    to = to_utc(to)
    if to < clock.now():
        raise BadUserInput("The test clock only moves forward.", field="to")
    failed: set[int] = set()
    while True:
        account = (
            await BillingAccount.filter(next_run_at__lte=to)
            .exclude(team_id__in=failed or [0])
            .order_by("next_run_at", "team_id")
            .first()
        )
        if account is None or account.next_run_at is None:
            break
        moment = max(to_utc(account.next_run_at), clock.now())
        clock.advance(moment)
        report = await run_due(rt, moment)
        await end_due_seats(rt)  # SEAT_REMOVED for removals that took effect on the way
        # Work that fails (a payment provider down) stays due; don't spin on it.
        failed.update(team_id for team_id, _ in report.failures)
        if report.steps == 0 and not report.failures:
            break
    moved = clock.advance(to)
    await end_due_seats(rt)
    return moved


async def billing_job(rt: Runtime) -> int:
    """The periodic job (`softbrik serve`'s lifespan): `run_due` now; the steps done."""
    return (await run_due(rt, workers=rt.settings.billing_workers)).steps


__all__ = ["RunReport", "advance_test_clock", "billing_job", "run_due", "run_team"]
