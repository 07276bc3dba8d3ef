"""The Inventory Brik's tables.

The movement ledger is the single source of truth: rows are only ever inserted. Balances are a
cache of the ledger kept in step inside the same transaction, so `verify` can always recompute
them and report any difference.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from softbrik.plugin import TeamScoped


class Tracking(StrEnum):
    NONE = "none"
    LOT = "lot"
    SERIAL = "serial"


class LocationKind(StrEnum):
    INTERNAL = "internal"
    SUPPLIER = "supplier"
    CUSTOMER = "customer"
    LOSS = "loss"


VIRTUAL_KINDS = (LocationKind.SUPPLIER, LocationKind.CUSTOMER, LocationKind.LOSS)


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    SHIPMENT = "shipment"
    TRANSFER = "transfer"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    OPENING = "opening"
    REVERSAL = "reversal"


class Product(TeamScoped):
    id = fields.IntField(primary_key=True)
    team_id: int
    sku = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    category = fields.CharField(max_length=100, default="")
    unit = fields.CharField(max_length=20, default="pcs")
    barcode = fields.CharField(max_length=64, default="")
    tracking = fields.CharEnumField(Tracking, max_length=8, default=Tracking.NONE)
    reorder_point = fields.IntField(null=True)
    reorder_quantity = fields.IntField(default=0)
    lead_time_days = fields.IntField(default=0)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "inventory_product"
        unique_together = (("team", "sku"),)


class Location(TeamScoped):
    """A place stock is in: internal ones form a tree, virtual ones stand for the outside."""

    id = fields.IntField(primary_key=True)
    team_id: int
    name = fields.CharField(max_length=200)
    parent: fields.ForeignKeyNullableRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, null=True, on_delete=fields.NO_ACTION
    )
    parent_id: int | None
    path = fields.CharField(max_length=1000)
    """Names from the root, joined by `/`: what CSV files use to name a location."""
    kind = fields.CharEnumField(LocationKind, max_length=10, default=LocationKind.INTERNAL)
    created_at = fields.DatetimeField()

    class Meta:
        table = "inventory_location"
        unique_together = (("team", "path"),)


class Settings(TeamScoped):
    """The team's inventory choices."""

    id = fields.IntField(primary_key=True)
    team_id: int
    allow_negative = fields.BooleanField(default=False)

    class Meta:
        table = "inventory_settings"
        unique_together = (("team",),)


class Movement(TeamScoped):
    """One line of the ledger: `quantity` of a product (and lot) from one location to another."""

    id = fields.BigIntField(primary_key=True)
    team_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "inventory.Product", related_name=False, on_delete=fields.NO_ACTION
    )
    product_id: int
    from_location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, on_delete=fields.NO_ACTION
    )
    from_location_id: int
    to_location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, on_delete=fields.NO_ACTION
    )
    to_location_id: int
    lot = fields.CharField(max_length=64, default="")
    quantity = fields.IntField()
    kind = fields.CharEnumField(MovementKind, max_length=12)
    posted_at = fields.DatetimeField(db_index=True)
    reference = fields.CharField(max_length=200, default="")
    reverses: fields.ForeignKeyNullableRelation[Movement] = fields.OneToOneField(
        "inventory.Movement", related_name=False, null=True, on_delete=fields.NO_ACTION
    )
    reverses_id: int | None
    idempotency_key = fields.CharField(max_length=100, null=True)
    actor_id = fields.IntField(null=True)

    class Meta:
        table = "inventory_movement"
        unique_together = (("team", "idempotency_key"),)
        indexes = (("product_id", "to_location_id"), ("product_id", "from_location_id"))


class Balance(TeamScoped):
    """What the ledger says is at a location, per product and lot (locked to change it)."""

    id = fields.IntField(primary_key=True)
    team_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "inventory.Product", related_name=False, on_delete=fields.NO_ACTION
    )
    product_id: int
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, on_delete=fields.NO_ACTION
    )
    location_id: int
    lot = fields.CharField(max_length=64, default="")
    on_hand = fields.IntField(default=0)
    reserved = fields.IntField(default=0)
    internal = fields.BooleanField(default=True)

    class Meta:
        table = "inventory_balance"
        unique_together = (("product", "location", "lot"),)


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"
    SHIPPED = "shipped"


