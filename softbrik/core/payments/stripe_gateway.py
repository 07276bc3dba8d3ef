"""The Stripe adapter of `PaymentGateway` (R-BILL-3, R-BILL-4, R-BILL-20, R-BILL-21).

- A team is a Stripe Customer; its card a PaymentMethod attached to it. The card's brand is read
  from the PaymentMethod before attaching, so a refused brand (R-BILL-4) is never attached.
- A charge is an off-session PaymentIntent confirmed at once, in EUR, with the caller's
  idempotency key as Stripe's `Idempotency-Key` (R-BILL-21). The client retries network errors
  with that same key, so a retried request cannot charge twice.
- A `card_error` (a decline) is an answer: `Charge(succeeded=False, failure_message=...)`, with
  the PaymentIntent's id when Stripe returns one.

`api_base` points the client elsewhere (tests run against tests/stripe_standin.py). The client's
HTTP connections belong to the event loop that first uses them; call `aclose()` at shutdown.
"""

from __future__ import annotations

from typing import Any

import stripe

from softbrik.core.errors import BadUserInput, PaymentFailed
from softbrik.core.payments.base import (
    ACCEPTED_BRANDS,
    SUPPORT_EMAIL,
    Card,
    Charge,
    GatewayError,
    IdempotencyError,
    card_not_accepted,
    check_charge_arguments,
)

UNUSABLE_CARD = "This card could not be used. Please check the card details."


class StripeGateway:
    def __init__(
        self,
        api_key: str,
        api_base: str | None = None,
        *,
        support_email: str = SUPPORT_EMAIL,
        max_network_retries: int = 2,
        timeout: float = 30,
    ) -> None:
        self._http = stripe.HTTPXClient(timeout=timeout)
        base_addresses: dict[str, str | None] = {}
        if api_base:
            base_addresses["api"] = api_base.rstrip("/")
        self.client = stripe.StripeClient(
            api_key,
            base_addresses=base_addresses,  # type: ignore[arg-type]
            http_client=self._http,
            max_network_retries=max_network_retries,
        )
        self.support_email = support_email

    async def aclose(self) -> None:
        await self._http.close_async()

    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        try:
            customer = await self.client.v1.customers.create_async(
                {"email": email, "name": name},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return str(customer.id)

    async def attach_card(self, customer: str, token: str) -> Card:
        try:
            method = await self.client.v1.payment_methods.retrieve_async(token)
            _check_brand(method, self.support_email)
            attached = await self.client.v1.payment_methods.attach_async(
                token, {"customer": customer}
            )
        except stripe.CardError as exc:
            raise PaymentFailed(
                exc.user_message or "The card was declined.",
                reason=exc.code or "card_declined",
            ) from exc
        except stripe.InvalidRequestError as exc:
            param = exc.error.param if exc.error is not None else None
            if param != "customer" and (exc.http_status == 404 or param == "payment_method"):
                raise BadUserInput(UNUSABLE_CARD, field="paymentMethod") from exc
            raise _gateway_error(exc) from exc
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        return _card_of(attached, self.support_email)

    async def charge(
        self,
        *,
        customer: str,
        card: Card,
        amount_cents: int,
        currency: str = "eur",
        idempotency_key: str,
        description: str,
        metadata: dict[str, str],
    ) -> Charge:
        currency = check_charge_arguments(amount_cents, currency)
        params: Any = {
            "amount": amount_cents,
            "currency": currency,
            "customer": customer,
            "payment_method": card.token,
            "off_session": True,
            "confirm": True,
            "description": description,
            "metadata": dict(metadata),
        }
        try:
            intent = await self.client.v1.payment_intents.create_async(
                params, {"idempotency_key": idempotency_key}
            )
        except stripe.CardError as exc:
            intent_id = ""
            if exc.error is not None and exc.error.payment_intent is not None:
                intent_id = str(exc.error.payment_intent.id)
            return Charge(
                id=intent_id,
                amount_cents=amount_cents,
                currency=currency,
                succeeded=False,
                failure_message=exc.user_message or "The card was declined.",
            )
        except stripe.StripeError as exc:
            raise _gateway_error(exc) from exc
        succeeded = intent.status == "succeeded"
        return Charge(
            id=str(intent.id),
            amount_cents=int(intent.amount),
            currency=str(intent.currency),
            succeeded=succeeded,
            failure_message=None if succeeded else f"The payment is {intent.status}.",
        )


def _check_brand(method: Any, support_email: str) -> None:
    card = getattr(method, "card", None)
    if card is None:
        raise BadUserInput(UNUSABLE_CARD, field="paymentMethod")
    brand = str(card.brand).lower()
    if brand not in ACCEPTED_BRANDS:
        raise card_not_accepted(brand, support_email)


def _card_of(method: Any, support_email: str) -> Card:
    _check_brand(method, support_email)
    card = method.card
    return Card(
        token=str(method.id),
        brand=str(card.brand).lower(),
        last4=str(card.last4),
        exp_month=int(card.exp_month),
        exp_year=int(card.exp_year),
    )


def _gateway_error(exc: stripe.StripeError) -> GatewayError:
    message = f"Stripe: {exc.user_message or exc.__class__.__name__}"
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyError(message)
    retryable = isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or (
        isinstance(exc, stripe.APIError) and (exc.http_status or 500) >= 500
    )
    return GatewayError(message, retryable=retryable)
