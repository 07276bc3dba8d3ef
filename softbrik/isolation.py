"""Tenant isolation, proved (R-ACC-4): the cases of the isolation matrix and the canary watch.

The matrix (tests/security/test_isolation.py) reads the composed schema and lists every field
argument and input field of type `ID` (also `[ID!]`). For each, a registered `IsolationCase`
calls the field as the *attacker* team's admin with an id of the *victim* team. The answer must
equal, field for field, the answer for an id that does not exist (NOT_FOUND, same message), must
carry none of the victim's canary, and the victim's data must be unchanged. A field without a
case fails the matrix, so a new ID-taking field cannot escape it.

Registering cases: a pytest hook, as pytest's own plugins do. A Brik distribution adds a pytest
plugin module (entry point group `pytest11` in its pyproject.toml, e.g.
``softbrik_inventory = "softbrik_inventory.isolation_cases"``) or a conftest.py with::

    from softbrik.testing import IsolationCase, IsolationWorld

    async def _product(world: IsolationWorld) -> str:
        data = await world.as_victim(
            'mutation($i: ...) { inventoryCreateProduct(input: $i) { id } }',
            {"i": {"sku": world.canary, "name": world.canary}},
        )
        return data["inventoryCreateProduct"]["id"]

    def pytest_softbrik_isolation_cases(config):
        return [
            IsolationCase(
                "InventoryShipStockInput.productId",
                "mutation($id: ID!, $loc: ID!) { inventoryShipStock(input: {productId: $id, "
                "locationId: $loc, quantity: 1, idempotencyKey: \\"k\\"}) { id } }",
                _product,
                variables=...,
            ),
        ]

`field` names what the case covers: ``Type.field(argument)`` for an argument,
``InputType.field`` for an input field, and ``Query.node(id)@Type`` for `node` with each type
that implements `Node`. Several cases may cover one field.

The canary watch: every team the `team_factory` signs up carries a unique canary (in its name
and its admin's name and e-mail; tests put `team.canary` into their own data too). The `gql`
client checks every response to a signed-in request: no other team's canary may appear in it.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from softbrik.testing import GraphQLClient, Member, TeamFactory, TeamHandle


@dataclass
class IsolationWorld:
    """Two teams with every installed Brik: the victim (with a member) and the attacker."""

    gql: GraphQLClient
    team_factory: TeamFactory
    victim: TeamHandle
    victim_member: Member
    attacker: TeamHandle
    briks: list[str]
    subscriptions: Any = None
    """The `subscriptions` fixture: cases whose document is a subscription go over WebSocket."""
    rt: Any = None
    """The app's runtime, for cases that run the server's jobs (the threat detection's scan)."""

    @property
    def canary(self) -> str:
        """A string unique to the victim: put it in the data a case creates."""
        return self.victim.canary

    async def as_victim(self, query: str, variables: dict[str, Any] | None = None) -> Any:
        return await self.gql.ok(query, variables, token=self.victim.admin.token)

    async def as_attacker(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        files: Mapping[str, bytes] | None = None,
    ) -> Any:
        if files:
            return await self.multipart(query, variables or {}, files, self.attacker.admin.token)
        if is_subscription(query):
            return await self.first_answer(query, variables, self.attacker.admin.token)
        return await self.gql.execute(query, variables, token=self.attacker.admin.token)

    async def first_answer(
        self, query: str, variables: dict[str, Any] | None, token: str
    ) -> dict[str, Any]:
        """The first answer to a subscription over WebSocket, shaped like an HTTP response."""
        async with self.subscriptions(token) as conn:
            sub = await conn.subscribe(query, variables)
            body: dict[str, Any] = await sub.first()
            return body

    async def multipart(
        self, query: str, variables: dict[str, Any], files: Mapping[str, bytes], token: str
    ) -> Any:
        """A GraphQL multipart request: each `files` key is a variable of type Upload."""
        named = {name: (f"{name}.bin", data) for name, data in files.items()}
        return await self.gql.multipart(query, variables, named, token)


MakeId = Callable[[IsolationWorld], Awaitable[str]]


@dataclass(frozen=True)
class IsolationCase:
    """Call `document` (with variable `$id`) as the attacker, on an id `make_id` made in the
    victim team; `check` (a query) is run as the victim before and after and must not change."""

    field: str
    document: str
    make_id: MakeId
    variables: Mapping[str, Any] | Callable[[IsolationWorld], Any] = dataclasses.field(
        default_factory=dict
    )
    check: str | None = None
    files: Mapping[str, bytes] | None = None
    """Upload variables: the case is sent as a multipart request."""

    async def variables_for(self, world: IsolationWorld, id: str) -> dict[str, Any]:
        """`$id` and the other variables (`variables` may be a function of the world, which
        may be async, e.g. to create the attacker's own object that the call needs)."""
        given: Any = self.variables
        extra = given(world) if callable(given) else given
        if inspect.isawaitable(extra):
            extra = await extra
        return {**extra, "id": id}

    def __str__(self) -> str:
        return self.field


Emit = Callable[[IsolationWorld, "TeamHandle"], Awaitable[None]]


@dataclass(frozen=True)
class StreamCase:
    """A subscription field: what one team's subscriber hears never comes from another team.

    `emit(world, team)` makes the field deliver an event of `team` to its subscribers, with
    `team.canary` in it. The matrix subscribes as the attacker (with `variables`, e.g. a replay
    from the start), has the victim emit before and after, then the attacker, and requires that
    the attacker hears its own event and none of the victim's; a member of the attacker's team
    without the role or seat the field needs is refused.
    """

    field: str
    document: str
    emit: Emit
    variables: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __str__(self) -> str:
        return self.field


def is_subscription(document: str) -> bool:
    return document.lstrip().startswith("subscription")


def subscription_fields(schema: Any) -> list[str]:
    """Every field of the subscription type, as `Subscription.<field>`."""
    if schema.subscription_type is None:
        return []
    return sorted(
        f"{schema.subscription_type.name}.{name}" for name in schema.subscription_type.fields
    )


class IsolationSpec:
    """The pytest hook that collects the cases (added by `softbrik.testing`)."""

    def pytest_softbrik_isolation_cases(  # type: ignore[empty-body]
        self, config: Any
    ) -> list[IsolationCase | StreamCase]:
        """Return the isolation cases of the fields your Brik (or the core) contributes:
        an `IsolationCase` per ID-taking field, a `StreamCase` per subscription field."""


def id_fields(schema: Any) -> list[str]:
    """Every coordinate that takes an ID, in a graphql-core schema (see the module docstring)."""
    from graphql import (
        GraphQLInputObjectType,
        GraphQLInterfaceType,
        GraphQLList,
        GraphQLNonNull,
        GraphQLObjectType,
    )

    def is_id(gtype: Any) -> bool:
        while isinstance(gtype, GraphQLNonNull | GraphQLList):
            gtype = gtype.of_type
        return getattr(gtype, "name", None) == "ID"

    found: list[str] = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType):
            if isinstance(gtype, GraphQLInterfaceType):
                continue  # covered through the object types that implement it
            for field_name, gfield in gtype.fields.items():
                for arg_name, arg in gfield.args.items():
                    if is_id(arg.type):
                        found.append(f"{name}.{field_name}({arg_name})")
        elif isinstance(gtype, GraphQLInputObjectType):
            for field_name, gfield in gtype.fields.items():
                if is_id(gfield.type):
                    found.append(f"{name}.{field_name}")
    node = schema.type_map.get("Node")
    if "Query.node(id)" in found and node is not None:
        found.remove("Query.node(id)")
        for implementation in schema.get_implementations(node).objects:
            found.append(f"Query.node(id)@{implementation.name}")
    return sorted(found)


