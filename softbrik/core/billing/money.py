"""Money: integer euro cents, `Decimal` arithmetic, half-up rounding (DESIGN.md, Time and money).

Never floats. Proration rounds once per change and Brik (R-BILL-13); VAT once per invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# EU member states other than Denmark: reverse charge with a VAT number (R-BILL-19).
EU_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)
DANISH_VAT_RATE = Decimal("25")


def round_cents(value: Decimal) -> int:
    """Half-up to whole cents (R-BILL-13)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def prorate(unit_cents: int, quantity: int, days_left: int, days_in_period: int) -> int:
    """R-BILL-13: price x quantity x days left / days in the period, rounded half-up once.

    600 cents, 1 seat, 16 of 31 days: 309.677… → 310 cents.
    """
    if days_in_period <= 0:
        raise ValueError("a period has at least one day")
    if not 0 <= days_left <= days_in_period:
        raise ValueError(f"days left {days_left} outside 0..{days_in_period}")
    exact = Decimal(unit_cents) * quantity * days_left / Decimal(days_in_period)
    return round_cents(exact)


@dataclass(frozen=True)
class Vat:
    rate: Decimal  # percent
    reverse_charge: bool

    def of(self, net_cents: int) -> int:
        """The VAT on a net amount, rounded half-up once per invoice."""
        return round_cents(Decimal(net_cents) * self.rate / 100)


def vat_for(country: str, vat_number: str | None) -> Vat:
    """R-BILL-19: Danish VAT for Denmark, reverse charge for an EU business with a VAT number,
    none outside the EU. An EU buyer without a VAT number is a consumer: Danish VAT applies."""
    country = country.upper()
    if country == "DK":
        return Vat(DANISH_VAT_RATE, False)
    if country in EU_COUNTRIES:
        if vat_number:
            return Vat(Decimal(0), True)
        return Vat(DANISH_VAT_RATE, False)
    return Vat(Decimal(0), False)
