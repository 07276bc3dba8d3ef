"""GraphQL of the Inventory Brik: `inventory { … }` and the `inventory*` mutations (API.md).

Resolvers stay thin: decode ids, call one service function, map rows to types. Each list loads
the stock totals of its page's products in one query, so no list costs a query per row, and
the count does not depend on timing (as a DataLoader shared between lists would).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from softbrik.plugin import BadUserInput, Forbidden, brik_context
from softbrik_inventory import csvio, imports, models, service
from softbrik_inventory.models import Balance as BalanceRow
from softbrik_inventory.models import CountLine as CountLineRow
from softbrik_inventory.models import ImportJob as ImportJobRow
from softbrik_inventory.models import Location as LocationRow
from softbrik_inventory.models import Movement as MovementRow
from softbrik_inventory.models import Product as ProductRow
from softbrik_inventory.models import Reservation as ReservationRow
from softbrik_inventory.models import StockCount as StockCountRow


def encode(info: Info[Any, Any], type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(brik_context(info).platform.encode_id(type_name, pk))


def decode(info: Info[Any, Any], global_id: strawberry.ID, type_name: str, field: str) -> int:
    return brik_context(info).platform.decode_id(str(global_id), type_name, field)


def maybe(
    info: Info[Any, Any], global_id: strawberry.ID | None, type_name: str, field: str
) -> int | None:
    return None if global_id is None else decode(info, global_id, type_name, field)


def team(info: Info[Any, Any]) -> int:
    return brik_context(info).team_id


async def totals_of(info: Info[Any, Any], product_ids: list[int]) -> dict[int, service.Totals]:
    return await service.totals(team(info), product_ids)


@strawberry.enum
class Tracking(Enum):
    NONE = "none"
    LOT = "lot"
    SERIAL = "serial"


@strawberry.enum
class LocationKind(Enum):
    INTERNAL = "internal"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    LOSS = "loss"


@strawberry.enum
class MovementKind(Enum):
    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    TRANSFER = "transfer"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    OPENING = "opening"
    REVERSAL = "reversal"


@strawberry.enum
class ReservationStatus(Enum):
    ACTIVE = "active"
    RELEASED = "released"
    SHIPPED = "shipped"


@strawberry.enum
class CountStatus(Enum):
    OPEN = "open"
    APPLIED = "applied"
    FLAGGED = "flagged"


@strawberry.type
class InventoryPageInfo:
    has_next_page: bool
    end_cursor: str | None


def page_info(page: service.Page) -> InventoryPageInfo:
    return InventoryPageInfo(has_next_page=page.has_next, end_cursor=page.end_cursor)


@strawberry.type(description="A product (SKU); stock totals are over internal locations.")
class Product:
    row: strawberry.Private[ProductRow]
    totals: strawberry.Private[service.Totals]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Product", self.row.id)

    @strawberry.field
    def sku(self) -> str:
        return self.row.sku

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field
    def description(self) -> str:
        return self.row.description

    @strawberry.field
    def category(self) -> str:
        return self.row.category

    @strawberry.field
    def unit(self) -> str:
        return self.row.unit

    @strawberry.field
    def barcode(self) -> str:
        return self.row.barcode

    @strawberry.field
    def tracking(self) -> Tracking:
        return Tracking(self.row.tracking)

    @strawberry.field
    def reorder_point(self) -> int | None:
        return self.row.reorder_point

    @strawberry.field
    def reorder_quantity(self) -> int:
        return self.row.reorder_quantity

    @strawberry.field
    def lead_time_days(self) -> int:
        return self.row.lead_time_days

    @strawberry.field
    def active(self) -> bool:
        return self.row.active

    @strawberry.field
    def on_hand(self) -> int:
        return self.totals.on_hand

    @strawberry.field
    def reserved(self) -> int:
        return self.totals.reserved

    @strawberry.field
    def available(self) -> int:
        return self.totals.available


@strawberry.type
class Location:
    row: strawberry.Private[LocationRow]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Location", self.row.id)

    @strawberry.field
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Names from the root joined by /; virtual ones start with @.")
    def path(self) -> str:
        return self.row.path

    @strawberry.field
    def kind(self) -> LocationKind:
        return LocationKind(self.row.kind)

    @strawberry.field
    def parent_id(self, info: Info[Any, Any]) -> strawberry.ID | None:
        parent = self.row.parent_id
        return None if parent is None else encode(info, "Location", parent)


@strawberry.type(description="One line of the ledger: never edited, undone by a reversal.")
class Movement:
    row: strawberry.Private[MovementRow]
    totals: strawberry.Private[dict[int, service.Totals]]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Movement", self.row.id)

    @strawberry.field
    def kind(self) -> MovementKind:
        return MovementKind(self.row.kind)

    @strawberry.field
    def product(self) -> Product:
        return Product(row=self.row.product, totals=self.totals[self.row.product_id])

    @strawberry.field
    def from_location(self) -> Location:
        return Location(row=self.row.from_location)

    @strawberry.field
    def to_location(self) -> Location:
        return Location(row=self.row.to_location)

    @strawberry.field
    def lot(self) -> str:
        return self.row.lot

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field
    def posted_at(self) -> datetime:
        return self.row.posted_at

    @strawberry.field
    def reference(self) -> str:
        return self.row.reference

    @strawberry.field
    def reverses_id(self, info: Info[Any, Any]) -> strawberry.ID | None:
        reversed_id = self.row.reverses_id
        return None if reversed_id is None else encode(info, "Movement", reversed_id)


@strawberry.type
class Balance:
    row: strawberry.Private[BalanceRow]
    totals: strawberry.Private[dict[int, service.Totals]]

    @strawberry.field
    def product(self) -> Product:
        return Product(row=self.row.product, totals=self.totals[self.row.product_id])

    @strawberry.field
    def location(self) -> Location:
        return Location(row=self.row.location)

    @strawberry.field
    def lot(self) -> str:
        return self.row.lot

    @strawberry.field
    def on_hand(self) -> int:
        return self.row.on_hand

    @strawberry.field
    def reserved(self) -> int:
        return self.row.reserved

    @strawberry.field
    def available(self) -> int:
        return self.row.on_hand - self.row.reserved


@strawberry.type
class Reservation:
    row: strawberry.Private[ReservationRow]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Reservation", self.row.id)

    @strawberry.field
    def product_id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Product", self.row.product_id)

    @strawberry.field
    def location_id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Location", self.row.location_id)

    @strawberry.field
    def lot(self) -> str:
        return self.row.lot

    @strawberry.field
    def quantity(self) -> int:
        return self.row.quantity

    @strawberry.field
    def reference(self) -> str:
        return self.row.reference

    @strawberry.field
    def status(self) -> ReservationStatus:
        return ReservationStatus(self.row.status)

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at


@strawberry.type
class CountLine:
    row: strawberry.Private[CountLineRow]

    @strawberry.field
    def product_id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Product", self.row.product_id)

    @strawberry.field
    def lot(self) -> str:
        return self.row.lot

    @strawberry.field
    def counted(self) -> int:
        return self.row.counted

    @strawberry.field(description="What the ledger said when the count was submitted.")
    def expected(self) -> int:
        return self.row.expected

    @strawberry.field(description="Stock moved here after the count started: not applied.")
    def moved(self) -> bool:
        return self.row.moved


@strawberry.type
class StockCount:
    row: strawberry.Private[StockCountRow]
    line_rows: strawberry.Private[list[CountLineRow]]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "StockCount", self.row.id)

    @strawberry.field
    def location_id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "Location", self.row.location_id)

    @strawberry.field
    def status(self) -> CountStatus:
        return CountStatus(self.row.status)

    @strawberry.field
    def started_at(self) -> datetime:
        return self.row.started_at

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.row.closed_at

    @strawberry.field
    def lines(self) -> list[CountLine]:
        return [CountLine(row=row) for row in self.line_rows]


@strawberry.type
class ReorderSuggestion:
    product: Product
    on_hand: int
    reserved: int
    available: int
    reorder_point: int
    quantity: int = strawberry.field(description="How much to order.")


@strawberry.type
class LedgerDifference:
    product_id: strawberry.ID
    location_id: strawberry.ID
    lot: str
    what: str
    ledger: int
    balance: int


@strawberry.enum
class CsvKind(Enum):
    PRODUCTS = "products"
    LOCATIONS = "locations"
    STOCK = "stock"
    LEDGER = "ledger"


@strawberry.type(name="ImportRowError")
class ImportError_:
    row: int = strawberry.field(description="The line in the file; the header is line 1.")
    column: str
    message: str


@strawberry.type
class ImportReport:
    kind: CsvKind
    dry_run: bool
    rows: int
    created: int
    updated: int
    error_count: int
    errors: list[ImportError_]


@strawberry.enum
class ImportStatus(Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@strawberry.type(description="An uploaded CSV file's import: status, progress and report.")
class ImportJob:
    row: strawberry.Private[ImportJobRow]
    live: strawberry.Private[imports.Progress | None]

    @strawberry.field
    def id(self, info: Info[Any, Any]) -> strawberry.ID:
        return encode(info, "ImportJob", self.row.id)

    @strawberry.field
    def kind(self) -> CsvKind:
        return CsvKind(self.row.kind)

    @strawberry.field
    def dry_run(self) -> bool:
        return self.row.dry_run

    @strawberry.field
    def filename(self) -> str:
        return self.row.filename

    @strawberry.field
    def size_bytes(self) -> float:
        return float(self.row.size_bytes)

    @strawberry.field
    def status(self) -> ImportStatus:
        return ImportStatus(self.row.status)

    @strawberry.field(description="checking (every row), then writing; empty when not running.")
    def phase(self) -> str:
        return self.live.phase if self.live else self.row.phase

    @strawberry.field(description="Rows done in the current pass; every row once finished.")
    def rows_done(self) -> int:
        return self.live.rows_done if self.live else self.row.rows_done

    @strawberry.field(description="The file's rows, known once every row was checked.")
    def rows_total(self) -> int | None:
        return self.live.rows_total if self.live else self.row.rows_total

    @strawberry.field(description="Rows created (that a dry run would create).")
    def created(self) -> int:
        return self.row.created

    @strawberry.field
    def updated(self) -> int:
        return self.row.updated

    @strawberry.field
    def error_count(self) -> int:
        return self.row.error_count

    @strawberry.field(description="Every error by line and column (the first 1000).")
    def errors(self) -> list[ImportError_]:
        return [
            ImportError_(row=int(e["row"]), column=str(e["column"]), message=str(e["message"]))  # type: ignore[call-overload]
            for e in self.row.errors
        ]

    @strawberry.field(description="Why a failed import failed.")
    def message(self) -> str:
        return self.row.message

    @strawberry.field
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field
    def finished_at(self) -> datetime | None:
        return self.row.finished_at


@strawberry.input
class ImportInput:
    kind: CsvKind
    csv: str = strawberry.field(description="UTF-8 CSV with a header; comma or semicolon.")
    dry_run: bool = True


@strawberry.type
class InventorySettings:
    allow_negative: bool


@strawberry.type
class ProductConnection:
    nodes: list[Product]
    page_info: InventoryPageInfo


@strawberry.type
class MovementConnection:
    nodes: list[Movement]
    page_info: InventoryPageInfo


@strawberry.type
class BalanceConnection:
    nodes: list[Balance]
    page_info: InventoryPageInfo


@strawberry.type
class ReservationConnection:
    nodes: list[Reservation]
    page_info: InventoryPageInfo


@strawberry.type
class InventoryQuery:
    @strawberry.field
    async def products(
        self,
        info: Info[Any, Any],
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        category: str | None = None,
        active: bool | None = None,
    ) -> ProductConnection:
        page = await service.list_products(
            team(info), first, after, search=search, category=category, active=active
        )
        found = await totals_of(info, [row.id for row in page.items])
        return ProductConnection(
            nodes=[Product(row=row, totals=found[row.id]) for row in page.items],
            page_info=page_info(page),
        )

    @strawberry.field
    async def product(
        self, info: Info[Any, Any], sku: str | None = None, id: strawberry.ID | None = None
    ) -> Product:
        if id is not None:
            row = await service.get_product(team(info), decode(info, id, "Product", "id"))
        else:
            row = await service.product_by_sku(team(info), sku or "")
        return Product(row=row, totals=(await totals_of(info, [row.id]))[row.id])

    @strawberry.field
    async def locations(self, info: Info[Any, Any]) -> list[Location]:
        return [Location(row=row) for row in await service.list_locations(team(info))]

    @strawberry.field
    async def balances(
        self,
        info: Info[Any, Any],
        first: int | None = None,
        after: str | None = None,
        product_id: strawberry.ID | None = None,
        location_id: strawberry.ID | None = None,
        include_virtual: bool = False,
    ) -> BalanceConnection:
        page = await service.list_balances(
            team(info),
            first,
            after,
            product_id=maybe(info, product_id, "Product", "productId"),
            location_id=maybe(info, location_id, "Location", "locationId"),
            include_virtual=include_virtual,
        )
        found = await totals_of(info, list({row.product_id for row in page.items}))
        return BalanceConnection(
            nodes=[Balance(row=row, totals=found) for row in page.items], page_info=page_info(page)
        )

    @strawberry.field
    async def movements(
        self,
        info: Info[Any, Any],
        first: int | None = None,
        after: str | None = None,
        product_id: strawberry.ID | None = None,
        location_id: strawberry.ID | None = None,
        kind: MovementKind | None = None,
    ) -> MovementConnection:
        page = await service.list_movements(
            team(info),
            first,
            after,
            product_id=maybe(info, product_id, "Product", "productId"),
            location_id=maybe(info, location_id, "Location", "locationId"),
            kind=kind.value if kind else None,
        )
        found = await totals_of(info, list({row.product_id for row in page.items}))
        return MovementConnection(
            nodes=[Movement(row=row, totals=found) for row in page.items], page_info=page_info(page)
        )

    @strawberry.field
    async def reservations(
        self,
        info: Info[Any, Any],
        first: int | None = None,
        after: str | None = None,
        product_id: strawberry.ID | None = None,
        status: ReservationStatus | None = None,
    ) -> ReservationConnection:
        page = await service.list_reservations(
            team(info),
            first,
            after,
            product_id=maybe(info, product_id, "Product", "productId"),
            status=status.value if status else None,
        )
        return ReservationConnection(
            nodes=[Reservation(row=row) for row in page.items], page_info=page_info(page)
        )

    @strawberry.field
    async def count(self, info: Info[Any, Any], id: strawberry.ID) -> StockCount:
        row = await service.get_count(team(info), decode(info, id, "StockCount", "id"))
        return StockCount(row=row, line_rows=await service.count_lines(row))

    @strawberry.field
    async def reorder_suggestions(
        self, info: Info[Any, Any], first: int | None = None
    ) -> list[ReorderSuggestion]:
        found = await service.reorder_suggestions(team(info), service.page_size(first))
        return [
            ReorderSuggestion(
                product=Product(row=s.product, totals=s.totals),
                on_hand=s.totals.on_hand,
                reserved=s.totals.reserved,
                available=s.totals.available,
                reorder_point=s.product.reorder_point or 0,
                quantity=s.quantity,
            )
            for s in found
        ]

    @strawberry.field
    async def settings(self, info: Info[Any, Any]) -> InventorySettings:
        row = await service.team_settings(team(info))
        return InventorySettings(allow_negative=row.allow_negative)

    @strawberry.field(description="CSV of one kind, as `inventoryImport` reads it again.")
    async def export(self, info: Info[Any, Any], kind: CsvKind, delimiter: str = ",") -> str:
        if delimiter not in (",", ";"):
            raise BadUserInput("delimiter must be , or ;", field="delimiter")
        return await csvio.export_text(team(info), csvio.Kind(kind.value), delimiter)

    @strawberry.field(description="An import of an uploaded file: how far it is, its report.")
    async def import_job(self, info: Info[Any, Any], id: strawberry.ID) -> ImportJob:
        ctx = brik_context(info)
        row, live = await imports.get_job(
            ctx.platform, ctx.team_id, decode(info, id, "ImportJob", "id")
        )
        return ImportJob(row=row, live=live)

    @strawberry.field(description="Balances that differ from the sum of the ledger (none).")
    async def verify(self, info: Info[Any, Any]) -> list[LedgerDifference]:
        return [
            LedgerDifference(
                product_id=encode(info, "Product", d.product_id),
                location_id=encode(info, "Location", d.location_id),
                lot=d.lot,
                what=d.what,
                ledger=d.ledger,
                balance=d.balance,
            )
            for d in await service.verify(team(info))
        ]


# --- mutations ------------------------------------------------------------------------------


@strawberry.input
class CreateLocationInput:
    name: str
    parent_id: strawberry.ID | None = None


@strawberry.input
class CreateProductInput:
    sku: str
    name: str
    description: str = ""
    category: str = ""
    unit: str = "pcs"
    barcode: str = ""
    tracking: Tracking = Tracking.NONE
    reorder_point: int | None = None
    reorder_quantity: int = 0
    lead_time_days: int = 0
    active: bool = True


@strawberry.input
class UpdateProductInput:
    id: strawberry.ID
    sku: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET
    unit: str | None = strawberry.UNSET
    barcode: str | None = strawberry.UNSET
    tracking: Tracking | None = strawberry.UNSET
    reorder_point: int | None = strawberry.UNSET
    reorder_quantity: int | None = strawberry.UNSET
    lead_time_days: int | None = strawberry.UNSET
    active: bool | None = strawberry.UNSET


@strawberry.input
class StockInput:
    product_id: strawberry.ID
    location_id: strawberry.ID
    quantity: int
    lot: str = ""
    reference: str = ""
    idempotency_key: str | None = None


@strawberry.input
class ShipStockInput:
    product_id: strawberry.ID
    location_id: strawberry.ID
    quantity: int
    lot: str = ""
    reference: str = ""
    reservation_id: strawberry.ID | None = None
    idempotency_key: str | None = None


@strawberry.input
class TransferStockInput:
    product_id: strawberry.ID
    from_location_id: strawberry.ID
    to_location_id: strawberry.ID
    quantity: int
    lot: str = ""
    reference: str = ""
    idempotency_key: str | None = None


@strawberry.input
class AdjustStockInput:
    product_id: strawberry.ID
    location_id: strawberry.ID
    change: int = strawberry.field(description="Units found (> 0) or lost (< 0).")
    lot: str = ""
    reference: str = ""
    idempotency_key: str | None = None


@strawberry.input
class ReverseMovementInput:
    movement_id: strawberry.ID
    reference: str = ""
    idempotency_key: str | None = None


@strawberry.input
class CountLineInput:
    product_id: strawberry.ID
    quantity: int
    lot: str = ""


@strawberry.input
class SubmitCountInput:
    count_id: strawberry.ID
    lines: list[CountLineInput]


def _product_id(info: Info[Any, Any], global_id: strawberry.ID) -> int:
    return decode(info, global_id, "Product", "productId")


def _location_id(info: Info[Any, Any], global_id: strawberry.ID, field: str) -> int:
    return decode(info, global_id, "Location", field)


async def _chunks(upload: Any) -> AsyncIterator[bytes]:
    # Starlette reads a spooled upload in a worker thread per call: read big pieces.
    while chunk := await upload.read(UPLOAD_READ):
        yield chunk


UPLOAD_READ = 1 << 20
SUPPLIER = models.LocationKind.SUPPLIER
CUSTOMER = models.LocationKind.CUSTOMER
MoveInput = StockInput | ShipStockInput | TransferStockInput | AdjustStockInput


def cache(info: Info[Any, Any]) -> service.TeamCache:
    """The request's `TeamCache` (from `softbrik_context`): virtual locations looked up once."""
    found: service.TeamCache = brik_context(info).extras[service.CACHE]
    return found


