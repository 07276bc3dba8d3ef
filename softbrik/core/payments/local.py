"""The embedded payment gateway: behaves like Stripe's test cards, no network (API.md).

Accepted tokens, as Stripe's test PaymentMethods:

| token | brand | last4 | charges |
|---|---|---|---|
| `pm_card_visa` | visa | 4242 | succeed |
| `pm_card_visa_debit` | visa | 5556 | succeed |
| `pm_card_mastercard` | mastercard | 4444 | succeed |
| `pm_card_chargeDeclined` | visa | 0002 | declined: "Your card was declined." |
| `pm_card_amex` | amex | 8431 | refused at attach (R-BILL-4) |
| `pm_card_discover` | discover | 1117 | refused at attach (R-BILL-4) |

Unlike Stripe, the card token stays the test token (Stripe mints a new `pm_...` per attach);
callers store `Card.token` either way.

The ledger (customers, attached cards, charges by idempotency key) is kept in memory, or, given a
path, in an append-only JSON-lines file shared by every process that opens it: each operation
takes an exclusive `fcntl` lock, reads what other processes appended, decides, appends, and
unlocks. So idempotency (R-BILL-21) holds across processes and restarts.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from softbrik.core.errors import BadUserInput
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

T = TypeVar("T")

DECLINE_MESSAGE = "Your card was declined."


@dataclass(frozen=True)
class TestCard:
    __test__ = False  # not a pytest test class

    brand: str
    last4: str
    declines: bool = False
    exp_month: int = 12
    exp_year: int = 2034


TEST_CARDS: dict[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_visa_debit": TestCard("visa", "5556"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", declines=True),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_discover": TestCard("discover", "1117"),
}


class _Ledger:
    """Customers, attached cards and charges; optionally mirrored in a JSON-lines file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offset = 0
        self.customers: dict[str, dict[str, Any]] = {}  # id -> record
        self.customer_keys: dict[str, dict[str, Any]] = {}  # idempotency key -> record
        self.cards: set[tuple[str, str]] = set()  # (customer, token)
        self.charges: dict[str, dict[str, Any]] = {}  # idempotency key -> record
        self.lock = threading.Lock()

    def apply(self, record: dict[str, Any]) -> None:
        kind = record["type"]
        if kind == "customer":
            self.customers[record["id"]] = record
            self.customer_keys[record["idempotency_key"]] = record
        elif kind == "card":
            self.cards.add((record["customer"], record["token"]))
        elif kind == "charge":
            self.charges[record["idempotency_key"]] = record

    def transact(self, operation: Callable[[_Ledger], tuple[T, dict[str, Any] | None]]) -> T:
        """Run `operation` on the current state; append and apply the record it returns."""
        with self.lock:
            if self.path is None:
                result, record = operation(self)
                if record is not None:
                    self.apply(record)
                return result
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    self._catch_up(handle)
                    result, record = operation(self)
                    if record is not None:
                        line = json.dumps(record, sort_keys=True, separators=(",", ":"))
                        handle.write(line.encode() + b"\n")
                        handle.flush()
                        self.offset = handle.tell()
                        self.apply(record)
                    return result
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _catch_up(self, handle: Any) -> None:
        handle.seek(self.offset)
        for raw in handle:
            if not raw.endswith(b"\n"):
                break  # a torn last line (crash mid-write) is ignored until completed
            self.apply(json.loads(raw))
            self.offset += len(raw)
        handle.seek(0, 2)


class LocalGateway:
    """`PaymentGateway` without a provider, for development, tests and demos."""

    def __init__(self, ledger_path: Path | None = None, support_email: str = SUPPORT_EMAIL):
        self._ledger = _Ledger(Path(ledger_path) if ledger_path is not None else None)
        self.support_email = support_email

    async def create_customer(self, *, email: str, name: str, idempotency_key: str) -> str:
        params = {"email": email, "name": name}

        def operation(ledger: _Ledger) -> tuple[str, dict[str, Any] | None]:
            existing = ledger.customer_keys.get(idempotency_key)
            if existing is not None:
                _same_parameters(idempotency_key, existing["params"], params)
                return existing["id"], None
            customer = f"cus_local_{secrets.token_hex(8)}"
            record = {
                "type": "customer",
                "id": customer,
                "idempotency_key": idempotency_key,
                "params": params,
            }
            return customer, record

        return await asyncio.to_thread(self._ledger.transact, operation)

    async def attach_card(self, customer: str, token: str) -> Card:
        test_card = TEST_CARDS.get(token)
        if test_card is None:
            raise BadUserInput(
                "This card could not be used. Please check the card details.",
                field="paymentMethod",
            )
        if test_card.brand not in ACCEPTED_BRANDS:
            raise card_not_accepted(test_card.brand, self.support_email)

        def operation(ledger: _Ledger) -> tuple[None, dict[str, Any] | None]:
            if customer not in ledger.customers:
                raise GatewayError(f"No such customer: {customer!r}")
            if (customer, token) in ledger.cards:
                return None, None
            return None, {"type": "card", "customer": customer, "token": token}

        await asyncio.to_thread(self._ledger.transact, operation)
        return Card(
            token=token,
            brand=test_card.brand,
            last4=test_card.last4,
            exp_month=test_card.exp_month,
            exp_year=test_card.exp_year,
        )

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
        params = {
            "customer": customer,
            "card": card.token,
            "amount": amount_cents,
            "currency": currency,
            "description": description,
            "metadata": dict(metadata),
        }

        def operation(ledger: _Ledger) -> tuple[Charge, dict[str, Any] | None]:
            existing = ledger.charges.get(idempotency_key)
            if existing is not None:
                _same_parameters(idempotency_key, existing["params"], params)
                return Charge(**existing["charge"]), None
            if customer not in ledger.customers:
                raise GatewayError(f"No such customer: {customer!r}")
            if (customer, card.token) not in ledger.cards:
                raise GatewayError(f"The card {card.token!r} is not attached to {customer!r}")
            declines = TEST_CARDS[card.token].declines
            charge = Charge(
                id=f"ch_local_{secrets.token_hex(8)}",
                amount_cents=amount_cents,
                currency=currency,
                succeeded=not declines,
                failure_message=DECLINE_MESSAGE if declines else None,
            )
            record = {
                "type": "charge",
                "idempotency_key": idempotency_key,
                "params": params,
                "charge": asdict(charge),
            }
            return charge, record

        return await asyncio.to_thread(self._ledger.transact, operation)

    def charges(self) -> list[Charge]:
        """Every charge in the ledger (including other processes'), oldest first."""

        def operation(ledger: _Ledger) -> tuple[list[Charge], None]:
            return [Charge(**record["charge"]) for record in ledger.charges.values()], None

        return self._ledger.transact(operation)


def _same_parameters(key: str, first: dict[str, Any], now: dict[str, Any]) -> None:
    if first != now:
        raise IdempotencyError(
            f"Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with; {key!r} was first used with different ones."
        )
