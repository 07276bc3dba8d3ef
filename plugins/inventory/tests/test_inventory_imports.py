"""Imports of uploaded CSV files (multipart request spec) as jobs with progress, and the
`softbrik inventory import` / `export` commands."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from softbrik_inventory import csvio, imports, service
from softbrik_inventory.models import ImportJob, Movement, Product

from conftest import IMPORT_JOB, finished_job, make_team, softbrik, upload_csv


def products_csv(rows: int, bad: dict[int, str] | None = None) -> bytes:
    lines = ["sku,name,reorder_point"]
    for i in range(rows):
        lines.append((bad or {}).get(i, f"P-{i:05d},Product {i},{i % 7}"))
    return ("\n".join(lines) + "\n").encode()


async def test_a_dry_run_of_an_upload_lists_every_row_and_column_error(gql, team):
    data = products_csv(5, {1: ",no sku,1", 3: "P-3,Three,many"}) + b"P-9,Nine,1,extra\n"
    body = await upload_csv(gql, team.token, "PRODUCTS", data, dry_run=True, name="p.csv")
    assert "errors" not in body, body
    started = body["data"]["inventoryImportFile"]
    assert (started["dryRun"], started["filename"]) == (True, "p.csv")
    assert started["status"] in ("QUEUED", "RUNNING")
    job = await finished_job(gql, team.token, started["id"])
    assert job["status"] == "DONE"
    assert job["kind"] == "PRODUCTS"
    assert (job["rowsDone"], job["rowsTotal"], job["errorCount"]) == (6, 6, 3)
    assert [(e["row"], e["column"]) for e in job["errors"]] == [
        (3, "sku"),
        (5, "reorder_point"),
        (7, ""),
    ]
    assert job["sizeBytes"] == len(data)
    assert job["finishedAt"] is not None
    assert await Product.filter(team_id=team.team_id).count() == 0


async def test_a_real_import_of_an_upload_writes_all_rows_or_none(gql, team):
    bad = products_csv(2500, {2400: "P-02400,Late,-1"})
    body = await upload_csv(gql, team.token, "PRODUCTS", bad, dry_run=False)
    job = await finished_job(gql, team.token, body["data"]["inventoryImportFile"]["id"])
    assert job["status"] == "FAILED"
    assert [(e["row"], e["column"]) for e in job["errors"]] == [(2402, "reorder_point")]
    assert "nothing was imported" in job["message"]
    assert await Product.filter(team_id=team.team_id).count() == 0

    good = products_csv(2500)
    body = await upload_csv(gql, team.token, "PRODUCTS", good, dry_run=False)
    job = await finished_job(gql, team.token, body["data"]["inventoryImportFile"]["id"])
    assert (job["status"], job["errorCount"], job["created"]) == ("DONE", 0, 2500)
    assert (job["rowsDone"], job["rowsTotal"], job["phase"]) == (2500, 2500, "")
    assert await Product.filter(team_id=team.team_id).count() == 2500


async def test_an_import_tells_its_progress_in_both_passes(platform, team):
    """Every 1000 rows and at the end of a pass; the writing pass knows the total."""
    heard: list[tuple[str, int, int | None]] = []
    lines = products_csv(2500).decode().splitlines(keepends=True)
    await csvio.import_csv(
        platform,
        team.team_id,
        "products",
        lambda: iter(lines),
        progress=lambda *step: heard.append(step),
    )
    assert heard == [
        ("checking", 1000, None),
        ("checking", 2000, None),
        ("checking", 2500, None),
        ("writing", 1000, 2500),
        ("writing", 2000, 2500),
        ("writing", 2500, 2500),
    ]


async def test_a_running_import_answers_how_far_it_is(gql, team, platform):
    """While it runs, the job's phase and rows come from the process that runs it; polled in
    between the job's own steps, they only ever grow, and the job ends done."""
    body = await upload_csv(gql, team.token, "PRODUCTS", products_csv(3000), dry_run=False)
    job_id = body["data"]["inventoryImportFile"]["id"]
    seen = []
    while True:
        data = await gql.ok(IMPORT_JOB, {"id": job_id}, team.token)
        job = data["inventory"]["importJob"]
        seen.append((job["status"], job["phase"], job["rowsDone"]))
        if job["status"] in ("DONE", "FAILED"):
            break
    assert seen[-1] == ("DONE", "", 3000)
    order = {"": 0, "checking": 1, "writing": 2}
    steps = [(order[phase], rows) for status, phase, rows in seen if status == "RUNNING"]
    assert steps == sorted(steps)


