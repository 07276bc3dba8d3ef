"""Stripe webhook signatures: `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The signed payload is `f"{t}.{body}"`, keyed with the endpoint's signing secret. Several `v1`
entries may be present (during secret rotation); one match suffices.

`verify_webhook` checks the signature and the age of the timestamp only. Replay protection is
the caller's job: remember the ids of processed events (`event["id"]`) and skip repeats, since
Stripe itself delivers an event more than once at times.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from softbrik.core.clock import to_utc


class WebhookError(Exception):
    """The webhook is not to be trusted; `reason` says why (for the log, not the sender)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _signature(payload: bytes, secret: str, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign_webhook(payload: bytes, secret: str, timestamp: int) -> str:
    """A `Stripe-Signature` header value for `payload`, as Stripe would send it (for tests)."""
    return f"t={timestamp},v1={_signature(payload, secret, timestamp)}"


def verify_webhook(
    payload: bytes,
    signature_header: str,
    secret: str,
    now: datetime,
    tolerance_seconds: int = 300,
) -> dict[str, Any]:
    """The event (parsed JSON) when the signature is valid and at most `tolerance_seconds` old.

    Raises `WebhookError` otherwise. Timestamps more than the tolerance in the future are refused
    too. Replay protection is the caller's (see the module docstring).
    """
    if not secret:
        raise WebhookError("no webhook secret configured")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in signature_header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise WebhookError("malformed timestamp in signature header") from None
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise WebhookError("no timestamp in signature header")
    if not signatures:
        raise WebhookError("no v1 signature in signature header")
    expected = _signature(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookError("signature does not match the payload")
    age = to_utc(now).timestamp() - timestamp
    if age > tolerance_seconds:
        raise WebhookError("timestamp too old")
    if age < -tolerance_seconds:
        raise WebhookError("timestamp in the future")
    try:
        event = json.loads(payload)
    except ValueError:
        raise WebhookError("payload is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookError("payload is not a JSON object")
    return event
