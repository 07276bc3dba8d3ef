"""The web edge (softbrik/web/): secure headers on every response, CSRF on uploads, client
addresses behind trusted proxies, and the WebSocket origin check (R-SEC-1, R-SEC-3)."""

import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from softbrik.testing import GraphQLClient, Subscriptions, settings_for_tests
from softbrik.web import WebGuard, client_address

SECURE = {
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
}


def secured(response: httpx.Response) -> None:
    for name, value in SECURE.items():
        assert response.headers.get(name) == value, (name, response.url)


async def test_every_response_carries_the_secure_headers(http: httpx.AsyncClient):
    responses = [
        await http.get("/healthz"),
        await http.post("/graphql", json={"query": "{ me { id } }"}),
        await http.post("/graphql", json={"query": "{ me { "}),
        await http.post("/graphql", content=b"not json", headers={"content-type": "text/csv"}),
        await http.get("/invoices/nothing.pdf"),
        await http.get("/no/such/route"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 401, 404]
    for response in responses:
        secured(response)
    graphql = responses[1]
    assert graphql.headers["cache-control"] == "no-store"


async def test_hsts_can_be_turned_off(app_with):
    async with app_with(hsts_seconds=0) as client:
        response = await client.get("/healthz")
    assert "strict-transport-security" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


def guarded(handler: Any, tmp_path: Any, **overrides: Any) -> httpx.AsyncClient:
    settings = settings_for_tests(tmp_path, **overrides)
    app = WebGuard(Starlette(routes=[Route("/{path:path}", handler)]), settings)
    transport = httpx.ASGITransport(app=app, client=("10.0.0.5", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://softbrik.test")


async def test_a_routes_own_headers_win(tmp_path):
    async def cached(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            "public", headers={"cache-control": "max-age=60", "x-frame-options": "SAMEORIGIN"}
        )

    async with guarded(cached, tmp_path) as client:
        response = await client.get("/logo.png")
    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert response.headers["referrer-policy"] == "no-referrer"


# --- CSRF ------------------------------------------------------------------------------------

UPLOAD = "mutation($file: Upload!) { filestorageUpload(file: $file) { id name } }"


def upload_form(name: str = "a.txt") -> dict[str, Any]:
    return {
        "data": {
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        "files": {"0": (name, b"hello", "text/plain")},
    }


async def drive_names(gql: GraphQLClient, token: str) -> list[str]:
    data = await gql.ok("{ filestorage { files { name } } }", token=token)
    return [f["name"] for f in data["filestorage"]["files"]]


async def test_a_cross_site_upload_is_refused(http, gql: GraphQLClient, team_factory):
    """What a foreign page's form can send (multipart with the user's credentials, no custom
    header) is refused before it runs; the same upload with the header goes through."""
    team = await team_factory.sign_up(["filestorage"])
    auth = {"Authorization": f"Bearer {team.admin.token}"}
    refused = await http.post("/graphql", headers=auth, **upload_form("forged.txt"))
    assert refused.status_code == 403
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "X-Softbrik-CSRF" in error["message"]
    secured(refused)
    assert await drive_names(gql, team.admin.token) == []
    for header in ("X-Softbrik-CSRF", "Apollo-Require-Preflight"):
        sent = await http.post(
            "/graphql", headers={**auth, header: "1"}, **upload_form(f"{header}.txt")
        )
        assert sent.json()["data"]["filestorageUpload"]["name"] == f"{header}.txt"
    assert sorted(await drive_names(gql, team.admin.token)) == [
        "Apollo-Require-Preflight.txt",
        "X-Softbrik-CSRF.txt",
    ]


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data", ""]
)
async def test_every_simple_content_type_needs_the_header(http, content_type: str):
    body = json.dumps({"query": "mutation { logOut }"}).encode()
    headers = {"content-type": content_type} if content_type else {}
    response = await http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 403
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_json_needs_no_header(http):
    """A browser sends JSON cross-site only after a preflight, which the server never grants."""
    response = await http.post("/graphql", json={"query": "{ me { id } }"})
    assert response.json() == {"data": {"me": None}}


# --- client addresses -------------------------------------------------------------------------


async def echo_address(request: Request) -> PlainTextResponse:
    return PlainTextResponse(client_address(request))


PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
FORWARDED = [
    ({}, "10.0.0.5"),
    ({"x-forwarded-for": "198.51.100.7"}, "198.51.100.7"),
    ({"x-forwarded-for": "1.2.3.4, 198.51.100.7, 10.0.0.9"}, "198.51.100.7"),
    ({"x-forwarded-for": "10.0.0.8, 10.0.0.9"}, "10.0.0.8"),
    ({"x-forwarded-for": "garbage"}, "10.0.0.5"),
    ({"forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https, for=198.51.100.7'}, "198.51.100.7"),
    ({"forwarded": 'for="[2001:db8:cafe::17]:4711"'}, "2001:db8:cafe::17"),
    ({"forwarded": "for=192.0.2.60:8080;by=10.0.0.1"}, "192.0.2.60"),
    ({"forwarded": "for=192.0.2.60", "x-forwarded-for": "203.0.113.1"}, "192.0.2.60"),
]


@pytest.mark.parametrize(("headers", "expected"), FORWARDED)
async def test_forwarding_headers_count_behind_trusted_proxies(tmp_path, headers, expected):
    async with guarded(echo_address, tmp_path, trusted_proxies=PROXIES) as client:
        assert (await client.get("/", headers=headers)).text == expected


async def test_forwarding_headers_are_ignored_from_anyone_else(tmp_path):
    headers = {"x-forwarded-for": "198.51.100.7", "forwarded": "for=198.51.100.8"}
    async with guarded(echo_address, tmp_path) as client:  # no trusted proxies
        assert (await client.get("/", headers=headers)).text == "10.0.0.5"
    async with guarded(echo_address, tmp_path, trusted_proxies=["192.168.0.0/16"]) as client:
        assert (await client.get("/", headers=headers)).text == "10.0.0.5"


async def test_the_graphql_context_has_the_forwarded_address(app_with, team_factory):
    """The per-address sign-in limit counts the client behind the proxy, not the proxy."""
    async with app_with(trusted_proxies=["203.0.113.0/24"], login_attempts_per_address=2) as c:

        async def sign_in(address: str) -> str:
            response = await c.post(
                "/graphql",
                json={
                    "query": 'mutation($e: String!) { logIn(email: $e, password: "no") { token } }',
                    "variables": {"e": f"x{address}@example.com"},
                },
                headers={"x-forwarded-for": address},
            )
            code: str = response.json()["errors"][0]["extensions"]["code"]
            return code

        first = [await sign_in("198.51.100.1") for _ in range(3)]
        other = await sign_in("198.51.100.2")
    assert first[-1] == "RATE_LIMITED"
    assert other != "RATE_LIMITED"


def test_a_bad_trusted_proxy_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match="not-a-network"):
        settings_for_tests(tmp_path, trusted_proxies=["not-a-network"])


# --- WebSocket origin -------------------------------------------------------------------------


async def ws_connect(app: Any, token: str, origin: str | None) -> None:
    from httpx_ws.transport import ASGIWebSocketTransport

    headers = {"origin": origin} if origin else {}
    transport = ASGIWebSocketTransport(app=app, client=("203.0.113.8", 50001))
    try:
        async with (
            httpx.AsyncClient(
                transport=transport, base_url="http://softbrik.test", headers=headers
            ) as client,
            Subscriptions.connect(client, "/graphql", token) as conn,
        ):
            await conn.ping()
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None


async def ws_refused(app: Any, token: str, origin: str) -> None:
    """The handshake is closed before it is accepted (1008 here in-process; a real server
    answers the upgrade with 403, see test_tls.py)."""
    from httpx_ws import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        await ws_connect(app, token, origin)
    assert refused.value.code == 1008


async def test_websockets_from_foreign_pages_are_refused(app_with, team_factory):
    team = await team_factory.sign_up()
    async with app_with(allowed_origins=["https://app.example.com"]) as client:
        app = client._transport.app  # type: ignore[attr-defined]
        await ws_connect(app, team.admin.token, "https://app.example.com")
        await ws_connect(app, team.admin.token, "http://softbrik.test")  # the server's own
        await ws_connect(app, team.admin.token, None)  # not a browser: no ambient credentials
        for foreign in ("https://evil.example", "https://app.example.com.evil.example", "null"):
            await ws_refused(app, team.admin.token, foreign)


async def test_without_allowed_origins_only_the_servers_own_pages_connect(
    softbrik_app, http, team_factory
):
    team = await team_factory.sign_up()
    await ws_connect(softbrik_app, team.admin.token, "http://softbrik.test")
    await ws_refused(softbrik_app, team.admin.token, "https://app.example.com")