def missing_id(global_id: str) -> str:
    """An id of the same type as `global_id` that nothing has."""
    from softbrik.schema.ids import decode_any, encode_id

    type_name, _ = decode_any(global_id)
    return encode_id(type_name, 987_654_321)


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """A response without what differs between any two requests (the request id)."""
    errors = []
    for error in body.get("errors") or []:
        extensions = {k: v for k, v in (error.get("extensions") or {}).items() if k != "requestId"}
        errors.append(
            {"message": error.get("message"), "path": error.get("path"), "extensions": extensions}
        )
    return {"data": body.get("data"), "errors": errors}


# --- the canary watch -----------------------------------------------------------------------


class CanaryLeak(AssertionError):
    pass


@dataclass
class CanaryWatch:
    """Knows each test team's canary and tokens; refuses a response that shows another's."""

    canaries: dict[str, str] = dataclasses.field(default_factory=dict)  # team canary -> team canary
    tokens: dict[str, str] = dataclasses.field(default_factory=dict)  # session token -> team canary
    emails: dict[str, str] = dataclasses.field(default_factory=dict)  # member e-mail -> team canary
    checked: int = 0

    def add_team(self, canary: str) -> None:
        self.canaries[canary] = canary

    def add_member(self, canary: str, email: str, token: str | None = None) -> None:
        self.emails[email.lower()] = canary
        if token:
            self.tokens[token] = canary

    def learn(self, variables: Mapping[str, Any] | None, body: Mapping[str, Any]) -> None:
        """A sign-in by e-mail gives a token of that member's team."""
        found = [
            self.emails[str(v).lower()]
            for v in (variables or {}).values()
            if isinstance(v, str) and str(v).lower() in self.emails
        ]
        if not found:
            return
        team = found[0]
        for token in _tokens(body.get("data")):
            self.tokens[token] = team

    def check(self, token: str | None, text: str) -> None:
        if not token:
            return
        own = self.tokens.get(token)
        if own is None:
            return
        self.checked += 1
        for canary in self.canaries:
            if canary != own and canary in text:
                raise CanaryLeak(
                    f"R-ACC-4: team {canary!r}'s data appeared in a response to team {own!r}:\n"
                    f"{text[:2000]}"
                )


