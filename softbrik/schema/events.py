"""`billingEvents` (API.md): an administrator's live feed of the team's billing events."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from softbrik.core.events import service
from softbrik.plugin import DomainEvent
from softbrik.schema.billing import Invoice
from softbrik.schema.context import Context
from softbrik.schema.execution import Same
from softbrik.schema.ids import decode_id, encode_id
from softbrik.schema.node import LOADERS


async def load_node(ctx: Context, type_name: str, pk: int) -> Any:
    """A node of the caller's team by primary key (None when missing or another team's)."""
    return await LOADERS[type_name](ctx, pk)


@strawberry.type(description="Something that happened to the team's billing.")
class BillingEvent:
    id: strawberry.ID = strawberry.field(
        description="Opaque and ordered: pass the last one seen as `after` to resume."
    )
    type: str = strawberry.field(
        description="INVOICE_FINALIZED, PAYMENT_SUCCEEDED, PAYMENT_FAILED, SEAT_ADDED, "
        "SEAT_REMOVAL_SCHEDULED, SEAT_REMOVED, PAYMENT_METHOD_UPDATED, REMINDER_SENT, "
        "ACCOUNT_CLOSURE_SCHEDULED or ACCOUNT_CLOSED"
    )
    occurred_at: datetime
    amount_cents: int | None
    message: str
    invoice_id: strawberry.Private[int | None]
    # The event as every administrator of the team sees it: its fields depend on nothing else,
    # so it is executed once for all of them (schema/execution.py, `shared_event_key`).
    shared_result_key: strawberry.Private[tuple[str, int, Same] | None] = None

    @strawberry.field(description="The invoice the event is about, if any.")
    async def invoice(self, info: Info[Context, Any]) -> Invoice | None:
        if self.invoice_id is None:
            return None
        return await load_node(info.context, "Invoice", self.invoice_id)

    @classmethod
    def of(cls, event: DomainEvent, shared: bool = False) -> BillingEvent:
        payload = event.payload
        amount = payload.get("amount_cents")
        invoice = payload.get("invoice_id")
        return cls(
            id=strawberry.ID(encode_id("BillingEvent", event.id)),
            type=event.type,
            occurred_at=event.occurred_at,
            amount_cents=int(amount) if amount is not None else None,
            message=str(payload.get("message") or ""),
            invoice_id=int(invoice) if invoice is not None else None,
            shared_result_key=("team admins", event.team_id, Same(event)) if shared else None,
        )


@strawberry.type
class EventsSubscription:
    @strawberry.subscription(
        description="The team's billing events, live (administrators). With `after`, first "
        "every event after that id, then live: no gap, no duplicate."
    )
    async def billing_events(
        self, info: Info[Context, Any], after: strawberry.ID | None = None
    ) -> AsyncGenerator[BillingEvent, None]:
        ctx = info.context
        admin = ctx.require_admin()
        position = decode_id(after, "BillingEvent", field="after") if after else None
        check = ctx.access_check(admin=True)
        async for event in service.billing_events(ctx.rt, admin.team_id, position, check):
            yield BillingEvent.of(event, shared=True)