async def test_an_import_whose_server_died_reads_as_failed(gql, team, clock):
    """A job its process left running (killed mid-import: no process here runs it and its row
    stopped beating) stays RUNNING while its last beat is recent, and reads as FAILED, with
    nothing written, once it is older than STALE_AFTER; never RUNNING for ever."""
    body = await upload_csv(gql, team.token, "PRODUCTS", products_csv(3), dry_run=False)
    job_id = body["data"]["inventoryImportFile"]["id"]
    await finished_job(gql, team.token, job_id)
    row = await ImportJob.get(team_id=team.team_id)
    await Product.filter(team_id=team.team_id).delete()
    # The row as a process killed in its writing pass leaves it: running, beaten a moment ago.
    await ImportJob.filter(id=row.id).update(
        status="running", phase="writing", finished_at=None, heartbeat_at=clock.now()
    )

    async def status() -> tuple[str, str]:
        job = (await gql.ok(IMPORT_JOB, {"id": job_id}, team.token))["inventory"]["importJob"]
        return job["status"], job["message"]

    stale = imports.STALE_AFTER.total_seconds()
    clock.advance(clock.now() + timedelta(seconds=stale - 1))
    assert (await status())[0] == "RUNNING"
    await ImportJob.filter(id=row.id).update(heartbeat_at=clock.now())  # another process beats
    clock.advance(clock.now() + timedelta(seconds=stale - 1))
    assert (await status())[0] == "RUNNING"
    clock.advance(clock.now() + timedelta(seconds=2))
    assert await status() == ("FAILED", imports.DIED)
    assert await status() == ("FAILED", imports.DIED)  # and stays so
    dead = await ImportJob.get(id=row.id)
    assert dead.finished_at == clock.now()
    assert await Product.filter(team_id=team.team_id).count() == 0
    # A row from before heartbeats (none recorded) counts from when it was created.
    await ImportJob.filter(id=row.id).update(status="running", heartbeat_at=None)
    assert await status() == ("FAILED", imports.DIED)


async def test_a_running_import_beats_on_its_row(platform, team, clock, monkeypatch):
    """The process running an import writes its heartbeat every HEARTBEAT_SECONDS, and stops
    when the import ended."""
    monkeypatch.setattr(imports, "HEARTBEAT_SECONDS", 0.01)
    job = await ImportJob.create(
        team_id=team.team_id, kind="products", status="running", created_at=clock.now()
    )
    beating = asyncio.create_task(imports._beat(platform, job.id))
    try:
        clock.advance(clock.now() + timedelta(minutes=5))
        for _ in range(200):
            await asyncio.sleep(0.01)
            await job.refresh_from_db()
            if job.heartbeat_at == clock.now():
                break
        assert job.heartbeat_at == clock.now()
        await ImportJob.filter(id=job.id).update(status="done")
        clock.advance(clock.now() + timedelta(minutes=5))
        await asyncio.sleep(0.1)
        await job.refresh_from_db()
        assert job.heartbeat_at < clock.now()  # an ended job is not beaten again
    finally:
        beating.cancel()


async def test_a_file_that_is_not_utf8_fails_and_writes_nothing(gql, team):
    data = "sku,name\nP-1,Æble\n".encode("latin-1")
    body = await upload_csv(gql, team.token, "PRODUCTS", data, dry_run=False)
    job = await finished_job(gql, team.token, body["data"]["inventoryImportFile"]["id"])
    assert (job["status"], job["message"]) == ("FAILED", "The file is not UTF-8 text.")
    assert await Product.filter(team_id=team.team_id).count() == 0


