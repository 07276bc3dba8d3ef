"""The payment gateway port: one behavioural table run against both adapters.

`LocalGateway` runs in process; `StripeGateway` talks HTTP to tests/stripe_standin.py, a real
server speaking Stripe's v1 API shape. Rules: R-BILL-3, R-BILL-4, R-BILL-20, R-BILL-21.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from softbrik.core.errors import BadUserInput, PaymentFailed
from softbrik.core.payments import (
    ACCEPTED_BRANDS,
    Card,
    Charge,
    GatewayError,
    IdempotencyError,
    LocalGateway,
    PaymentGateway,
    WebhookError,
    gateway_from_settings,
    sign_webhook,
    verify_webhook,
)
from softbrik.core.payments.stripe_gateway import StripeGateway
from softbrik.settings import Settings
from tests.stripe_standin import StripeStandin, serve_standin

SUPPORT = "support@softbrik.example"

# stripe's HTTPXClient posts form bodies as `data=bytes`, which httpx deprecates (not ours).
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")


@pytest.fixture(scope="module")
def stripe_standin() -> Iterator[tuple[StripeStandin, str]]:
    with serve_standin() as served:
        yield served


@dataclass
class Harness:
    kind: str
    gateway: PaymentGateway
    charges_made: Callable[[], int]  # charges the provider actually recorded


@pytest.fixture(params=["local", "stripe"])
async def harness(
    request: pytest.FixtureRequest,
    stripe_standin: tuple[StripeStandin, str],
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    if request.param == "local":
        local = LocalGateway(tmp_path / "ledger.jsonl")
        yield Harness("local", local, lambda: len(local.charges()))
        return
    standin, base_url = stripe_standin
    before = len(standin.payment_intents)
    gateway = StripeGateway(standin.api_key, base_url)
    try:
        yield Harness("stripe", gateway, lambda: len(standin.payment_intents) - before)
    finally:
        await gateway.aclose()


def key() -> str:
    return f"test-{uuid4()}"


async def customer_with_card(gateway: PaymentGateway, token: str) -> tuple[str, Card]:
    customer = await gateway.create_customer(
        email="admin@team.example", name="Bageriet ApS", idempotency_key=key()
    )
    return customer, await gateway.attach_card(customer, token)


async def charge(
    gateway: PaymentGateway,
    customer: str,
    card: Card,
    idempotency_key: str,
    amount_cents: int = 2500,
    currency: str = "eur",
) -> Charge:
    return await gateway.charge(
        customer=customer,
        card=card,
        amount_cents=amount_cents,
        currency=currency,
        idempotency_key=idempotency_key,
        description="Softbrik invoice 2026-0001",
        metadata={"invoice": "2026-0001", "team": "t1"},
    )


# --- the table, for both adapters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "brand", "last4"),
    [
        ("pm_card_visa", "visa", "4242"),
        ("pm_card_visa_debit", "visa", "5556"),
        ("pm_card_mastercard", "mastercard", "4444"),
    ],
)
async def test_visa_and_mastercard_are_accepted(
    harness: Harness, token: str, brand: str, last4: str
) -> None:
    """R-BILL-3, R-BILL-4: the card is saved with its brand and last four digits."""
    _, card = await customer_with_card(harness.gateway, token)
    assert (card.brand, card.last4) == (brand, last4)
    assert card.brand in ACCEPTED_BRANDS
    assert card.token.startswith("pm_")
    assert 1 <= card.exp_month <= 12 and card.exp_year >= 2026


@pytest.mark.parametrize(
    ("token", "brand"), [("pm_card_amex", "amex"), ("pm_card_discover", "discover")]
)
async def test_other_brands_are_refused_with_the_support_message(
    harness: Harness, token: str, brand: str
) -> None:
    """R-BILL-4: another card gets a clear error telling the user to contact support."""
    with pytest.raises(PaymentFailed) as raised:
        await customer_with_card(harness.gateway, token)
    error = raised.value
    assert error.code == "PAYMENT_FAILED"
    assert "Only VISA and Mastercard cards are accepted" in error.message
    assert f"contact support at {SUPPORT}" in error.message
    assert error.extensions["reason"] == "card_not_accepted"
    assert error.extensions["brand"] == brand


async def test_unknown_token_is_bad_user_input(harness: Harness) -> None:
    with pytest.raises(BadUserInput) as raised:
        await customer_with_card(harness.gateway, "pm_no_such_card")
    assert raised.value.field == "paymentMethod"
    assert raised.value.extensions["field"] == "paymentMethod"


async def test_attaching_to_an_unknown_customer_is_a_gateway_error(harness: Harness) -> None:
    with pytest.raises(GatewayError):
        await harness.gateway.attach_card("cus_missing", "pm_card_visa")


async def test_successful_charge(harness: Harness) -> None:
    customer, card = await customer_with_card(harness.gateway, "pm_card_mastercard")
    result = await charge(harness.gateway, customer, card, key(), amount_cents=1234)
    assert result == Charge(
        id=result.id,
        amount_cents=1234,
        currency="eur",
        succeeded=True,
        failure_message=None,
    )
    assert harness.charges_made() == 1


async def test_declined_charge_is_an_answer_not_an_error(harness: Harness) -> None:
    """R-BILL-20: a decline returns succeeded=False with the provider's message."""
    customer, card = await customer_with_card(harness.gateway, "pm_card_chargeDeclined")
    assert card.brand == "visa"  # it attaches fine; only its charges fail
    result = await charge(harness.gateway, customer, card, key())
    assert result.succeeded is False
    assert result.failure_message == "Your card was declined."
    assert result.amount_cents == 2500