def _options(input: MoveInput) -> dict[str, Any]:
    return {
        "lot": input.lot,
        "reference": input.reference,
        "idempotency_key": input.idempotency_key,
    }


async def _movement(info: Info[Any, Any], row: MovementRow) -> Movement:
    return Movement(row=row, totals=await totals_of(info, [row.product_id]))


async def _posted(info: Info[Any, Any], move: service.Move) -> Movement:
    """Post a move for the caller: the one path of the receive, ship, transfer and adjust
    mutations."""
    ctx = brik_context(info)
    row = await service.post_move(
        ctx.platform, ctx.team_id, move, actor_id=ctx.user_id, cache=cache(info)
    )
    return await _movement(info, row)


async def _post(
    info: Info[Any, Any],
    kind: models.MovementKind,
    input: MoveInput,
    source: service.End,
    target: service.End,
    quantity: int,
    reservation_id: int | None = None,
) -> Movement:
    move = service.Move(
        kind,
        _product_id(info, input.product_id),
        source,
        target,
        quantity,
        reservation_id=reservation_id,
        **_options(input),
    )
    return await _posted(info, move)


@strawberry.type
class InventoryMutation:
    @strawberry.mutation
    async def inventory_create_location(
        self, info: Info[Any, Any], input: CreateLocationInput
    ) -> Location:
        ctx = brik_context(info)
        parent = maybe(info, input.parent_id, "Location", "parentId")
        row = await service.create_location(ctx.platform, ctx.team_id, input.name, parent)
        return Location(row=row)

    @strawberry.mutation
    async def inventory_create_product(
        self, info: Info[Any, Any], input: CreateProductInput
    ) -> Product:
        ctx = brik_context(info)
        values = {name: getattr(input, name) for name in service.PRODUCT_FIELDS}
        values["tracking"] = input.tracking.value
        row = await service.create_product(ctx.platform, ctx.team_id, **values)
        return Product(row=row, totals=(await totals_of(info, [row.id]))[row.id])

    @strawberry.mutation
    async def inventory_update_product(
        self, info: Info[Any, Any], input: UpdateProductInput
    ) -> Product:
        ctx = brik_context(info)
        values = {
            name: getattr(input, name)
            for name in service.PRODUCT_FIELDS
            if getattr(input, name) is not strawberry.UNSET
        }
        if isinstance(values.get("tracking"), Tracking):
            values["tracking"] = values["tracking"].value
        row = await service.update_product(
            ctx.platform, ctx.team_id, decode(info, input.id, "Product", "id"), **values
        )
        return Product(row=row, totals=(await totals_of(info, [row.id]))[row.id])

    @strawberry.mutation
    async def inventory_receive_stock(self, info: Info[Any, Any], input: StockInput) -> Movement:
        location = _location_id(info, input.location_id, "locationId")
        return await _post(
            info, models.MovementKind.RECEIPT, input, SUPPLIER, location, input.quantity
        )

    @strawberry.mutation
    async def inventory_ship_stock(self, info: Info[Any, Any], input: ShipStockInput) -> Movement:
        location = _location_id(info, input.location_id, "locationId")
        reservation = maybe(info, input.reservation_id, "Reservation", "reservationId")
        return await _post(
            info,
            models.MovementKind.SHIPMENT,
            input,
            location,
            CUSTOMER,
            input.quantity,
            reservation,
        )

    @strawberry.mutation
    async def inventory_transfer_stock(
        self, info: Info[Any, Any], input: TransferStockInput
    ) -> Movement:
        source = _location_id(info, input.from_location_id, "fromLocationId")
        target = _location_id(info, input.to_location_id, "toLocationId")
        return await _post(
            info, models.MovementKind.TRANSFER, input, source, target, input.quantity
        )

    @strawberry.mutation
    async def inventory_adjust_stock(
        self, info: Info[Any, Any], input: AdjustStockInput
    ) -> Movement:
        move = service.adjustment(
            _product_id(info, input.product_id),
            _location_id(info, input.location_id, "locationId"),
            input.change,
            **_options(input),
        )
        return await _posted(info, move)

    @strawberry.mutation
    async def inventory_reverse_movement(
        self, info: Info[Any, Any], input: ReverseMovementInput
    ) -> Movement:
        ctx = brik_context(info)
        row = await service.reverse_movement(
            ctx.platform,
            ctx.team_id,
            decode(info, input.movement_id, "Movement", "movementId"),
            reference=input.reference,
            idempotency_key=input.idempotency_key,
            actor_id=ctx.user_id,
        )
        return await _movement(info, row)

    @strawberry.mutation
    async def inventory_reserve_stock(self, info: Info[Any, Any], input: StockInput) -> Reservation:
        ctx = brik_context(info)
        row = await service.reserve_stock(
            ctx.platform,
            ctx.team_id,
            _product_id(info, input.product_id),
            _location_id(info, input.location_id, "locationId"),
            input.quantity,
            lot=input.lot,
            reference=input.reference,
            idempotency_key=input.idempotency_key,
        )
        return Reservation(row=row)

    @strawberry.mutation
    async def inventory_release_reservation(
        self, info: Info[Any, Any], id: strawberry.ID
    ) -> Reservation:
        ctx = brik_context(info)
        row = await service.release_reservation(
            ctx.platform, ctx.team_id, decode(info, id, "Reservation", "id")
        )
        return Reservation(row=row)

    @strawberry.mutation
    async def inventory_start_count(
        self, info: Info[Any, Any], location_id: strawberry.ID
    ) -> StockCount:
        ctx = brik_context(info)
        row = await service.start_count(
            ctx.platform, ctx.team_id, _location_id(info, location_id, "locationId")
        )
        return StockCount(row=row, line_rows=[])

    @strawberry.mutation
    async def inventory_submit_count(
        self, info: Info[Any, Any], input: SubmitCountInput
    ) -> StockCount:
        ctx = brik_context(info)
        lines = [
            service.Counted(
                decode(info, line.product_id, "Product", f"lines[{i}].productId"),
                line.quantity,
                line.lot,
            )
            for i, line in enumerate(input.lines)
        ]
        row = await service.submit_count(
            ctx.platform,
            ctx.team_id,
            decode(info, input.count_id, "StockCount", "countId"),
            lines,
            actor_id=ctx.user_id,
            cache=cache(info),
        )
        return StockCount(row=row, line_rows=await service.count_lines(row))

    @strawberry.mutation(description="Import CSV: a dry run lists every error; else all or none.")
    async def inventory_import(self, info: Info[Any, Any], input: ImportInput) -> ImportReport:
        ctx = brik_context(info)
        text = input.csv
        report = await csvio.import_csv(
            ctx.platform,
            ctx.team_id,
            input.kind.value,
            lambda: text.splitlines(keepends=True),
            dry_run=input.dry_run,
            actor_id=ctx.user_id,
        )
        return ImportReport(
            kind=input.kind,
            dry_run=report.dry_run,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            error_count=report.error_count,
            errors=[
                ImportError_(row=e.row, column=e.column, message=e.message) for e in report.errors
            ],
        )

    @strawberry.mutation(
        description="Import an uploaded CSV file (multipart request spec) in the background: "
        "a dry run lists every error, a real import writes all rows or none. Follow it with "
        "inventory { importJob(id) }."
    )
    async def inventory_import_file(
        self, info: Info[Any, Any], file: Upload, kind: CsvKind, dry_run: bool = True
    ) -> ImportJob:
        ctx = brik_context(info)
        upload: Any = file
        row = await imports.start_import(
            ctx.platform,
            ctx.team_id,
            kind.value,
            _chunks(upload),
            filename=str(upload.filename or ""),
            dry_run=dry_run,
            actor_id=ctx.user_id,
        )
        return ImportJob(row=row, live=None)

    @strawberry.mutation(description="Let internal locations go below zero (admins only).")
    async def inventory_set_allow_negative(
        self, info: Info[Any, Any], allowed: bool
    ) -> InventorySettings:
        ctx = brik_context(info)
        if not ctx.is_admin:
            raise Forbidden("Only the team's administrators may change this.")
        row = await service.set_allow_negative(ctx.team_id, allowed)
        return InventorySettings(allow_negative=row.allow_negative)


