"""Limits on what one GraphQL document may ask for: depth, aliases and tokens (R-SEC-3).

A client that sends a deeply nested, alias-heavy or simply huge document makes the server parse,
validate and resolve far more than any real screen needs. The limits refuse such a document
before anything runs, with `extensions.code` `QUERY_TOO_COMPLEX`, the limit's name, the
allowed and the found value:

- **tokens** (`SOFTBRIK_MAX_TOKENS`): the parser stops after that many lexical tokens (and as many
  comments), so even a document that never parses costs at most that much;
- **depth** (`SOFTBRIK_MAX_QUERY_DEPTH`): fields nested in fields; `{ me { team { name } } }` has
  depth 3. Fragments count where they are spread, so they cannot hide depth; a fragment cycle
  is ended here and reported by graphql-core's own `NoFragmentCyclesRule`;
- **aliases** (`SOFTBRIK_MAX_ALIASES`): every `alias:` in the operation, counted once per use
  of the fragment it is in, so a fragment spread twenty times counts twenty times;
- **repeats** (`SOFTBRIK_MAX_FIELD_REPEATS`): how often one response name appears in one
  selection set, fragments expanded. graphql-core's overlapping-fields rule compares every pair
  of such fields, so `{ me { id id id … } }` within the token limit costs the server a quarter
  of a second of CPU; this is checked on the parsed document before validation runs at all.

Subscriptions sent over plain HTTP (GET or POST) are refused: they run on the WebSocket only.
In production (`SOFTBRIK_ENV=production`), introspection is refused and validation messages
leave out their "Did you mean …?" suggestions, which would otherwise spell out the schema.

The rules are validation rule classes made once per limit (`depth_rule`, `alias_rule`), so the
document cache (softbrik/schema/documents.py) keys its validation results by them and a cached
document is still checked against the limits in force. The token limit is a parser option,
which the cache also keys by.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import NoSchemaIntrospectionCustomRule, ValidationContext, ValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from softbrik.settings import Settings

TOO_COMPLEX = "QUERY_TOO_COMPLEX"
_PARSER_LIMIT = re.compile(r"Document contains more than (\d+) (tokens|comments)")
_SUGGESTION = re.compile(r" Did you mean .*\?$")


def too_complex(message: str, limit: str, allowed: int, found: int | None = None) -> GraphQLError:
    extensions: dict[str, Any] = {"code": TOO_COMPLEX, "limit": limit, "allowed": allowed}
    if found is not None:
        extensions["found"] = found
    return GraphQLError(message, extensions=extensions)


class _Selections:
    """Walks an operation's selections with fragments expanded in place, each fragment's
    figure computed once (a document spreading fragments in fragments stays linear)."""

    def __init__(self, document: Any) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.memo: dict[str, int] = {}
        self.visiting: set[str] = set()

    def fragment(self, name: str, measure: Callable[[SelectionSetNode], int]) -> int:
        if name in self.memo:
            return self.memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.visiting:
            return 0  # unknown fragments and cycles are graphql-core's rules' to report
        self.visiting.add(name)
        try:
            found = measure(fragment.selection_set)
        finally:
            self.visiting.discard(name)
        self.memo[name] = found
        return found


def operation_depth(document: Any, operation: OperationDefinitionNode) -> int:
    """How deep `operation` nests fields, fragments expanded; introspection fields skipped
    (they are refused outright in production)."""
    walk = _Selections(document)

    def depth(selection_set: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__"):
                    continue
                found = 1 + depth(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                found = depth(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                found = walk.fragment(selection.name.value, depth)
            else:  # pragma: no cover - graphql-core has no other selection
                continue
            deepest = max(deepest, found)
        return deepest

    return depth(operation.selection_set)


def operation_aliases(document: Any, operation: OperationDefinitionNode) -> int:
    """How many aliased fields `operation` selects, each fragment counted per spread."""
    walk = _Selections(document)

    def aliases(selection_set: SelectionSetNode | None) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                total += (1 if selection.alias else 0) + aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                total += aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                total += walk.fragment(selection.name.value, aliases)
        return total

    return aliases(operation.selection_set)


def most_repeats(document: Any) -> tuple[str, int]:
    """The response name that one selection set of `document` repeats most, and how often.

    A fragment's names are counted once per selection set it is spread in (graphql-core's rule
    compares a fragment once, however often it is spread), and computed once per fragment.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    memo: dict[str, Counter[str]] = {}
    worst: tuple[str, int] = ("", 0)

    def names(selection_set: SelectionSetNode, visiting: frozenset[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        spread: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found[(selection.alias or selection.name).value] += 1
            elif isinstance(selection, InlineFragmentNode):
                found.update(names(selection.selection_set, visiting))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread or name in visiting or name not in fragments:
                    continue  # cycles and unknown fragments are graphql-core's to report
                spread.add(name)
                if name not in memo:
                    memo[name] = names(fragments[name].selection_set, visiting | {name})
                found.update(memo[name])
        return found

    def walk(selection_set: SelectionSetNode | None) -> None:
        nonlocal worst
        if selection_set is None:
            return
        counted = names(selection_set, frozenset())
        if counted:
            name, times = counted.most_common(1)[0]
            if times > worst[1]:
                worst = (name, times)
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode | InlineFragmentNode):
                walk(selection.selection_set)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            walk(definition.selection_set)
    return worst


def _operations(context: ValidationContext) -> Iterator[OperationDefinitionNode]:
    for definition in context.document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            yield definition


def _name(operation: OperationDefinitionNode) -> str:
    return f"Operation {operation.name.value!r}" if operation.name else "The operation"


@functools.cache
def depth_rule(max_depth: int) -> type[ValidationRule]:
    """The rule refusing operations nested deeper than `max_depth` (one class per limit)."""

    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for operation in _operations(context):
                found = operation_depth(context.document, operation)
                if found > max_depth:
                    error = too_complex(
                        f"{_name(operation)} nests fields {found} deep; at most {max_depth} are"
                        " allowed. Ask for less at once.",
                        "max_query_depth",
                        max_depth,
                        found,
                    )
                    context.report_error(error)

    return DepthLimit


@functools.cache
def alias_rule(max_aliases: int) -> type[ValidationRule]:
    """The rule refusing operations with more than `max_aliases` aliases (one class per limit)."""

    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for operation in _operations(context):
                found = operation_aliases(context.document, operation)
                if found > max_aliases:
                    error = too_complex(
                        f"{_name(operation)} uses {found} aliases; at most {max_aliases} are"
                        " allowed. Split it into several requests.",
                        "max_aliases",
                        max_aliases,
                        found,
                    )
                    context.report_error(error)

    return AliasLimit


class NoIntrospection(NoSchemaIntrospectionCustomRule):
    """graphql-core's rule, with our error code (production only)."""

    def report_error(self, error: GraphQLError) -> None:
        self.context.report_error(
            GraphQLError(
                "Introspection is turned off on this server.",
                error.nodes,
                extensions={"code": "FORBIDDEN"},
            )
        )


@dataclass(frozen=True)
class QueryLimits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_repeats: int = 20
    production: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        return cls(
            max_depth=settings.max_query_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_repeats=settings.max_field_repeats,
            production=settings.env == "production",
        )

    @property
    def rules(self) -> tuple[type[ValidationRule], ...]:
        """The validation rules to add; the same classes every time for the same limits."""
        rules = (depth_rule(self.max_depth), alias_rule(self.max_aliases))
        return (*rules, NoIntrospection) if self.production else rules

    @property
    def parse_options(self) -> dict[str, int]:
        return {"max_lexical_tokens": self.max_tokens, "max_comments": self.max_tokens}

    def extension(self) -> Callable[[], SchemaExtension]:
        """A schema extension factory enforcing these limits (one extension per request)."""
        return lambda: LimitQueries(self)


OVER_WEBSOCKET = "Subscriptions run over a WebSocket on /graphql (graphql-transport-ws)."


class LimitQueries(SchemaExtension):
    """Adds the limits' parser options and validation rules to every operation, and refuses
    subscriptions over plain HTTP (they only run on the WebSocket)."""

    def __init__(self, limits: QueryLimits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options.update(self.limits.parse_options)  # type: ignore[typeddict-item]
        context.validation_rules = (*context.validation_rules, *self.limits.rules)
        yield

    def on_parse(self) -> Iterator[None]:
        yield
        # The parser's own limit errors are syntax errors: give them our code (in place, as
        # Strawberry answers the same error objects).
        for error in self.execution_context.pre_execution_errors or ():
            match = _PARSER_LIMIT.search(error.message)
            if match and error.original_error is None:
                error.message = (
                    f"The document has more than {match[1]} {match[2]}. Send a smaller one."
                )
                error.extensions = {
                    "code": TOO_COMPLEX,
                    "limit": "max_tokens",
                    "allowed": self.limits.max_tokens,
                }

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        over_http = request is not None and request.scope["type"] == "http"
        if over_http and context.operation_type is OperationType.SUBSCRIPTION:
            # Set before validation, so neither the cache nor Strawberry validates it.
            context.pre_execution_errors = [
                GraphQLError(OVER_WEBSOCKET, extensions={"code": "BAD_USER_INPUT"})
            ]
        elif context.graphql_document is not None and not context.pre_execution_errors:
            name, times = most_repeats(context.graphql_document)
            allowed = self.limits.max_repeats
            if times > allowed:
                context.pre_execution_errors = [
                    too_complex(
                        f"A selection asks for {name!r} {times} times; at most {allowed} are"
                        " allowed. Ask for each field once.",
                        "max_field_repeats",
                        allowed,
                        times,
                    )
                ]
        yield
        if self.limits.production:
            for error in self.execution_context.pre_execution_errors or ():
                error.message = _SUGGESTION.sub("", error.message)
