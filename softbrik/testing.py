"""pytest plugin for the platform's tests and for Brik authors' tests (like pytest's pytester).

Installed with Softbrik (entry point `pytest11`), so a Brik's tests get these fixtures:

- `softbrik_app`: the app with every installed Brik, on a test database migrated once per
  session and emptied before each test; its clock is a test clock.
- `gql`: a GraphQL client over the app (`await gql.ok(query, variables, token=...)`).
- `team_factory`: signs up teams and invites members through GraphQL alone.
- `count_queries`: counts SQL statements, for tests that bound them per request.
- `outbox`: the e-mails the app sent.
- `isolation_world`: a victim and an attacker team, for the tenant isolation matrix. Register the
  cases of your ID-taking fields with the `pytest_softbrik_isolation_cases` hook (see
  `softbrik.isolation`); the `gql` client refuses any response showing another team's canary.
- `subscriptions`: graphql-transport-ws connections to the app (`Subscriptions`), for
  subscriptions; `events_settled`: waits until every event is published and handled.
- `platform`: the app's `softbrik.plugin.Platform`, for calling a Brik's services directly.
- `aws`: moto in server mode (S3 and KMS) on a local port, with one KMS key; `aws.new_bucket()`.
- `blob_store_for(kind, directory, aws)`: a fresh local or S3 blob store, to put in
  `softbrik_app.state.rt.blobs` when a Brik's tests run on both.

The database is SQLite in a temporary directory, or a fresh PostgreSQL database created on the
server named by SOFTBRIK_TEST_POSTGRES_URL (and dropped afterwards).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise import Tortoise

from softbrik.isolation import (
    CanaryWatch,
    IsolationCase,
    IsolationSpec,
    IsolationWorld,
    StreamCase,
    core_cases,
    dumps,
)
from softbrik.settings import Settings

__all__ = [
    "START",
    "GraphQLClient",
    "GraphQLError",
    "IsolationCase",
    "IsolationWorld",
    "Member",
    "StreamCase",
    "TeamFactory",
    "TeamHandle",
    "require_service",
    "settings_for_tests",
]

START = datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
"""Where every test's clock starts: 10:00 on Monday 12 January 2026 in Copenhagen."""


def services_required() -> bool:
    return os.environ.get("SOFTBRIK_REQUIRE_SERVICES", "") not in ("", "0")


def require_service(name: str, available: bool) -> None:
    """Skip a test whose service is missing, unless CI demands the service."""
    if available:
        return
    if services_required():
        pytest.fail(f"{name} is required (SOFTBRIK_REQUIRE_SERVICES=1) but not configured")
    pytest.skip(f"{name} not available here")


def settings_for_tests(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "data_dir": data_dir,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        # Tests move the clock by months; sessions would expire between steps.
        "session_ttl_hours": 24 * 800,
        "test_clock": True,
        "test_clock_start": START,
        "log_json": False,
        "redis_url": None,
        "smtp_url": None,
    }
    values.update(overrides)
    return Settings(**values)


# --- the database --------------------------------------------------------------------------


@dataclass
class TestDatabase:
    __test__ = False
    url: str
    """The tables' owner's URL (migrations, dumps, CLI runs of the tests)."""
    admin_url: str | None = None
    name: str | None = None
    tables: list[str] = field(default_factory=list)
    app_url: str | None = None
    """With SOFTBRIK_TEST_ROW_LEVEL_SECURITY=1 on PostgreSQL: the app's own role, without
    BYPASSRLS, which the app and the tests' own queries use (the tests' as platform work)."""

    @property
    def app_role(self) -> str | None:
        from urllib.parse import urlsplit

        return urlsplit(self.app_url).username if self.app_url else None

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(("postgres", "asyncpg"))


async def _create_postgres_database(admin_url: str) -> tuple[str, str]:
    import asyncpg

    name = f"softbrik_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}", name


