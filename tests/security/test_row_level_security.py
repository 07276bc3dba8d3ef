"""Row-level security on PostgreSQL: the second wall between teams (R-ACC-4, issue 5).

The application's role (no owner, no superuser, no BYPASSRLS) reads and writes the team tables
only for the tenant its connection carries (`softbrik.core.tenancy`). These tests talk to the
database as that role with raw SQL, as a service with a forgotten team filter would.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from softbrik.core import tenancy
from softbrik.core.accounts.models import Team
from softbrik.core.tenancy import SET_TENANCY, apply_to_connection, team_tables
from softbrik.testing import TestDatabase, require_service

ADD_NOTE = 'mutation($t: String!) { notesAdd(title: $t, body: "b") { title } }'


@pytest.fixture
async def app_dsn(softbrik_db: TestDatabase) -> AsyncIterator[str]:
    """A login role like production's application role, granted what `softbrik migrate` grants."""
    require_service("PostgreSQL", softbrik_db.is_postgres)
    role = f"softbrik_app_{secrets.token_hex(5)}"
    password = secrets.token_hex(12)
    parts = urlsplit(softbrik_db.url)
    owner = await asyncpg.connect(urlunsplit(("postgresql", *parts[1:])))
    await owner.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    await owner.execute(tenancy.grant_sql(role))
    netloc = f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"
    try:
        yield urlunsplit(("postgresql", netloc, parts.path, "", ""))
    finally:
        await owner.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
        await owner.close()


@pytest.fixture
async def two_teams(gql: Any, team_factory: Any) -> tuple[int, int]:
    """Teams A and B, each with a note, a seat, an invoice and events."""
    ids = []
    for _ in range(2):
        team = await team_factory.sign_up(["notes"])
        await gql.ok(ADD_NOTE, {"t": f"Note {team.canary}"}, token=team.admin.token)
        ids.append((await Team.get(name=team.name)).id)
    return ids[0], ids[1]


async def connect(dsn: str, team_id: int | None = None, platform: bool = False) -> Any:
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        SET_TENANCY, "" if team_id is None else str(team_id), "on" if platform else ""
    )
    return conn


async def teams_seen(conn: Any) -> dict[str, set[int]]:
    """For every team table, the teams whose rows the connection sees."""
    return {
        table: {row[0] for row in await conn.fetch(f'SELECT "{column}" FROM "{table}"')}
        for table, column in team_tables()
    }


def test_every_team_table_is_behind_the_wall(softbrik_db: TestDatabase) -> None:
    tables = dict(team_tables())
    # The core's and the Briks' tables, found from the models (a Brik's new table is included).
    for table in ("user", "seat", "invitation", "invoice", "event", "billing_account"):
        assert tables[table] == "team_id"
    assert tables["team"] == "id"
    assert tables["crypto_team_key"] == "team_id"  # a plain team id column counts too
    assert tables["notes_note"] == "team_id"
    assert any(table.startswith("inventory_") for table in tables)
    assert any(table.startswith("filestorage_") for table in tables)


async def test_policies_are_on_every_team_table(softbrik_db: TestDatabase, app_dsn: str) -> None:
    conn = await asyncpg.connect(app_dsn)
    try:
        rows = await conn.fetch(
            "SELECT c.relname, c.relrowsecurity, p.polname FROM pg_class c "
            "LEFT JOIN pg_policy p ON p.polrelid = c.oid WHERE c.relname = ANY($1::text[])",
            [table for table, _ in team_tables()],
        )
    finally:
        await conn.close()
    assert {row["relname"] for row in rows} == {table for table, _ in team_tables()}
    assert all(row["relrowsecurity"] and row["polname"] == "softbrik_tenant" for row in rows)