class Reservation(TeamScoped):
    id = fields.IntField(primary_key=True)
    team_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "inventory.Product", related_name=False, on_delete=fields.NO_ACTION
    )
    product_id: int
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, on_delete=fields.NO_ACTION
    )
    location_id: int
    lot = fields.CharField(max_length=64, default="")
    quantity = fields.IntField()
    reference = fields.CharField(max_length=200, default="")
    status = fields.CharEnumField(ReservationStatus, max_length=10, default="active")
    created_at = fields.DatetimeField()
    idempotency_key = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "inventory_reservation"
        unique_together = (("team", "idempotency_key"),)


class CountStatus(StrEnum):
    OPEN = "open"
    APPLIED = "applied"
    FLAGGED = "flagged"


class StockCount(TeamScoped):
    """A count of one location, taken after `since_movement_id` (the ledger's last line then)."""

    id = fields.IntField(primary_key=True)
    team_id: int
    location: fields.ForeignKeyRelation[Location] = fields.ForeignKeyField(
        "inventory.Location", related_name=False, on_delete=fields.NO_ACTION
    )
    location_id: int
    since_movement_id = fields.BigIntField(default=0)
    status = fields.CharEnumField(CountStatus, max_length=8, default=CountStatus.OPEN)
    started_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "inventory_count"


class CountLine(TeamScoped):
    id = fields.IntField(primary_key=True)
    team_id: int
    count: fields.ForeignKeyRelation[StockCount] = fields.ForeignKeyField(
        "inventory.StockCount", related_name="lines", on_delete=fields.CASCADE
    )
    count_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "inventory.Product", related_name=False, on_delete=fields.NO_ACTION
    )
    product_id: int
    lot = fields.CharField(max_length=64, default="")
    counted = fields.IntField()
    expected = fields.IntField()
    """What the ledger said when the count was submitted."""
    moved = fields.BooleanField(default=False)
    """Stock moved under the count after it was started: flagged, not applied."""

    class Meta:
        table = "inventory_count_line"


class LowStock(TeamScoped):
    """A product at or below its reorder point: alerted once per crossing, until restocked."""

    id = fields.IntField(primary_key=True)
    team_id: int
    product: fields.ForeignKeyRelation[Product] = fields.ForeignKeyField(
        "inventory.Product", related_name=False, on_delete=fields.CASCADE
    )
    product_id: int
    since = fields.DatetimeField()

    class Meta:
        table = "inventory_low_stock"
        unique_together = (("product",),)


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ImportJob(TeamScoped):
    """An uploaded CSV file being checked and imported in the background, with its progress."""

    id = fields.IntField(primary_key=True)
    team_id: int
    kind = fields.CharField(max_length=10)
    dry_run = fields.BooleanField(default=True)
    filename = fields.CharField(max_length=200, default="")
    size_bytes = fields.BigIntField(default=0)
    status = fields.CharEnumField(ImportStatus, max_length=8, default=ImportStatus.QUEUED)
    phase = fields.CharField(max_length=10, default="")
    """Where a running import is: checking (every row), then writing (one transaction)."""
    rows_done = fields.IntField(default=0)
    rows_total = fields.IntField(null=True)
    """Known once every row was checked."""
    created = fields.IntField(default=0)
    updated = fields.IntField(default=0)
    error_count = fields.IntField(default=0)
    errors: list[dict[str, object]] = fields.JSONField(default=list)  # type: ignore[assignment]
    """The first errors, each a row, a column and a message."""
    message = fields.TextField(default="")
    actor_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    heartbeat_at = fields.DatetimeField(null=True)
    """When the process running it last said it still does (`imports.HEARTBEAT_SECONDS`)."""

    class Meta:
        table = "inventory_import"