async def _drop_role(admin_url: str, role: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def row_level_security_tests() -> bool:
    return os.environ.get("SOFTBRIK_TEST_ROW_LEVEL_SECURITY", "") not in ("", "0")


async def _create_app_role(database: TestDatabase) -> str:
    """A login role like production's application role; the URL the app connects with."""
    from urllib.parse import urlsplit, urlunsplit

    from softbrik.core.tenancy import grant_sql

    role = f"softbrik_app_{uuid.uuid4().hex[:10]}"
    password = secrets.token_hex(12)
    owner = Tortoise.get_connection("default")
    await owner.execute_script(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'; {grant_sql(role)}; "
        # Only for the tests: the probe tables of the dump tests.
        f"GRANT CREATE ON SCHEMA public TO {role}"
    )
    parts = urlsplit(database.url)
    netloc = f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


async def _drop_postgres_database(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def empty_tables(database: TestDatabase) -> None:
    conn = Tortoise.get_connection("default")
    if database.is_postgres:
        tables = ", ".join(f'"{t}"' for t in database.tables)
        if database.app_url:  # restarting the id sequences is the owner's right
            import asyncpg

            owner = await asyncpg.connect(database.url.replace("postgres://", "postgresql://", 1))
            try:
                await owner.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            finally:
                await owner.close()
            return
        await conn.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    else:
        script = "PRAGMA foreign_keys = OFF;"
        script += "".join(f'DELETE FROM "{t}";' for t in database.tables)
        script += "DELETE FROM sqlite_sequence; PRAGMA foreign_keys = ON;"
        await conn.execute_script(script)


def _model_tables() -> list[str]:
    tables = []
    for models in Tortoise.apps.values():
        for model in models.values():
            if not model._meta.abstract:
                tables.append(model._meta.db_table)
    return sorted(set(tables))


# --- the app and its client -----------------------------------------------------------------


class GraphQLError(AssertionError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code", "") for e in self.errors]


@dataclass
class GraphQLClient:
    """Talks to `/graphql` of an app in this process, as a browser would."""

    http: httpx.AsyncClient
    token: str | None = None
    watch: CanaryWatch | None = None

    def as_user(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.http, token, self.watch)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        token = token if token is not None else self.token
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent
        )
        body: dict[str, Any] = response.json()
        if self.watch is not None:
            self.watch.learn(variables, body)
            self.watch.check(token, dumps(body))
        return body

    async def multipart(
        self,
        query: str,
        variables: dict[str, Any],
        files: Mapping[str, tuple[str, bytes]],
        token: str | None = None,
    ) -> dict[str, Any]:
        """A GraphQL multipart request (upload): each `files` key is a variable of type
        Upload, given as (file name, content). Sends `X-Softbrik-CSRF`, as a browser app must
        (uploads without it are refused, softbrik/web/guard.py)."""
        token = token if token is not None else self.token
        operations = {"query": query, "variables": {**variables, **dict.fromkeys(files)}}
        mapping = {str(i): [f"variables.{name}"] for i, name in enumerate(files)}
        sent = {"X-Softbrik-CSRF": "1"}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps(mapping)},
            files={
                str(i): (filename, data, "application/octet-stream")
                for i, (filename, data) in enumerate(files.values())
            },
            headers=sent,
        )
        body: dict[str, Any] = response.json()
        if self.watch is not None:
            self.watch.check(token, dumps(body))
        return body

    async def ok(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The `data` of a query that must succeed."""
        body = await self.execute(query, variables, token)
        if body.get("errors"):
            raise GraphQLError(body["errors"])
        data: dict[str, Any] = body["data"]
        return data

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """The first error of a query that must fail."""
        body = await self.execute(query, variables, token)
        assert body.get("errors"), f"expected an error, got {body}"
        first: dict[str, Any] = body["errors"][0]
        return first


class SubscriptionEnded(AssertionError):
    """The server ended a subscription or the whole connection."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None, code: int = 0):
        super().__init__(message)
        self.errors = errors or []
        self.close_code = code

    @property
    def codes(self) -> list[str]:
        return [e.get("extensions", {}).get("code", "") for e in self.errors]


@dataclass
class Subscription:
    """One operation on a `Subscriptions` connection."""

    client: Subscriptions
    id: str

    async def next(self, wait: float = 10.0) -> dict[str, Any]:
        """The `data` of the next result; raises `SubscriptionEnded` on error or complete."""
        message = await self.client._take(self.id, wait)
        if message["type"] == "next":
            payload: dict[str, Any] = message["payload"]
            if payload.get("errors"):
                raise SubscriptionEnded("the subscription answered errors", payload["errors"])
            data: dict[str, Any] = payload["data"]
            return data
        if message["type"] == "error":
            raise SubscriptionEnded("the subscription was refused", message["payload"])
        raise SubscriptionEnded("the subscription completed")

    async def first(self, wait: float = 10.0) -> dict[str, Any]:
        """The first answer as an HTTP response's body: `data` and `errors` (a refusal, too)."""
        message = await self.client._take(self.id, wait)
        if message["type"] == "next":
            body: dict[str, Any] = message["payload"]
            return body
        if message["type"] == "error":
            return {"data": None, "errors": message["payload"]}
        return {"data": None, "errors": []}

    async def ended(self, wait: float = 10.0) -> SubscriptionEnded:
        """Wait for the end of the subscription (skipping results); returns how it ended."""
        while True:
            try:
                await self.next(wait)
            except SubscriptionEnded as ended:
                return ended

    async def complete(self) -> None:
        await self.client.send({"id": self.id, "type": "complete"})


class Subscriptions:
    """A graphql-transport-ws client: `connection_init` with a bearer token, `subscribe`,
    `next`/`error`/`complete` per operation, and `ping`/`pong` both ways.

    Connect to the app in this process with the `subscriptions` fixture, or to a real server
    with `Subscriptions.connect(httpx_client, url, token)`.
    """

    def __init__(self, ws: Any, token: str | None = None, watch: CanaryWatch | None = None) -> None:
        import asyncio

        self.ws = ws
        self.token = token
        self.watch = watch
        """Checks every message against the other teams' canaries (R-ACC-4), as `gql` does."""
        self._leak: AssertionError | None = None
        self.pings_received = 0
        self.pinged = asyncio.Event()
        """Set when the server sent a `ping`."""
        self.close_code: int | None = None
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pong = asyncio.Event()
        self._count = 0
        self._reader: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        client: httpx.AsyncClient,
        url: str = "/graphql",
        token: str | None = None,
        params: dict[str, Any] | None = None,
        watch: CanaryWatch | None = None,
    ) -> AsyncIterator[Subscriptions]:
        """Open the WebSocket, send `connection_init` and wait for `connection_ack`.

        A refused sign-in raises `SubscriptionEnded` with the close code (4403).
        """
        import asyncio

        from httpx_ws import aconnect_ws

        async with contextlib.AsyncExitStack() as stack:
            session: Any = await stack.enter_async_context(
                aconnect_ws(
                    url,
                    client,
                    subprotocols=["graphql-transport-ws"],
                    keepalive_ping_interval_seconds=None,
                )
            )
            conn = cls(session, token, watch)
            conn._reader = asyncio.create_task(conn._read())
            stack.push_async_callback(conn._stop_reading)
            payload = dict(params or {})
            if token:
                payload["authorization"] = f"Bearer {token}"
            await conn.send({"type": "connection_init", "payload": payload})
            ack = await conn._next_control(10)
            if ack.get("type") != "connection_ack":
                # Raised outside the WebSocket's task group, so callers see it as is.
                await stack.aclose()
                raise SubscriptionEnded(f"no connection_ack: {ack}", code=conn.close_code or 0)
            yield conn
        if conn._leak is not None:  # a leak in a message the test did not read
            raise conn._leak

    async def _stop_reading(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_json(message)

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> Subscription:
        import asyncio

        self._count += 1
        op_id = str(self._count)
        self._queues[op_id] = asyncio.Queue()
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return Subscription(self, op_id)

    async def ping(self, wait: float = 10.0) -> None:
        """Send `ping` and wait for the server's `pong`."""
        import asyncio

        self._pong.clear()
        await self.send({"type": "ping"})
        await asyncio.wait_for(self._pong.wait(), wait)

    async def _read(self) -> None:
        from httpx_ws import WebSocketDisconnect

        try:
            while True:
                message = await self.ws.receive_json()
                kind = message.get("type")
                if kind == "ping":
                    self.pings_received += 1
                    self.pinged.set()
                    await self.send({"type": "pong"})
                elif kind == "pong":
                    self._pong.set()
                elif "id" in message and message["id"] in self._queues:
                    self._check(message)
                    self._queues[message["id"]].put_nowait(message)
                else:
                    self._control.put_nowait(message)
        except WebSocketDisconnect as exc:
            self.close_code = exc.code
        finally:
            closed = {"type": "closed", "code": self.close_code}
            self._control.put_nowait(closed)
            for queue in self._queues.values():
                queue.put_nowait(closed)

    def _check(self, message: dict[str, Any]) -> None:
        if self.watch is None or self._leak is not None:
            return
        try:
            self.watch.check(self.token, dumps(message))
        except AssertionError as leak:
            self._leak = leak  # raised in the test's task, at its next read

    async def _next_control(self, wait: float) -> dict[str, Any]:
        import asyncio

        return await asyncio.wait_for(self._control.get(), wait)

    async def _take(self, op_id: str, wait: float) -> dict[str, Any]:
        import asyncio

        message = await asyncio.wait_for(self._queues[op_id].get(), wait)
        if self._leak is not None:
            raise self._leak
        if message["type"] == "closed":
            self._queues[op_id].put_nowait(message)
            raise SubscriptionEnded("the connection closed", code=message.get("code") or 0)
        return message


SIGN_UP = """
mutation($input: SignUpInput!) { signUp(input: $input) { token user { id email role } } }
"""
INVITE = """
mutation($input: InviteUserInput!) { inviteUser(input: $input) { id email } }
"""
ACCEPT = """
mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) { token user { id } } }
"""
TOKEN_LINE = re.compile(r"^Token: (\S+)$", re.MULTILINE)


@dataclass
class Member:
    token: str
    id: str
    email: str


@dataclass
class TeamHandle:
    admin: Member
    name: str
    members: list[Member] = field(default_factory=list)
    canary: str = ""
    """A string unique to this team; it must never show in another team's responses."""


def read_outbox(directory: Path) -> list[EmailMessage]:
    from softbrik.core.mail import read_outbox as read

    return read(directory) if directory.exists() else []


def invitation_token(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    found = TOKEN_LINE.search(text)
    assert found, f"no token in the invitation e-mail:\n{text}"
    return found.group(1)


@dataclass
class TeamFactory:
    """Builds teams through GraphQL alone, as a user would."""

    gql: GraphQLClient
    outbox_dir: Path

    async def sign_up(
        self,
        briks: list[str] | None = None,
        *,
        name: str | None = None,
        email: str | None = None,
        password: str = "correct horse battery",
        payment_method: str = "pm_card_visa",
        **extra: Any,
    ) -> TeamHandle:
        tag = f"canary{secrets.token_hex(5)}"
        team_name = name or f"Team {tag}"
        email = email or f"admin-{tag}@example.com"
        data = await self.gql.ok(
            SIGN_UP,
            {
                "input": {
                    "teamName": team_name,
                    "name": f"Admin {tag}",
                    "email": email,
                    "password": password,
                    "paymentMethod": payment_method,
                    "briks": briks or [],
                    **extra,
                }
            },
        )
        payload = data["signUp"]
        if self.gql.watch is not None:
            self.gql.watch.add_team(tag)
            self.gql.watch.add_member(tag, email, payload["token"])
        admin = Member(payload["token"], payload["user"]["id"], email)
        return TeamHandle(admin, team_name, canary=tag)

    async def invite(
        self,
        team: TeamHandle,
        briks: list[str] | None = None,
        *,
        email: str | None = None,
        name: str = "Member",
        password: str = "member password 1",
    ) -> Member:
        """Invite someone, read the token from the delivered e-mail, and accept (R-ACC-3)."""
        email = email or f"member-{secrets.token_hex(4)}@example.com"
        await self.gql.ok(
            INVITE,
            {"input": {"email": email, "name": name, "briks": briks or []}},
            token=team.admin.token,
        )
        mails = [m for m in read_outbox(self.outbox_dir) if m["To"] == email]
        assert mails, f"no invitation e-mail to {email}"
        token = invitation_token(mails[-1])
        data = await self.gql.ok(
            ACCEPT, {"input": {"token": token, "name": name, "password": password}}
        )
        member = Member(
            data["acceptInvitation"]["token"], data["acceptInvitation"]["user"]["id"], email
        )
        team.members.append(member)
        if self.gql.watch is not None and team.canary:
            self.gql.watch.add_member(team.canary, email, member.token)
        return member


BACKGROUND_TASK_PREFIX = "softbrik:"
"""Tasks the server runs on its own are named with this prefix; `count_queries` skips them."""


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        import asyncio

        try:
            task = asyncio.current_task()
        except RuntimeError:
            task = None
        if task is not None and task.get_name().startswith(BACKGROUND_TASK_PREFIX):
            return  # the server's own background work (event relay, jobs), not the request's
        message = record.getMessage()
        if message.startswith(("Created connection pool", "Closed connection pool")):
            return
        self.statements.append(message)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_sql() -> Iterator[QueryCounter]:
    """Counts the SQL statements Tortoise sends inside the block."""
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    level, propagate = logger.level, logger.propagate
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)
        logger.propagate = propagate


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def softbrik_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("softbrik")


@pytest.fixture(scope="session")
def softbrik_settings(softbrik_data_dir: Path) -> Settings:
    """The session's settings: Redis (the event broker) when SOFTBRIK_REDIS_URL is set, under a
    key prefix of this session's own."""
    redis_url = os.environ.get("SOFTBRIK_REDIS_URL") or None
    return settings_for_tests(
        softbrik_data_dir,
        redis_url=redis_url,
        redis_prefix=f"softbrik-test-{uuid.uuid4().hex[:10]}:",
        event_retry_base_seconds=0.05,
    )


@pytest.fixture(scope="session")
def softbrik_briks(softbrik_settings: Settings) -> Any:
    from softbrik.briks import load_briks

    return load_briks(softbrik_settings)


@pytest.fixture(scope="session")
async def softbrik_db(
    softbrik_settings: Settings, softbrik_briks: Any, softbrik_data_dir: Path
) -> AsyncIterator[TestDatabase]:
    from softbrik.core import db

    apps = [*db.CORE_APPS, *softbrik_briks.db_apps()]
    admin_url = os.environ.get("SOFTBRIK_TEST_POSTGRES_URL")
    if admin_url:
        url, name = await _create_postgres_database(admin_url)
        database = TestDatabase(url, admin_url, name)
    else:
        if services_required():
            pytest.fail("SOFTBRIK_REQUIRE_SERVICES=1 but SOFTBRIK_TEST_POSTGRES_URL is not set")
        database = TestDatabase(f"sqlite://{softbrik_data_dir / 'test.sqlite3'}")
    await db.migrate(database.url, apps)
    if database.is_postgres and row_level_security_tests():
        from softbrik.core import tenancy

        await Tortoise.init(config=db.tortoise_config(database.url, apps))
        database.app_url = await _create_app_role(database)
        # The tests read and write any row directly; the app sets no tenant on each request.
        tenancy.default_tenancy = tenancy.Tenancy(platform="tests")
    await Tortoise.close_connections()
    await db.init_db(database.app_url or database.url, apps, database.app_url is not None)
    database.tables = _model_tables()
    try:
        yield database
    finally:
        await db.close_db()
        if database.admin_url and database.name:
            await _drop_postgres_database(database.admin_url, database.name)
            if database.app_role:
                await _drop_role(database.admin_url, database.app_role)


@pytest.fixture(scope="session")
def softbrik_app(
    softbrik_settings: Settings, softbrik_briks: Any, softbrik_db: TestDatabase
) -> Any:
    from softbrik.app import create_app

    settings = softbrik_settings.model_copy(
        update={
            "database_url": softbrik_db.app_url or softbrik_db.url,
            "row_level_security": softbrik_db.app_url is not None,
        }
    )
    return create_app(settings, briks=softbrik_briks, manage_db=False)


@pytest.fixture
async def softbrik_reset(softbrik_app: Any, softbrik_db: TestDatabase) -> AsyncIterator[None]:
    """Empties the database and the outbox, and sets the clock back to `START`."""
    import shutil

    rt = softbrik_app.state.rt
    await rt.events.stop()
    await rt.audit.discard()  # the last test's entries must not land in this one's tables
    await empty_tables(softbrik_db)
    rt.clock._now = START
    # Team ids start again at 1: a key cached for the last test's team 1 is not this one's.
    rt.vault.forget_cached_keys()
    # Ids restart with the emptied tables: a fresh payment ledger keeps tests apart.
    from softbrik.core.payments import LocalGateway

    if rt.vault is not None:  # a key cached for a team id of an earlier test
        rt.vault.forget_cached_keys()
    if isinstance(rt.gateway, LocalGateway):
        rt.gateway = LocalGateway(support_email=rt.gateway.support_email)
    shutil.rmtree(rt.settings.outbox_dir, ignore_errors=True)
    await rt.events.start()
    try:
        yield
    finally:
        await rt.events.stop()


@pytest.fixture
async def http(softbrik_app: Any, softbrik_reset: None) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=softbrik_app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://softbrik.test") as client:
        yield client


@pytest.fixture
def canary_watch() -> CanaryWatch:
    """The teams' canaries of this test; `gql` checks every response against them (R-ACC-4)."""
    return CanaryWatch()


@pytest.fixture
def gql(http: httpx.AsyncClient, canary_watch: CanaryWatch) -> GraphQLClient:
    return GraphQLClient(http, watch=canary_watch)


@pytest.fixture
def subscriptions(softbrik_app: Any, softbrik_reset: None, canary_watch: CanaryWatch) -> Any:
    """Opens graphql-transport-ws connections to the app: `async with subscriptions(token) as
    conn: sub = await conn.subscribe(query); data = await sub.next()`."""

    @asynccontextmanager
    async def connect(
        token: str | None = None, params: dict[str, Any] | None = None
    ) -> AsyncIterator[Subscriptions]:
        from httpx_ws.transport import ASGIWebSocketTransport

        # Opened and closed in the test's own task (the transport runs the app in a task group).
        transport = ASGIWebSocketTransport(app=softbrik_app, client=("203.0.113.8", 50001))
        try:
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://softbrik.test") as client,
                Subscriptions.connect(client, "/graphql", token, params, canary_watch) as conn,
            ):
                yield conn
        except BaseExceptionGroup as group:
            # The transport's task group wraps what the test raised: show it as it was.
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise

    return connect


