"""The ASGI app: health, readiness, request ids, error masking, GraphiQL, migrations."""

import strawberry

from softbrik.core import db
from softbrik.schema.compose import CORE_QUERIES


async def test_healthz_and_readyz(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "up"


async def test_every_response_carries_a_request_id(http):
    first = await http.get("/healthz")
    second = await http.get("/healthz")
    assert len(first.headers["x-request-id"]) == 16
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@strawberry.type
class Explodes:
    @strawberry.field
    def explode(self) -> str:
        raise RuntimeError("secret internals: password=hunter2")


async def test_unexpected_errors_are_masked_with_the_request_id(http, caplog):
    CORE_QUERIES.append(Explodes)
    try:
        from softbrik.app import create_app

        app = create_app(
            http._transport.app.state.rt.settings,
            briks=http._transport.app.state.rt.briks,
            manage_db=False,
        )
    finally:
        CORE_QUERIES.remove(Explodes)
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post("/graphql", json={"query": "{ explode }"})
    error = response.json()["errors"][0]
    request_id = response.headers["x-request-id"]
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    assert "hunter2" not in response.text
    assert request_id in error["message"]
    logged = [r for r in caplog.records if r.name == "softbrik.errors"]
    assert logged and logged[0].request_id == request_id


async def test_syntax_and_validation_errors_are_bad_user_input(gql):
    assert (await gql.error("{ me { "))["extensions"]["code"] == "BAD_USER_INPUT"
    assert (await gql.error("{ nosuchfield }"))["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphiql_is_served_to_browsers(http):
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


async def test_get_serves_queries(http):
    response = await http.get("/graphql", params={"query": "{ me { id } }"})
    assert response.json() == {"data": {"me": None}}


async def test_models_agree_with_the_committed_migrations(softbrik_briks, tmp_path, softbrik_db):
    apps = [*db.CORE_APPS, *softbrik_briks.db_apps()]
    url = f"sqlite://{tmp_path / 'check.sqlite3'}"
    try:
        assert await db.pending_model_changes(url, apps) == []
    finally:
        # Give the test session its own database back.
        await db.init_db(softbrik_db.url, apps)