async def test_an_empty_or_too_large_upload_is_bad_input(gql, team, monkeypatch):
    body = await upload_csv(gql, team.token, "PRODUCTS", b"", dry_run=True)
    assert code_and_field(body) == ("BAD_USER_INPUT", "file")
    monkeypatch.setenv(imports.MAX_BYTES, "100")
    body = await upload_csv(gql, team.token, "PRODUCTS", products_csv(20), dry_run=True)
    assert code_and_field(body) == ("BAD_USER_INPUT", "file")
    assert await ImportJob.filter(team_id=team.team_id).count() == 0


async def test_an_uploaded_ledger_import_posts_its_movements(gql, team, platform, clock):
    await service.create_product(platform, team.team_id, sku="A-1", name="A")
    await service.create_location(platform, team.team_id, "Main")
    at = clock.now().isoformat().replace("+00:00", "Z")
    data = (
        "number;posted_at;kind;sku;from;to;lot;quantity;reference;reverses\n"
        f"1;{at};receipt;A-1;@supplier;Main;;10;PO 1;\n"
        f"2;{at};shipment;A-1;Main;@customer;;4;;\n"
    ).encode()
    body = await upload_csv(gql, team.token, "LEDGER", data, dry_run=False)
    job = await finished_job(gql, team.token, body["data"]["inventoryImportFile"]["id"])
    assert (job["status"], job["created"]) == ("DONE", 2)
    assert await Movement.filter(team_id=team.team_id).count() == 2
    assert await service.verify(team.team_id) == []


async def test_another_teams_import_job_answers_not_found(gql, team_factory, team):
    body = await upload_csv(gql, team.token, "PRODUCTS", products_csv(3), dry_run=True)
    job_id = body["data"]["inventoryImportFile"]["id"]
    await finished_job(gql, team.token, job_id)
    other = await make_team(gql, team_factory)
    error = await gql.error(IMPORT_JOB, {"id": job_id}, other.token)
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("NOT_FOUND", "id")


def code_and_field(body: dict[str, Any]) -> tuple[str, str]:
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], extensions["field"]


def progress_logged(stderr: str) -> list[tuple[str, int, Any]]:
    steps = []
    for line in stderr.splitlines():
        if line.startswith("{") and '"inventory progress"' in line:
            entry = json.loads(line)
            steps.append((entry["phase"], entry["rows"], entry["total"]))
    return steps


async def test_the_import_and_export_commands_show_progress(
    team, softbrik_app, softbrik_db, tmp_path
):
    def cli(*args: str) -> Any:
        return softbrik("inventory", *args, app=softbrik_app, database=softbrik_db)

    source = tmp_path / "products.csv"
    source.write_bytes(products_csv(1500, {700: "P-00700,Bad,x"}))
    team_option = ("--team", str(team.team_id), "--quiet")
    done = cli("import", "products", str(source), *team_option, "--dry-run")
    assert done.returncode == 1, done.stderr
    assert "line 702, reorder_point: reorder_point must be a whole number" in done.stdout
    assert "1500 rows, 1 errors: nothing written" in done.stdout
    # A dry run of products writes too (and rolls back): a SKU twice is found by writing.
    assert progress_logged(done.stderr) == [
        ("checking", 1000, None),
        ("checking", 1500, None),
        ("writing", 1000, 1500),
        ("writing", 1500, 1500),
    ]

    source.write_bytes(products_csv(1500))
    done = cli("import", "products", str(source), *team_option)
    assert done.returncode == 0, done.stderr
    assert "1500 rows, 0 errors: 1500 created, 0 updated" in done.stdout
    assert progress_logged(done.stderr)[-1] == ("writing", 1500, 1500)
    assert await Product.filter(team_id=team.team_id).count() == 1500

    target = tmp_path / "out.csv"
    done = cli("export", "products", *team_option, "--output", str(target))
    assert done.returncode == 0, done.stderr
    assert "1500 rows written" in done.stdout
    assert progress_logged(done.stderr) == [("exporting", 1000, 1500), ("exporting", 1500, 1500)]
    assert target.read_text(encoding="utf-8") == await csvio.export_text(
        team.team_id, csvio.Kind.PRODUCTS
    )