async def test_same_idempotency_key_charges_once(harness: Harness) -> None:
    """R-BILL-21: a charge is made once, however often it is asked for with its key."""
    customer, card = await customer_with_card(harness.gateway, "pm_card_visa")
    the_key = key()
    first = await charge(harness.gateway, customer, card, the_key)
    second = await charge(harness.gateway, customer, card, the_key)
    assert first == second
    assert harness.charges_made() == 1
    other = await charge(harness.gateway, customer, card, key())
    assert other.id != first.id
    assert harness.charges_made() == 2


async def test_declined_charge_is_replayed_for_its_key(harness: Harness) -> None:
    """R-BILL-20, R-BILL-21: a retry after a decline needs a new key (e.g. per attempt)."""
    customer, card = await customer_with_card(harness.gateway, "pm_card_chargeDeclined")
    the_key = key()
    first = await charge(harness.gateway, customer, card, the_key)
    assert first == await charge(harness.gateway, customer, card, the_key)
    assert harness.charges_made() == 1


async def test_same_key_with_another_amount_is_refused(harness: Harness) -> None:
    customer, card = await customer_with_card(harness.gateway, "pm_card_visa")
    the_key = key()
    await charge(harness.gateway, customer, card, the_key, amount_cents=2500)
    with pytest.raises(IdempotencyError):
        await charge(harness.gateway, customer, card, the_key, amount_cents=9900)
    assert harness.charges_made() == 1


@pytest.mark.parametrize("currency", ["usd", "DKK", "gbp"])
async def test_only_eur_is_charged(harness: Harness, currency: str) -> None:
    """R-BILL-4: payments are in EUR only; nothing reaches the provider otherwise."""
    customer, card = await customer_with_card(harness.gateway, "pm_card_visa")
    with pytest.raises(ValueError, match="EUR only"):
        await charge(harness.gateway, customer, card, key(), currency=currency)
    assert harness.charges_made() == 0


async def test_upper_case_eur_is_eur(harness: Harness) -> None:
    customer, card = await customer_with_card(harness.gateway, "pm_card_visa")
    result = await charge(harness.gateway, customer, card, key(), currency="EUR")
    assert result.currency == "eur" and result.succeeded


@pytest.mark.parametrize("amount", [0, -100])
async def test_amount_must_be_positive(harness: Harness, amount: int) -> None:
    customer, card = await customer_with_card(harness.gateway, "pm_card_visa")
    with pytest.raises(ValueError):
        await charge(harness.gateway, customer, card, key(), amount_cents=amount)


async def test_create_customer_is_idempotent(harness: Harness) -> None:
    the_key = key()
    first = await harness.gateway.create_customer(
        email="a@team.example", name="A", idempotency_key=the_key
    )
    again = await harness.gateway.create_customer(
        email="a@team.example", name="A", idempotency_key=the_key
    )
    other = await harness.gateway.create_customer(
        email="a@team.example", name="A", idempotency_key=key()
    )
    assert first == again != other
    assert first.startswith("cus_")


# --- the Stripe adapter's requests -----------------------------------------------------------


