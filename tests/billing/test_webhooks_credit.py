"""Stripe webhooks (signature, age, replay) and credit notes (R-BILL-18, R-BILL-21)."""

import json

import pytest

from softbrik.core.billing.models import Invoice, WebhookEvent
from softbrik.core.billing.service import issue_credit_note
from softbrik.core.errors import Conflict, NotFound
from softbrik.core.payments import sign_webhook
from tests.billing.helpers import UPDATE_CARD, advance, at, billing, check_sums, invoices

SECRET = "whsec_test_secret"


@pytest.fixture
def webhook_secret(softbrik_app):
    rt = softbrik_app.state.rt
    settings = rt.settings
    rt.settings = settings.model_copy(update={"stripe_webhook_secret": SECRET})
    yield SECRET
    rt.settings = settings


def delivery(event: dict, timestamp: int, secret: str = SECRET) -> tuple[bytes, dict]:
    body = json.dumps(event).encode()
    return body, {
        "Stripe-Signature": sign_webhook(body, secret, timestamp),
        "content-type": "application/json",
    }


async def open_invoice(gql, team_factory) -> tuple:
    team = await team_factory.sign_up(["notes"])
    await advance(gql, at("2026-02-01"))
    await gql.ok(UPDATE_CARD, {"pm": "pm_card_chargeDeclined"}, token=team.admin.token)
    await advance(gql, at("2026-02-12", 12))
    invoice = await Invoice.get(kind="RENEWAL")
    assert invoice.status == "OPEN"
    return team, invoice


async def test_a_signed_payment_webhook_pays_an_open_invoice_once(
    gql, team_factory, http, clock, webhook_secret
):
    team, invoice = await open_invoice(gql, team_factory)
    event = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {
                "id": "pi_1",
                "amount": invoice.total_cents,
                "amount_received": invoice.total_cents,
                "metadata": {"invoice_key": invoice.key},
            }
        },
    }
    now = int(clock.now().timestamp())
    body, headers = delivery(event, now)
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"status": "processed"}
    assert (await Invoice.get(id=invoice.id)).status == "PAID"
    assert (await billing(gql, team.admin.token))["status"] == "ACTIVE"
    # A replay of the same event does nothing more.
    again = await http.post("/webhooks/stripe", content=body, headers=headers)
    assert again.json() == {"status": "duplicate"}
    assert await WebhookEvent.filter(event_id="evt_1").count() == 1


@pytest.mark.parametrize(
    ("why", "change"),
    [
        ("wrong secret", {"secret": "whsec_other"}),
        ("too old", {"age": 301}),
        ("from the future", {"age": -301}),
    ],
)
async def test_webhooks_that_cannot_be_trusted_are_refused(
    gql, team_factory, http, clock, webhook_secret, why, change
):
    """Signature and age are checked; nothing is changed by a refused delivery."""
    _, invoice = await open_invoice(gql, team_factory)
    event = {
        "id": "evt_2",
        "type": "payment_intent.succeeded",
        "data": {
            "object": {"amount": invoice.total_cents, "metadata": {"invoice_key": invoice.key}}
        },
    }
    timestamp = int(clock.now().timestamp()) - change.get("age", 0)
    body, headers = delivery(event, timestamp, change.get("secret", SECRET))
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400, why
    assert (await Invoice.get(id=invoice.id)).status == "OPEN"
    assert not await WebhookEvent.exists()
    unsigned = await http.post("/webhooks/stripe", content=body)
    assert unsigned.status_code == 400


async def test_other_webhook_events_are_acknowledged_and_ignored(http, clock, webhook_secret):
    body, headers = delivery(
        {"id": "evt_3", "type": "customer.created"}, int(clock.now().timestamp())
    )
    response = await http.post("/webhooks/stripe", content=body, headers=headers)
    assert response.json() == {"status": "ignored"}


async def test_a_credit_note_corrects_a_finalized_invoice(gql, team_factory, softbrik_app, http):
    """R-BILL-18: a finalized invoice never changes; a credit note with its own number
    references it."""
    rt = softbrik_app.state.rt
    team = await team_factory.sign_up(["notes"])
    [original] = await invoices(gql, team.admin.token)
    note = await issue_credit_note(rt, original["number"], "Charged twice by mistake")
    assert note.number == "SB-000002"
    found = await invoices(gql, team.admin.token)
    assert [(i["kind"], i["number"], i["totalCents"]) for i in found] == [
        ("SIGN_UP", "SB-000001", 875),
        ("CREDIT_NOTE", "SB-000002", -875),
    ]
    check_sums(found[1])
    assert found[0] == original  # the original is unchanged
    pdf = (
        await http.get(found[1]["pdfUrl"], headers={"Authorization": f"Bearer {team.admin.token}"})
    ).content
    for text in ("Kreditnota", "Krediterer faktura", "SB-000001", "-8,75 EUR"):
        assert text.encode("cp1252") in pdf, text
    with pytest.raises(Conflict):
        await issue_credit_note(rt, original["number"], "again")
    with pytest.raises(NotFound):
        await issue_credit_note(rt, "SB-000002", "a credit note is not credited")


async def test_crediting_an_open_invoice_voids_it_and_lifts_the_suspension(
    gql, team_factory, softbrik_app
):
    team, invoice = await open_invoice(gql, team_factory)
    await advance(gql, at("2026-02-20"))
    assert (await billing(gql, team.admin.token))["status"] == "SUSPENDED"
    await issue_credit_note(softbrik_app.state.rt, invoice.number, "Goodwill")
    assert (await Invoice.get(id=invoice.id)).status == "VOID"
    assert (await billing(gql, team.admin.token))["status"] == "ACTIVE"
