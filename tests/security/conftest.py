"""Apps with settings of their own (production, tight limits), on the session's database; and
the example `notes` Brik's stream case (its distribution has no pytest plugin of its own: it is
installed into this session's directory after pytest started)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from softbrik.app import create_app
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
