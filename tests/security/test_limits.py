"""GraphQL limits: depth, aliases, tokens and batches, each at its limit and one past it
(R-SEC-3, softbrik/schema/limits.py). Unauthenticated queries that get past validation answer
`UNAUTHENTICATED` or null data: proof they ran; refused ones answer `QUERY_TOO_COMPLEX`."""

from typing import Any

import pytest
from graphql import GraphQLError, parse

from softbrik.schema.compose import build_schema
from softbrik.schema.documents import DocumentCache
from softbrik.schema.limits import QueryLimits
from softbrik.settings import Settings
from softbrik.testing import GraphQLClient

DEFAULTS = Settings()


def nested(depth: int) -> str:
    """A query `depth` fields deep: filestorage, folders in folders, then id."""
    inner = "id"
    for _ in range(depth - 2):
        inner = f"folders {{ {inner} }}"
    return f"{{ filestorage {{ {inner} }} }}"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"


def tokens(count: int) -> str:
    """A document of exactly `count` lexical tokens: operation Q0 and many more like it (not
    one long selection: graphql-core's overlapping-fields rule gives up on ~800 equal fields)."""
    others = (count - 5) // 5
    repeats = count - 5 * others - 4
    first = "query Q0 { " + "__typename " * repeats + "}"
    document = " ".join([first, *(f"query Q{i} {{ __typename }}" for i in range(1, others + 1))])
    assert parse(document).token_count == count
    return document


async def run_q0(http, document: str) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": document, "operationName": "Q0"})
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_the_defaults_are_sane():
    assert (DEFAULTS.max_query_depth, DEFAULTS.max_aliases, DEFAULTS.max_tokens) == (12, 30, 2000)
    assert DEFAULTS.max_batch_operations == 0


async def test_depth_at_the_limit_runs_and_one_more_is_refused(gql: GraphQLClient):
    limit = DEFAULTS.max_query_depth
    assert codes(await gql.execute(nested(limit))) == ["UNAUTHENTICATED"]
    error = await gql.error(nested(limit + 1))
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_query_depth",
        "allowed": limit,
        "found": limit + 1,
    }
    assert f"at most {limit}" in error["message"]


async def test_fragments_do_not_hide_depth(gql: GraphQLClient):
    limit = DEFAULTS.max_query_depth
    # The same depth as nested(limit + 1), split over three fragments and an inline fragment.
    inner = "id"
    for _ in range(limit - 4):
        inner = f"folders {{ {inner} }}"
    query = f"""
      {{ filestorage {{ ...Top }} }}
      fragment Top on FilestorageQuery {{ folders {{ ...Middle }} }}
      fragment Middle on Folder {{ folders {{ ... on Folder {{ folders {{ ...Bottom }} }} }} }}
      fragment Bottom on Folder {{ {inner} }}
    """
    error = await gql.error(query)
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["found"] == limit + 1


async def test_aliases_at_the_limit_run_and_one_more_is_refused(gql: GraphQLClient):
    limit = DEFAULTS.max_aliases
    body = await gql.execute(aliased(limit))
    assert body == {"data": {f"a{i}": None for i in range(limit)}}
    error = await gql.error(aliased(limit + 1))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "max_aliases"
    assert error["extensions"]["found"] == limit + 1


async def test_a_fragment_counts_its_aliases_at_every_spread(gql: GraphQLClient):
    ten = " ".join(f"b{i}: id" for i in range(10))
    spread = "{ me { %s } } fragment Ten on User { " + ten + " }"
    assert not codes(await gql.execute(spread % "...Ten ...Ten ...Ten"))  # 30
    error = await gql.error(spread % "...Ten ...Ten ...Ten ...Ten")  # 40
    assert error["extensions"]["found"] == 40


async def test_a_fragment_bomb_is_counted_without_expanding_it(gql: GraphQLClient):
    """Each fragment spreads the one below twice: 2^40 aliases in a few hundred tokens. The
    count is memoized per fragment, so refusing it is quick (a naive walk would never end)."""
    levels = 40
    fragments = ["fragment F0 on User { a: id }"]
    for level in range(1, levels + 1):
        below = f"...F{level - 1}"
        fragments.append(f"fragment F{level} on User {{ {below} {below} }}")
    error = await gql.error(f"{{ me {{ ...F{levels} }} }} " + " ".join(fragments))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["found"] == 2**levels


async def test_fragment_cycles_and_unknown_fragments_are_bad_input_not_crashes(gql):
    cycle = "{ me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    assert set(codes(await gql.execute(cycle))) == {"BAD_USER_INPUT"}
    unknown = await gql.error("{ me { ...Nowhere } }")
    assert unknown["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Nowhere" in unknown["message"]


async def test_tokens_at_the_limit_parse_and_one_more_is_refused(http):
    limit = DEFAULTS.max_tokens
    assert await run_q0(http, tokens(limit)) == {"data": {"__typename": "Query"}}
    error = (await run_q0(http, tokens(limit + 1)))["errors"][0]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "max_tokens",
        "allowed": limit,
    }
    assert f"more than {limit} tokens" in error["message"]


async def test_comments_count_against_the_token_limit(gql: GraphQLClient):
    limit = DEFAULTS.max_tokens
    assert await gql.execute("#\n" * limit + "{ me { id } }") == {"data": {"me": None}}
    error = await gql.error("#\n" * (limit + 1) + "{ me { id } }")
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert "comments" in error["message"]


