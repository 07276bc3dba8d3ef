"""Composing the GraphQL schema from the core's parts and every loaded Brik's (DESIGN.md).

Each Brik gets a query field named by its key, and contributes mutations and subscriptions whose
names start with the key. Clashes stop start-up naming both owners. Every Brik field is gated:
only a signed-in user with an active seat for the Brik reaches it (R-ACC-3).
"""

import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import strawberry
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import create_type, merge_types
from strawberry.types.field import StrawberryField
from strawberry.utils.str_converters import to_camel_case

from softbrik.briks import Brik, BrikLoadError, BrikRegistry
from softbrik.core.events.bus import access_check
from softbrik.schema.accounts import AccountsMutation, AccountsQuery
from softbrik.schema.billing import BillingMutation
from softbrik.schema.context import BrikOwners
from softbrik.schema.documents import DocumentCache
from softbrik.schema.errors import ErrorCodes
from softbrik.schema.events import EventsSubscription
from softbrik.schema.execution import LeanExecutionContext
from softbrik.schema.node import LOADERS, NodeQuery
from softbrik.schema.security import AuditOperations, SecurityMutation, SecuritySubscription
from softbrik.schema.uploads import SCALAR_OVERRIDES

CORE_QUERIES: list[type] = [AccountsQuery, NodeQuery]
CORE_MUTATIONS: list[type] = [AccountsMutation, BillingMutation, SecurityMutation]
CORE_SUBSCRIPTIONS: list[type] = [EventsSubscription, SecuritySubscription]


class BrikGate(FieldExtension):
    """Runs a Brik's field only for a user with an active seat for that Brik (R-ACC-3)."""

    def __init__(self, brik: str) -> None:
        super().__init__()
        self.brik = brik

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        await info.context.require_seat(self.brik)
        if info.operation.operation.value == "subscription":
            # `platform.events` streams of this subscription end when the seat or sign-in does.
            access_check.set(info.context.access_check(brik=self.brik))
        result = next_(source, info, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def _fields(cls: type) -> list[StrawberryField]:
    return list(cls.__strawberry_definition__.fields)  # type: ignore[attr-defined]


def _field_name(field: StrawberryField) -> str:
    return field.graphql_name or to_camel_case(field.python_name)


def _gate(field: StrawberryField, brik: str) -> None:
    if not any(isinstance(ext, BrikGate) for ext in field.extensions):
        field.extensions.append(BrikGate(brik))


def _namespace_field(brik: Brik, query_type: type) -> StrawberryField:
    async def resolve() -> Any:
        return query_type()

    resolve.__name__ = brik.key
    field = strawberry.field(
        resolver=resolve,
        name=brik.key,
        graphql_type=query_type,
        description=brik.manifest.description,
        extensions=[BrikGate(brik.key)],
    )
    return field


def _claim(owners: dict[str, str], name: str, owner: str, root: str) -> None:
    if name in owners:
        other = owners[name]
        raise BrikLoadError(owner, f"{root} field {name!r} clashes with {other}'s")
    owners[name] = owner


def compose(
    briks: BrikRegistry,
) -> tuple[list[type], list[type], list[type], BrikOwners]:
    """The root types' parts, checked for clashes, and which Brik owns which field and type."""
    queries = list(CORE_QUERIES)
    mutations = list(CORE_MUTATIONS)
    subscriptions = list(CORE_SUBSCRIPTIONS)
    owners = BrikOwners()
    claimed: dict[str, dict[str, str]] = {"Query": {}, "Mutation": {}, "Subscription": {}}
    for root, parts in (
        ("Query", queries),
        ("Mutation", mutations),
        ("Subscription", subscriptions),
    ):
        for part in parts:
            for field in _fields(part):
                _claim(claimed[root], _field_name(field), "the core", root)

    namespaces: list[StrawberryField] = []
    for brik in briks:
        schema = brik.schema
        if schema is None:
            continue
        key = brik.key
        for type_name, loader in schema.nodes.items():
            if type_name in LOADERS or type_name in owners.nodes:
                raise BrikLoadError(key, f"node type {type_name!r} is already loaded by another")
            owners.nodes[type_name] = (key, loader)
        if schema.query is not None:
            _claim(claimed["Query"], key, f"Brik {key!r}", "Query")
            namespaces.append(_namespace_field(brik, schema.query))
            owners.root_fields[key] = key
        for root, types, target in (
            ("Mutation", schema.mutations, mutations),
            ("Subscription", schema.subscriptions, subscriptions),
        ):
            for part in types:
                for field in _fields(part):
                    name = _field_name(field)
                    if not name.startswith(key) or name == key:
                        raise BrikLoadError(
                            key, f"{root.lower()} {name!r} must be prefixed with {key!r}"
                        )
                    _claim(claimed[root], name, f"Brik {key!r}", root)
                    owners.root_fields[name] = key
                    _gate(field, key)
                target.append(part)
    if namespaces:
        queries.append(create_type("BrikQueries", namespaces))
    return queries, mutations, subscriptions, owners


def _merged(name: str, parts: Sequence[type]) -> type | None:
    if not parts:
        return None
    return merge_types(name, tuple(parts))


def _own_types(schema: GraphQLSchema, briks: BrikRegistry, owners: BrikOwners) -> None:
    """Map each object type reachable from a Brik's root fields to that Brik."""
    roots = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    core_types = {"Query", "Mutation", "Subscription"}
    for root in roots.values():
        if root is None:
            continue
        for name, field in root.fields.items():
            brik = owners.root_fields.get(name)
            if brik is None:
                continue
            for type_name in _reachable(field.type):
                if type_name not in core_types:
                    owners.types.setdefault(type_name, brik)


def _reachable(start: Any) -> Iterable[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        gtype = stack.pop()
        while isinstance(gtype, GraphQLNonNull | GraphQLList):
            gtype = gtype.of_type
        if not isinstance(gtype, GraphQLObjectType) or gtype.name in seen:
            continue
        seen.add(gtype.name)
        yield gtype.name
        stack.extend(field.type for field in gtype.fields.values())


def build_schema(
    briks: BrikRegistry,
    extensions: Sequence[type[SchemaExtension] | Callable[[], SchemaExtension]] = (),
    documents: DocumentCache | None = None,
    config: StrawberryConfig | None = None,
) -> strawberry.Schema:
    """The schema of the core and `briks`; `documents` caches parsed and validated queries.

    `extensions` come after the error codes and before the document cache; the app adds the
    query limits (softbrik/schema/limits.py) there and sets batching through `config`."""
    documents = documents if documents is not None else DocumentCache()
    queries, mutations, subscriptions, owners = compose(briks)
    extra_types = [t for brik in briks if brik.schema for t in brik.schema.types]
    schema = strawberry.Schema(
        query=_merged("Query", queries),  # type: ignore[arg-type]
        mutation=_merged("Mutation", mutations),
        subscription=_merged("Subscription", subscriptions),
        types=extra_types,
        # The audit first, so that it sees the operation end last (R-SEC-3); the document
        # cache last: its hooks must see every rule the others add.
        extensions=[AuditOperations, ErrorCodes, *extensions, documents.extension()],  # type: ignore[list-item]
        execution_context_class=LeanExecutionContext,
        config=config,
        scalar_overrides=SCALAR_OVERRIDES,
    )
    _own_types(schema._schema, briks, owners)
    schema._softbrik_owners = owners  # type: ignore[attr-defined]
    schema._softbrik_documents = documents  # type: ignore[attr-defined]
    return schema
