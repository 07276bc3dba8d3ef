"""The payment gateway port (R-BILL-3, R-BILL-4, R-BILL-20, R-BILL-21).

Billing talks to the payment provider only through `PaymentGateway`. Two adapters implement it:
`LocalGateway` (embedded default, behaves like Stripe's test cards) and `StripeGateway`.

Contract, the same for both adapters (tests/core/test_payments.py runs one table on both):

- `attach_card` refuses any brand but VISA and Mastercard with `PaymentFailed`
  (extensions `reason="card_not_accepted"`, R-BILL-4) and an unknown or unusable token with
  `BadUserInput(field="paymentMethod")`. The returned `Card.token` is what later charges use;
  it need not equal the token given (Stripe mints a new PaymentMethod id for a test token).
- `charge` is in EUR only (ValueError otherwise, before any call). A decline is an answer, not an
  error: `Charge(succeeded=False, failure_message=...)`. The idempotency key makes the charge
  happen at most once (R-BILL-21): the same key answers the first result again, a decline
  included, so a retry of a declined renewal (R-BILL-20) needs a new key (e.g. invoice + attempt);
  the same key with different parameters raises `IdempotencyError`.
- Other provider trouble (network, authentication, unexpected answers) raises `GatewayError`.
  When `retryable` is true the outcome is unknown and the call may be repeated with the same
  idempotency key, which is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from softbrik.core.errors import PaymentFailed

ACCEPTED_BRANDS = frozenset({"visa", "mastercard"})
ACCEPTED_CURRENCIES = frozenset({"eur"})
SUPPORT_EMAIL = "support@softbrik.example"


@dataclass(frozen=True)
class Card:
    token: str  # the provider's reference to use for charges
    brand: str  # lowercase, as Stripe names it: "visa", "mastercard", "amex", ...
    last4: str
    exp_month: int
    exp_year: int


@dataclass
class Charge:
    id: str
    amount_cents: int
    currency: str
    succeeded: bool
    failure_message: str | None = None


class GatewayError(Exception):
    """The provider could not be used (not a decline). See `retryable`."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class IdempotencyError(GatewayError):
    """An idempotency key was reused with different parameters (as Stripe's idempotency_error)."""


class PaymentGateway(Protocol):
    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        """Create the provider's customer for a team; returns its reference."""
        ...

    async def attach_card(self, customer: str, token: str) -> Card:
        """Save the card `token` on `customer` for later off-session charges (R-BILL-3, -4)."""
        ...

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
        """Charge `card` at once, at most once per `idempotency_key` (R-BILL-21)."""
        ...


def card_not_accepted(brand: str, support_email: str = SUPPORT_EMAIL) -> PaymentFailed:
    """The R-BILL-4 error: a clear message that names what is accepted and whom to ask."""
    return PaymentFailed(
        "Only VISA and Mastercard cards are accepted. "
        f"Please contact support at {support_email} for help.",
        reason="card_not_accepted",
        brand=brand,
    )


def check_charge_arguments(amount_cents: int, currency: str) -> str:
    """The normalised currency; ValueError for a non-EUR currency or a non-positive amount."""
    normalised = currency.lower()
    if normalised not in ACCEPTED_CURRENCIES:
        raise ValueError(f"Payments are in EUR only (R-BILL-4), not {currency!r}.")
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents <= 0:
        raise ValueError(f"amount_cents must be a positive integer, not {amount_cents!r}.")
    return normalised
