"""Stripe webhooks at `/webhooks/stripe`: signature, age and replay checked (R-BILL-21).

Off-session charges answer at once, so webhooks only reconcile what happens later at Stripe:
`payment_intent.succeeded` for an invoice still open here (paid by other means, or a payment
that completed asynchronously) marks it paid. Every event id is processed once.
"""

from __future__ import annotations

import logging
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from softbrik.core.accounts.models import Team
from softbrik.core.billing import service
from softbrik.core.billing.models import BillingAccount, Invoice, InvoiceStatus, WebhookEvent
from softbrik.core.payments import WebhookError, verify_webhook
from softbrik.core.runtime import Runtime
from softbrik.core.tenancy import platform_job

log = logging.getLogger("softbrik.billing.webhooks")


@platform_job("stripe webhook: finds the team by its customer")
async def handle_stripe_webhook(
    rt: Runtime, payload: bytes, signature: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) for one delivery."""
    try:
        event = verify_webhook(
            payload, signature, rt.settings.stripe_webhook_secret or "", rt.clock.now()
        )
    except WebhookError as exc:
        log.warning("webhook refused", extra={"reason": exc.reason})
        return 400, {"error": "invalid webhook"}
    event_id = str(event.get("id") or "")
    kind = str(event.get("type") or "")
    if not event_id:
        return 400, {"error": "no event id"}
    try:
        async with in_transaction():
            if await WebhookEvent.filter(event_id=event_id).exists():
                return 200, {"status": "duplicate"}
            await WebhookEvent.create(event_id=event_id, type=kind, received_at=rt.clock.now())
            handled = await _apply(rt, kind, event)
    except IntegrityError:
        return 200, {"status": "duplicate"}  # the same event delivered twice at once
    return 200, {"status": "processed" if handled else "ignored"}


async def _apply(rt: Runtime, kind: str, event: dict[str, Any]) -> bool:
    if kind != "payment_intent.succeeded":
        return False
    intent = (event.get("data") or {}).get("object") or {}
    key = str((intent.get("metadata") or {}).get("invoice_key") or "")
    invoice = await Invoice.filter(key=key).select_for_update().first() if key else None
    if invoice is None or invoice.status != InvoiceStatus.OPEN:
        return False
    if int(intent.get("amount_received") or intent.get("amount") or 0) != invoice.total_cents:
        log.warning("webhook amount differs", extra={"invoice_key": key})
        return False
    await service.mark_paid(rt, invoice)
    team = await Team.get(id=invoice.team_id)
    await service.refresh_status(team)
    account = await BillingAccount.get_or_none(team_id=team.id)
    if account is not None:
        await service.reschedule(team, account)
    return True
