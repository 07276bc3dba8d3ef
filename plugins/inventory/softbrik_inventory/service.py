"""Inventory services: products, locations, the movement ledger, reservations and counts.

Every change of stock is a `Movement` from one location to another (double entry), posted now
and never edited; a mistake is undone by a reversing movement. Balances per product, location
and lot are updated in the same transaction as the movement they follow.

Concurrency: every operation that changes a product's stock first locks the product's row
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite runs one writing transaction at a time), then the
balance rows it touches, always in the order (product id, location id). One fixed order means no
deadlocks, and the checks (enough available stock, one reversal per movement, one alert per
crossing) see every earlier writer's committed result.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, Unpack

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Max, Sum
from tortoise.models import Model
from tortoise.transactions import in_transaction

from softbrik.plugin import BadUserInput, Conflict, NotFound, Platform
from softbrik_inventory.models import (
    VIRTUAL_KINDS,
    Balance,
    CountLine,
    CountStatus,
    ImportJob,
    Location,
    LocationKind,
    LowStock,
    Movement,
    MovementKind,
    Product,
    Reservation,
    ReservationStatus,
    Settings,
    StockCount,
    Tracking,
)

STOCK_LOW = "INVENTORY_STOCK_LOW"
LEDGER_MISMATCH = "INVENTORY_LEDGER_MISMATCH"
MAX_PAGE = 100
MAX_QUANTITY = 10**9

M = TypeVar("M", bound=Model)


# --- small helpers --------------------------------------------------------------------------


def _text(value: str | None, field: str, *, max_length: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise BadUserInput(f"{field} must not be empty.", field=field)
    if len(text) > max_length:
        raise BadUserInput(f"{field} is longer than {max_length} characters.", field=field)
    return text


def _count(value: int | None, field: str, *, positive: bool = False) -> int:
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        raise BadUserInput(f"{field} must be a whole number.", field=field)
    if positive and value <= 0:
        raise BadUserInput(f"{field} must be greater than 0.", field=field)
    if value < 0:
        raise BadUserInput(f"{field} must not be negative.", field=field)
    if value > MAX_QUANTITY:
        raise BadUserInput(f"{field} is too large.", field=field)
    return value


def _key(idempotency_key: str | None) -> str | None:
    if idempotency_key is None:
        return None
    return _text(idempotency_key, "idempotencyKey", max_length=100, required=True)


@dataclass
class Page:
    """One page of a list, ordered by id; `end_cursor` continues after its last item."""

    items: list[Any]
    has_next: bool
    end_cursor: str | None


def cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"c:{pk}".encode()).decode().rstrip("=")


def after_id(after: str | None) -> int:
    if not after:
        return 0
    try:
        raw = base64.urlsafe_b64decode((after + "=" * (-len(after) % 4)).encode()).decode()
        kind, _, pk = raw.partition(":")
        if kind != "c":
            raise ValueError(raw)
        return int(pk)
    except ValueError as exc:
        raise BadUserInput("The cursor is not one this list gave.", field="after") from exc


def page_size(first: int | None) -> int:
    if first is None:
        return 50
    if first < 1 or first > MAX_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_PAGE}.", field="first")
    return first


async def paginate(query: Any, first: int | None, after: str | None) -> Page:
    size = page_size(first)
    rows = await query.filter(id__gt=after_id(after)).order_by("id").limit(size + 1)
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(rows, has_next, cursor(rows[-1].id) if rows else None)


async def _one(query: Any, what: str, field: str) -> Any:
    found = await query.first()
    if found is None:
        raise NotFound(f"No {what} has this id.", field=field)
    return found


# --- team settings and virtual locations ----------------------------------------------------


async def team_settings(team_id: int) -> Settings:
    found = await Settings.get_or_none(team_id=team_id)
    if found is None:
        try:
            found = await Settings.create(team_id=team_id)
        except IntegrityError:
            found = await Settings.get(team_id=team_id)
    return found


async def allows_negative(team_id: int) -> bool:
    """Whether the team lets internal locations go below zero (a read, never a write)."""
    found = await Settings.filter(team_id=team_id).values_list("allow_negative", flat=True)
    return bool(found and found[0])


async def set_allow_negative(team_id: int, allowed: bool) -> Settings:
    """Whether internal locations may go below zero (off by default)."""
    settings = await team_settings(team_id)
    settings.allow_negative = allowed
    await settings.save(update_fields=["allow_negative"])
    return settings


async def virtual_locations(platform: Platform, team_id: int) -> dict[LocationKind, Location]:
    """The team's supplier, customer and loss locations, created on first use."""
    rows = {row.kind: row for row in await Location.filter(team_id=team_id, kind__in=VIRTUAL_KINDS)}
    for kind in VIRTUAL_KINDS:
        if kind not in rows:
            try:
                rows[kind] = await Location.create(
                    team_id=team_id,
                    name=kind.value.title(),
                    path=f"@{kind.value}",
                    kind=kind,
                    created_at=platform.now(),
                )
            except IntegrityError:
                rows[kind] = await Location.get(team_id=team_id, path=f"@{kind.value}")
    return rows


# --- products -------------------------------------------------------------------------------


