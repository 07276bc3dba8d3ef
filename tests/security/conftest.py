"""The example `notes` Brik's stream case: its distribution has no pytest plugin of its own
(it is installed into this session's directory after pytest started)."""

from __future__ import annotations

from typing import Any

import pytest

from softbrik.testing import IsolationWorld, StreamCase, TeamHandle


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
