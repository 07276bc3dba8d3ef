"""The cache of parsed and validated documents (softbrik/schema/documents.py)."""

from typing import Any

from graphql import GraphQLError
from graphql.validation import ValidationRule
from strawberry.extensions import SchemaExtension

from softbrik.briks import load_briks
from softbrik.schema.compose import build_schema
from softbrik.schema.documents import DocumentCache
from softbrik.testing import settings_for_tests


def documents(app: Any) -> DocumentCache:
    return app.state.schema._softbrik_documents


async def test_a_repeated_query_is_parsed_and_validated_once(gql, softbrik_app):
    cache = documents(softbrik_app)
    query = "{ probeOnce: briks { key name } }"
    parses, validations = cache.parses, cache.validations
    answers = [await gql.ok(query) for _ in range(3)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["probeOnce"] == [{"key": k, "name": n} for k, n in _catalog(softbrik_app)]
    assert (cache.parses, cache.validations) == (parses + 1, validations + 1)
    assert query in cache.entries


async def test_an_invalid_document_keeps_answering_its_error(gql, softbrik_app):
    cache = documents(softbrik_app)
    validations = cache.validations
    first = await gql.error("{ probeInvalid: nosuchfield }")
    second = await gql.error("{ probeInvalid: nosuchfield }")
    assert first["extensions"]["code"] == second["extensions"]["code"] == "BAD_USER_INPUT"
    assert first["message"] == second["message"]
    assert "nosuchfield" in first["message"]
    assert cache.validations == validations + 1


async def test_a_syntax_error_is_answered_every_time_and_not_kept(gql, softbrik_app):
    cache = documents(softbrik_app)
    for _ in range(2):
        error = await gql.error("{ probeSyntax: me { ")
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "Syntax Error" in error["message"]
    assert "{ probeSyntax: me { " not in cache.entries


async def test_an_unexpected_error_is_still_masked_with_a_warm_cache(gql, softbrik_app):
    query = "{ probeMasked: node(id: 1) { id } }"
    for _ in range(2):
        error = await gql.error(query)
        assert error["extensions"]["code"] in {"UNAUTHENTICATED", "NOT_FOUND"}
        assert "requestId" in error["extensions"]


def test_the_cache_keeps_the_most_recently_used_documents():
    cache = DocumentCache(size=2)
    cache.get("{ a }", {})
    cache.get("{ b }", {})
    cache.get("{ a }", {})
    cache.get("{ c }", {})
    assert list(cache.entries) == ["{ a }", "{ c }"]
    assert len(cache) == 2
    assert cache.parses == 3


class NoOperations(ValidationRule):
    def enter_operation_definition(self, node: Any, *args: Any) -> None:
        self.report_error(GraphQLError("Operations are closed.", node))


class CloseOperations(SchemaExtension):
    """Adds a validation rule the way depth and alias limits do."""

    def on_operation(self):  # type: ignore[no-untyped-def]
        context = self.execution_context
        context.validation_rules = (*context.validation_rules, NoOperations)
        yield


def _catalog(app: Any) -> list[tuple[str, str]]:
    return [(b.key, b.manifest.name) for b in app.state.rt.briks]


async def test_each_schema_and_set_of_rules_validates_on_its_own(tmp_path, softbrik_briks):
    shared = DocumentCache()
    bare = load_briks(settings_for_tests(tmp_path, briks=[]))
    plain = build_schema(bare, documents=shared)
    closed = build_schema(bare, extensions=[CloseOperations], documents=shared)
    with_notes = build_schema(softbrik_briks, documents=shared)

    assert (await plain.execute("{ __typename }")).errors is None
    closed_result = await closed.execute("{ __typename }")
    assert [e.message for e in closed_result.errors or []] == ["Operations are closed."]
    assert (await plain.execute("{ __typename }")).errors is None

    # Not a field without the Brik; with it, valid (and refused at execution: no user).
    invalid = (await plain.execute("{ notes { __typename } }")).errors or []
    assert [e.path for e in invalid] == [None]
    valid = (await with_notes.execute("{ notes { __typename } }")).errors or []
    assert [e.path for e in valid] == [["notes"]]
    assert shared.parses == 2
    assert shared.validations == 4
