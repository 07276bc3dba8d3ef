"""`SOFTBRIK_ENV=production`: no introspection, no GraphiQL, no GET, no schema hints; and
unexpected errors never show internals, in any environment (R-SEC-3)."""

from typing import Any

import httpx
import pytest
import strawberry
from tortoise.exceptions import OperationalError

from softbrik.app import create_app
from softbrik.schema.compose import CORE_QUERIES
from softbrik.testing import GraphQLClient

INTROSPECTION = [
    "{ __schema { types { name } } }",
    '{ __type(name: "User") { fields { name } } }',
    "{ me { id } __schema { queryType { name } } }",
]


@pytest.mark.parametrize("query", INTROSPECTION)
async def test_production_refuses_introspection(app_with, query: str):
    async with app_with(env="production") as client:
        error = await GraphQLClient(client).error(query)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["message"] == "Introspection is turned off on this server."


async def test_production_still_answers_typename(app_with):
    async with app_with(env="production") as client:
        assert await GraphQLClient(client).ok("{ __typename }") == {"__typename": "Query"}


async def test_introspection_works_outside_production(gql: GraphQLClient):
    data = await gql.ok('{ __type(name: "User") { name } }')
    assert data == {"__type": {"name": "User"}}


async def test_production_serves_no_graphiql_and_no_get(app_with):
    async with app_with(env="production") as client:
        page = await client.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 405
        assert "graphiql" not in page.text.lower()
        query = await client.get("/graphql", params={"query": "{ __typename }"})
        assert query.status_code == 405
        error = query.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "POST" in error["message"]
        posted = await client.post("/graphql", json={"query": "{ __typename }"})
        assert posted.json() == {"data": {"__typename": "Query"}}


async def test_get_never_runs_a_mutation(http):
    response = await http.get(
        "/graphql", params={"query": 'mutation { resendInvoice(invoiceId: "x", email: "a@b.c") }'}
    )
    assert response.status_code in (400, 405)
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_production_gives_no_did_you_mean_hints(app_with, gql: GraphQLClient):
    hinted = await gql.error("{ mee { id } }")
    assert "Did you mean" in hinted["message"]  # development and test help the developer
    async with app_with(env="production") as client:
        error = await GraphQLClient(client).error("{ mee { id } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "mee" in error["message"]
    assert "Did you mean" not in error["message"]
    assert '"me"' not in error["message"]


@strawberry.type
class Leaky:
    @strawberry.field
    def leak(self) -> str:
        raise OperationalError(
            'no such column: secret_column in SELECT "secret_column" FROM "billing_invoice"'
        )


@pytest.mark.parametrize("env", ["development", "test", "production"])
async def test_unexpected_errors_show_no_internals_in_any_env(
    softbrik_app: Any, http: httpx.AsyncClient, env: str
):
    CORE_QUERIES.append(Leaky)
    try:
        settings = softbrik_app.state.rt.settings.model_copy(update={"env": env})
        app = create_app(settings, briks=softbrik_app.state.rt.briks, manage_db=False)
    finally:
        CORE_QUERIES.remove(Leaky)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post("/graphql", json={"query": "{ leak }"})
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": response.headers["x-request-id"],
    }
    for internal in ("secret_column", "SELECT", "billing_invoice", "OperationalError", "Traceback"):
        assert internal not in response.text


async def test_a_failure_outside_graphql_answers_a_bare_500(
    softbrik_app: Any, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
):
    """A failure before GraphQL runs (here the sign-in's database lookup, made to fail) is
    Starlette's plain 500, without the exception or a traceback."""
    from softbrik.schema.context import Context

    async def sign_in_fails(self: Context, token: str | None) -> None:
        raise OperationalError('relation "softbrik_session" does not exist')

    monkeypatch.setattr(Context, "sign_in", sign_in_fails)
    settings = softbrik_app.state.rt.settings.model_copy(update={"env": "production"})
    app = create_app(settings, briks=softbrik_app.state.rt.briks, manage_db=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"Authorization": "Bearer x"}
        )
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_subscriptions_over_plain_http_are_refused(http, team_factory, method: str):
    """Subscriptions run over the WebSocket only; over HTTP they are the caller's mistake (they
    used to fail as internal errors)."""
    team = await team_factory.sign_up()
    query = "subscription { billingEvents { type } }"
    auth = {"Authorization": f"Bearer {team.admin.token}"}
    if method == "GET":
        response = await http.get("/graphql", params={"query": query}, headers=auth)
    else:
        response = await http.post("/graphql", json={"query": query}, headers=auth)
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "WebSocket" in error["message"]
