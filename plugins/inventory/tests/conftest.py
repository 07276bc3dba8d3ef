"""Fixtures of the Inventory Brik's tests: a team with an inventory seat, and its stock."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest
from softbrik_inventory import service


@dataclass
class InventoryTeam:
    token: str
    team_id: int
    user_id: int


def pk(global_id: str) -> int:
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.partition(":")[2])


async def make_team(gql: Any, team_factory: Any, briks: list[str] | None = None) -> InventoryTeam:
    handle = await team_factory.sign_up(["inventory"] if briks is None else briks)
    data = await gql.ok("{ me { id } team { id } }", token=handle.admin.token)
    return InventoryTeam(handle.admin.token, pk(data["team"]["id"]), pk(data["me"]["id"]))


@pytest.fixture
async def team(gql: Any, team_factory: Any, platform: Any) -> InventoryTeam:
    return await make_team(gql, team_factory)


@pytest.fixture
async def stock(platform: Any, team: InventoryTeam) -> Any:
    """A product (SKU A-1) and two internal locations, Main and Main/Shelf."""

    @dataclass
    class Stock:
        product: Any
        main: Any
        shelf: Any

    product = await service.create_product(platform, team.team_id, sku="A-1", name="Widget")
    main = await service.create_location(platform, team.team_id, "Main")
    shelf = await service.create_location(platform, team.team_id, "Shelf", main.id)
    return Stock(product, main, shelf)


async def events(team_id: int, type: str) -> list[dict[str, Any]]:
    """The payloads of a team's recorded events of one type, oldest first (the event log)."""
    import json

    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    rows = await conn.execute_query_dict("SELECT type, payload, team_id FROM event ORDER BY id")
    return [
        json.loads(row["payload"]) if isinstance(row["payload"], str) else row["payload"]
        for row in rows
        if row["team_id"] == team_id and row["type"] == type
    ]


IMPORT_FILE = """
mutation($file: Upload!, $kind: CsvKind!, $dryRun: Boolean!) {
  inventoryImportFile(file: $file, kind: $kind, dryRun: $dryRun) { id status dryRun filename }
}
"""
IMPORT_JOB = """
query($id: ID!) { inventory { importJob(id: $id) {
  id kind dryRun filename sizeBytes status phase rowsDone rowsTotal created updated errorCount
  errors { row column message } message createdAt finishedAt
} } }
"""


async def upload_csv(
    gql: Any, token: str, kind: str, data: bytes, dry_run: bool, name: str = "stock.csv"
) -> dict[str, Any]:
    """Send a CSV file with the GraphQL multipart request spec, as a browser app would."""
    variables = {"kind": kind, "dryRun": dry_run}
    body: dict[str, Any] = await gql.multipart(
        IMPORT_FILE, variables, {"file": (name, data)}, token
    )
    return body


async def finished_job(gql: Any, token: str, job_id: str) -> dict[str, Any]:
    """The job once every import running in this process has ended."""
    from softbrik_inventory import imports

    await imports.settle()
    data = await gql.ok(IMPORT_JOB, {"id": job_id}, token)
    job: dict[str, Any] = data["inventory"]["importJob"]
    return job


def softbrik(*args: str, app: Any, database: Any) -> Any:
    """Run `softbrik ARGS…` in a process of its own, on the test session's database."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "softbrik", *args],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "SOFTBRIK_DATABASE_URL": database.url,
            "SOFTBRIK_DATA_DIR": str(app.state.rt.settings.data_dir),
            "SOFTBRIK_LOG_JSON": "1",
        },
        check=False,
    )