def _tokens(data: Any) -> Iterator[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "token" and isinstance(value, str):
                yield value
            else:
                yield from _tokens(value)
    elif isinstance(data, list):
        for item in data:
            yield from _tokens(item)


def dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


# --- the core's own cases ---------------------------------------------------------------------

VICTIM_STATE = """
{ team { id name members { user { id name email role } seats { id brik startsOn endsOn }
  removalOn accessEndedAt } invoices { id status } closure { effectiveOn } } }
"""


async def _victim_member(world: IsolationWorld) -> str:
    return world.victim_member.id


async def _victim_seat(world: IsolationWorld) -> str:
    data = await world.as_victim("{ team { members { seats { id } } } }")
    seats = [seat["id"] for member in data["team"]["members"] for seat in member["seats"]]
    assert seats, "the victim has no seat: install a Brik for the isolation matrix"
    return str(seats[0])


async def _victim_team(world: IsolationWorld) -> str:
    data = await world.as_victim("{ team { id } }")
    return str(data["team"]["id"])


async def _victim_invoice(world: IsolationWorld) -> str:
    data = await world.as_victim("{ team { invoices { id } } }")
    assert data["team"]["invoices"], "the victim has no invoice after signing up"
    return str(data["team"]["invoices"][0]["id"])


async def _victim_finding(world: IsolationWorld) -> str:
    """A security finding of the victim team, its canary in the evidence (R-SEC-3)."""
    from datetime import UTC, datetime

    from softbrik.core.accounts.models import User
    from softbrik.core.security.models import Finding, Severity
    from softbrik.schema.ids import decode_id, encode_id

    admin = await User.get(id=decode_id(world.victim.admin.id, "User"))
    now = datetime.now(UTC)
    key = f"ISOLATION:{world.canary}"
    row = await Finding.create(
        team_id=admin.team_id,
        user_id=admin.id,
        kind="ENUMERATION",
        severity=Severity.HIGH,
        dedup_key=key,
        open_key=key,
        evidence={"note": world.canary},
        created_at=now,
        last_seen_at=now,
    )
    return encode_id("SecurityFinding", row.id)


FINDINGS_STATE = "{ team { securityFindings { id status evidence resolvedAt } } }"


def _first_brik(world: IsolationWorld) -> dict[str, Any]:
    assert world.briks, "install a Brik for the isolation matrix"
    return {"brik": world.briks[0]}


def _user_mutation(name: str, extra: str = "") -> str:
    variables = "$id: ID!" + (", $brik: String!" if extra else "")
    return f"mutation({variables}) {{ {name}(userId: $id{extra}) {{ __typename }} }}"


BILLING_EVENTS = "subscription($id: ID) { billingEvents(after: $id) { id type message } }"


async def _emit_billing_event(world: IsolationWorld, team: TeamHandle) -> None:
    """A seat added to a new member named after the team's canary: SEAT_ADDED tells it."""
    assert world.briks, "install a Brik for the isolation matrix"
    await world.team_factory.invite(team, world.briks[:1], name=f"Member {team.canary}")


async def _victim_billing_event(world: IsolationWorld) -> str:
    async with world.subscriptions(world.victim.admin.token) as conn:
        sub = await conn.subscribe(BILLING_EVENTS)
        await conn.ping()  # the subscription runs once the server answered after it
        await _emit_billing_event(world, world.victim)
        return str((await sub.next())["billingEvents"]["id"])


SECURITY_FINDINGS = "subscription { securityFindings { id type message user { name } } }"


async def _emit_security_finding(world: IsolationWorld, team: TeamHandle) -> None:
    """A member named after the team's canary reuses a signed-out token (REVOKED_TOKEN)."""
    from softbrik.core.security.findings import scan

    member = await world.team_factory.invite(team, name=f"Member {team.canary}")
    await world.gql.ok("mutation { logOut }", token=member.token)
    for _ in range(3):
        await world.gql.ok("{ me { id } }", token=member.token)
    await scan(world.rt)


def core_cases() -> list[IsolationCase | StreamCase]:
    node = "query($id: ID!) { node(id: $id) { id __typename } }"
    brik = ", brik: $brik"
    cases = [
        IsolationCase(
            "Mutation.assignBrik(userId)",
            _user_mutation("assignBrik", brik),
            _victim_member,
            variables=_first_brik,
        ),
        IsolationCase(
            "Mutation.unassignBrik(userId)",
            _user_mutation("unassignBrik", brik),
            _victim_member,
            variables=_first_brik,
        ),
        IsolationCase("Mutation.removeUser(userId)", _user_mutation("removeUser"), _victim_member),
        IsolationCase(
            "Mutation.restoreUser(userId)", _user_mutation("restoreUser"), _victim_member
        ),
        IsolationCase(
            "Mutation.endAccessNow(userId)", _user_mutation("endAccessNow"), _victim_member
        ),
        IsolationCase(
            "Mutation.resendInvoice(invoiceId)",
            'mutation($id: ID!) { resendInvoice(invoiceId: $id, email: "thief@example.com") }',
            _victim_invoice,
        ),
        IsolationCase(
            "Team.invoices(after)",
            "query($id: ID!) { team { invoices(after: $id) { id number } } }",
            _victim_invoice,
        ),
        IsolationCase("Mutation.unlockUser(userId)", _user_mutation("unlockUser"), _victim_member),
        IsolationCase(
            "Mutation.resolveSecurityFinding(findingId)",
            "mutation($id: ID!) { resolveSecurityFinding(findingId: $id) { id status } }",
            _victim_finding,
            check=FINDINGS_STATE,
        ),
        IsolationCase(
            "Team.securityFindings(after)",
            "query($id: ID!) { team { securityFindings(after: $id) { id } } }",
            _victim_finding,
        ),
        IsolationCase("Query.node(id)@SecurityFinding", node, _victim_finding),
        IsolationCase("Query.node(id)@User", node, _victim_member),
        IsolationCase("Query.node(id)@Seat", node, _victim_seat),
        IsolationCase("Query.node(id)@Team", node, _victim_team),
        IsolationCase("Query.node(id)@Invoice", node, _victim_invoice),
        IsolationCase("Subscription.billingEvents(after)", BILLING_EVENTS, _victim_billing_event),
        IsolationCase(
            "Subscription.securityFindings(after)",
            "subscription($id: ID) { securityFindings(after: $id) { id message } }",
            _victim_finding,
        ),
    ]
    streams = [
        StreamCase("Subscription.billingEvents", BILLING_EVENTS, _emit_billing_event),
        StreamCase("Subscription.securityFindings", SECURITY_FINDINGS, _emit_security_finding),
    ]
    return [*cases, *streams]
