"""The ASGI application: /graphql (HTTP and WebSocket), /healthz, /readyz, /metrics, Brik routes."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types.execution import ExecutionResult
from tortoise import Tortoise

from softbrik.briks import BrikLoadError, BrikRegistry, load_briks
from softbrik.core import db
from softbrik.core.clock import Clock, SystemClock, TestClock
from softbrik.core.metrics import CONTENT_TYPE, Metrics
from softbrik.core.runtime import Runtime
from softbrik.core.tenancy import enter_team, no_tenant, platform_job
from softbrik.logs import request_id_var
from softbrik.schema.compose import build_schema
from softbrik.schema.context import Context
from softbrik.schema.errors import coded
from softbrik.schema.limits import TOO_COMPLEX, QueryLimits
from softbrik.schema.security import actor_of
from softbrik.settings import Settings
from softbrik.web import WebGuard, client_address, refusal

log = logging.getLogger("softbrik.app")
REQUEST_ID_HEADER = "x-request-id"


def make_clock(settings: Settings) -> Clock:
    if settings.test_clock:
        return TestClock(settings.test_clock_start)
    return SystemClock()


def make_runtime(settings: Settings, briks: BrikRegistry, clock: Clock | None = None) -> Runtime:
    from softbrik.core.blobs import blob_store_from_settings
    from softbrik.core.crypto import Vault, provider_from_settings
    from softbrik.core.events.bus import EventBus
    from softbrik.core.mail import mailer_from_settings
    from softbrik.core.payments import gateway_from_settings
    from softbrik.core.platform import CorePlatform
    from softbrik.core.security.audit import AuditLog

    clock = clock or make_clock(settings)
    rt = Runtime(
        settings=settings,
        clock=clock,
        briks=briks,
        mailer=mailer_from_settings(settings, clock),
        gateway=gateway_from_settings(settings, support_email=settings.support_email),
        vault=Vault(provider_from_settings(settings), clock=clock),
        blobs=blob_store_from_settings(settings),
    )
    rt.extras["platform"] = CorePlatform(rt)
    rt.events = EventBus(rt)
    rt.audit = AuditLog(rt)
    return rt


async def run_brik_hooks(briks: BrikRegistry, hook: str, **kwargs: Any) -> None:
    """Call a lifecycle hook of every Brik in turn; a failure names the Brik that failed."""
    for brik in briks:
        try:
            result = briks.call_one(brik, hook, **kwargs)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            raise BrikLoadError(brik.key, f"{hook}() failed: {exc!r}") from exc


def start_jobs(rt: Runtime) -> list[asyncio.Task[None]]:
    """The server's periodic work, as lifespan tasks (the CLI runs the same functions)."""
    from softbrik.core.accounts.seats import end_due_seats
    from softbrik.core.billing.job import billing_job
    from softbrik.core.events.jobs import prune_events
    from softbrik.core.jobs import run_every
    from softbrik.core.security.audit import prune as prune_audit
    from softbrik.core.security.findings import scan

    every = rt.settings.due_work_interval_seconds
    tasks = [
        asyncio.create_task(
            run_every("end_due_seats", end_due_seats, rt, every), name="softbrik:job:seats"
        ),
        asyncio.create_task(
            run_every("prune_events", prune_events, rt, every), name="softbrik:job:prune"
        ),
        asyncio.create_task(
            run_every("billing", billing_job, rt, every), name="softbrik:job:billing"
        ),
        asyncio.create_task(
            run_every("prune_audit", prune_audit, rt, every), name="softbrik:job:prune_audit"
        ),
    ]
    scan_every = rt.settings.security_scan_interval_seconds
    if scan_every > 0:  # R-SEC-3: the threat detectors
        tasks.append(
            asyncio.create_task(
                run_every("security_scan", scan, rt, scan_every), name="softbrik:job:scan"
            )
        )
    return tasks


