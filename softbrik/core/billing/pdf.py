"""Invoice PDFs in pure Python: PDF 1.4, the standard Helvetica fonts, uncompressed text.

An invoice carries what Danish law (bogføringsloven, momsloven) asks for (R-BILL-19): number,
issue date, seller's and buyer's names and addresses, the seller's CVR number, the buyer's VAT
number under reverse charge, what was supplied and for which period, net amount, VAT rate and
VAT amount, and the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from softbrik.core.mail_templates import format_cents, format_date

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 50
LINE = 14


@dataclass(frozen=True)
class Seller:
    name: str
    address: str
    cvr: str
    email: str


@dataclass(frozen=True)
class PdfLine:
    description: str
    period: str
    quantity: int
    unit: str
    amount: str


LABELS = {
    "da": {
        "invoice": "Faktura",
        "credit_note": "Kreditnota",
        "number": "Fakturanummer",
        "issued": "Udstedt",
        "period": "Periode",
        "seller": "Sælger",
        "buyer": "Køber",
        "cvr": "CVR-nr.",
        "vat_number": "Momsnummer",
        "description": "Beskrivelse",
        "quantity": "Antal",
        "unit": "Stykpris",
        "amount": "Beløb",
        "net": "Beløb ekskl. moms",
        "vat": "Moms",
        "total": "I alt",
        "reverse_charge": "Omvendt betalingspligt (reverse charge), momsdirektivet art. 196.",
        "no_vat": "Ydelsen er ikke momspligtig i Danmark (køber uden for EU).",
        "credits": "Krediterer faktura",
        "paid": "Betalt",
    },
    "en": {
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "number": "Invoice number",
        "issued": "Issue date",
        "period": "Period",
        "seller": "Seller",
        "buyer": "Buyer",
        "cvr": "CVR no.",
        "vat_number": "VAT number",
        "description": "Description",
        "quantity": "Qty",
        "unit": "Unit price",
        "amount": "Amount",
        "net": "Net amount",
        "vat": "VAT",
        "total": "Total",
        "reverse_charge": "Reverse charge: VAT to be accounted for by the buyer (Art. 196 VAT "
        "Directive).",
        "no_vat": "Outside the scope of Danish VAT (buyer outside the EU).",
        "credits": "Credits invoice",
        "paid": "Paid",
    },
}


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


class _Page:
    def __init__(self) -> None:
        self.ops: list[bytes] = []

    def text(self, x: float, y: float, text: str, bold: bool = False, size: int = 10) -> None:
        font = b"/F2" if bold else b"/F1"
        self.ops.append(
            b"BT " + font + b" %d Tf %.1f %.1f Td (" % (size, x, y) + _escape(text) + b") Tj ET"
        )

    def right(self, x: float, y: float, text: str, bold: bool = False, size: int = 10) -> None:
        # Helvetica digits are 0.556 em wide; close enough for right-aligned amounts.
        self.text(x - len(text) * size * 0.53, y, text, bold, size)


def build_pdf(pages: Sequence[_Page]) -> bytes:
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, filled in below
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for page in pages:
        stream = b"\n".join(page.ops)
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] " % (PAGE_WIDTH, PAGE_HEIGHT)
            + b"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % content
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(kids)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def invoice_pdf(
    *,
    seller: Seller,
    language: str,
    credit_note: bool,
    number: str,
    issued_on: str,
    period: str,
    buyer_name: str,
    buyer_address: str,
    buyer_country: str,
    buyer_vat_number: str | None,
    lines: Sequence[PdfLine],
    net: str,
    vat_rate: str,
    vat: str,
    total: str,
    reverse_charge: bool,
    outside_eu: bool,
    credits: str | None = None,
    paid_on: str | None = None,
) -> bytes:
    """The PDF of an invoice or credit note, from already formatted texts."""
    t = LABELS.get(language, LABELS["da"])
    pages = [_Page()]
    page = pages[0]
    y: float = PAGE_HEIGHT - MARGIN
    page.text(MARGIN, y, t["credit_note"] if credit_note else t["invoice"], bold=True, size=18)
    y -= 2 * LINE
    for label, value in ((t["number"], number), (t["issued"], issued_on), (t["period"], period)):
        page.text(MARGIN, y, f"{label}:", bold=True)
        page.text(MARGIN + 110, y, value)
        y -= LINE
    if credits:
        page.text(MARGIN, y, f"{t['credits']}:", bold=True)
        page.text(MARGIN + 110, y, credits)
        y -= LINE
    if paid_on:
        page.text(MARGIN, y, f"{t['paid']}:", bold=True)
        page.text(MARGIN + 110, y, paid_on)
        y -= LINE
    y -= LINE
    top = y
    page.text(MARGIN, y, t["seller"], bold=True)
    y -= LINE
    for row in [
        seller.name,
        *seller.address.splitlines(),
        f"{t['cvr']} {seller.cvr}",
        seller.email,
    ]:
        page.text(MARGIN, y, row)
        y -= LINE
    left_bottom = y
    y = top
    x = PAGE_WIDTH / 2
    page.text(x, y, t["buyer"], bold=True)
    y -= LINE
    buyer = [buyer_name, *buyer_address.splitlines(), buyer_country]
    if buyer_vat_number:
        buyer.append(f"{t['vat_number']} {buyer_vat_number}")
    for row in buyer:
        page.text(x, y, row)
        y -= LINE
    y = min(y, left_bottom) - LINE
    right = PAGE_WIDTH - MARGIN

    def header(page: _Page, y: float) -> float:
        page.text(MARGIN, y, t["description"], bold=True)
        page.text(330, y, t["quantity"], bold=True)
        page.right(450, y, t["unit"], bold=True)
        page.right(right, y, t["amount"], bold=True)
        return y - LINE

    y = header(page, y)
    for line in lines:
        if y < MARGIN + 8 * LINE:
            page = _Page()
            pages.append(page)
            y = header(page, PAGE_HEIGHT - MARGIN)
        page.text(MARGIN, y, line.description[:60])
        page.text(345, y, str(line.quantity))
        page.right(450, y, line.unit)
        page.right(right, y, line.amount)
        y -= LINE
        page.text(MARGIN + 10, y, line.period, size=8)
        y -= LINE
    y -= LINE
    for label, value, bold in (
        (t["net"], net, False),
        (f"{t['vat']} {vat_rate} %", vat, False),
        (t["total"], total, True),
    ):
        page.text(330, y, label, bold=bold)
        page.right(right, y, value, bold=bold)
        y -= LINE
    y -= LINE
    if reverse_charge:
        page.text(MARGIN, y, t["reverse_charge"], size=9)
    elif outside_eu:
        page.text(MARGIN, y, t["no_vat"], size=9)
    return build_pdf(pages)


__all__ = ["PdfLine", "Seller", "format_cents", "format_date", "invoice_pdf"]
