"""A team's data in open formats (portability): the core's own files (`softbrik/…`: the team,
its members, seats and invoices with their PDFs) and the files of every Brik's
`softbrik_export_team`, so an operator can hand a company everything it keeps with Softbrik."""

from __future__ import annotations

import csv
import inspect
import io
import json
import zipfile
from collections.abc import AsyncIterator, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from softbrik.core.errors import NotFound
from softbrik.core.runtime import Runtime

Content = bytes | AsyncIterator[bytes]
"""A file's bytes, or an async iterator of them for what is too large to hold in memory."""


async def export_team(rt: Runtime, team_id: int) -> dict[str, Content]:
    """Every Brik's files for the team, by name (each Brik names its own, e.g. `inventory/…`).

    A Brik that gives a name another Brik gave already is an error naming both: nothing is
    overwritten silently.
    """
    from softbrik.core.accounts.models import Team, TeamStatus

    if not await Team.exists(id=team_id, status__not=TeamStatus.CLOSED):
        raise NotFound(f"No team {team_id} (or it is closed).", field="team")
    platform = rt.extras.get("platform")
    files: dict[str, Content] = dict(await core_files(rt, team_id))
    owners: dict[str, str] = dict.fromkeys(files, "the core")
    for brik in rt.briks:
        found = rt.briks.call_one(brik, "softbrik_export_team", team_id=team_id, platform=platform)
        if inspect.isawaitable(found):
            found = await found
        for name, data in (found or {}).items():
            if name in files:
                raise ValueError(f"Briks {owners[name]!r} and {brik.key!r} both export {name}.")
            files[name], owners[name] = data, brik.key
    return files


async def write_zip(files: dict[str, Content], path: Path) -> None:
    """The files in one ZIP archive, in name order; a streamed file is read once, piece by
    piece, never whole in memory."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            data = files[name]
            if isinstance(data, bytes):
                archive.writestr(name, data)
                continue
            with archive.open(name, "w", force_zip64=True) as entry:
                async for piece in data:
                    entry.write(piece)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A CSV file (UTF-8, comma, header first); None is an empty cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in rows])
    return out.getvalue().encode()


def euros(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))


def when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def core_files(rt: Runtime, team_id: int) -> dict[str, bytes]:
    """The core's part: `softbrik/team.json`, `members.csv`, `seats.csv`, `invoices.csv` and each
    issued invoice's PDF. Never secrets: no password hashes, sessions or payment tokens."""
    from softbrik.core.accounts.models import Seat, Team, User
    from softbrik.core.billing.models import Invoice
    from softbrik.core.billing.service import invoice_pdf_bytes

    team = await Team.get(id=team_id)
    users = await User.filter(team_id=team_id).order_by("id")
    emails = {u.id: u.email for u in users}
    seats = await Seat.filter(team_id=team_id).order_by("id")
    invoices = await Invoice.filter(team_id=team_id, number__isnull=False).order_by("sequence")
    about = {
        "name": team.name,
        "status": str(team.status.value),
        "created_at": when(team.created_at),
        "country": team.country,
        "language": team.language,
        "timezone": team.timezone,
        "vat_number": team.vat_number,
        "address": team.address,
        "card": f"{(team.card_brand or '').upper()} {team.card_last4}" if team.card_last4 else None,
    }
    files = {
        "softbrik/team.json": json.dumps(about, ensure_ascii=False, indent=2).encode(),
        "softbrik/members.csv": table(
            ["name", "email", "role", "joined_at", "access_ended_at"],
            [
                [u.name, u.email, u.role.value, when(u.created_at), when(u.access_ended_at)]
                for u in users
            ],
        ),
        "softbrik/seats.csv": table(
            ["email", "brik", "starts_on", "ends_on"],
            [[emails.get(s.user_id), s.brik, when(s.starts_on), when(s.ends_on)] for s in seats],
        ),
        "softbrik/invoices.csv": table(
            [
                "number",
                "kind",
                "status",
                "issued_at",
                "period_start",
                "period_end",
                "currency",
                "net",
                "vat",
                "total",
            ],
            [
                [
                    i.number,
                    i.kind.value,
                    i.status.value,
                    when(i.issued_at),
                    when(i.period_start),
                    when(i.period_end),
                    i.currency,
                    euros(i.subtotal_cents),
                    euros(i.vat_cents),
                    euros(i.total_cents),
                ]
                for i in invoices
            ],
        ),
    }
    for invoice in invoices:
        files[f"softbrik/invoices/{invoice.number}.pdf"] = await invoice_pdf_bytes(rt, invoice)
    return files
