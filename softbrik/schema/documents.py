"""A bounded cache of parsed and validated GraphQL documents, keyed by the query's text.

Clients send the same few operations over and over; parsing and validating one costs more
than executing it (see bench/graphql_overhead.py). The cache keeps the parsed document of the
last `size` distinct query texts, and for each its validation errors per schema and set of
validation rules: a document is validated once per schema and set of rules, and an invalid one
keeps answering its errors. Documents that do not parse are not kept.

The cache works as a schema extension whose hooks run just before Strawberry's own parsing and
validation, after every `on_operation` hook, so validation rules that other extensions add
(depth and alias limits, softbrik/schema/limits.py) are in force and part of the key. Such
rules must be the same classes from one request to the next to be served from the cache; a
rule class made per request is validated every time (correct, just not cached). A document is
parsed again when the parser options (the token limit) differ from those it was parsed with.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

Rules = tuple[type, ...]
Key = tuple[Any, Rules]  # the graphql-core schema, and the validation rules


class CachedDocument:
    __slots__ = ("document", "errors", "parse_options")

    def __init__(self, document: DocumentNode, parse_options: dict[str, Any]) -> None:
        self.document = document
        self.parse_options = parse_options
        self.errors: dict[Key, list[GraphQLError]] = {}


class DocumentCache:
    """The last `size` distinct documents, least recently used first out."""

    def __init__(self, size: int = 500) -> None:
        self.size = size
        self.entries: OrderedDict[str, CachedDocument] = OrderedDict()
        self.parses = 0
        self.validations = 0

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, query: str, parse_options: Any) -> CachedDocument:
        """The cached document of `query`, parsed now if new or if it was parsed with other
        options (the token limit); raises GraphQLError if invalid."""
        entry = self.entries.get(query)
        if entry is not None and entry.parse_options == parse_options:
            self.entries.move_to_end(query)
            return entry
        self.parses += 1
        entry = CachedDocument(parse(query, **parse_options), dict(parse_options))
        self.entries[query] = entry
        self.entries.move_to_end(query)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
        return entry

    def errors(self, schema: Any, entry: CachedDocument, rules: Rules) -> list[GraphQLError]:
        """The validation errors of a document for `schema` under `rules`, validated once."""
        key = (schema, rules)
        found = entry.errors.get(key)
        if found is None:
            self.validations += 1
            found = validate_document(schema, entry.document, rules)
            entry.errors[key] = found
        return found

    def extension(self) -> Callable[[], SchemaExtension]:
        """A schema extension factory serving this cache (one extension per request)."""
        return lambda: CachedDocuments(self)


class CachedDocuments(SchemaExtension):
    """Fills in the parsed document and its validation errors from a `DocumentCache`."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self.entry: CachedDocument | None = None

    def on_parse(self) -> None:  # type: ignore[override]
        context = self.execution_context
        if context.graphql_document is not None or not context.query:
            return
        try:
            self.entry = self.cache.get(context.query, context.parse_options)
        except GraphQLError:
            return  # Strawberry parses it again and answers the syntax error its own way
        context.graphql_document = self.entry.document

    def on_validate(self) -> None:  # type: ignore[override]
        context = self.execution_context
        entry = self.entry
        if entry is None or context.pre_execution_errors is not None:
            return
        if context.graphql_document is not entry.document:
            return  # another extension replaced the document: let Strawberry validate it
        rules = tuple(context.validation_rules)
        if rules:
            errors = self.cache.errors(context.schema._schema, entry, rules)
            context.pre_execution_errors = list(errors)
