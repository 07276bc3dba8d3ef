"""R-ACC-4: another team's id answers exactly like an id that does not exist.

The matrix covers every field that takes an ID in the composed schema (core and every installed
Brik); see `softbrik.isolation` for how a Brik registers its cases.
"""

from __future__ import annotations

from typing import Any

import pytest

from softbrik.isolation import (
    VICTIM_STATE,
    CanaryLeak,
    CanaryWatch,
    IsolationCase,
    comparable,
    dumps,
    id_fields,
    missing_id,
)
from softbrik.testing import GraphQLClient, IsolationWorld, TeamFactory


def registered_cases(config: pytest.Config) -> list[IsolationCase]:
    return [
        case
        for cases in config.hook.pytest_softbrik_isolation_cases(config=config)
        for case in cases
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = registered_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[case.field for case in cases])


def test_every_id_field_has_a_case(softbrik_app: Any, pytestconfig: pytest.Config) -> None:
    """A new field taking an ID fails here until its isolation case is registered."""
    schema = softbrik_app.state.schema._schema
    fields = id_fields(schema)
    covered = {case.field for case in registered_cases(pytestconfig)}
    missing = [f for f in fields if f not in covered]
    assert not missing, (
        "These fields take an ID but have no tenant isolation case (R-ACC-4): "
        + ", ".join(missing)
        + ". Register an IsolationCase for each with the pytest hook "
        "`pytest_softbrik_isolation_cases(config)` in your Brik's pytest plugin or conftest.py "
        "(see the docstring of softbrik.isolation)."
    )
    stale = sorted(covered - set(fields))
    assert not stale, f"Isolation cases for fields the schema does not have: {stale}"


def test_the_matrix_sees_every_kind_of_id_field(softbrik_app: Any) -> None:
    fields = id_fields(softbrik_app.state.schema._schema)
    assert "Mutation.assignBrik(userId)" in fields  # an argument
    assert "Team.invoices(after)" in fields  # an argument of a nested field
    assert "Query.node(id)@User" in fields  # node, per type implementing Node
    assert "Query.node(id)" not in fields


async def test_another_teams_id_answers_like_a_missing_one(
    case: IsolationCase, isolation_world: IsolationWorld
) -> None:
    world = isolation_world
    victim_id = await case.make_id(world)
    before = await world.as_victim(VICTIM_STATE)
    checked = await world.as_victim(case.check) if case.check else None

    absent = await world.as_attacker(
        case.document, await case.variables_for(world, missing_id(victim_id)), case.files
    )
    stolen = await world.as_attacker(
        case.document, await case.variables_for(world, victim_id), case.files
    )

    # A missing id answers NOT_FOUND, or (for a filter) an empty answer; never anything else.
    codes = [e.get("extensions", {}).get("code") for e in absent.get("errors") or []]
    assert codes in (["NOT_FOUND"], []), f"a missing id should answer NOT_FOUND: {absent}"
    assert comparable(stolen) == comparable(absent)
    text = dumps(stolen)
    assert world.canary not in text
    assert victim_id not in text
    assert await world.as_victim(VICTIM_STATE) == before
    if case.check:
        assert await world.as_victim(case.check) == checked


async def test_the_canary_watch_catches_a_leak(
    gql: GraphQLClient, team_factory: TeamFactory
) -> None:
    a = await team_factory.sign_up()
    b = await team_factory.sign_up()
    watch = gql.watch
    assert isinstance(watch, CanaryWatch)
    # A response to B that carried A's canary (as a leak would) is refused.
    with pytest.raises(CanaryLeak):
        watch.check(b.admin.token, f'{{"data": {{"name": "{a.canary}"}}}}')
    # B's own data is fine, and real responses pass the watch.
    watch.check(b.admin.token, f'{{"data": {{"name": "{b.canary}"}}}}')
    data = await gql.ok("{ team { name } me { email } }", token=b.admin.token)
    assert b.canary in data["team"]["name"]


async def test_a_sign_in_by_e_mail_is_watched_too(
    gql: GraphQLClient, team_factory: TeamFactory
) -> None:
    a = await team_factory.sign_up()
    data = await gql.ok(
        "mutation($e: String!, $p: String!) { logIn(email: $e, password: $p) { token } }",
        {"e": a.admin.email, "p": "correct horse battery"},
    )
    assert gql.watch is not None
    assert gql.watch.tokens[data["logIn"]["token"]] == a.canary
