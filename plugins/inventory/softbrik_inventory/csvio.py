"""CSV import and export of products, locations, opening stock and the ledger.

Files are UTF-8 with a header row, comma- or semicolon-separated (told by the header). What an
export writes imports again unchanged. An import first validates every row (a dry run lists
every row and column error); a real import is one transaction: all rows or none. Both read the
file as a stream and keep memory flat: what they remember grows with the number of distinct
products, locations and lots, never with the number of rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise.transactions import in_transaction

from softbrik.plugin import BadUserInput, Platform
from softbrik_inventory import service
from softbrik_inventory.models import (
    Balance,
    Location,
    LocationKind,
    Movement,
    MovementKind,
    Product,
    Tracking,
)

BATCH = 1000
MAX_ERRORS = 1000


class Kind(StrEnum):
    PRODUCTS = "products"
    LOCATIONS = "locations"
    STOCK = "stock"
    LEDGER = "ledger"


COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.PRODUCTS: (
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
    ),
    Kind.LOCATIONS: ("path",),
    Kind.STOCK: ("sku", "location", "lot", "quantity"),
    Kind.LEDGER: (
        "number",
        "posted_at",
        "kind",
        "sku",
        "from",
        "to",
        "lot",
        "quantity",
        "reference",
        "reverses",
    ),
}


REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.PRODUCTS: ("sku", "name"),
    Kind.LOCATIONS: ("path",),
    Kind.STOCK: ("sku", "location", "quantity"),
    Kind.LEDGER: ("number", "posted_at", "kind", "sku", "from", "to", "quantity"),
}
"""Columns an import needs; the others may be left out (their defaults apply)."""


@dataclass(frozen=True)
class RowError:
    row: int
    """The line in the file (the header is line 1)."""
    column: str
    message: str


@dataclass
class Report:
    kind: Kind
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    found: int = 0
    """Errors found, counting those found again (for checks within one row)."""

    def error(self, row: int, column: str, message: str) -> None:
        self.found += 1
        if RowError(row, column, message) in self.errors:
            return  # found again by the writing pass
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(RowError(row, column, message))


Progress = Callable[[str, int, int | None], None]
"""Told `(phase, rows done, rows in all when known)` every BATCH rows and at the end of a pass:
"checking" every row first, then "writing" them."""
CHECKING = "checking"
WRITING = "writing"


# --- export ---------------------------------------------------------------------------------


def _line(values: Iterable[Any], delimiter: str = ",") -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(values)
    return out.getvalue()


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


async def _chunks(query: Any) -> AsyncIterator[list[Any]]:
    last = 0
    while True:
        rows = await query.filter(id__gt=last).order_by("id").limit(BATCH)
        if not rows:
            return
        yield rows
        last = rows[-1].id


def source(team_id: int, kind: Kind) -> Any:
    """The rows an export of this kind writes."""
    if kind == Kind.PRODUCTS:
        return Product.filter(team_id=team_id)
    if kind == Kind.LOCATIONS:
        return Location.filter(team_id=team_id, kind=LocationKind.INTERNAL)
    if kind == Kind.STOCK:
        return Balance.filter(team_id=team_id, internal=True, on_hand__not=0)
    return Movement.filter(team_id=team_id)


async def count_rows(team_id: int, kind: Kind) -> int:
    """How many rows an export of this kind writes (for its progress)."""
    found: int = await source(team_id, kind).count()
    return found


async def export(team_id: int, kind: Kind, delimiter: str = ",") -> AsyncIterator[str]:
    """The team's data of one kind as CSV lines (header first), read in batches."""
    yield _line(COLUMNS[kind], delimiter)
    rows_of = source(team_id, kind)
    if kind == Kind.PRODUCTS:
        async for rows in _chunks(rows_of):
            for p in rows:
                yield _line(
                    (
                        p.sku,
                        p.name,
                        p.description,
                        p.category,
                        p.unit,
                        p.barcode,
                        p.tracking.value,
                        "" if p.reorder_point is None else p.reorder_point,
                        p.reorder_quantity,
                        p.lead_time_days,
                        "true" if p.active else "false",
                    ),
                    delimiter,
                )
    elif kind == Kind.LOCATIONS:
        for location in await rows_of.order_by("path"):
            yield _line((location.path,), delimiter)
    elif kind == Kind.STOCK:
        async for rows in _chunks(rows_of.select_related("product", "location")):
            for b in rows:
                yield _line((b.product.sku, b.location.path, b.lot, b.on_hand), delimiter)
    else:
        number = 0
        query = rows_of.select_related("product", "from_location", "to_location")
        async for rows in _chunks(query):
            for m in rows:
                number += 1
                reverses = ""
                if m.reverses_id is not None:
                    # The reversed row's number is its place in the ledger: counted, not kept.
                    place = await Movement.filter(team_id=team_id, id__lte=m.reverses_id).count()
                    reverses = str(place)
                yield _line(
                    (
                        number,
                        _time(m.posted_at),
                        m.kind.value,
                        m.product.sku,
                        m.from_location.path,
                        m.to_location.path,
                        m.lot,
                        m.quantity,
                        m.reference,
                        reverses,
                    ),
                    delimiter,
                )