@pytest.fixture
def events_settled(softbrik_app: Any) -> Any:
    """`await events_settled()`: every committed event published and handled by every Brik."""
    return softbrik_app.state.rt.events.settle


@pytest.fixture
def outbox(softbrik_app: Any) -> Any:
    directory = softbrik_app.state.rt.settings.outbox_dir
    return lambda: read_outbox(directory)


@pytest.fixture
def team_factory(gql: GraphQLClient, softbrik_app: Any) -> TeamFactory:
    return TeamFactory(gql, softbrik_app.state.rt.settings.outbox_dir)


@pytest.fixture
def clock(softbrik_app: Any) -> Any:
    return softbrik_app.state.rt.clock


@pytest.fixture
def platform(softbrik_app: Any, softbrik_reset: None) -> Any:
    """The `Platform` the app gives its Briks (clock, events, keys), on a reset database."""
    return softbrik_app.state.rt.extras["platform"]


@pytest.fixture
def count_queries() -> Any:
    return count_sql


# --- AWS (moto in server mode) -----------------------------------------------------------------

REGION = "eu-west-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Aws:
    endpoint_url: str
    kms_key_id: str

    def client(self, service: str) -> Any:
        import boto3

        make_client: Any = boto3.client
        return make_client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def new_bucket(self) -> str:
        name = f"softbrik-test-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        return name