PRODUCT_FIELDS = (
    "sku",
    "name",
    "description",
    "category",
    "unit",
    "barcode",
    "tracking",
    "reorder_point",
    "reorder_quantity",
    "lead_time_days",
    "active",
)


def clean_product(values: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validated product fields (BAD_USER_INPUT naming the field otherwise)."""
    clean: dict[str, Any] = {}
    if "sku" in values or not partial:
        sku = _text(values.get("sku"), "sku", max_length=64, required=True)
        if any(c.isspace() for c in sku):
            raise BadUserInput("sku must not contain spaces.", field="sku")
        clean["sku"] = sku
    if "name" in values or not partial:
        clean["name"] = _text(values.get("name"), "name", max_length=200, required=True)
    for name, length in (("description", 10_000), ("category", 100), ("barcode", 64)):
        if name in values:
            clean[name] = _text(values[name], name, max_length=length)
    if "unit" in values:
        clean["unit"] = _text(values["unit"], "unit", max_length=20, required=True)
    if "tracking" in values and values["tracking"] is not None:
        try:
            clean["tracking"] = Tracking(str(values["tracking"]).lower())
        except ValueError as exc:
            raise BadUserInput("tracking must be none, lot or serial.", field="tracking") from exc
    if "reorder_point" in values:
        point = values["reorder_point"]
        clean["reorder_point"] = None if point is None else _count(point, "reorderPoint")
    for name, label in (
        ("reorder_quantity", "reorderQuantity"),
        ("lead_time_days", "leadTimeDays"),
    ):
        if name in values and values[name] is not None:
            clean[name] = _count(values[name], label)
    if "active" in values and values["active"] is not None:
        clean["active"] = bool(values["active"])
    return clean


async def create_product(platform: Platform, team_id: int, **values: Any) -> Product:
    clean = clean_product(values)
    if await Product.exists(team_id=team_id, sku=clean["sku"]):
        raise Conflict(f"A product with SKU {clean['sku']} exists.", field="sku")
    try:
        async with in_transaction():
            return await Product.create(team_id=team_id, created_at=platform.now(), **clean)
    except IntegrityError as exc:
        raise Conflict(f"A product with SKU {clean['sku']} exists.", field="sku") from exc


async def update_product(
    platform: Platform, team_id: int, product_id: int, **values: Any
) -> Product:
    clean = clean_product(values, partial=True)
    async with in_transaction():
        product = await _one(
            Product.filter(team_id=team_id, id=product_id).select_for_update(), "product", "id"
        )
        renamed = "sku" in clean and clean["sku"] != product.sku
        if renamed and await Product.exists(team_id=team_id, sku=clean["sku"]):
            raise Conflict(f"A product with SKU {clean['sku']} exists.", field="sku")
        retracked = "tracking" in clean and clean["tracking"] != product.tracking
        if retracked and await Movement.exists(team_id=team_id, product_id=product.id):
            raise Conflict(
                "Tracking cannot change once the product has movements.", field="tracking"
            )
        for name, value in clean.items():
            setattr(product, name, value)
        if clean:
            await product.save(update_fields=list(clean))
        if "reorder_point" in clean:
            await _check_reorder(platform, product, None)
        return product


async def get_product(team_id: int, product_id: int, field: str = "id") -> Product:
    product: Product = await _one(Product.filter(team_id=team_id, id=product_id), "product", field)
    return product


async def product_by_sku(team_id: int, sku: str) -> Product:
    product = await Product.get_or_none(team_id=team_id, sku=sku)
    if product is None:
        raise NotFound(f"No product has SKU {sku}.", field="sku")
    return product


async def list_products(
    team_id: int,
    first: int | None = None,
    after: str | None = None,
    *,
    search: str | None = None,
    category: str | None = None,
    active: bool | None = None,
) -> Page:
    query = Product.filter(team_id=team_id)
    if search:
        query = query.filter(Q(sku__icontains=search) | Q(name__icontains=search))
    if category is not None:
        query = query.filter(category=category)
    if active is not None:
        query = query.filter(active=active)
    return await paginate(query, first, after)


@dataclass(frozen=True)
class Totals:
    """Stock over the internal locations (API.md: onHand, reserved, available)."""

    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


async def totals(team_id: int, product_ids: Iterable[int]) -> dict[int, Totals]:
    """Totals over internal locations for many products, in one query."""
    ids = list(product_ids)
    if not ids:
        return {}
    rows = (
        await Balance.filter(team_id=team_id, product_id__in=ids, internal=True)
        .group_by("product_id")
        .annotate(on_hand_sum=Sum("on_hand"), reserved_sum=Sum("reserved"))
        .values("product_id", "on_hand_sum", "reserved_sum")
    )
    found = {
        row["product_id"]: Totals(int(row["on_hand_sum"] or 0), int(row["reserved_sum"] or 0))
        for row in rows
    }
    return {pk: found.get(pk, Totals()) for pk in ids}


# --- locations ------------------------------------------------------------------------------


async def create_location(
    platform: Platform, team_id: int, name: str, parent_id: int | None = None
) -> Location:
    """An internal location, under `parent_id` when given (a tree per team)."""
    name = _text(name, "name", max_length=200, required=True)
    if "/" in name or name.startswith("@"):
        raise BadUserInput("A location's name cannot contain / or start with @.", field="name")
    path = name
    if parent_id is not None:
        parent = await _one(
            Location.filter(team_id=team_id, id=parent_id, kind=LocationKind.INTERNAL),
            "location",
            "parentId",
        )
        path = f"{parent.path}/{name}"
    if len(path) > 1000:
        raise BadUserInput("The location is nested too deep.", field="name")
    if await Location.exists(team_id=team_id, path=path):
        raise Conflict(f"A location {path} exists.", field="name")
    try:
        async with in_transaction():
            return await Location.create(
                team_id=team_id,
                name=name,
                parent_id=parent_id,
                path=path,
                created_at=platform.now(),
            )
    except IntegrityError as exc:
        raise Conflict(f"A location {path} exists.", field="name") from exc


async def get_location(team_id: int, location_id: int, field: str = "locationId") -> Location:
    location: Location = await _one(
        Location.filter(team_id=team_id, id=location_id), "location", field
    )
    return location


async def list_locations(team_id: int) -> list[Location]:
    """Every location of the team, internal ones in tree order (by path), virtual ones last."""
    rows = await Location.filter(team_id=team_id).order_by("path")
    return sorted(rows, key=lambda row: (row.kind != LocationKind.INTERNAL, row.path))


# --- the ledger -----------------------------------------------------------------------------


@dataclass
class Posting:
    """What one movement does, before it is posted."""

    product_id: int
    source: Location
    target: Location
    quantity: int
    kind: MovementKind
    lot: str = ""
    reference: str = ""
    reverses_id: int | None = None
    reservation: Reservation | None = None
    posted_at: Any = None


@dataclass
class Ledger:
    """One transaction's view of a team's stock: locked products and their balances."""

    platform: Platform
    team_id: int
    allow_negative: bool | None = None
    """The team's choice; None until a posting would take stock below zero, then read once."""
    actor_id: int | None = None
    products: dict[int, Product] = field(default_factory=dict)
    balances: dict[tuple[int, int, str], Balance] = field(default_factory=dict)

    async def allows_negative(self) -> bool:
        if self.allow_negative is None:
            self.allow_negative = await allows_negative(self.team_id)
        return self.allow_negative

    async def lock(self, product_ids: Iterable[int], field: str = "productId") -> None:
        """Lock products in id order: the one fixed order that keeps writers deadlock-free."""
        wanted = sorted(set(product_ids) - set(self.products))
        if not wanted:
            return
        rows = (
            await Product.filter(team_id=self.team_id, id__in=wanted)
            .order_by("id")
            .select_for_update()
        )
        for row in rows:
            self.products[row.id] = row
        if len(rows) != len(wanted):
            raise NotFound("No product has this id.", field=field)

    async def balance(self, product_id: int, location: Location, lot: str) -> Balance:
        key = (product_id, location.id, lot)
        found = self.balances.get(key)
        if found is None:
            found = (
                await Balance.filter(
                    team_id=self.team_id, product_id=product_id, location_id=location.id, lot=lot
                )
                .select_for_update()
                .first()
            )
            if found is None:
                # The product's lock makes this the only writer creating this row.
                found = await Balance.create(
                    team_id=self.team_id,
                    product_id=product_id,
                    location_id=location.id,
                    lot=lot,
                    internal=location.kind == LocationKind.INTERNAL,
                )
            self.balances[key] = found
        return found

    def _check_lot(self, product: Product, posting: Posting) -> None:
        if product.tracking == Tracking.NONE and posting.lot:
            raise BadUserInput(f"{product.sku} is not tracked by lot.", field="lot")
        if product.tracking != Tracking.NONE and not posting.lot:
            raise BadUserInput(f"{product.sku} needs a lot or serial number.", field="lot")

    async def post(self, posting: Posting, idempotency_key: str | None = None) -> Movement:
        product = self.products[posting.product_id]
        self._check_lot(product, posting)
        if posting.source.id == posting.target.id:
            raise BadUserInput("Stock must move between two locations.", field="toLocationId")
        # Balances in (location id) order, after the product: the fixed lock order.
        first, second = sorted((posting.source, posting.target), key=lambda loc: loc.id)
        balances = {
            loc.id: await self.balance(product.id, loc, posting.lot) for loc in (first, second)
        }
        source = balances[posting.source.id]
        target = balances[posting.target.id]
        released = 0
        if posting.reservation is not None:
            released = posting.reservation.quantity
        if source.internal:
            available = source.on_hand - (source.reserved - released)
            if posting.quantity > available and not await self.allows_negative():
                raise Conflict(
                    f"Only {max(available, 0)} of {product.sku} available at "
                    f"{posting.source.path}; {posting.quantity} asked.",
                    field="quantity",
                    available=max(available, 0),
                )
        if (
            product.tracking == Tracking.SERIAL
            and target.internal
            and target.on_hand + posting.quantity > 1
        ):
            raise Conflict(
                f"Serial {posting.lot} of {product.sku} is already at {posting.target.path}.",
                field="lot",
            )
        source.on_hand -= posting.quantity
        source.reserved -= released
        target.on_hand += posting.quantity
        await source.save(update_fields=["on_hand", "reserved"])
        await target.save(update_fields=["on_hand"])
        movement = await Movement.create(
            team_id=self.team_id,
            product_id=product.id,
            from_location_id=posting.source.id,
            to_location_id=posting.target.id,
            lot=posting.lot,
            quantity=posting.quantity,
            kind=posting.kind,
            posted_at=posting.posted_at or self.platform.now(),
            reference=posting.reference,
            reverses_id=posting.reverses_id,
            idempotency_key=idempotency_key,
            actor_id=self.actor_id,
        )
        movement.product = product
        movement.from_location = posting.source
        movement.to_location = posting.target
        return movement

    async def check_reorder(self, product_ids: Iterable[int], location: Location | None) -> None:
        for pk in sorted(set(product_ids)):
            await _check_reorder(self.platform, self.products[pk], location)


async def _check_reorder(platform: Platform, product: Product, location: Location | None) -> None:
    """Tell once when available stock falls to or below the reorder point (one per crossing).

    Runs under the product's lock, so two writers cannot both see the crossing.
    """
    if product.reorder_point is None:
        await LowStock.filter(product_id=product.id).delete()
        return
    total = (await totals(product.team_id, [product.id]))[product.id]
    low = total.available <= product.reorder_point
    marked = await LowStock.exists(product_id=product.id)
    if low and not marked:
        await LowStock.create(team_id=product.team_id, product_id=product.id, since=platform.now())
        await platform.emit(
            product.team_id,
            STOCK_LOW,
            {
                "product_id": product.id,
                "sku": product.sku,
                "location_id": location.id if location else None,
                "location": location.path if location else None,
                "on_hand": total.on_hand,
                "reserved": total.reserved,
                "available": total.available,
                "reorder_point": product.reorder_point,
                "reorder_quantity": product.reorder_quantity,
                "suggested_quantity": suggested_quantity(product, total),
            },
        )
    elif marked and not low:
        await LowStock.filter(product_id=product.id).delete()


def suggested_quantity(product: Product, total: Totals) -> int:
    """Enough to rise above the reorder point, and at least the reorder quantity."""
    point = product.reorder_point or 0
    return max(product.reorder_quantity, point - total.available + 1)


async def _replay(team_id: int, key: str | None, same: dict[str, Any]) -> Movement | None:
    """The movement an earlier request with this idempotency key posted, if any.

    The same key with a different request is a CONFLICT, never a second posting.
    """
    if key is None:
        return None
    found = (
        await Movement.filter(team_id=team_id, idempotency_key=key)
        .select_related("product", "from_location", "to_location")
        .first()
    )
    if found is None:
        return None
    for name, value in same.items():
        if getattr(found, name) != value:
            raise Conflict(
                "This idempotency key was used for a different request.", field="idempotencyKey"
            )
    return found


async def _internal(team_id: int, location_id: int, field: str) -> Location:
    location: Location = await _one(
        Location.filter(team_id=team_id, id=location_id, kind=LocationKind.INTERNAL),
        "location",
        field,
    )
    return location


# --- moves: receipts, shipments, transfers and adjustments ----------------------------------


End = int | LocationKind
"""One end of a move: an internal location's id, or the team's virtual location of a kind."""


@dataclass(frozen=True)
class Move:
    """A request to move stock, before its locations are looked up and it is posted."""

    kind: MovementKind
    product_id: int
    source: End
    target: End
    quantity: int
    lot: str = ""
    reference: str = ""
    idempotency_key: str | None = None
    reservation_id: int | None = None

    def fields(self) -> tuple[str, str]:
        """The input fields naming the source and target: a transfer has two locations."""
        if isinstance(self.source, LocationKind) or isinstance(self.target, LocationKind):
            return "locationId", "locationId"
        return "fromLocationId", "toLocationId"


CACHE = "inventory_cache"
"""The name of the request's `TeamCache` in the Brik context's extras (`softbrik_context`)."""


class TeamCache:
    """What one request (or one command) looks up once for its team: the virtual locations.

    They never change once created, so a request posting several moves finds them once, and
    in the same query as the first move's internal locations. Never shared between teams.
    """

    def __init__(self, platform: Platform, team_id: int) -> None:
        self.platform = platform
        self.team_id = team_id
        self._virtual: dict[LocationKind, Location] | None = None

    async def virtual(self) -> dict[LocationKind, Location]:
        if self._virtual is None:
            self._virtual = await virtual_locations(self.platform, self.team_id)
        return self._virtual

    async def ends(self, move: Move) -> tuple[Location, Location]:
        """The move's source and target; an unknown or virtual id is NOT_FOUND on its field."""
        ids = [end for end in (move.source, move.target) if not isinstance(end, LocationKind)]
        wanted = Q(id__in=ids, kind=LocationKind.INTERNAL)
        if self._virtual is None:
            wanted |= Q(kind__in=VIRTUAL_KINDS)
        rows = await Location.filter(wanted, team_id=self.team_id)
        internal = {row.id: row for row in rows if row.kind == LocationKind.INTERNAL}
        if self._virtual is None:
            found: dict[LocationKind, Location] = {
                row.kind: row for row in rows if row.kind != LocationKind.INTERNAL
            }
            # All three exist but on a team's first move: then they are created.
            if len(found) == len(VIRTUAL_KINDS):
                self._virtual = found
        virtual = await self.virtual()
        ends = []
        for end, name in zip((move.source, move.target), move.fields(), strict=True):
            if isinstance(end, LocationKind):
                ends.append(virtual[end])
            elif end in internal:
                ends.append(internal[end])
            else:
                raise NotFound("No location has this id.", field=name)
        return ends[0], ends[1]


async def _reservation_for(team_id: int, move: Move, lot: str, quantity: int) -> Reservation:
    assert move.reservation_id is not None
    reservation = await _active_reservation(team_id, move.reservation_id)
    if (reservation.product_id, reservation.location_id, reservation.lot) != (
        move.product_id,
        move.source,
        lot,
    ):
        raise BadUserInput(
            "The reservation is for another product, location or lot.", field="reservationId"
        )
    if quantity > reservation.quantity:
        raise BadUserInput(
            f"The reservation holds {reservation.quantity}; {quantity} asked.", field="quantity"
        )
    return reservation


async def post_move(
    platform: Platform,
    team_id: int,
    move: Move,
    *,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
) -> Movement:
    """Post one move: the one way receipts, shipments, transfers and adjustments are written.

    With an idempotency key a retried request answers the movement it posted, never a second.
    Shipping against a reservation uses the reserved stock and closes the reservation.
    """
    quantity = _count(move.quantity, "quantity", positive=True)
    lot = _text(move.lot, "lot", max_length=64)
    reference = _text(move.reference, "reference", max_length=200)
    key = _key(move.idempotency_key)
    source, target = await (cache or TeamCache(platform, team_id)).ends(move)
    same = {
        "product_id": move.product_id,
        "from_location_id": source.id,
        "to_location_id": target.id,
        "quantity": quantity,
        "lot": lot,
    }
    replayed = await _replay(team_id, key, same)
    if replayed is not None:
        return replayed
    try:
        async with in_transaction():
            ledger = Ledger(platform, team_id, actor_id=actor_id)
            await ledger.lock([move.product_id])
            # Checked again under the lock: a retry racing its original waits, then replays.
            replayed = await _replay(team_id, key, same)
            if replayed is not None:
                return replayed
            reservation = None
            if move.reservation_id is not None:
                reservation = await _reservation_for(team_id, move, lot, quantity)
            movement = await ledger.post(
                Posting(
                    move.product_id,
                    source,
                    target,
                    quantity,
                    move.kind,
                    lot=lot,
                    reference=reference,
                    reservation=reservation,
                ),
                key,
            )
            if reservation is not None:
                reservation.status = ReservationStatus.SHIPPED
                await reservation.save(update_fields=["status"])
            internal = source if source.kind == LocationKind.INTERNAL else target
            await ledger.check_reorder([move.product_id], internal)
            return movement
    except IntegrityError:
        # Another request with the same key, for another product, committed first.
        replayed = await _replay(team_id, key, same)
        if replayed is None:
            raise
        return replayed


class MoveOptions(TypedDict, total=False):
    lot: str
    reference: str
    idempotency_key: str | None


async def receive_stock(
    platform: Platform,
    team_id: int,
    product_id: int,
    location_id: int,
    quantity: int,
    *,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
    **options: Unpack[MoveOptions],
) -> Movement:
    """Stock arrives from the supplier location into an internal location."""
    supplier = LocationKind.SUPPLIER
    move = Move(MovementKind.RECEIPT, product_id, supplier, location_id, quantity, **options)
    return await post_move(platform, team_id, move, actor_id=actor_id, cache=cache)


async def ship_stock(
    platform: Platform,
    team_id: int,
    product_id: int,
    location_id: int,
    quantity: int,
    *,
    reservation_id: int | None = None,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
    **options: Unpack[MoveOptions],
) -> Movement:
    """Stock leaves to the customer location; CONFLICT when not enough is available."""
    move = Move(
        MovementKind.SHIPMENT,
        product_id,
        location_id,
        LocationKind.CUSTOMER,
        quantity,
        reservation_id=reservation_id,
        **options,
    )
    return await post_move(platform, team_id, move, actor_id=actor_id, cache=cache)


async def transfer_stock(
    platform: Platform,
    team_id: int,
    product_id: int,
    from_location_id: int,
    to_location_id: int,
    quantity: int,
    *,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
    **options: Unpack[MoveOptions],
) -> Movement:
    """Stock moves between two internal locations."""
    move = Move(
        MovementKind.TRANSFER, product_id, from_location_id, to_location_id, quantity, **options
    )
    return await post_move(platform, team_id, move, actor_id=actor_id, cache=cache)


def adjustment(product_id: int, location_id: int, change: int, **options: Any) -> Move:
    """A correction: `change` units found (> 0) or lost (< 0), against the loss location."""
    if isinstance(change, bool) or not isinstance(change, int) or change == 0:
        raise BadUserInput("change must be a whole number other than 0.", field="change")
    loss = LocationKind.LOSS
    source, target = (loss, location_id) if change > 0 else (location_id, loss)
    return Move(MovementKind.ADJUSTMENT, product_id, source, target, abs(change), **options)


async def adjust_stock(
    platform: Platform,
    team_id: int,
    product_id: int,
    location_id: int,
    change: int,
    *,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
    **options: Unpack[MoveOptions],
) -> Movement:
    """A correction: `change` units found (> 0) or lost (< 0), against the loss location."""
    move = adjustment(product_id, location_id, change, **options)
    return await post_move(platform, team_id, move, actor_id=actor_id, cache=cache)


async def reverse_movement(
    platform: Platform,
    team_id: int,
    movement_id: int,
    *,
    reference: str = "",
    idempotency_key: str | None = None,
    actor_id: int | None = None,
) -> Movement:
    """Undo a movement with one that moves the same back and references it (once only)."""
    original = await _one(
        Movement.filter(team_id=team_id, id=movement_id).select_related(
            "from_location", "to_location"
        ),
        "movement",
        "movementId",
    )
    if original.kind == MovementKind.REVERSAL:
        raise Conflict("A reversal cannot be reversed; post a new movement.", field="movementId")
    key = _key(idempotency_key)
    same = {"reverses_id": original.id}
    replayed = await _replay(team_id, key, same)
    if replayed is not None:
        return replayed
    try:
        async with in_transaction():
            ledger = Ledger(platform, team_id, actor_id=actor_id)
            await ledger.lock([original.product_id])
            replayed = await _replay(team_id, key, same)
            if replayed is not None:
                return replayed
            if await Movement.exists(team_id=team_id, reverses_id=original.id):
                raise Conflict("This movement is already reversed.", field="movementId")
            movement = await ledger.post(
                Posting(
                    original.product_id,
                    original.to_location,
                    original.from_location,
                    original.quantity,
                    MovementKind.REVERSAL,
                    lot=original.lot,
                    reference=_text(reference, "reference", max_length=200),
                    reverses_id=original.id,
                ),
                key,
            )
            await ledger.check_reorder([original.product_id], None)
            return movement
    except IntegrityError:
        replayed = await _replay(team_id, key, same)
        if replayed is None:
            raise Conflict("This movement is already reversed.", field="movementId") from None
        return replayed


async def _check_filters(team_id: int, product_id: int | None, location_id: int | None) -> None:
    """A filter naming another team's (or no) product or location is NOT_FOUND, not empty."""
    if product_id is not None:
        await get_product(team_id, product_id, "productId")
    if location_id is not None:
        await get_location(team_id, location_id, "locationId")


async def list_movements(
    team_id: int,
    first: int | None = None,
    after: str | None = None,
    *,
    product_id: int | None = None,
    location_id: int | None = None,
    kind: str | None = None,
) -> Page:
    await _check_filters(team_id, product_id, location_id)
    query = Movement.filter(team_id=team_id).select_related(
        "product", "from_location", "to_location"
    )
    if product_id is not None:
        query = query.filter(product_id=product_id)
    if location_id is not None:
        query = query.filter(Q(from_location_id=location_id) | Q(to_location_id=location_id))
    if kind is not None:
        query = query.filter(kind=kind)
    return await paginate(query, first, after)


async def get_movement(team_id: int, movement_id: int, field: str = "id") -> Movement:
    movement: Movement = await _one(
        Movement.filter(team_id=team_id, id=movement_id).select_related(
            "product", "from_location", "to_location"
        ),
        "movement",
        field,
    )
    return movement


async def list_balances(
    team_id: int,
    first: int | None = None,
    after: str | None = None,
    *,
    product_id: int | None = None,
    location_id: int | None = None,
    include_virtual: bool = False,
    include_empty: bool = False,
) -> Page:
    await _check_filters(team_id, product_id, location_id)
    query = Balance.filter(team_id=team_id).select_related("product", "location")
    if not include_virtual:
        query = query.filter(internal=True)
    if not include_empty:
        query = query.filter(Q(on_hand__not=0) | Q(reserved__not=0))
    if product_id is not None:
        query = query.filter(product_id=product_id)
    if location_id is not None:
        query = query.filter(location_id=location_id)
    return await paginate(query, first, after)


# --- reservations ---------------------------------------------------------------------------


async def _active_reservation(team_id: int, reservation_id: int) -> Reservation:
    reservation: Reservation = await _one(
        Reservation.filter(team_id=team_id, id=reservation_id).select_for_update(),
        "reservation",
        "reservationId",
    )
    if reservation.status != ReservationStatus.ACTIVE:
        raise Conflict(f"The reservation is {reservation.status.value}.", field="reservationId")
    return reservation


async def reserve_stock(
    platform: Platform,
    team_id: int,
    product_id: int,
    location_id: int,
    quantity: int,
    *,
    lot: str = "",
    reference: str = "",
    idempotency_key: str | None = None,
) -> Reservation:
    """Hold available stock for a later shipment; CONFLICT when not enough is available."""
    quantity = _count(quantity, "quantity", positive=True)
    lot = _text(lot, "lot", max_length=64)
    key = _key(idempotency_key)
    location = await _internal(team_id, location_id, "locationId")

    async def replay() -> Reservation | None:
        if key is None:
            return None
        found = await Reservation.get_or_none(team_id=team_id, idempotency_key=key)
        if found is not None and (found.product_id, found.location_id, found.quantity) != (
            product_id,
            location_id,
            quantity,
        ):
            raise Conflict(
                "This idempotency key was used for a different request.", field="idempotencyKey"
            )
        return found

    if (found := await replay()) is not None:
        return found
    async with in_transaction():
        ledger = Ledger(platform, team_id, allow_negative=False)
        await ledger.lock([product_id])
        if (found := await replay()) is not None:
            return found
        product = ledger.products[product_id]
        ledger._check_lot(
            product,
            Posting(product_id, location, location, quantity, MovementKind.TRANSFER, lot=lot),
        )
        balance = await ledger.balance(product_id, location, lot)
        available = balance.on_hand - balance.reserved
        if quantity > available:
            raise Conflict(
                f"Only {max(available, 0)} of {product.sku} available at {location.path}; "
                f"{quantity} asked.",
                field="quantity",
                available=max(available, 0),
            )
        balance.reserved += quantity
        await balance.save(update_fields=["reserved"])
        reservation = await Reservation.create(
            team_id=team_id,
            product_id=product_id,
            location_id=location.id,
            lot=lot,
            quantity=quantity,
            reference=_text(reference, "reference", max_length=200),
            created_at=platform.now(),
            idempotency_key=key,
        )
        await ledger.check_reorder([product_id], location)
        return reservation


async def release_reservation(platform: Platform, team_id: int, reservation_id: int) -> Reservation:
    """Give reserved stock back to available."""
    found = await _one(
        Reservation.filter(team_id=team_id, id=reservation_id), "reservation", "reservationId"
    )
    async with in_transaction():
        ledger = Ledger(platform, team_id, allow_negative=False)
        await ledger.lock([found.product_id])
        reservation = await _active_reservation(team_id, reservation_id)
        location = await Location.get(id=reservation.location_id)
        balance = await ledger.balance(reservation.product_id, location, reservation.lot)
        balance.reserved -= reservation.quantity
        await balance.save(update_fields=["reserved"])
        reservation.status = ReservationStatus.RELEASED
        await reservation.save(update_fields=["status"])
        await ledger.check_reorder([reservation.product_id], location)
        return reservation


async def list_reservations(
    team_id: int,
    first: int | None = None,
    after: str | None = None,
    *,
    product_id: int | None = None,
    status: str | None = None,
) -> Page:
    await _check_filters(team_id, product_id, None)
    query = Reservation.filter(team_id=team_id).select_related("product", "location")
    if product_id is not None:
        query = query.filter(product_id=product_id)
    if status is not None:
        query = query.filter(status=status)
    return await paginate(query, first, after)


# --- counts ---------------------------------------------------------------------------------


async def start_count(platform: Platform, team_id: int, location_id: int) -> StockCount:
    """Start counting a location: movements after this instant make the count stale."""
    location = await _internal(team_id, location_id, "locationId")
    last = await Movement.filter(team_id=team_id).annotate(last=Max("id")).values("last")
    since = int(last[0]["last"] or 0) if last else 0
    return await StockCount.create(
        team_id=team_id, location_id=location.id, since_movement_id=since, started_at=platform.now()
    )


@dataclass(frozen=True)
class Counted:
    product_id: int
    quantity: int
    lot: str = ""


async def submit_count(
    platform: Platform,
    team_id: int,
    count_id: int,
    lines: Sequence[Counted],
    *,
    actor_id: int | None = None,
    cache: TeamCache | None = None,
) -> StockCount:
    """Post each counted difference as a `count` movement against the loss location.

    When stock of a counted product moved at the location after the count started, the count
    is FLAGGED with those lines marked and nothing is posted: count again.
    """
    if not lines:
        raise BadUserInput("A count needs at least one line.", field="lines")
    seen: set[tuple[int, str]] = set()
    for index, line in enumerate(lines):
        _count(line.quantity, f"lines[{index}].quantity")
        if (line.product_id, line.lot) in seen:
            raise BadUserInput("A product and lot is counted twice.", field=f"lines[{index}]")
        seen.add((line.product_id, line.lot))
    loss = (await (cache or TeamCache(platform, team_id)).virtual())[LocationKind.LOSS]
    async with in_transaction():
        count = await _one(
            StockCount.filter(team_id=team_id, id=count_id).select_for_update(),
            "count",
            "countId",
        )
        if count.status != CountStatus.OPEN:
            raise Conflict(f"The count is {count.status.value}.", field="countId")
        location = await Location.get(id=count.location_id)
        ledger = Ledger(platform, team_id, actor_id=actor_id)
        await ledger.lock([line.product_id for line in lines], field="lines")
        moved = set(
            await Movement.filter(
                team_id=team_id,
                id__gt=count.since_movement_id,
                product_id__in=[line.product_id for line in lines],
            )
            .filter(Q(from_location_id=location.id) | Q(to_location_id=location.id))
            .distinct()
            .values_list("product_id", "lot")
        )
        rows = []
        for line in sorted(lines, key=lambda line: (line.product_id, line.lot)):
            balance = await ledger.balance(line.product_id, location, line.lot)
            rows.append(
                CountLine(
                    team_id=team_id,
                    count_id=count.id,
                    product_id=line.product_id,
                    lot=line.lot,
                    counted=line.quantity,
                    expected=balance.on_hand,
                    moved=(line.product_id, line.lot) in moved,
                )
            )
        await CountLine.bulk_create(rows)
        if any(row.moved for row in rows):
            count.status = CountStatus.FLAGGED
        else:
            for row in rows:
                difference = row.counted - row.expected
                if difference == 0:
                    continue
                source, target = (loss, location) if difference > 0 else (location, loss)
                await ledger.post(
                    Posting(
                        row.product_id,
                        source,
                        target,
                        abs(difference),
                        MovementKind.COUNT,
                        lot=row.lot,
                        reference=f"count {count.id}",
                    )
                )
            await ledger.check_reorder([row.product_id for row in rows], location)
            count.status = CountStatus.APPLIED
        count.closed_at = platform.now()
        await count.save(update_fields=["status", "closed_at"])
        return count


async def get_count(team_id: int, count_id: int) -> StockCount:
    count: StockCount = await _one(
        StockCount.filter(team_id=team_id, id=count_id), "count", "countId"
    )
    return count


async def count_lines(count: StockCount) -> list[CountLine]:
    return list(await CountLine.filter(count_id=count.id).order_by("id"))


# --- reorder suggestions --------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    product: Product
    totals: Totals
    quantity: int


async def reorder_suggestions(team_id: int, limit: int = MAX_PAGE) -> list[Suggestion]:
    """Active products whose available stock is at or below their reorder point."""
    candidates = await Product.filter(
        team_id=team_id, active=True, reorder_point__isnull=False
    ).order_by("id")
    found = await totals(team_id, [p.id for p in candidates])
    suggestions = []
    for product in candidates:
        total = found[product.id]
        if total.available <= (product.reorder_point or 0):
            suggestions.append(Suggestion(product, total, suggested_quantity(product, total)))
            if len(suggestions) >= limit:
                break
    return suggestions


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """A balance that does not equal what the ledger sums to."""

    team_id: int
    product_id: int
    location_id: int
    lot: str
    what: str  # "on_hand" or "reserved"
    ledger: int
    balance: int


async def verify(team_id: int | None = None) -> list[Difference]:
    """Recompute every balance from the ledger (and reservations) and list what differs."""
    scope = Movement.filter() if team_id is None else Movement.filter(team_id=team_id)
    expected: dict[tuple[int, int, int, str], int] = {}
    for location_field, sign in (("to_location_id", 1), ("from_location_id", -1)):
        rows = (
            await scope.group_by("team_id", "product_id", location_field, "lot")
            .annotate(total=Sum("quantity"))
            .values("team_id", "product_id", location_field, "lot", "total")
        )
        for row in rows:
            key = (row["team_id"], row["product_id"], row[location_field], row["lot"])
            expected[key] = expected.get(key, 0) + sign * int(row["total"] or 0)
    reservations = Reservation.filter(status=ReservationStatus.ACTIVE)
    if team_id is not None:
        reservations = reservations.filter(team_id=team_id)
    reserved: dict[tuple[int, int, int, str], int] = {}
    for row in (
        await reservations.group_by("team_id", "product_id", "location_id", "lot")
        .annotate(total=Sum("quantity"))
        .values("team_id", "product_id", "location_id", "lot", "total")
    ):
        key = (row["team_id"], row["product_id"], row["location_id"], row["lot"])
        reserved[key] = int(row["total"] or 0)
    balances = Balance.filter() if team_id is None else Balance.filter(team_id=team_id)
    stored = {
        (row["team_id"], row["product_id"], row["location_id"], row["lot"]): (
            row["on_hand"],
            row["reserved"],
        )
        for row in await balances.values(
            "team_id", "product_id", "location_id", "lot", "on_hand", "reserved"
        )
    }
    differences = []
    for key in sorted(set(expected) | set(stored) | set(reserved)):
        on_hand, held = stored.get(key, (0, 0))
        for what, ledger_value, balance_value in (
            ("on_hand", expected.get(key, 0), on_hand),
            ("reserved", reserved.get(key, 0), held),
        ):
            if ledger_value != balance_value:
                team, product, location, lot = key
                differences.append(
                    Difference(team, product, location, lot, what, ledger_value, balance_value)
                )
    return differences


async def report_differences(platform: Platform, differences: Sequence[Difference]) -> None:
    """Record one INVENTORY_LEDGER_MISMATCH event per team with differences."""
    by_team: dict[int, list[Difference]] = {}
    for difference in differences:
        by_team.setdefault(difference.team_id, []).append(difference)
    for team_id, found in by_team.items():
        async with in_transaction():
            await platform.emit(
                team_id,
                LEDGER_MISMATCH,
                {
                    "count": len(found),
                    "differences": [
                        {
                            "product_id": d.product_id,
                            "location_id": d.location_id,
                            "lot": d.lot,
                            "what": d.what,
                            "ledger": d.ledger,
                            "balance": d.balance,
                        }
                        for d in found[:50]
                    ],
                },
            )


# --- data lifecycle -------------------------------------------------------------------------


async def delete_team(team_id: int) -> None:
    """Delete every row the Brik holds for a team (idempotent; R-CLOSE-3)."""
    async with in_transaction():
        for model in (ImportJob, CountLine, StockCount, LowStock, Reservation, Balance):
            await model.filter(team_id=team_id).delete()
        await Movement.filter(team_id=team_id).update(reverses_id=None)
        await Movement.filter(team_id=team_id).delete()
        await Location.filter(team_id=team_id).update(parent_id=None)
        await Location.filter(team_id=team_id).delete()
        await Product.filter(team_id=team_id).delete()
        await Settings.filter(team_id=team_id).delete()
