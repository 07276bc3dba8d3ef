"""R-ACC-4: another team's id answers exactly like an id that does not exist.

The matrix covers every field that takes an ID in the composed schema (core and every installed
Brik); see `softbrik.isolation` for how a Brik registers its cases.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from softbrik.isolation import (
    VICTIM_STATE,
    CanaryLeak,
    CanaryWatch,
    IsolationCase,
    StreamCase,
    comparable,
    dumps,
    id_fields,
    missing_id,
    subscription_fields,
)
from softbrik.testing import GraphQLClient, IsolationWorld, SubscriptionEnded, TeamFactory

Case = TypeVar("Case", IsolationCase, StreamCase)


def registered(config: pytest.Config, kind: type[Case]) -> list[Case]:
    return [
        case
        for cases in config.hook.pytest_softbrik_isolation_cases(config=config)
        for case in cases
        if isinstance(case, kind)
    ]


def registered_cases(config: pytest.Config) -> list[IsolationCase]:
    return registered(config, IsolationCase)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for name, kind in (("case", IsolationCase), ("stream", StreamCase)):
        if name in metafunc.fixturenames:
            cases = registered(metafunc.config, kind)
            metafunc.parametrize(name, cases, ids=[case.field for case in cases])


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
    assert "Subscription.billingEvents(after)" in fields  # over WebSocket


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


# --- subscriptions (WebSocket) ----------------------------------------------------------------


def test_every_subscription_has_a_stream_case(
    softbrik_app: Any, pytestconfig: pytest.Config
) -> None:
    """A new subscription fails here until its `StreamCase` is registered (R-ACC-4)."""
    fields = subscription_fields(softbrik_app.state.schema._schema)
    assert "Subscription.billingEvents" in fields
    covered = {case.field for case in registered(pytestconfig, StreamCase)}
    missing = [f for f in fields if f not in covered]
    assert not missing, (
        "These subscriptions have no tenant isolation case (R-ACC-4): "
        + ", ".join(missing)
        + ". Register a StreamCase for each with the pytest hook "
        "`pytest_softbrik_isolation_cases(config)` (see the docstring of softbrik.isolation)."
    )
    assert not sorted(covered - set(fields))


async def hear_until(sub: Any, field: str, mark: str, limit: int = 20) -> list[dict[str, Any]]:
    """What `sub` delivers, up to and including the first event that carries `mark`."""
    heard = []
    for _ in range(limit):
        heard.append((await sub.next())[field])
        if mark in dumps(heard[-1]):
            return heard
    raise AssertionError(f"no event with {mark!r} in the first {limit}: {heard}")


async def test_a_subscriber_hears_only_its_own_teams_events(
    stream: StreamCase, isolation_world: IsolationWorld, events_settled: Any
) -> None:
    world = isolation_world
    victim, attacker = world.victim, world.attacker
    name = stream.field.split(".", 1)[1]
    await stream.emit(world, victim)  # before the attacker subscribes: a replay must skip it
    await events_settled()
    connect = world.subscriptions
    async with connect(attacker.admin.token) as theirs, connect(victim.admin.token) as ours:
        stolen = await theirs.subscribe(stream.document, dict(stream.variables))
        own = await ours.subscribe(stream.document)
        await theirs.ping()  # each subscription runs once the server answered after it
        await ours.ping()
        await stream.emit(world, victim)
        await stream.emit(world, attacker)
        # The victim's event was real and delivered, to the victim.
        await hear_until(own, name, victim.canary)
        # The attacker hears its own event, and nothing of the victim's came before it, though
        # the victim's was committed first.
        heard = await hear_until(stolen, name, attacker.canary)
        assert victim.canary not in dumps(heard)
        await events_settled()
        await theirs.ping()
    # Every message of both connections went through the canary watch as it arrived.


async def test_a_subscription_refuses_a_member_without_the_right(
    stream: StreamCase, isolation_world: IsolationWorld
) -> None:
    """billingEvents is for admins; a Brik's subscription for holders of its seat."""
    world = isolation_world
    outsider = await world.team_factory.invite(
        world.attacker, name=f"Member {world.attacker.canary}"
    )
    async with world.subscriptions(outsider.token) as conn:
        sub = await conn.subscribe(stream.document, dict(stream.variables))
        ended = await sub.ended()
    assert isinstance(ended, SubscriptionEnded)
    assert ended.codes == ["FORBIDDEN"]


async def test_the_canary_watch_reads_websocket_messages_too(
    isolation_world: IsolationWorld,
) -> None:
    """A subscription message to the attacker carrying the victim's canary fails the test."""
    world = isolation_world
    with pytest.raises(CanaryLeak):
        async with world.subscriptions(world.attacker.admin.token) as conn:
            # As the reader does with each message it receives (a real leak would come here).
            conn._check({"type": "next", "id": "1", "payload": {"data": world.canary}})
