"""A leaner execution of plain data fields (bench/graphql_overhead.py shows why).

graphql-core resolves every field the same way: it builds a resolve-info object, coerces
arguments, calls the resolver and completes the value through the field's type. For a scalar
or enum field that Strawberry reads straight off the object (no resolver of ours, no
arguments, no field extension, no schema middleware), all of it comes down to reading an
attribute and serializing it. `LeanExecutionContext` does exactly that for such fields, with
the same errors (a null in a non-null field is a field error, located and propagated as
graphql-core does), and leaves every other field to graphql-core.

It also executes a subscription event once for every subscriber who would get the same answer
(`shared_event_result`): bench/events.py showed one execution per subscriber per event to be
what limits a team with many live administrators.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from graphql import GraphQLField, GraphQLLeafType, GraphQLNonNull, Undefined, is_leaf_type
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

_UNSEEN = object()


Plain = tuple[GraphQLLeafType, bool, str | None]


def plain_leaf(field: GraphQLField) -> Plain | None:
    """(leaf type, non-null, attribute) of a field Strawberry reads off its object, else None.

    The attribute is the name to `getattr` when Strawberry's default resolver is `getattr`
    (None: call the field's resolver, which does the same through Strawberry).

    Worked out once per field and kept on the field (GraphQLField is not hashable).
    """
    known = field.__dict__.get("_softbrik_plain", _UNSEEN)
    if known is not _UNSEEN:
        return known  # type: ignore[no-any-return]
    found: Plain | None = None
    if getattr(field.resolve, "_is_default", False) and not field.args:
        gtype: Any = field.type
        non_null = isinstance(gtype, GraphQLNonNull)
        if non_null:
            gtype = gtype.of_type
        if is_leaf_type(gtype):
            definition = (field.extensions or {}).get("strawberry-definition")
            uses_getattr = getattr(definition, "default_resolver", None) is getattr
            attribute = definition.python_name if definition is not None and uses_getattr else None
            found = (gtype, non_null, attribute)
    field.__dict__["_softbrik_plain"] = found
    return found


# --- one execution per subscription event and audience ----------------------------------------

SHARED_RESULTS = 1024
"""Subscription event results kept for other subscribers of the same audience (most recent)."""

_shared: OrderedDict[Hashable, tuple[Any, Any]] = OrderedDict()


class Same:
    """A key part that is equal only to itself for the same object (and keeps it alive): an
    event as the broker handed it to every subscriber in this process."""

    __slots__ = ("item",)

    def __init__(self, item: object) -> None:
        self.item = item

    def __hash__(self) -> int:
        return id(self.item)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Same) and other.item is self.item


def shared_event_key(executor: Any, payload: Any) -> Hashable | None:
    """What makes two subscribers' results for this event the same, or None to execute alone.

    The root value declares it (`shared_result_key`: the event, as `Same(event)`, and the
    audience it is shown to, such as a team's administrators, which must name everything the
    selected fields' answers depend on); the operation and its variables complete it. The
    operation is part of the cached entry, so its id is not reused while the entry lives.
    """
    audience = getattr(payload, "shared_result_key", None)
    if audience is None:
        return None
    variables = json.dumps(executor.variable_values, sort_keys=True, default=str)
    return (id(executor.operation), variables, audience)


class SharedEventExecution:
    """A per-event executor mixin: executes once per `shared_event_key` and hands the same result
    to every subscriber with that key (an awaitable result is shared as a task, shielded from
    one subscriber's cancellation)."""

    shared_key: Hashable | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)  # type: ignore[misc]
        executor.shared_key = shared_event_key(self, payload)
        return executor

    def execute_operation(self, *args: Any, **kwargs: Any) -> Any:
        key = self.shared_key
        if key is None:
            return super().execute_operation(*args, **kwargs)  # type: ignore[misc]
        found = _shared.get(key)
        if found is not None:
            _shared.move_to_end(key)
            result = found[1]
        else:
            result = super().execute_operation(*args, **kwargs)  # type: ignore[misc]
            if asyncio.isfuture(result) or asyncio.iscoroutine(result):
                result = asyncio.ensure_future(result)
            _shared[key] = (self.operation, result)  # type: ignore[attr-defined]
            if len(_shared) > SHARED_RESULTS:
                _shared.popitem(last=False)
        return asyncio.shield(result) if asyncio.isfuture(result) else result


class LeanExecutionContext(SharedEventExecution, StrawberryGraphQLCoreExecutionContext):
    def execute_field(
        self,
        parent_type: Any,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        field = parent_type.fields.get(node.name.value)
        middleware = self.middleware_manager
        plain = (
            plain_leaf(field)
            if field is not None and (middleware is None or not middleware.middlewares)
            else None
        )
        if plain is None or node.arguments:
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        leaf, non_null, attribute = plain
        try:
            if attribute is not None:
                value = getattr(source, attribute)
            else:
                value = field.resolve(source, None)  # type: ignore[union-attr,misc]
            if self.is_awaitable(value):
                info = self.build_resolve_info(
                    field,  # type: ignore[arg-type]
                    [details.node for details in field_details_list],
                    parent_type,
                    path,
                )
                return self.complete_awaitable_value(
                    field.type,  # type: ignore[union-attr]
                    field_details_list,
                    info,
                    path,
                    value,
                    position_context,
                )
            if isinstance(value, Exception):
                raise value
            if value is None or value is Undefined:
                if non_null:
                    raise TypeError(
                        "Cannot return null for non-nullable field"
                        f" {parent_type}.{node.name.value}."
                    )
                return None
            return self.complete_leaf_value(leaf, value)
        except Exception as raw_error:
            self.handle_field_error(
                raw_error,
                field.type,  # type: ignore[union-attr]
                field_details_list,
                path,
            )
            return None
