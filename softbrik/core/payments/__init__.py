"""Payments: the `PaymentGateway` port, its local and Stripe adapters, webhook signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from softbrik.core.payments.base import (
    ACCEPTED_BRANDS,
    SUPPORT_EMAIL,
    Card,
    Charge,
    GatewayError,
    IdempotencyError,
    PaymentGateway,
)
from softbrik.core.payments.local import LocalGateway
from softbrik.core.payments.webhooks import WebhookError, sign_webhook, verify_webhook

if TYPE_CHECKING:
    from softbrik.settings import Settings

__all__ = [
    "ACCEPTED_BRANDS",
    "Card",
    "Charge",
    "GatewayError",
    "IdempotencyError",
    "LocalGateway",
    "PaymentGateway",
    "WebhookError",
    "gateway_from_settings",
    "sign_webhook",
    "verify_webhook",
]


def gateway_from_settings(
    settings: Settings, *, support_email: str = SUPPORT_EMAIL
) -> PaymentGateway:
    """Stripe when `settings.payment_gateway == "stripe"` (needs `stripe_api_key`), else the
    local gateway with its ledger at `<data_dir>/payments-ledger.jsonl`."""
    if settings.payment_gateway == "stripe":
        if not settings.stripe_api_key:
            raise ValueError("SOFTBRIK_STRIPE_API_KEY is required when the gateway is stripe")
        from softbrik.core.payments.stripe_gateway import StripeGateway

        return StripeGateway(
            settings.stripe_api_key, settings.stripe_api_base, support_email=support_email
        )
    return LocalGateway(settings.data_dir / "payments-ledger.jsonl", support_email=support_email)