@pytest.fixture(scope="session")
def aws() -> Iterator[Aws]:
    """moto in server mode on a free local port, with dummy credentials and one KMS key."""
    import boto3
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            endpoint = f"http://127.0.0.1:{port}"
            kms = boto3.client("kms", endpoint_url=endpoint, region_name=REGION)
            key_id = kms.create_key(Description="softbrik test master key")["KeyMetadata"]["KeyId"]
            yield Aws(endpoint, key_id)
        finally:
            server.stop()


# --- tenant isolation (R-ACC-4) ---------------------------------------------------------------


def pytest_addhooks(pluginmanager: Any) -> None:
    pluginmanager.add_hookspecs(IsolationSpec)


def pytest_softbrik_isolation_cases(config: Any) -> list[IsolationCase | StreamCase]:
    """The core's own ID-taking fields."""
    return core_cases()


@pytest.fixture
async def isolation_world(
    gql: GraphQLClient, team_factory: TeamFactory, softbrik_app: Any, subscriptions: Any
) -> IsolationWorld:
    """A victim team (admin and one member, every Brik) and an attacker team (every Brik)."""
    briks = [brik.key for brik in softbrik_app.state.rt.briks]
    victim = await team_factory.sign_up(briks)
    member = await team_factory.invite(victim, briks, name=f"Member {victim.canary}")
    attacker = await team_factory.sign_up(briks)
    return IsolationWorld(
        gql, team_factory, victim, member, attacker, briks, subscriptions, softbrik_app.state.rt
    )


def blob_store_for(kind: str, directory: Path, aws: Aws | None = None) -> Any:
    """A fresh blob store: `local` (a directory) or `s3` (a new bucket on the `aws` moto server)."""
    from softbrik.core.blobs import LocalBlobStore, S3BlobStore

    if kind == "local":
        return LocalBlobStore(directory)
    if aws is None:
        raise ValueError("an S3 blob store needs the aws fixture")
    return S3BlobStore(aws.new_bucket(), aws.endpoint_url, REGION)