async def test_stripe_sends_off_session_eur_intents_with_the_idempotency_key(
    stripe_standin: tuple[StripeStandin, str],
) -> None:
    standin, base_url = stripe_standin
    gateway = StripeGateway(standin.api_key, base_url)
    try:
        customer, card = await customer_with_card(gateway, "pm_card_visa")
        assert card.token != "pm_card_visa"  # Stripe mints a PaymentMethod per attach
        the_key = key()
        await charge(gateway, customer, card, the_key)
    finally:
        await gateway.aclose()
    [intent] = [r for r in standin.requests if r.idempotency_key == the_key]
    assert intent.path == "/v1/payment_intents"
    assert intent.params["currency"] == "eur"
    assert intent.params["amount"] == "2500"
    assert intent.params["customer"] == customer
    assert intent.params["payment_method"] == card.token
    assert intent.params["off_session"] == "true" and intent.params["confirm"] == "true"
    assert intent.params["metadata"] == {"invoice": "2026-0001", "team": "t1"}


async def test_stripe_never_attaches_a_refused_brand(
    stripe_standin: tuple[StripeStandin, str],
) -> None:
    """R-BILL-4: the brand is read before the card is attached."""
    standin, base_url = stripe_standin
    gateway = StripeGateway(standin.api_key, base_url)
    try:
        with pytest.raises(PaymentFailed):
            await customer_with_card(gateway, "pm_card_amex")
    finally:
        await gateway.aclose()
    assert not [r for r in standin.requests if r.path == "/v1/payment_methods/pm_card_amex/attach"]


async def test_stripe_declined_charge_carries_the_payment_intent_id(
    stripe_standin: tuple[StripeStandin, str],
) -> None:
    standin, base_url = stripe_standin
    gateway = StripeGateway(standin.api_key, base_url)
    try:
        customer, card = await customer_with_card(gateway, "pm_card_chargeDeclined")
        result = await charge(gateway, customer, card, key())
    finally:
        await gateway.aclose()
    assert result.id in standin.payment_intents
    assert standin.payment_intents[result.id]["status"] == "requires_payment_method"


async def test_stripe_bad_api_key_is_a_gateway_error(
    stripe_standin: tuple[StripeStandin, str],
) -> None:
    _, base_url = stripe_standin
    gateway = StripeGateway("sk_test_wrong", base_url)
    try:
        with pytest.raises(GatewayError) as raised:
            await gateway.create_customer(email="a@x.example", name="A", idempotency_key=key())
    finally:
        await gateway.aclose()
    assert not raised.value.retryable


async def test_stripe_unreachable_is_a_retryable_gateway_error() -> None:
    from tests.stripe_standin import free_port

    gateway = StripeGateway("sk_test_x", f"http://127.0.0.1:{free_port()}", max_network_retries=0)
    try:
        with pytest.raises(GatewayError) as raised:
            await gateway.create_customer(email="a@x.example", name="A", idempotency_key=key())
    finally:
        await gateway.aclose()
    assert raised.value.retryable


# --- the local ledger ------------------------------------------------------------------------


async def test_local_ledger_persists_across_instances(tmp_path: Path) -> None:
    """R-BILL-21: idempotency holds across restarts when the ledger is a file."""
    ledger = tmp_path / "ledger.jsonl"
    first = LocalGateway(ledger)
    customer_key, charge_key = key(), key()
    customer = await first.create_customer(
        email="a@team.example", name="A", idempotency_key=customer_key
    )
    card = await first.attach_card(customer, "pm_card_visa")
    paid = await charge(first, customer, card, charge_key)

    second = LocalGateway(ledger)
    assert second.charges() == [paid]
    again = await second.create_customer(
        email="a@team.example", name="A", idempotency_key=customer_key
    )
    assert again == customer
    assert await charge(second, customer, card, charge_key) == paid
    assert len(second.charges()) == 1
    # The first instance sees what the second appended.
    await charge(second, customer, card, key())
    assert len(first.charges()) == 2
    lines = ledger.read_text().splitlines()
    assert all(json.loads(line)["type"] in {"customer", "card", "charge"} for line in lines)


async def test_local_ledger_in_memory_is_idempotent_too() -> None:
    gateway = LocalGateway(None)
    customer, card = await customer_with_card(gateway, "pm_card_visa")
    the_key = key()
    assert await charge(gateway, customer, card, the_key) == await charge(
        gateway, customer, card, the_key
    )
    assert len(gateway.charges()) == 1


