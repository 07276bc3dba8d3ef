"""The billing run over many teams (`python -m bench billing [SIZES...] [--postgres URL]`).

Generates teams (an admin with one to three seats, a card on the local gateway, the billing
account a week before its billing date), then times one `run_due` at the start of the billing
date: per team a reminder e-mail, the renewal invoice composed, finalized with its number, its
PDF e-mailed, and the card charged, each step its own transaction (`softbrik.core.billing.job`).

Baseline, measured in the same run on the same database: a plain loop that inserts one row per
team in its own transaction (the least a per-team transactional job can cost). The ratio says
how many plain single-row transactions one team's billing costs; the growth column compares
each size's time per team with the smallest size's (1.0 = linear).

Default sizes 1000 and 5000 on SQLite in a temporary directory; with `--postgres URL` (or
BENCH_POSTGRES_URL) a fresh database on that server, dropped afterwards. `--workers 1 4` runs
each size once per number of workers (`softbrik billing run --workers`); `--provider-ms 300`
makes each charge wait that long first, as a real provider's round trip does (the local
gateway answers at once).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.harness import machine, table

BILLING_DATE = date(2026, 2, 12)
SIGNED_UP = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
GENERATE_BATCH = 10_000


@dataclass
class Result:
    teams: int
    workers: int
    baseline_seconds: float
    run_seconds: float
    steps: int

    @property
    def baseline_rate(self) -> float:
        return self.teams / self.baseline_seconds

    @property
    def run_rate(self) -> float:
        return self.teams / self.run_seconds


async def _database(postgres: str | None, directory: Path) -> tuple[str, Any]:
    """A database URL and a function that drops it afterwards."""
    if not postgres:
        return f"sqlite://{directory / 'bench.sqlite3'}", None
    import asyncpg

    name = f"softbrik_bench_{uuid.uuid4().hex[:8]}"
    admin = postgres.replace("postgres://", "postgresql://", 1)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return f"{postgres.split('?')[0].rsplit('/', 1)[0]}/{name}", drop


async def _generate(rt: Any, count: int, offset: int) -> None:
    """`count` teams with 1 to 3 seats each, written in bulk (not what is measured)."""
    from softbrik.core.accounts.models import Role, Seat, Team, User
    from softbrik.core.billing.models import BillingAccount, BillingStage
    from softbrik.core.billing.service import day_start

    briks = [brik.key for brik in rt.briks] or ["notes"]
    teams = []
    for n in range(offset, offset + count):
        customer = await rt.gateway.create_customer(
            email=f"admin{n}@bench.example", name=f"Team {n}", idempotency_key=f"bench:{n}"
        )
        card = await rt.gateway.attach_card(customer, "pm_card_visa")
        teams.append(
            Team(
                name=f"Team {n}",
                created_at=SIGNED_UP,
                anchor_day=12,
                country=("DK", "DE", "US")[n % 3],
                vat_number="DE123456789" if n % 3 == 1 else None,
                payment_customer=customer,
                payment_token=card.token,
                card_brand=card.brand,
                card_last4=card.last4,
                card_exp_month=card.exp_month,
                card_exp_year=card.exp_year,
            )
        )
    await Team.bulk_create(teams, batch_size=1000)
    created = await Team.filter(name__in=[t.name for t in teams]).order_by("id")
    users = [
        User(
            team_id=team.id,
            email=f"admin{offset + i}@bench.example",
            name=f"Admin {offset + i}",
            password_hash="-",
            role=Role.ADMIN,
            created_at=SIGNED_UP,
        )
        for i, team in enumerate(created)
    ]
    await User.bulk_create(users, batch_size=1000)
    by_team = {
        u.team_id: u.id
        for u in await User.filter(team_id__in=[t.id for t in created]).only("id", "team_id")
    }
    seats = [
        Seat(
            team_id=team.id,
            user_id=by_team[team.id],
            brik=briks[k % len(briks)],
            starts_on=SIGNED_UP.date(),
            created_at=SIGNED_UP,
        )
        for i, team in enumerate(created)
        for k in range(1 + i % 3)
    ]
    await Seat.bulk_create(seats, batch_size=1000)
    accounts = [
        BillingAccount(
            team_id=team.id,
            next_billing_date=BILLING_DATE,
            stage=BillingStage.REMIND,
            next_run_at=day_start(team, BILLING_DATE - timedelta(days=7)),
        )
        for team in created
    ]
    await BillingAccount.bulk_create(accounts, batch_size=1000)


async def _baseline(count: int) -> float:
    """A plain loop: one single-row insert per team, each in its own transaction."""
    from softbrik.core.billing.models import BillingStep
    from softbrik.core.db import in_transaction

    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(count):
        async with in_transaction():
            await BillingStep.create(team_id=n, key=f"baseline:{uuid.uuid4().hex}", done_at=now)
    return time.perf_counter() - started


@dataclass
class SlowProvider:
    """The local gateway, with a provider's round trip before each charge."""

    real: Any
    seconds: float

    async def charge(self, **kwargs: Any) -> Any:
        await asyncio.sleep(self.seconds)
        return await self.real.charge(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def measure(
    count: int, postgres: str | None, workers: int = 1, provider_ms: float = 0
) -> Result:
    from softbrik.app import make_runtime
    from softbrik.briks import load_briks
    from softbrik.core import db
    from softbrik.core.billing.job import run_due
    from softbrik.core.billing.models import Invoice
    from softbrik.core.clock import TestClock
    from softbrik.core.payments import LocalGateway
    from softbrik.settings import Settings

    with tempfile.TemporaryDirectory() as directory:
        url, drop = await _database(postgres, Path(directory))
        if postgres:  # a connection for each worker, and one for the run's own queries
            url += f"?maxsize={max(5, workers + 1)}"
        settings = Settings(
            data_dir=Path(directory),
            database_url=url,
            test_clock=True,
            log_level="WARNING",
        )
        briks = load_briks(settings)
        apps = [*db.CORE_APPS, *briks.db_apps()]
        try:
            await db.migrate(url, apps)
            await db.init_db(url, apps)
            rt = make_runtime(settings, briks, TestClock(SIGNED_UP))
            rt.gateway = LocalGateway()  # in memory: the provider is not what is measured
            for offset in range(0, count, GENERATE_BATCH):  # PostgreSQL binds <= 32767 values
                await _generate(rt, min(GENERATE_BATCH, count - offset), offset)
            baseline = await _baseline(count)
            rt.clock.advance(datetime(2026, 2, 12, 0, 0, tzinfo=UTC))  # 01:00 in Copenhagen
            started = time.perf_counter()
            step = max(1, count // 10)

            def progress(done: int, total: int) -> None:
                if done % step == 0:
                    elapsed = time.perf_counter() - started
                    print(f"  {done}/{total} teams, {elapsed:.0f} s", file=sys.stderr, flush=True)

            if provider_ms:
                rt.gateway = SlowProvider(rt.gateway, provider_ms / 1000)
            report = await run_due(rt, progress=progress, workers=workers)
            elapsed = time.perf_counter() - started
            assert not report.failures, report.failures[:3]
            paid = await Invoice.filter(kind="RENEWAL", status="PAID").count()
            assert paid == count, f"{paid} of {count} renewals paid"
            numbered = await Invoice.filter(sequence__isnull=False).count()
            last = await Invoice.filter(sequence__isnull=False).order_by("-sequence").first()
            assert last is not None and last.sequence == numbered, "numbers not gapless"
            return Result(count, workers, baseline, elapsed, report.steps)
        finally:
            await db.close_db()
            if drop is not None:
                await drop()


async def main(argv: list[str]) -> None:
    import logging

    logging.disable(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bench billing")
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 5000])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES_URL"))
    parser.add_argument("--workers", nargs="+", type=int, default=[1])
    parser.add_argument("--provider-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    headers = [
        "teams",
        "workers",
        "run s",
        "teams/s",
        "baseline inserts/s",
        "run / baseline",
        "time per team vs smallest",
    ]
    results: list[Result] = []
    for size in args.sizes:
        for workers in args.workers:
            results.append(await measure(size, args.postgres, workers, args.provider_ms))
            rows = []
            for r in results:
                first = next(f for f in results if f.workers == r.workers)
                rows.append(
                    (
                        f"{r.teams:,}",
                        str(r.workers),
                        f"{r.run_seconds:.1f}",
                        f"{r.run_rate:.1f}",
                        f"{r.baseline_rate:.0f}",
                        f"**{r.run_rate / r.baseline_rate:.3f}**",
                        f"{(r.run_seconds / r.teams) / (first.run_seconds / first.teams):.2f}",
                    )
                )
            print(table(headers, rows), flush=True)  # after each, so a long run shows its part
            where = "PostgreSQL" if args.postgres else "SQLite"
            provider = (
                f"; provider round trip {args.provider_ms:.0f} ms" if args.provider_ms else ""
            )
            print(f"\n{where}{provider}; {machine()}\n", flush=True)