async def test_a_cached_document_is_still_held_to_the_limits(gql: GraphQLClient, softbrik_app):
    cache: DocumentCache = softbrik_app.state.schema._softbrik_documents
    query = nested(DEFAULTS.max_query_depth + 1).replace("filestorage", "probe: filestorage")
    validations = cache.validations
    for _ in range(3):
        assert (await gql.error(query))["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert cache.validations == validations + 1  # validated once, refused every time
    too_long = "{ me { id } } " + "#\n" * (DEFAULTS.max_tokens + 1)
    for _ in range(2):
        assert (await gql.error(too_long))["extensions"]["code"] == "QUERY_TOO_COMPLEX"


async def test_limits_of_another_schema_apply_to_a_document_the_cache_holds(softbrik_briks):
    """One cache, two schemas with different limits: each answers by its own limits."""
    shared = DocumentCache()
    loose = build_schema(softbrik_briks, [QueryLimits(20, 100, 5000).extension()], documents=shared)
    tight = build_schema(softbrik_briks, [QueryLimits(3, 1, 6).extension()], documents=shared)
    query = "{ a: __typename b: __typename }"
    assert (await loose.execute(query)).data == {"a": "Query", "b": "Query"}
    refused = (await tight.execute(query)).errors or []
    assert [e.extensions["code"] for e in refused if e.extensions] == ["QUERY_TOO_COMPLEX"]
    seven_tokens = "{ __typename __typename __typename __typename __typename }"
    assert (await loose.execute(seven_tokens)).errors is None
    too_long = (await tight.execute(seven_tokens)).errors
    assert too_long and isinstance(too_long[0], GraphQLError)
    assert (too_long[0].extensions or {})["limit"] == "max_tokens"


@pytest.mark.parametrize("limit", [3, 5])
async def test_limits_come_from_the_settings(app_with, limit: int):
    async with app_with(max_query_depth=limit, max_aliases=limit) as client:
        gql = GraphQLClient(client)
        assert codes(await gql.execute(nested(limit))) == ["UNAUTHENTICATED"]
        assert codes(await gql.execute(nested(limit + 1))) == ["QUERY_TOO_COMPLEX"]
        assert await gql.execute(aliased(limit)) == {"data": {f"a{i}": None for i in range(limit)}}
        assert codes(await gql.execute(aliased(limit + 1))) == ["QUERY_TOO_COMPLEX"]


async def test_a_subscription_is_held_to_the_limits(subscriptions, team_factory):
    from softbrik.testing import SubscriptionEnded

    team = await team_factory.sign_up()
    limit = DEFAULTS.max_aliases
    fields = " ".join(f"a{i}: type" for i in range(limit + 1))
    async with subscriptions(team.admin.token) as conn:
        sub = await conn.subscribe(f"subscription {{ billingEvents {{ {fields} }} }}")
        with pytest.raises(SubscriptionEnded) as ended:
            await sub.next()
    assert ended.value.codes == ["QUERY_TOO_COMPLEX"]


BATCH = [{"query": "{ me { id } }"}, {"query": "{ briks { key } }"}]


async def test_batching_is_off_by_default(http):
    response = await http.post("/graphql", json=BATCH)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "Batching is off" in error["message"]


async def test_a_batch_at_the_cap_runs_and_one_more_is_refused(app_with):
    async with app_with(max_batch_operations=2) as client:
        response = await client.post("/graphql", json=BATCH)
        assert response.status_code == 200
        first, second = response.json()
        assert first == {"data": {"me": None}}
        assert second["data"]["briks"]
        refused = await client.post("/graphql", json=[*BATCH, BATCH[0]])
        assert refused.status_code == 400
        error = refused.json()["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "2 operations" in error["message"]


def repeated(times: int, via_fragment: bool = False) -> str:
    """`times` equal fields in one selection set, directly or half of them through fragments."""
    if not via_fragment:
        return "{ me { " + "id " * times + "} }"
    direct, spread = times - times // 2, times // 2
    fragments = " ".join(f"fragment F{i} on User {{ id }}" for i in range(spread))
    spreads = " ".join(f"...F{i}" for i in range(spread))
    return f"{{ me {{ {'id ' * direct}{spreads} }} }} {fragments}"


@pytest.mark.parametrize("via_fragment", [False, True])
async def test_repeats_at_the_limit_run_and_one_more_is_refused(gql: GraphQLClient, via_fragment):
    limit = DEFAULTS.max_field_repeats
    assert (await gql.execute(repeated(limit, via_fragment))) == {"data": {"me": None}}
    error = await gql.error(repeated(limit + 1, via_fragment))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == "max_field_repeats"
    assert (error["extensions"]["allowed"], error["extensions"]["found"]) == (limit, limit + 1)
    assert "'id'" in error["message"]


async def test_many_repeats_are_refused_before_validation_gives_up(gql: GraphQLClient):
    """Within the token limit, 900 equal fields made graphql-core's overlapping-fields rule
    work for a quarter of a second and then answer "Validation aborted"; now the count stops it
    first."""
    error = await gql.error(repeated(900))
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["found"] == 900


async def test_one_fragment_spread_twice_counts_once_like_graphql_core(gql: GraphQLClient):
    document = "{ me { ...F ...F " + "id " * (DEFAULTS.max_field_repeats - 1) + "} }"
    document += " fragment F on User { id }"
    assert (await gql.execute(document)) == {"data": {"me": None}}