async def test_tenant_a_sees_and_touches_only_its_own_rows(
    two_teams: tuple[int, int], app_dsn: str
) -> None:
    a, b = two_teams
    conn = await connect(app_dsn, a)
    try:
        seen = await teams_seen(conn)
        assert all(teams <= {a} for teams in seen.values()), seen
        for table in ("team", "user", "seat", "invoice", "notes_note"):
            assert seen[table] == {a}
        # Even asked for B's rows by id, nothing; writes to them touch nothing.
        assert await conn.fetch("SELECT id FROM notes_note WHERE team_id = $1", b) == []
        assert await conn.fetch("SELECT id FROM team WHERE id = $1", b) == []
        assert await conn.execute("UPDATE notes_note SET title = 'stolen'") == "UPDATE 1"
        assert await conn.execute("UPDATE \"user\" SET name = 'x' WHERE team_id = $1", b) == (
            "UPDATE 0"
        )
        assert await conn.execute("DELETE FROM notes_note WHERE team_id = $1", b) == "DELETE 0"
        assert await conn.execute("DELETE FROM seat WHERE team_id = $1", b) == "DELETE 0"
        # A row written for B, or moved to B, is refused.
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute(
                "INSERT INTO notes_note (team_id, title, body, author_id) VALUES ($1, 'x', '', 1)",
                b,
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute("UPDATE notes_note SET team_id = $1", b)
    finally:
        await conn.close()
    platform = await connect(app_dsn, platform=True)
    try:
        titles = await platform.fetch("SELECT team_id, title FROM notes_note ORDER BY team_id")
        assert [(r["team_id"], r["title"] == "stolen") for r in titles] == [(a, True), (b, False)]
        assert await platform.fetchval("SELECT count(*) FROM seat WHERE team_id = $1", b)
    finally:
        await platform.close()


async def test_without_a_tenant_nothing_is_visible(
    two_teams: tuple[int, int], app_dsn: str
) -> None:
    conn = await connect(app_dsn)
    try:
        seen = await teams_seen(conn)
        assert all(not teams for teams in seen.values()), seen
        assert await conn.execute("DELETE FROM notes_note") == "DELETE 0"
        # Platform work (jobs, sign-in) sees every team.
        await conn.execute(SET_TENANCY, "", "on")
        assert (await teams_seen(conn))["notes_note"] == set(two_teams)
    finally:
        await conn.close()


async def test_the_app_role_cannot_get_around_the_wall(
    two_teams: tuple[int, int], app_dsn: str
) -> None:
    a, _ = two_teams
    conn = await connect(app_dsn, a)
    try:
        me = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )
        assert tuple(me) == (False, False, False)
        attempts = [
            "SET ROLE postgres",
            "SET SESSION AUTHORIZATION postgres",
            "ALTER TABLE notes_note DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE notes_note NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY softbrik_tenant ON notes_note",
            "CREATE POLICY everything ON notes_note USING (true)",
            "ALTER ROLE current_user BYPASSRLS",
            "ALTER TABLE notes_note OWNER TO current_user",
        ]
        for statement in attempts:
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute(statement)
        # Turning row security off does not show more: the query is refused instead.
        await conn.execute("SET row_security = off")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM notes_note")
    finally:
        await conn.close()


async def test_a_pooled_connection_never_carries_a_tenant_to_the_next_user(
    two_teams: tuple[int, int], app_dsn: str
) -> None:
    """One connection in the pool, used by A's request, then by a task with no tenant, then by
    B's: each sees only what its own tenancy allows (the pool's `setup` sets it every time)."""
    a, b = two_teams
    pool = await asyncpg.create_pool(app_dsn, min_size=1, max_size=1, setup=apply_to_connection)

    async def notes_of_teams() -> set[int]:
        async with pool.acquire() as conn:
            return {r[0] for r in await conn.fetch("SELECT team_id FROM notes_note")}

    try:
        with tenancy.no_tenant():
            tenancy.enter_team(a)
            assert await notes_of_teams() == {a}
            async with pool.acquire() as conn, conn.transaction():
                # SET LOCAL inside a transaction ends with it, too.
                await conn.execute(f"SET LOCAL {tenancy.TEAM_SETTING} = '{b}'")
                assert {r[0] for r in await conn.fetch("SELECT team_id FROM notes_note")} == {b}
        with tenancy.no_tenant():
            assert await notes_of_teams() == set()
        with tenancy.no_tenant():
            tenancy.enter_team(b)
            assert await notes_of_teams() == {b}
        with tenancy.platform_job("test"):
            assert await notes_of_teams() == {a, b}
    finally:
        await pool.close()


def migrate_as(owner_url: str, app_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOFTBRIK_")}
    return subprocess.run(
        [sys.executable, "-m", "softbrik", "migrate"],
        env={**env, "SOFTBRIK_MIGRATE_DATABASE_URL": owner_url, "SOFTBRIK_DATABASE_URL": app_url},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_softbrik_migrate_as_owner_grants_the_app_role(softbrik_db: TestDatabase) -> None:
    """Production's set-up (README): the owner migrates, the app's role gets rows, not tables."""
    from softbrik.testing import _create_postgres_database, _drop_postgres_database, _drop_role

    require_service("PostgreSQL", softbrik_db.is_postgres)
    assert softbrik_db.admin_url
    owner_url, name = await _create_postgres_database(softbrik_db.admin_url)
    role, password = f"softbrik_app_{secrets.token_hex(5)}", secrets.token_hex(12)
    admin = await asyncpg.connect(softbrik_db.admin_url.replace("postgres://", "postgresql://"))
    await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    parts = urlsplit(owner_url)
    app_url = urlunsplit(
        (
            "postgresql",
            f"{role}:{password}@{parts.hostname}:{parts.port or 5432}",
            parts.path,
            "",
            "",
        )
    )
    try:
        done = migrate_as(owner_url, app_url)
        assert done.returncode == 0, done.stderr
        assert f"granted {role}" in done.stderr
        conn = await connect(app_url, platform=True)
        try:
            team = await conn.fetchval(
                "INSERT INTO team (name, created_at, timezone, language, country, address, "
                "anchor_day, status) VALUES ('T', now(), 'UTC', 'da', 'DK', '', 1, 'ACTIVE') "
                "RETURNING id"
            )
            await conn.execute(SET_TENANCY, str(team + 1), "")
            assert await conn.fetch("SELECT id FROM team") == []
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("CREATE TABLE mine (id int)")
        finally:
            await conn.close()
    finally:
        await _drop_postgres_database(softbrik_db.admin_url, name)
        await admin.close()
        await _drop_role(softbrik_db.admin_url, role)