async def stop_jobs(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


def metrics_allowed(settings: Settings, authorization: str | None) -> bool:
    """Whether a scrape may read /metrics: the token when one is set, else not in production."""
    if settings.metrics_token:
        given = bearer(authorization) or ""
        return hmac.compare_digest(given.encode(), settings.metrics_token.encode())
    return settings.env != "production"


def bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


_ENCODED = 256
_encoded_data: OrderedDict[int, tuple[Any, str]] = OrderedDict()


def _encoded(view: Any, data: Any) -> str:
    """`data` as JSON, encoded once however many subscribers it goes to (kept by identity, with
    the object itself, so the id is not reused while it is kept)."""
    found = _encoded_data.get(id(data))
    if found is not None and found[0] is data:
        return found[1]
    encoded = view.encode_json(data)
    text = encoded.decode() if isinstance(encoded, bytes) else encoded
    _encoded_data[id(data)] = (data, text)
    if len(_encoded_data) > _ENCODED:
        _encoded_data.popitem(last=False)
    return text


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with keep-alive: the server pings every `ws_ping_interval_seconds`
    once the connection is acknowledged (clients answer `pong`; proxies see traffic)."""

    ping_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: Any) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged and self.ping_task is None:
            self.ping_task = asyncio.create_task(self.ping())

    async def ping(self) -> None:
        interval = self.context.rt.settings.ws_ping_interval_seconds
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
        # Subscription results skip the ErrorCodes extension: code their errors here.
        async def coded_results() -> AsyncGenerator[Any, None]:
            async for result in result_source:
                if isinstance(result, ExecutionResult) and result.errors:
                    request_id = getattr(self.context, "request_id", None)
                    result.errors = [coded(error, request_id) for error in result.errors]
                yield result

        await super()._send_result_stream(operation, coded_results())

    async def send_message(self, message: Any) -> None:
        # A subscription result executed once for many subscribers (schema/execution.py) is
        # also serialized once: only the operation id differs between their messages.
        payload = message.get("payload") if message.get("type") == "next" else None
        ws = getattr(self.websocket, "ws", None)
        if ws is None or not isinstance(payload, dict) or payload.keys() != {"data"}:
            await super().send_message(message)
            return
        data = _encoded(self.view, payload["data"])
        text = f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{{"data":{data}}}}}'
        try:
            await ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def shutdown(self) -> None:
        if self.ping_task is not None:
            self.ping_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ping_task
        await super().shutdown()


HTTP_CODES = {403: "FORBIDDEN", 404: "NOT_FOUND"}


class Refused(HTTPException):
    """An HTTP-level refusal with its GraphQL error code."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(status, reason)
        self.code = code


class GraphQLView(GraphQL[Context, None]):
    """Strawberry's view, with the HTTP rules of R-SEC-3: batching off or capped
    (`SOFTBRIK_MAX_BATCH_OPERATIONS`), no GET at all in production, WebSocket handshakes only
    from the server's own or `SOFTBRIK_ALLOWED_ORIGINS` pages, and refusals in GraphQL's error
    shape with a code."""

    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(self, rt: Runtime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rt = rt
        self.production = rt.settings.env == "production"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        if self.production and request.method == "GET":
            response = refusal(
                405, "BAD_USER_INPUT", "GET is turned off on this server: POST the query as JSON."
            )
        else:
            try:
                response = await self.run(request)
            except HTTPException as exc:
                code = HTTP_CODES.get(exc.status_code, "BAD_USER_INPUT")
                if isinstance(exc, Refused):
                    code = exc.code
                response = refusal(exc.status_code, code, exc.reason)
        await response(scope, receive, send)

    def _validate_batch_request(self, request_data: list[Any], protocol: Any) -> None:
        most = self.rt.settings.max_batch_operations
        found = len(request_data)
        if most == 0:
            raise Refused(400, "BAD_USER_INPUT", "Batching is off: send one operation per request.")
        if found > most:
            raise Refused(
                400, TOO_COMPLEX, f"A batch may hold {most} operations; this one has {found}."
            )
        super()._validate_batch_request(request_data, protocol)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        context = Context(
            self.rt,
            request,
            response,
            request_id=request.scope.get("softbrik.request_id", ""),
            client_address=client_address(request),
        )
        if request.scope["type"] == "http":
            await context.sign_in(bearer(request.headers.get("authorization")))
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        token = bearer(str(params.get("authorization") or params.get("Authorization") or ""))
        await context.sign_in(token)
        if context.session is None:
            self.rt.audit.add(
                "connect",
                actor_of(context),
                context.client_address,
                codes=["UNAUTHENTICATED"],
                token=context.token_state,
            )
            raise ConnectionRejectionError({"message": "Sign in first.", "code": "UNAUTHENTICATED"})
        return None


class NoTenant:
    """Every request and WebSocket starts with no tenant: until sign-in has found the caller's
    team, the team tables show nothing under row-level security (softbrik/core/tenancy.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        with no_tenant():
            await self.app(scope, receive, send)


class BrikRoutes:
    """A Brik's HTTP routes. They check links the Brik signed or shared itself, before any team
    is known, so they run as platform work (README: a Brik cannot yet enter the team it found)."""

    def __init__(self, key: str, routes: list[Any]) -> None:
        self.key = key
        self.app = Router(routes=routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with platform_job(f"{self.key} routes: they check their own links"):
            await self.app(scope, receive, send)


class RequestIds:
    """Gives every request an id, echoed in `X-Request-Id` and in every log line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex[:16]
        scope["softbrik.request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http":
                seconds = time.perf_counter() - started
                method, path = scope.get("method", ""), scope.get("path", "")
                self.metrics.request(path, method, status, seconds)
                log.info(
                    "request",
                    extra={
                        "method": method,
                        "path": path,
                        "status": status,
                        "ms": round(seconds * 1000, 2),
                    },
                )
            request_id_var.reset(token)


def create_app(
    settings: Settings | None = None,
    *,
    briks: BrikRegistry | None = None,
    clock: Clock | None = None,
    manage_db: bool = True,
) -> Starlette:
    """Build the app. With `manage_db`, its lifespan connects (and migrates SQLite) itself."""
    settings = settings or Settings()
    briks = briks if briks is not None else load_briks(settings)
    rt = make_runtime(settings, briks, clock)
    batching = settings.max_batch_operations
    schema = build_schema(
        briks,
        extensions=[QueryLimits.from_settings(settings).extension()],
        config=StrawberryConfig(
            batching_config=BatchingConfig(max_operations=batching) if batching else None
        ),
    )
    production = settings.env == "production"
    view = GraphQLView(
        rt,
        schema=schema,
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=not production,
        keep_alive=True,
        keep_alive_interval=15,
        multipart_uploads_enabled=True,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        allowed_origins=settings.allowed_origins,
    )
    apps = [*db.CORE_APPS, *briks.db_apps()]

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        try:
            await Tortoise.get_connection("default").execute_query("SELECT 1")
        except Exception as exc:
            log.warning("not ready", extra={"error": repr(exc)})
            return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "up"})

    async def metrics(request: Request) -> Response:
        """Prometheus metrics: behind `SOFTBRIK_METRICS_TOKEN`, or open outside production."""
        if not metrics_allowed(settings, request.headers.get("authorization")):
            return JSONResponse({"error": "Not found."}, status_code=404)
        with platform_job("metrics: figures across every team"):
            await rt.metrics.read_database(rt)
        return Response(rt.metrics.render(), media_type=CONTENT_TYPE)

    async def invoice_pdf(request: Request) -> Response:
        """An invoice's PDF, for a signed-in member of its team (Bearer token)."""
        from softbrik.core.accounts.service import authenticate
        from softbrik.core.billing.service import invoice_pdf_bytes, team_invoice
        from softbrik.core.errors import NotFound
        from softbrik.schema.ids import decode_id

        session = await authenticate(rt, bearer(request.headers.get("authorization")) or "")
        if session is None:
            return JSONResponse({"error": "Sign in first."}, status_code=401)
        enter_team(session.user.team_id)
        try:
            pk = decode_id(request.path_params["invoice_id"], "Invoice")
            invoice = await team_invoice(session.user.team, pk)
        except NotFound:
            return JSONResponse({"error": "No such invoice."}, status_code=404)
        return Response(
            await invoice_pdf_bytes(rt, invoice),
            media_type="application/pdf",
            headers={"content-disposition": f'inline; filename="{invoice.number}.pdf"'},
        )

    async def stripe_webhook(request: Request) -> Response:
        from softbrik.core.billing.webhooks import handle_stripe_webhook

        status, body = await handle_stripe_webhook(
            rt, await request.body(), request.headers.get("stripe-signature", "")
        )
        return JSONResponse(body, status_code=status)

    routes: list[Any] = [
        Route("/healthz", healthz),
        Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
        Route("/invoices/{invoice_id}.pdf", invoice_pdf),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", view, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", view),
    ]
    for brik in briks:
        brik_routes = list(briks.call_one(brik, "softbrik_routes") or [])
        if brik_routes:
            routes.append(Mount(f"/briks/{brik.key}", app=BrikRoutes(brik.key, brik_routes)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_db:
            if settings.is_sqlite:
                settings.data_dir.mkdir(parents=True, exist_ok=True)
                await db.migrate(settings.db_url, apps)
            await db.init_db(settings.db_url, apps, settings.row_level_security)
        # The event relay, the Briks' event delivery and the jobs are started here and work
        # across teams: their tasks inherit this.
        with platform_job("startup, event relay and delivery, jobs"):
            try:
                await run_brik_hooks(
                    briks, "softbrik_startup", app=app, platform=rt.extras["platform"]
                )
                await rt.events.start()
            except BaseException:
                await rt.events.stop()
                if manage_db:
                    await db.close_db()
                raise
            jobs = start_jobs(rt)
        try:
            yield
        finally:
            with platform_job("shutdown"):
                await stop_jobs(jobs)
                await rt.audit.close()
                await rt.events.stop()
                try:
                    await run_brik_hooks(
                        briks, "softbrik_shutdown", app=app, platform=rt.extras["platform"]
                    )
                finally:
                    if manage_db:
                        await db.close_db()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.rt = rt
    app.state.schema = schema
    app.add_middleware(WebGuard, settings=settings)
    # refusals by the guard get a request id too, and are counted
    app.add_middleware(RequestIds, metrics=rt.metrics)
    app.add_middleware(NoTenant)  # outermost: nothing of a request runs with a tenant it inherited
    return app
