"""The HTTP and WebSocket guard in front of the app: client address, CSRF check on uploads, and
secure headers on every response (R-SEC-1, R-SEC-3).

- **Client address.** Worked out once per connection (softbrik/web/addresses.py) and kept in
  the scope; `client_address(request)` reads it.
- **CSRF.** `/graphql` takes JSON, which a browser only sends cross-site after a CORS preflight
  the server never grants. Multipart uploads (the GraphQL multipart request spec) are a
  "simple" request a foreign page's form can send without asking, so a POST to `/graphql` with
  a form, multipart or text body must carry `X-Softbrik-CSRF` (any value) or
  `Apollo-Require-Preflight`, headers a page can only set after a preflight. Without one it
  is refused with 403 `FORBIDDEN` before the body is read.
- **Headers.** HSTS (`SOFTBRIK_HSTS_SECONDS`), `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` with CSP `frame-ancestors 'none'`, and
  `Cache-Control: no-store` unless a route set its own caching. A route's own value wins.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from softbrik.settings import Settings
from softbrik.web.addresses import TrustedProxies

CLIENT_ADDRESS = "softbrik.client_address"
CSRF_HEADERS = ("x-softbrik-csrf", "apollo-require-preflight")
SIMPLE_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")


def client_address(connection: HTTPConnection) -> str:
    """The address of the client of a request or WebSocket: the peer's, or behind trusted
    proxies the one they forwarded (`SOFTBRIK_TRUSTED_PROXIES`)."""
    found = connection.scope.get(CLIENT_ADDRESS)
    if found is not None:
        return str(found)
    return connection.client.host if connection.client else ""


def refusal(status: int, code: str, message: str, **extensions: Any) -> Response:
    """A refused HTTP request, answered in GraphQL's error shape."""
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status)


def secure_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", b"frame-ancestors 'none'"),
        (b"cache-control", b"no-store"),
    ]
    if settings.hsts_seconds > 0:
        hsts = f"max-age={settings.hsts_seconds}; includeSubDomains"
        headers.insert(0, (b"strict-transport-security", hsts.encode()))
    return headers


def needs_csrf_header(scope: Scope, headers: Headers) -> bool:
    if scope["method"] != "POST" or scope["path"] != "/graphql":
        return False
    content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
    if content_type and content_type not in SIMPLE_CONTENT_TYPES:
        return False  # a browser sends it cross-site only after a preflight
    return not any(headers.get(name) for name in CSRF_HEADERS)


class WebGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.proxies = TrustedProxies(settings.trusted_proxies)
        self.headers = secure_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else ""
        scope[CLIENT_ADDRESS] = self.proxies.client(peer, headers)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                sent = list(message.get("headers", []))
                present = {name.lower() for name, _ in sent}
                if b"cache-control" in present or b"expires" in present:
                    present.add(b"cache-control")
                sent.extend(h for h in self.headers if h[0] not in present)
                message = {**message, "headers": sent}
            await send(message)

        if needs_csrf_header(scope, headers):
            response = refusal(
                403,
                "FORBIDDEN",
                "Uploads and form posts to /graphql need the X-Softbrik-CSRF header"
                " (any value), so that other sites cannot post them for a signed-in user.",
            )
            await response(scope, receive, send_secured)
            return
        await self.app(scope, receive, send_secured)