@strawberry.type(description="INVENTORY_STOCK_LOW: available stock fell to the reorder point.")
class StockEvent:
    id: str = strawberry.field(description="The event id; pass it as `after` to resume.")
    type: str
    occurred_at: datetime
    product_id: strawberry.ID | None
    sku: str
    location_id: strawberry.ID | None
    on_hand: int
    reserved: int
    available: int
    reorder_point: int
    suggested_quantity: int


@strawberry.type
class InventorySubscription:
    @strawberry.subscription
    async def inventory_stock_events(
        self, info: Info[Any, Any], after: str | None = None
    ) -> AsyncGenerator[StockEvent, None]:
        """Low-stock alerts of the team, live; with `after`, first those missed since then."""
        ctx = brik_context(info)
        position = int(after) if after and after.isdigit() else None
        async for event in ctx.platform.events(ctx.team_id, [service.STOCK_LOW], position):
            p = event.payload
            product, location = p.get("product_id"), p.get("location_id")
            yield StockEvent(
                id=str(event.id),
                type=event.type,
                occurred_at=event.occurred_at,
                product_id=encode(info, "Product", product) if product else None,
                sku=str(p.get("sku", "")),
                location_id=encode(info, "Location", location) if location else None,
                on_hand=int(p.get("on_hand", 0)),
                reserved=int(p.get("reserved", 0)),
                available=int(p.get("available", 0)),
                reorder_point=int(p.get("reorder_point", 0)),
                suggested_quantity=int(p.get("suggested_quantity", 0)),
            )
