"""The lean execution of plain data fields answers exactly as graphql-core's own."""

from datetime import date
from enum import Enum

import pytest
import strawberry

from softbrik.schema.execution import LeanExecutionContext


@strawberry.enum
class Colour(Enum):
    RED = "RED"


@strawberry.type
class Thing:
    name: str
    colour: Colour
    on: date
    note: str | None
    broken: str

    @strawberry.field
    def shout(self, loud: bool = True) -> str:
        return self.name.upper() if loud else self.name


class Row:
    """What a resolver may hand over: attributes, one missing, one that fails."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.colour = Colour.RED
        self.on = date(2026, 1, 31)
        self.note = None

    @property
    def broken(self) -> str:
        raise ValueError("the row is broken")


@strawberry.type
class Query:
    @strawberry.field
    def things(self) -> list[Thing]:
        return [Row("a"), Row(None)]  # type: ignore[list-item]

    @strawberry.field
    def thing(self) -> Thing | None:
        return Row("b")  # type: ignore[return-value]


def schema(lean: bool) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, execution_context_class=LeanExecutionContext if lean else None
    )


QUERIES = [
    "{ thing { name colour on note shout(loud: false) __typename } }",
    "{ thing { broken } }",
    "{ things { name } }",
    "{ things { note colour } }",
    "{ thing { ... on Thing { n: name @include(if: false) on } } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_answers_and_errors_are_graphql_cores(query):
    lean = await schema(True).execute(query)
    standard = await schema(False).execute(query)
    assert lean.data == standard.data
    assert [(e.message, e.path) for e in lean.errors or []] == [
        (e.message, e.path) for e in standard.errors or []
    ]


async def test_a_null_in_a_non_null_field_is_an_error_on_the_field():
    result = await schema(True).execute("{ things { name } }")
    assert result.data is None
    assert [e.path for e in result.errors or []] == [["things", 1, "name"]]
    assert "Cannot return null for non-nullable field Thing.name." in result.errors[0].message


async def test_values_are_serialized_by_their_types():
    result = await schema(True).execute("{ thing { colour on note } }")
    assert result.data == {"thing": {"colour": "RED", "on": "2026-01-31", "note": None}}


class Counting(LeanExecutionContext):
    infos = 0

    def build_resolve_info(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        Counting.infos += 1
        return super().build_resolve_info(*args, **kwargs)


async def test_plain_scalar_fields_are_read_without_a_resolve_info():
    counting = strawberry.Schema(query=Query, execution_context_class=Counting)
    Counting.infos = 0
    result = await counting.execute("{ things { colour on note } thing { name shout } }")
    assert result.errors is None
    # `things`, `thing` and `shout` (a resolver of its own); not the six plain fields.
    assert Counting.infos == 3
