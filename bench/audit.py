"""What the audit log costs (R-SEC-3): a request's share, and the batched writes.

A request only builds its entry and appends it to the buffer (`AuditLog.add`); the entries are
written later by one bulk INSERT per batch, in a task of their own. This measures both on the
embedded SQLite database (or PostgreSQL with `--postgres URL`): microseconds per `add`, and per
entry written, with the default batch size.

    python -m bench audit [--entries 20000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.harness import machine, table


async def measure(entries: int, database_url: str | None) -> list[list[str]]:
    from softbrik.app import make_runtime
    from softbrik.briks import load_briks
    from softbrik.core import db
    from softbrik.core.security.audit import Actor
    from softbrik.settings import Settings

    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), database_url=database_url, log_json=False)
        briks = load_briks(settings)
        apps = [*db.CORE_APPS, *briks.db_apps()]
        await db.migrate(settings.db_url, apps)
        await db.init_db(settings.db_url, apps)
        try:
            rt = make_runtime(settings, briks)
            actor = Actor(1, 1, False)
            started = time.perf_counter()
            for n in range(entries):
                rt.audit.add(
                    "query",
                    actor,
                    "203.0.113.7",
                    operation="Members",
                    selection="team",
                    codes=["NOT_FOUND"] if n % 10 == 0 else [],
                    duration_ms=3,
                )
            added = time.perf_counter() - started
            started = time.perf_counter()
            await rt.audit.close()
            written = time.perf_counter() - started
        finally:
            await db.close_db()
    batch = settings.audit_batch_size
    return [
        ["add (in the request)", f"{added / entries * 1e6:.1f} µs", f"{entries / added:,.0f}/s"],
        [
            f"bulk INSERT ({batch} per batch)",
            f"{written / entries * 1e6:.1f} µs",
            f"{entries / written:,.0f}/s",
        ],
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench audit", description=__doc__)
    parser.add_argument("--entries", type=int, default=20000)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    args = parser.parse_args(argv)
    rows = asyncio.run(measure(args.entries, args.postgres))
    print(machine())
    print(table(["step", "per entry", "rate"], rows))
