"""Fixtures of the threat-detection tests (R-SEC-3): the runtime, settings tuned per test, the
audit log read back, and the scan."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from softbrik.core.security.findings import scan
from softbrik.core.security.models import AuditEntry, Finding


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