async def test_local_charge_needs_an_attached_card() -> None:
    gateway = LocalGateway(None)
    customer, _ = await customer_with_card(gateway, "pm_card_visa")
    stranger = Card("pm_card_mastercard", "mastercard", "4444", 12, 2034)
    with pytest.raises(GatewayError):
        await charge(gateway, customer, stranger, key())


CHILD = """
import asyncio, sys
from softbrik.core.payments import Card, LocalGateway
async def main():
    gateway = LocalGateway(sys.argv[1])
    result = await gateway.charge(
        customer=sys.argv[2], card=Card("pm_card_visa", "visa", "4242", 12, 2034),
        amount_cents=2500, idempotency_key=sys.argv[3], description="d", metadata={},
    )
    print(result.id)
asyncio.run(main())
"""


async def test_local_ledger_charges_once_across_concurrent_processes(tmp_path: Path) -> None:
    """R-BILL-21: several processes asking for one charge at once make one charge."""
    ledger = tmp_path / "ledger.jsonl"
    gateway = LocalGateway(ledger)
    customer, _ = await customer_with_card(gateway, "pm_card_visa")
    the_key = key()
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            str(ledger),
            customer,
            the_key,
            stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(6)
    ]
    outputs = [(await process.communicate())[0].decode().strip() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert len(set(outputs)) == 1 and outputs[0].startswith("ch_local_")
    assert [c.id for c in gateway.charges()] == outputs[:1]


# --- settings --------------------------------------------------------------------------------


async def test_gateway_from_settings(tmp_path: Path) -> None:
    local = gateway_from_settings(Settings(data_dir=tmp_path, payment_gateway="local"))
    assert isinstance(local, LocalGateway)
    with pytest.raises(ValueError):
        gateway_from_settings(Settings(payment_gateway="stripe", stripe_api_key=None))
    remote = gateway_from_settings(
        Settings(payment_gateway="stripe", stripe_api_key="sk_test_x", stripe_api_base="http://x")
    )
    assert isinstance(remote, StripeGateway)
    await remote.aclose()


# --- webhook signatures ----------------------------------------------------------------------

SECRET = "whsec_test_secret"
NOW = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)
EVENT = json.dumps({"id": "evt_1", "type": "payment_intent.succeeded"}).encode()


def stamp(moment: datetime) -> int:
    return int(moment.timestamp())


def test_webhook_valid_signature_passes() -> None:
    header = sign_webhook(EVENT, SECRET, stamp(NOW - timedelta(seconds=30)))
    assert verify_webhook(EVENT, header, SECRET, NOW) == {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
    }


def test_webhook_any_v1_signature_may_match_during_rotation() -> None:
    good = sign_webhook(EVENT, SECRET, stamp(NOW))
    t, v1 = good.split(",")
    header = f"{t},v1={'0' * 64},{v1},v0=ignored"
    assert verify_webhook(EVENT, header, SECRET, NOW)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("payload", "header", "secret", "reason"),
    [
        (EVENT.replace(b"succeeded", b"failed"), None, SECRET, "signature does not match"),
        (EVENT, None, "whsec_other", "signature does not match"),
        (EVENT, "v1=abc", SECRET, "no timestamp"),
        (EVENT, f"t={stamp(NOW)}", SECRET, "no v1 signature"),
        (EVENT, "t=soon,v1=abc", SECRET, "malformed timestamp"),
    ],
)
def test_webhook_tampered_or_malformed_fails(
    payload: bytes, header: str | None, secret: str, reason: str
) -> None:
    header = header or sign_webhook(EVENT, SECRET, stamp(NOW))
    with pytest.raises(WebhookError) as raised:
        verify_webhook(payload, header, secret, NOW)
    assert reason in raised.value.reason


def test_webhook_too_old_or_from_the_future_fails() -> None:
    old = sign_webhook(EVENT, SECRET, stamp(NOW - timedelta(seconds=301)))
    with pytest.raises(WebhookError, match="too old"):
        verify_webhook(EVENT, old, SECRET, NOW)
    assert verify_webhook(EVENT, old, SECRET, NOW, tolerance_seconds=600)["id"] == "evt_1"
    future = sign_webhook(EVENT, SECRET, stamp(NOW + timedelta(hours=1)))
    with pytest.raises(WebhookError, match="future"):
        verify_webhook(EVENT, future, SECRET, NOW)
