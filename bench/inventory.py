"""Inventory: movements posted per second under concurrency, and a 100,000-row import (issue 6).

Movements: `ship_stock`/`transfer_stock` through the real service (product lock, balance rows,
checks, ledger row, reorder check), from W concurrent workers, against a baseline measured in
the same run on the same database: inserting the same ledger row alone, in its own transaction,
with no lock and no balance (what a ledger without guarantees would cost). Workers either move
different products (no contention) or all the same one (every writer waits for the lock).

Imports: a products CSV and a ledger CSV of N rows are validated and written (one
transaction); time, and peak Python memory (tracemalloc) at N/10 and N rows: memory that stays
flat as the file grows 10 times shows the import streams.

Uploads: a products CSV of N/10 and N rows sent to a real server (`softbrik.app:create_app`
under uvicorn, its own process) with the GraphQL multipart request spec, streamed from disk, and
imported as a job polled until done; time from the first byte to DONE, and the server's peak
resident memory above its start (sampled every 5 ms).

    python -m bench inventory [--rows 100000] [--moves 400] [--workers 8] [--uploads-only]

The embedded SQLite database by default; PostgreSQL when SOFTBRIK_BENCH_POSTGRES_URL names a
server (a database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction


async def setup(data_dir: Path) -> tuple[Any, Any, str | None]:
    from softbrik.app import make_runtime
    from softbrik.briks import load_briks
    from softbrik.core import db
    from softbrik.testing import settings_for_tests

    settings = settings_for_tests(data_dir)
    briks = load_briks(settings)
    apps = [*db.CORE_APPS, *briks.db_apps()]
    admin = os.environ.get("SOFTBRIK_BENCH_POSTGRES_URL")
    name = None
    if admin:
        import asyncpg

        name = f"softbrik_bench_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1))
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"{admin.rsplit('/', 1)[0]}/{name}"
    else:
        url = f"sqlite://{data_dir / 'bench.sqlite3'}"
    await db.migrate(url, apps)
    await db.init_db(url, apps)
    rt = make_runtime(settings, briks)
    return rt, rt.extras["platform"], name


async def teardown(name: str | None) -> None:
    from softbrik.core import db

    await db.close_db()
    admin = os.environ.get("SOFTBRIK_BENCH_POSTGRES_URL")
    if admin and name:
        import asyncpg

        conn = await asyncpg.connect(admin.replace("postgres://", "postgresql://", 1))
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def new_team(platform: Any) -> int:
    from softbrik.core.accounts.models import Team

    team = await Team.create(name="Bench", created_at=platform.now(), anchor_day=12)
    return int(team.id)


async def timed(workers: int, count: int, step: Callable[[int], Awaitable[Any]]) -> float:
    """Moves per second of `count` steps run by `workers` concurrent tasks."""
    queue = iter(range(count))

    async def worker() -> None:
        for i in queue:
            await step(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return count / (time.perf_counter() - started)


async def movements(platform: Any, moves: int, workers: int) -> list[tuple[str, float, float]]:
    return [
        await movement_case(platform, moves, workers, contention) for contention in (False, True)
    ]


async def movement_case(
    platform: Any, moves: int, workers: int, contention: bool
) -> tuple[str, float, float]:
    from softbrik_inventory import service
    from softbrik_inventory.models import LocationKind, Movement, MovementKind

    team_id = await new_team(platform)
    main = await service.create_location(platform, team_id, "Main")
    shelf = await service.create_location(platform, team_id, "Shelf")
    virtual = await service.virtual_locations(platform, team_id)
    products = [
        await service.create_product(platform, team_id, sku=f"B-{i}", name="Bench")
        for i in range(1 if contention else workers)
    ]
    for p in products:
        await service.receive_stock(platform, team_id, p.id, main.id, moves * 2)

    def product(i: int) -> Any:
        return products[i % len(products)]

    async def baseline(i: int) -> None:
        async with in_transaction():
            await Movement.create(
                team_id=team_id,
                product_id=product(i).id,
                from_location_id=main.id,
                to_location_id=virtual[LocationKind.CUSTOMER].id,
                quantity=1,
                kind=MovementKind.SHIPMENT,
                posted_at=platform.now(),
            )

    async def ledger(i: int) -> None:
        if i % 2:
            await service.ship_stock(platform, team_id, product(i).id, main.id, 1)
        else:
            await service.transfer_stock(platform, team_id, product(i).id, main.id, shelf.id, 1)

    base_rate = await timed(workers, moves, baseline)
    rate = await timed(workers, moves, ledger)
    label = f"{workers} workers, " + ("one product" if contention else "own products")
    return label, rate, base_rate


def product_csv(path: Path, rows: int, prefix: str = "SKU-") -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("sku,name,category,reorder_point,reorder_quantity\n")
        for i in range(rows):
            out.write(f"{prefix}{i:07d},Product {i},Cat {i % 50},{i % 20},{10 + i % 5}\n")


def ledger_csv(path: Path, rows: int, products: int, start: Any) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("number,posted_at,kind,sku,from,to,lot,quantity,reference,reverses\n")
        for i in range(rows):
            at = (start + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
            sku = f"SKU-{i % products:07d}"
            if i < products * 2 or i % 3:
                out.write(f"{i + 1},{at},receipt,{sku},@supplier,Main,,3,,\n")
            else:
                out.write(f"{i + 1},{at},shipment,{sku},Main,@customer,,2,,\n")


def opener(path: Path) -> Callable[[], Iterator[str]]:
    def lines() -> Iterator[str]:
        with path.open(encoding="utf-8") as f:
            yield from f

    return lines


async def imports(platform: Any, rows: int, directory: Path) -> list[tuple[str, int, float, int]]:
    from softbrik_inventory import csvio, service

    results = []
    for measure_memory in (False, True):
        for size in (rows // 10, rows) if measure_memory else (rows,):
            team_id = await new_team(platform)
            await service.create_location(platform, team_id, "Main")
            products = directory / f"products-{size}.csv"
            ledger = directory / f"ledger-{size}.csv"
            product_csv(products, size)
            ledger_csv(ledger, size, max(size // 100, 1), platform.now())
            for kind, path in (("products", products), ("ledger", ledger)):
                if measure_memory:
                    tracemalloc.start()
                started = time.perf_counter()
                report = await csvio.import_csv(platform, team_id, kind, opener(path))
                seconds = time.perf_counter() - started
                peak = 0
                if measure_memory:
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                assert report.error_count == 0, report.errors[:3]
                results.append((kind, size, 0.0 if measure_memory else seconds, peak))
            assert await service.verify(team_id) == []
    return results


SIGN_UP = "mutation($input: SignUpInput!) { signUp(input: $input) { token } }"
IMPORT_FILE = """mutation($file: Upload!, $kind: CsvKind!) {
  inventoryImportFile(file: $file, kind: $kind, dryRun: false) { id } }"""
IMPORT_JOB = """query($id: ID!) { inventory { importJob(id: $id) {
  status phase rowsDone rowsTotal errorCount message } } }"""


def uploads(rows: int, directory: Path) -> list[tuple[int, float, float, float]]:
    """A products CSV of rows/10 and rows rows, uploaded to a real server (multipart, streamed
    from disk) and imported as a job polled until done: (rows, seconds, the server's peak
    resident memory above its start in MiB, at the end in MiB)."""
    import httpx

    from bench.filestorage import PeakMemory
    from bench.harness import Server

    env = {
        "SOFTBRIK_DATA_DIR": str(directory / "data"),
        "SOFTBRIK_ENV": "production",
        "SOFTBRIK_LOG_LEVEL": "WARNING",
        "SOFTBRIK_ARGON2_TIME_COST": "1",
        "SOFTBRIK_ARGON2_MEMORY_KIB": "1024",
        "SOFTBRIK_INVENTORY_VERIFY_INTERVAL_SECONDS": "0",
        "TMPDIR": str(directory),
    }
    found = []
    with (
        Server("softbrik.app:create_app", env, directory / "server.log") as server,
        httpx.Client(base_url=server.url, timeout=600) as client,
    ):
        assert server.process is not None
        person = {"name": "Bench", "password": "bench password 1", "paymentMethod": "pm_card_visa"}
        signed = client.post(
            "/graphql",
            json={
                "query": SIGN_UP,
                "variables": {
                    "input": {
                        **person,
                        "teamName": "Bench",
                        "email": "bench@example.com",
                        "briks": ["inventory"],
                    }
                },
            },
        )
        token = signed.json()["data"]["signUp"]["token"]
        # An upload carries the CSRF header a browser app sends (softbrik/web/guard.py).
        headers = {"Authorization": f"Bearer {token}", "X-Softbrik-CSRF": "1"}
        for size in (max(rows // 10, 1), rows):
            path = directory / f"upload-{size}.csv"
            product_csv(path, size, prefix=f"U{size}-")  # new SKUs: every row creates
            with PeakMemory(server.process.pid) as memory:
                started = time.perf_counter()
                with path.open("rb") as file:
                    variables = {"file": None, "kind": "PRODUCTS"}
                    operations = {"query": IMPORT_FILE, "variables": variables}
                    answer = client.post(
                        "/graphql",
                        data={
                            "operations": json.dumps(operations),
                            "map": json.dumps({"0": ["variables.file"]}),
                        },
                        files={"0": (path.name, file, "text/csv")},
                        headers=headers,
                    ).json()
                job_id = answer["data"]["inventoryImportFile"]["id"]
                while True:
                    job = client.post(
                        "/graphql",
                        json={"query": IMPORT_JOB, "variables": {"id": job_id}},
                        headers=headers,
                    ).json()["data"]["inventory"]["importJob"]
                    if job["status"] in ("DONE", "FAILED"):
                        break
                    time.sleep(0.2)
                seconds = time.perf_counter() - started
            if job["status"] != "DONE" or job["errorCount"]:
                raise RuntimeError(f"the import failed: {job}")
            found.append((size, seconds, (memory.peak - memory.start) / 1024, memory.peak / 1024))
            print(
                f"upload of {size} rows: {seconds:.1f} s, server peak "
                f"+{found[-1][2]:.0f} MiB (of {found[-1][3]:.0f} MiB)",
                flush=True,
            )
    return found


async def run_all(rows: int, moves: int, workers: int) -> None:
    from bench.harness import machine

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        _, platform, name = await setup(directory)
        try:
            database = "PostgreSQL" if name else "SQLite"
            print(f"# inventory on {database} ({machine()})")
            print("\n| movements | moves/s | bare inserts/s (baseline) | ratio |")
            print("|---|---:|---:|---:|")
            for label, rate, base in await movements(platform, moves, 1):
                print(f"| {label} | {rate:.0f} | {base:.0f} | {rate / base:.2f} |")
            for label, rate, base in await movements(platform, moves, workers):
                print(f"| {label} | {rate:.0f} | {base:.0f} | {rate / base:.2f} |")
            found = await imports(platform, rows, directory)
            print("\n| import | rows | seconds | rows/s |")
            print("|---|---:|---:|---:|")
            for kind, size, seconds, _ in found:
                if seconds:
                    print(f"| {kind} | {size} | {seconds:.1f} | {size / seconds:.0f} |")
            print("\n| import | rows | peak Python memory (tracemalloc) |")
            print("|---|---:|---:|")
            peaks: dict[str, list[int]] = {}
            for kind, size, _, peak in found:
                if peak:
                    peaks.setdefault(kind, []).append(peak)
                    print(f"| {kind} | {size} | {peak / 2**20:.1f} MiB |")
            for kind, (small, large) in peaks.items():
                print(f"{kind}: 10x the rows takes {large / small:.2f}x the peak memory")
        finally:
            await teardown(name)


def print_uploads(rows: int) -> None:
    with tempfile.TemporaryDirectory(prefix="softbrik-bench-inventory-") as tmp:
        found = uploads(rows, Path(tmp))
    print("\n| upload and import of products (a job) | rows | seconds | rows/s | server peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for size, seconds, above, peak in found:
        print(
            f"| products | {size} | {seconds:.1f} | {size / seconds:.0f} "
            f"| +{above:.0f} MiB (of {peak:.0f}) |"
        )


def main(args: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench inventory")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--moves", type=int, default=400)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--uploads-only", action="store_true", help="Only the upload through a real server."
    )
    options = parser.parse_args(args)
    if not options.uploads_only:
        asyncio.run(run_all(options.rows, options.moves, options.workers))
    print_uploads(options.rows)