async def export_text(team_id: int, kind: Kind, delimiter: str = ",") -> str:
    return "".join([line async for line in export(team_id, kind, delimiter)])


# --- reading --------------------------------------------------------------------------------


def rows(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV stream; the delimiter is told by the header line."""
    it = iter(lines)
    header = next(it, None)
    if header is None:
        return
    header = header.lstrip("\ufeff")
    delimiter = ";" if header.count(";") > header.count(",") else ","
    names = next(csv.reader([header], delimiter=delimiter))
    reader = csv.reader(it, delimiter=delimiter)
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        yield (
            reader.line_num + 1,
            dict(zip(names, values, strict=False)) | {"__extra__": str(len(values) - len(names))},
        )


def _header(lines: Iterable[str]) -> tuple[list[str], Iterator[str]]:
    it = iter(lines)
    first = next(it, "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    names = next(csv.reader([first.lstrip("\ufeff")], delimiter=delimiter), [])
    return [n.strip() for n in names], _chain(first, it)


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _int(value: str, column: str, report: Report, row: int, *, blank: int | None = 0) -> Any:
    text = value.strip()
    if not text:
        return blank
    try:
        number = int(text)
    except ValueError:
        report.error(row, column, f"{column} must be a whole number, not {text!r}.")
        return None
    if number < 0:
        report.error(row, column, f"{column} must not be negative.")
        return None
    return number


def _time_value(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone")
    return parsed.astimezone(UTC)


# --- import ---------------------------------------------------------------------------------


async def import_csv(
    platform: Platform,
    team_id: int,
    kind: Kind | str,
    open_lines: Callable[[], Iterable[str]],
    *,
    dry_run: bool = False,
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Validate every row, then (unless `dry_run`) write them all in one transaction.

    `open_lines` opens the file afresh: it is read once to validate and once to write (the
    ledger's first reads only the rows reversals name), so that nothing but per-key state is
    ever held in memory. A real import with any error raises `ImportFailed` (BAD_USER_INPUT
    carrying the errors), and writes nothing. `progress` hears how far each pass is.
    """
    kind = Kind(kind)
    report = Report(kind, dry_run)
    names, lines = _header(open_lines())
    missing = [c for c in REQUIRED[kind] if c not in names]
    unknown = [c for c in names if c not in COLUMNS[kind]]
    if missing or unknown:
        for column in missing:
            report.error(1, column, f"The header lacks the column {column}.")
        for column in unknown:
            report.error(1, column, f"{column} is not a column of {kind.value}.")
        return _finish(report)
    importer = IMPORTERS[kind](platform, team_id, report, actor_id)
    await importer.prepare()
    if importer.scans_first:
        await importer.scan(_rows(_header(open_lines())[1], None, None))
    await importer.validate(_rows(lines, report, progress, CHECKING))
    if report.error_count and not (dry_run and importer.checks_while_writing):
        return _finish(report)
    try:
        async with in_transaction():
            again = _header(open_lines())[1]
            await importer.write(_rows(again, None, progress, WRITING, report.rows))
            if report.error_count and not dry_run:
                # Found only while writing (a SKU twice in the file, stock that moved since
                # the validation): roll back, write nothing.
                raise ImportFailed(report)
            if dry_run:
                raise _DryRun
    except _DryRun:
        # A dry run writes in a transaction it rolls back: it finds what a real import would.
        pass
    return report


class _DryRun(Exception):
    pass


Rows = AsyncIterator[tuple[int, dict[str, str]]]


async def _rows(
    lines: Iterable[str],
    report: Report | None,
    progress: Progress | None = None,
    phase: str = CHECKING,
    total: int | None = None,
) -> Rows:
    count = 0
    for count, (line, row) in enumerate(rows(lines), start=1):
        extra = int(row.pop("__extra__"))
        if extra > 0 and report is not None:
            report.error(line, "", f"The row has {extra} values more than the header.")
        if report is not None:
            report.rows = count
        if count % BATCH == 0:
            if progress is not None:
                progress(phase, count, total)
            await asyncio.sleep(0)  # checking is mostly Python: let the server answer others
        yield line, row
    if progress is not None and count % BATCH:
        progress(phase, count, total)


def _finish(report: Report) -> Report:
    if report.error_count and not report.dry_run:
        raise ImportFailed(report)
    return report


class ImportFailed(BadUserInput):
    """A real import with errors: nothing was written; `report` lists every error."""

    def __init__(self, report: Report) -> None:
        first = report.errors[0]
        super().__init__(
            f"The import has {report.error_count} errors; nothing was imported. "
            f"First: line {first.row}, {first.column}: {first.message}",
            field="csv",
            errors=[
                {"row": e.row, "column": e.column, "message": e.message} for e in report.errors[:50]
            ],
        )
        self.report = report


class Importer:
    def __init__(
        self, platform: Platform, team_id: int, report: Report, actor_id: int | None
    ) -> None:
        self.platform = platform
        self.team_id = team_id
        self.report = report
        self.actor_id = actor_id

    checks_while_writing = False
    """Whether some errors are found only by writing (then a dry run writes and rolls back)."""

    async def prepare(self) -> None:
        pass

    scans_first = False
    """Whether `scan` reads the file once before it is validated."""

    async def scan(self, rows: Rows) -> None:
        """A first read of the file, for what validation must know before the rows it checks."""

    async def validate(self, rows: Rows) -> None:
        raise NotImplementedError

    async def write(self, rows: Rows) -> None:
        raise NotImplementedError


PRODUCT_INTS = ("reorder_point", "reorder_quantity", "lead_time_days")


class ProductImporter(Importer):
    """Products by SKU: a new SKU is created, a known one updated (so re-imports are no-ops)."""

    checks_while_writing = True

    def clean(self, line: int, row: dict[str, str]) -> dict[str, Any] | None:
        values: dict[str, Any] = {
            name: row.get(name, "") for name in ("sku", "name", "description", "category")
        }
        values["unit"] = row.get("unit", "").strip() or "pcs"
        values["barcode"] = row.get("barcode", "")
        values["tracking"] = row.get("tracking", "").strip() or "none"
        before = self.report.found
        values["reorder_point"] = _int(
            row.get("reorder_point", ""), "reorder_point", self.report, line, blank=None
        )
        for name in ("reorder_quantity", "lead_time_days"):
            values[name] = _int(row.get(name, ""), name, self.report, line)
        active = row.get("active", "").strip().lower() or "true"
        if active not in ("true", "false", "1", "0", "yes", "no"):
            self.report.error(line, "active", "active must be true or false.")
        values["active"] = active in ("true", "1", "yes")
        if self.report.found > before:
            return None
        try:
            return service.clean_product(values)
        except BadUserInput as exc:
            column = {"reorderPoint": "reorder_point"}.get(exc.field or "", exc.field or "")
            self.report.error(line, column, exc.message)
            return None

    async def validate(self, rows: Rows) -> None:
        async for line, row in rows:
            self.clean(line, row)

    async def write(self, rows: Rows) -> None:
        # A SKU twice in the file is found by the database, not by a set of every SKU: a row
        # whose SKU matches a product created by this import is the second one.
        last = await Product.filter(team_id=self.team_id).order_by("-id").first()
        self.first_new_id = (last.id if last else 0) + 1
        batch: list[dict[str, Any]] = []
        skus: set[str] = set()
        async for line, row in rows:
            clean = self.clean(line, row)
            if clean is None:
                continue
            if clean["sku"] in skus:
                self.report.error(line, "sku", f"SKU {clean['sku']} is in the file twice.")
                continue
            skus.add(clean["sku"])
            batch.append(clean | {"__line__": line})
            if len(batch) >= BATCH:
                await self._flush(batch)
                batch, skus = [], set()
        await self._flush(batch)

    async def _flush(self, lined: list[dict[str, Any]]) -> None:
        if not lined:
            return
        batch = []
        lines = {}
        for c in lined:
            lines[c["sku"]] = c.pop("__line__")
            batch.append(c)
        existing = {
            p.sku: p
            for p in await Product.filter(
                team_id=self.team_id, sku__in=[c["sku"] for c in batch]
            ).select_for_update()
        }
        now = self.platform.now()
        new = [
            Product(team_id=self.team_id, created_at=now, **c)
            for c in batch
            if c["sku"] not in existing
        ]
        if new:
            await Product.bulk_create(new)
        changed = []
        for c in batch:
            product = existing.get(c["sku"])
            if product is None:
                continue
            if product.id >= self.first_new_id:
                self.report.error(lines[c["sku"]], "sku", f"SKU {c['sku']} is in the file twice.")
                continue
            if product.tracking != c["tracking"] and await Movement.exists(
                team_id=self.team_id, product_id=product.id
            ):
                self.report.error(
                    lines[c["sku"]], "tracking", "Tracking cannot change once a product moved."
                )
                continue
            if any(getattr(product, k) != v for k, v in c.items()):
                for k, v in c.items():
                    setattr(product, k, v)
                changed.append(product)
        if changed:
            await Product.bulk_update(changed, fields=[f for f in service.PRODUCT_FIELDS])
        self.report.created += len(new)
        self.report.updated += len(changed)


class LocationImporter(Importer):
    """Internal locations by path (`Main/Shelf A`); parents are created as needed."""

    def clean(self, line: int, row: dict[str, str]) -> list[str] | None:
        path = row.get("path", "").strip()
        parts = [p.strip() for p in path.split("/")]
        if not path or any(not p or p.startswith("@") for p in parts):
            self.report.error(line, "path", "path must be names joined by /, none starting @.")
            return None
        if len(path) > 1000 or any(len(p) > 200 for p in parts):
            self.report.error(line, "path", "path is too long.")
            return None
        return parts

    async def validate(self, rows: Rows) -> None:
        async for line, row in rows:
            self.clean(line, row)

    async def write(self, rows: Rows) -> None:
        known = {
            loc.path: loc.id
            for loc in await Location.filter(team_id=self.team_id, kind=LocationKind.INTERNAL)
        }
        async for line, row in rows:
            parts = self.clean(line, row)
            if parts is None:
                continue
            parent: int | None = None
            for depth in range(len(parts)):
                path = "/".join(parts[: depth + 1])
                if path not in known:
                    created = await Location.create(
                        team_id=self.team_id,
                        name=parts[depth],
                        parent_id=parent,
                        path=path,
                        created_at=self.platform.now(),
                    )
                    known[path] = created.id
                    self.report.created += 1
                parent = known[path]


class StockImporter(Importer):
    """Opening stock: one `opening` movement per row, from the loss location into `location`."""

    products: dict[str, Product]
    locations: dict[str, Location]

    async def prepare(self) -> None:
        self.virtual = await service.virtual_locations(self.platform, self.team_id)
        self.locations = {loc.path: loc for loc in await Location.filter(team_id=self.team_id)}
        self.products = {}

    async def product(self, sku: str) -> Product | None:
        if sku not in self.products:
            found = await Product.get_or_none(team_id=self.team_id, sku=sku)
            if found is None:
                return None
            self.products[sku] = found
        return self.products[sku]

    async def clean(
        self, line: int, row: dict[str, str]
    ) -> tuple[Product, Location, str, int] | None:
        before = self.report.found
        sku = row.get("sku", "").strip()
        product = await self.product(sku) if sku else None
        if product is None:
            self.report.error(line, "sku", f"No product has SKU {sku!r}.")
        location = self.locations.get(row.get("location", "").strip())
        if location is None or location.kind != LocationKind.INTERNAL:
            self.report.error(line, "location", f"No internal location {row.get('location')!r}.")
        lot = row.get("lot", "").strip()
        quantity = _int(row.get("quantity", ""), "quantity", self.report, line, blank=None)
        if quantity is None and self.report.found == before:
            self.report.error(line, "quantity", "quantity is required.")
        elif quantity == 0:
            self.report.error(line, "quantity", "quantity must be greater than 0.")
        if product is not None and (product.tracking == Tracking.NONE) == bool(lot):
            self.report.error(
                line, "lot", f"{sku} {'is not tracked by lot' if lot else 'needs a lot'}."
            )
        if self.report.found > before:
            return None
        assert product is not None and location is not None
        return product, location, lot, quantity

    async def validate(self, rows: Rows) -> None:
        async for line, row in rows:
            await self.clean(line, row)

    async def write(self, rows: Rows) -> None:
        writer = LedgerWriter(self.platform, self.team_id, self.actor_id, self.report)
        source = self.virtual[LocationKind.LOSS]
        now = self.platform.now()
        async for line, row in rows:
            found = await self.clean(line, row)
            if found is None:
                continue
            product, location, lot, quantity = found
            await writer.add(
                line, product, source, location, lot, quantity, MovementKind.OPENING, now
            )
        await writer.finish()


class LedgerWriter:
    """Posts imported movements in batches and keeps the touched balances, all under lock."""

    def __init__(
        self, platform: Platform, team_id: int, actor_id: int | None, report: Report
    ) -> None:
        self.platform = platform
        self.team_id = team_id
        self.actor_id = actor_id
        self.report = report
        self.batch: list[Movement] = []
        self.changes: dict[tuple[int, int, str], int] = {}
        self.internal: dict[int, bool] = {}

    async def add(
        self,
        line: int,
        product: Product,
        source: Location,
        target: Location,
        lot: str,
        quantity: int,
        kind: MovementKind,
        posted_at: datetime,
        reference: str = "",
        reverses_id: int | None = None,
        single: bool = False,
    ) -> Movement:
        movement = Movement(
            team_id=self.team_id,
            product_id=product.id,
            from_location_id=source.id,
            to_location_id=target.id,
            lot=lot,
            quantity=quantity,
            kind=kind,
            posted_at=posted_at,
            reference=reference,
            reverses_id=reverses_id,
            actor_id=self.actor_id,
        )
        for location, sign in ((source, -1), (target, 1)):
            key = (product.id, location.id, lot)
            self.changes[key] = self.changes.get(key, 0) + sign * quantity
            self.internal[location.id] = location.kind == LocationKind.INTERNAL
        self.report.created += 1
        if single:
            # A row that a later reversal names: inserted alone, in order, to learn its id.
            await self.flush()
            await movement.save()
            return movement
        self.batch.append(movement)
        if len(self.batch) >= BATCH:
            await self.flush()
        return movement

    async def flush(self) -> list[Movement]:
        batch, self.batch = self.batch, []
        if batch:
            await Movement.bulk_create(batch)
        return batch

    async def finish(self) -> None:
        await self.flush()
        product_ids = sorted({key[0] for key in self.changes})
        # The fixed lock order (products by id), as every other writer takes it.
        for start in range(0, len(product_ids), BATCH):
            await (
                Product.filter(team_id=self.team_id, id__in=product_ids[start : start + BATCH])
                .order_by("id")
                .select_for_update()
            )
        settings = await service.team_settings(self.team_id)
        keys = sorted(self.changes)
        for start in range(0, len(keys), BATCH):
            part = keys[start : start + BATCH]
            found = {
                (b.product_id, b.location_id, b.lot): b
                for b in await Balance.filter(
                    team_id=self.team_id,
                    product_id__in=sorted({k[0] for k in part}),
                    location_id__in=sorted({k[1] for k in part}),
                )
                .order_by("product_id", "location_id")
                .select_for_update()
            }
            new, changed = [], []
            for key in part:
                balance = found.get(key)
                if balance is None:
                    balance = Balance(
                        team_id=self.team_id,
                        product_id=key[0],
                        location_id=key[1],
                        lot=key[2],
                        internal=self.internal[key[1]],
                    )
                    new.append(balance)
                else:
                    changed.append(balance)
                balance.on_hand += self.changes[key]
                short = balance.on_hand - balance.reserved < 0
                if balance.internal and short and not settings.allow_negative:
                    self.report.error(
                        0, "quantity", f"Stock of product {key[0]} would fall below zero."
                    )
            if new:
                await Balance.bulk_create(new)
            if changed:
                await Balance.bulk_update(changed, fields=["on_hand"])


@dataclass(frozen=True)
class Named:
    """A ledger row that a later reversal names: what the reversal must mirror."""

    kind: MovementKind
    product: Product
    source: Location
    target: Location
    lot: str
    quantity: int


class LedgerImporter(Importer):
    """Movements with their times. The ledger is never backdated: rows come in time order, at
    or after the team's last movement; a row that would take an internal location below zero
    at its point in time is an error (unless the team allows negative stock).
    """

    async def prepare(self) -> None:
        await service.virtual_locations(self.platform, self.team_id)
        self.locations = {loc.path: loc for loc in await Location.filter(team_id=self.team_id)}
        self.products: dict[str, Product] = {}
        last = await Movement.filter(team_id=self.team_id).order_by("-posted_at").first()
        self.last_at = last.posted_at if last else None
        self.settings = await service.team_settings(self.team_id)
        self.referenced: set[int] = set()
        """Row numbers a reversal names: their rows are remembered to check the mirror."""
        self.named: dict[int, Named] = {}
        self.ids: dict[int, int] = {}

    scans_first = True

    async def scan(self, rows: Rows) -> None:
        # Only the reverses column: memory grows with the reversals, not with the rows.
        async for _, row in rows:
            number = row.get("reverses", "").strip()
            if number.isdigit():
                self.referenced.add(int(number))

    async def product(self, sku: str) -> Product | None:
        if sku not in self.products:
            found = await Product.get_or_none(team_id=self.team_id, sku=sku)
            if found is None:
                return None
            self.products[sku] = found
        return self.products[sku]

    async def clean(self, line: int, row: dict[str, str]) -> dict[str, Any] | None:
        before = self.report.found
        number = _int(row.get("number", ""), "number", self.report, line, blank=None)
        if number is None and self.report.found == before:
            self.report.error(line, "number", "number is required.")
        try:
            posted_at = _time_value(row.get("posted_at", ""))
        except ValueError:
            self.report.error(line, "posted_at", "posted_at must be an ISO time with a zone.")
            posted_at = None
        try:
            kind = MovementKind(row.get("kind", "").strip())
        except ValueError:
            self.report.error(line, "kind", f"{row.get('kind')!r} is not a movement kind.")
            kind = None
        sku = row.get("sku", "").strip()
        product = await self.product(sku) if sku else None
        if product is None:
            self.report.error(line, "sku", f"No product has SKU {sku!r}.")
        ends = []
        for column in ("from", "to"):
            location = self.locations.get(row.get(column, "").strip())
            if location is None:
                self.report.error(line, column, f"No location {row.get(column)!r}.")
            ends.append(location)
        if ends[0] is not None and ends[0] is ends[1]:
            self.report.error(line, "to", "Stock must move between two locations.")
        lot = row.get("lot", "").strip()
        quantity = _int(row.get("quantity", ""), "quantity", self.report, line, blank=None)
        if quantity == 0 or (quantity is None and self.report.found == before):
            self.report.error(line, "quantity", "quantity must be greater than 0.")
        if product is not None and (product.tracking == Tracking.NONE) == bool(lot):
            self.report.error(
                line, "lot", f"{sku} {'is not tracked by lot' if lot else 'needs a lot'}."
            )
        reverses = _int(row.get("reverses", ""), "reverses", self.report, line, blank=None)
        if self.report.found > before:
            return None
        return {
            "number": number,
            "posted_at": posted_at,
            "kind": kind,
            "product": product,
            "source": ends[0],
            "target": ends[1],
            "lot": lot,
            "quantity": quantity,
            "reference": row.get("reference", "")[:200],
            "reverses": reverses,
        }

    async def _walk(self, rows: Rows, writer: LedgerWriter | None) -> None:
        balances: dict[tuple[int, int, str], int] = {}
        last_at = self.last_at
        last_number = 0
        reversed_numbers: set[int] = set()
        async for line, row in rows:
            c = await self.clean(line, row)
            if c is None:
                continue
            if last_at is not None and c["posted_at"] < last_at:
                self.report.error(
                    line,
                    "posted_at",
                    "The ledger is never backdated: rows must be in time order and "
                    "not before the last movement already posted.",
                )
                continue
            last_at = c["posted_at"]
            if c["number"] <= last_number:
                self.report.error(line, "number", "numbers must grow from row to row.")
                continue
            last_number = c["number"]
            if c["kind"] == MovementKind.REVERSAL or c["reverses"] is not None:
                if not self.mirrors(line, c, reversed_numbers):
                    continue
                reversed_numbers.add(c["reverses"])
            if c["number"] in self.referenced:
                self.named[c["number"]] = Named(
                    c["kind"], c["product"], c["source"], c["target"], c["lot"], c["quantity"]
                )
            ok = True
            for location, sign in ((c["source"], -1), (c["target"], 1)):
                if location.kind != LocationKind.INTERNAL:
                    continue
                key = (c["product"].id, location.id, c["lot"])
                if key not in balances:
                    found = await Balance.get_or_none(
                        team_id=self.team_id,
                        product_id=key[0],
                        location_id=key[1],
                        lot=key[2],
                    )
                    balances[key] = (found.on_hand - found.reserved) if found else 0
                balances[key] += sign * c["quantity"]
                if balances[key] < 0 and not self.settings.allow_negative:
                    self.report.error(
                        line,
                        "quantity",
                        f"{c['product'].sku} at {location.path} would fall to {balances[key]} "
                        f"at {c['posted_at'].isoformat()}.",
                    )
                    ok = False
            if writer is not None and ok:
                reverses_id = None
                if c["reverses"] is not None:
                    reverses_id = self.ids.get(c["reverses"])
                    if reverses_id is None:
                        self.report.error(line, "reverses", "The reversed row was not imported.")
                        continue
                movement = await writer.add(
                    line,
                    c["product"],
                    c["source"],
                    c["target"],
                    c["lot"],
                    c["quantity"],
                    c["kind"],
                    c["posted_at"],
                    c["reference"],
                    reverses_id,
                    single=c["number"] in self.referenced,
                )
                if c["number"] in self.referenced:
                    self.ids[c["number"]] = int(movement.id)

    def mirrors(self, line: int, c: dict[str, Any], reversed_numbers: set[int]) -> bool:
        """A reversal names an earlier row and moves the same back, as `reverse_movement` posts
        it: same product, lot and quantity, from the row's target to its source, once only."""
        number = c["reverses"]
        if c["kind"] != MovementKind.REVERSAL or number is None or number >= c["number"]:
            self.report.error(line, "reverses", "reverses must name an earlier row, on a reversal.")
            return False
        if number in reversed_numbers:
            self.report.error(line, "reverses", "That row is already reversed.")
            return False
        named = self.named.get(number)
        if named is None:
            self.report.error(line, "reverses", f"Row {number} is not in the file or has errors.")
            return False
        if named.kind == MovementKind.REVERSAL:
            self.report.error(line, "reverses", "A reversal cannot be reversed; post a new row.")
            return False
        back = (
            f"A reversal of row {number} moves {named.quantity} of {named.product.sku}"
            f"{f' lot {named.lot}' if named.lot else ''} back "
            f"from {named.target.path} to {named.source.path}."
        )
        for column, found, wanted in (
            ("sku", c["product"].id, named.product.id),
            ("quantity", c["quantity"], named.quantity),
            ("from", c["source"].id, named.target.id),
            ("to", c["target"].id, named.source.id),
            ("lot", c["lot"], named.lot),
        ):
            if found != wanted:
                self.report.error(line, column, back)
                return False
        return True

    async def validate(self, rows: Rows) -> None:
        await self._walk(rows, None)

    async def write(self, rows: Rows) -> None:
        writer = LedgerWriter(self.platform, self.team_id, self.actor_id, self.report)
        self.report.created = 0
        await self._walk(rows, writer)
        await writer.finish()


IMPORTERS: dict[Kind, type[Importer]] = {
    Kind.PRODUCTS: ProductImporter,
    Kind.LOCATIONS: LocationImporter,
    Kind.STOCK: StockImporter,
    Kind.LEDGER: LedgerImporter,
}
