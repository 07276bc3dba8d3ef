"""A real HTTP stand-in for the parts of Stripe's v1 API that Softbrik uses.

It speaks Stripe's shape: form-encoded requests (`metadata[key]=value`), Bearer secret keys,
Stripe-shaped JSON objects and error bodies, and the `Idempotency-Key` header (the same key
answers the first response again; with different parameters, an `idempotency_error`).

Endpoints: POST /v1/customers, GET /v1/payment_methods/{id}, POST /v1/payment_methods/{id}/attach,
POST /v1/payment_intents (off-session, confirmed). Test PaymentMethods as Stripe's:
pm_card_visa, pm_card_visa_debit, pm_card_mastercard, pm_card_amex, pm_card_discover,
pm_card_chargeDeclined (attaches, every charge declined). Attaching a test token mints a new
`pm_...` id, as Stripe does.

`serve_standin()` runs it with uvicorn on a free 127.0.0.1 port in a background thread.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TEST_METHODS: dict[str, dict[str, Any]] = {
    "pm_card_visa": {"brand": "visa", "last4": "4242"},
    "pm_card_visa_debit": {"brand": "visa", "last4": "5556", "funding": "debit"},
    "pm_card_mastercard": {"brand": "mastercard", "last4": "4444"},
    "pm_card_amex": {"brand": "amex", "last4": "8431"},
    "pm_card_discover": {"brand": "discover", "last4": "1117"},
    "pm_card_chargeDeclined": {"brand": "visa", "last4": "0002", "declines": True},
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class StripeStandin:
    api_key: str = "sk_test_standin"
    requests: list[RecordedRequest] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    # idempotency key -> (method, path, params, status, body)
    idempotent: dict[str, tuple[str, str, dict[str, Any], int, dict[str, Any]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.app = Starlette(
            routes=[
                Route("/v1/customers", self.create_customer, methods=["POST"]),
                Route("/v1/payment_methods/{id}", self.retrieve_payment_method, methods=["GET"]),
                Route(
                    "/v1/payment_methods/{id}/attach", self.attach_payment_method, methods=["POST"]
                ),
                Route("/v1/payment_intents", self.create_payment_intent, methods=["POST"]),
            ]
        )

    # --- plumbing ----------------------------------------------------------------------------

    async def _handle(self, request: Request, handler: Any) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            status, body = _error(401, "invalid_request_error", "Invalid API Key provided.")
            return JSONResponse(body, status)
        params = _decode_form((await request.body()).decode())
        key = request.headers.get("idempotency-key")
        with self.lock:
            self.requests.append(RecordedRequest(request.method, request.url.path, params, key))
            if key is not None and request.method == "POST" and key in self.idempotent:
                method, path, first, status, body = self.idempotent[key]
                if (method, path, first) != (request.method, request.url.path, params):
                    status, body = _error(
                        400,
                        "idempotency_error",
                        "Keys for idempotent requests can only be used with the same "
                        "parameters they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                    )
                    return JSONResponse(body, status)
                return JSONResponse(body, status, headers={"Idempotent-Replayed": "true"})
            status, body = handler(request, params)
            if key is not None and request.method == "POST":
                self.idempotent[key] = (request.method, request.url.path, params, status, body)
        return JSONResponse(body, status)

    async def create_customer(self, request: Request) -> Response:
        return await self._handle(request, self._create_customer)

    async def retrieve_payment_method(self, request: Request) -> Response:
        return await self._handle(request, self._retrieve_payment_method)

    async def attach_payment_method(self, request: Request) -> Response:
        return await self._handle(request, self._attach_payment_method)

    async def create_payment_intent(self, request: Request) -> Response:
        return await self._handle(request, self._create_payment_intent)

    # --- behaviour ---------------------------------------------------------------------------

    def _create_customer(self, request: Request, params: dict[str, Any]) -> tuple[int, Any]:
        customer = {
            "id": f"cus_{secrets.token_hex(7)}",
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "name": params.get("name"),
            "livemode": False,
            "metadata": params.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return 200, customer

    def _method(self, pm_id: str) -> dict[str, Any] | None:
        if pm_id in self.payment_methods:
            return self.payment_methods[pm_id]
        if pm_id in TEST_METHODS:
            return _payment_method(pm_id, TEST_METHODS[pm_id], customer=None)
        return None

    def _retrieve_payment_method(self, request: Request, params: dict[str, Any]) -> Any:
        pm_id = request.path_params["id"]
        method = self._method(pm_id)
        if method is None:
            return _missing("payment_method", f"No such PaymentMethod: '{pm_id}'")
        return 200, _public(method)

    def _attach_payment_method(self, request: Request, params: dict[str, Any]) -> Any:
        pm_id = request.path_params["id"]
        customer = params.get("customer")
        if customer not in self.customers:
            return _missing("customer", f"No such customer: '{customer}'")
        method = self._method(pm_id)
        if method is None:
            return _missing("payment_method", f"No such PaymentMethod: '{pm_id}'")
        if pm_id in TEST_METHODS:  # a test token: Stripe makes a new PaymentMethod
            method = _payment_method(f"pm_{secrets.token_hex(12)}", TEST_METHODS[pm_id], customer)
        elif method["customer"] not in (None, customer):
            return _error(
                400,
                "invalid_request_error",
                "This PaymentMethod is already attached to another customer.",
                param="payment_method",
            )
        method["customer"] = customer
        self.payment_methods[method["id"]] = method
        return 200, _public(method)

    def _create_payment_intent(self, request: Request, params: dict[str, Any]) -> Any:
        for required in ("amount", "currency"):
            if required not in params:
                return _error(
                    400, "invalid_request_error", f"Missing required param: {required}.", required
                )
        customer = params.get("customer")
        if customer not in self.customers:
            return _missing("customer", f"No such customer: '{customer}'")
        method = self.payment_methods.get(params.get("payment_method", ""))
        if method is None or method["customer"] != customer:
            return _missing(
                "payment_method", f"No such PaymentMethod: '{params.get('payment_method')}'"
            )
        declines = bool(method.get("_declines"))
        intent = {
            "id": f"pi_{secrets.token_hex(12)}",
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_received": 0 if declines else int(params["amount"]),
            "currency": params["currency"],
            "customer": customer,
            "payment_method": None if declines else method["id"],
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "confirmation_method": "automatic",
            "created": int(time.time()),
            "livemode": False,
            "status": "requires_payment_method" if declines else "succeeded",
        }
        self.payment_intents[intent["id"]] = intent
        if declines:
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                    "payment_intent": intent,
                    "payment_method": _public(method),
                    "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                }
            }
        return 200, intent


def _payment_method(pm_id: str, spec: dict[str, Any], customer: str | None) -> dict[str, Any]:
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "customer": customer,
        "created": int(time.time()),
        "livemode": False,
        "metadata": {},
        "card": {
            "brand": spec["brand"],
            "last4": spec["last4"],
            "exp_month": 12,
            "exp_year": 2034,
            "country": "US",
            "funding": spec.get("funding", "credit"),
        },
        "_declines": bool(spec.get("declines")),
    }


def _public(method: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in method.items() if not k.startswith("_")}


def _error(
    status: int, type_: str, message: str, param: str | None = None, code: str | None = None
) -> tuple[int, dict[str, Any]]:
    error: dict[str, Any] = {"type": type_, "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return status, {"error": error}


def _missing(param: str, message: str) -> tuple[int, dict[str, Any]]:
    return 404, {
        "error": {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": param,
            "message": message,
        }
    }


def _decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding: `a[b]=c` nests, `a[]=x` or `a[0]=x` lists (enough for us)."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_standin(standin: StripeStandin | None = None) -> Iterator[tuple[StripeStandin, str]]:
    """Serve a stand-in on a free port in a thread; yields it and its base URL."""
    standin = standin or StripeStandin()
    port = free_port()
    config = uvicorn.Config(standin.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="stripe-standin", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The Stripe stand-in did not start")
        time.sleep(0.01)
    try:
        yield standin, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def dump(standin: StripeStandin) -> str:
    """The recorded requests, for assertion messages."""
    return json.dumps([r.__dict__ for r in standin.requests], indent=1)
