"""Apps with settings of their own (production, tight limits), on the session's database; the
example `notes` Brik's stream case (its distribution has no pytest plugin of its own: it is
installed into this session's directory after pytest started); and for the threat detection
(R-SEC-3) the runtime, settings tuned per test, the audit log read back, and the scan."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest

from softbrik.app import create_app
from softbrik.core.security.findings import scan
from softbrik.core.security.models import AuditEntry, Finding
from softbrik.testing import IsolationWorld, StreamCase, TeamHandle


@pytest.fixture
def app_with(softbrik_app: Any, http: httpx.AsyncClient) -> Any:
    """`async with app_with(env="production") as client:` a client of an app built with the
    session's settings and these overrides (the database is reset, as for `http`)."""

    @asynccontextmanager
    async def client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = softbrik_app.state.rt.settings.model_copy(update=overrides)
        app = create_app(settings, briks=softbrik_app.state.rt.briks, manage_db=False)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://softbrik.test") as c:
            yield c

    return client


async def _add_note(world: IsolationWorld, team: TeamHandle) -> None:
    await world.gql.ok(
        "mutation($t: String!) { notesAdd(title: $t) { title } }",
        {"t": f"Note {team.canary}"},
        token=team.admin.token,
    )


@pytest.hookimpl
def pytest_softbrik_isolation_cases(config: Any) -> list[StreamCase]:
    return [
        StreamCase(
            "Subscription.notesAdded",
            "subscription($after: String) { notesAdded(after: $after) }",
            _add_note,
            {"after": "0"},
        )
    ]


@pytest.fixture
def rt(softbrik_app: Any, softbrik_reset: None) -> Any:
    return softbrik_app.state.rt


@pytest.fixture
def tune(rt: Any) -> Iterator[Any]:
    """`with tune(security_denied_per_user=5): ...`: settings of this test only."""
    original = rt.settings

    @contextmanager
    def tuned(**values: Any) -> Iterator[None]:
        rt.settings = original.model_copy(update=values)
        try:
            yield
        finally:
            rt.settings = original

    yield tuned
    rt.settings = original


@pytest.fixture
def entries(rt: Any) -> Any:
    """`await entries()`: the audit log so far, oldest first (buffered entries written)."""

    async def read(**filters: Any) -> list[AuditEntry]:
        await rt.audit.flush()
        return await AuditEntry.filter(**filters).order_by("id")

    return read


@pytest.fixture
def run_scan(rt: Any) -> Any:
    """`await run_scan()`: every detector once; returns the findings, newest first."""

    async def run() -> list[Finding]:
        await scan(rt)
        return await Finding.all().order_by("-id")

    return run


@pytest.fixture
async def from_address(softbrik_app: Any, softbrik_reset: None) -> Any:
    """`client = await from_address("198.51.100.9")`: an HTTP client from another address."""
    opened: list[httpx.AsyncClient] = []

    async def open_client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=softbrik_app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://softbrik.test")
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.aclose()
