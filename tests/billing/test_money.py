"""Money: proration and VAT, exact to the cent (R-BILL-13, R-BILL-19)."""

from decimal import Decimal

import pytest

from softbrik.core.billing.money import prorate, round_cents, vat_for


@pytest.mark.parametrize(
    ("unit", "quantity", "days_left", "days", "cents"),
    [
        (600, 1, 16, 31, 310),  # R-BILL-13's example: 309.677… rounds up
        (700, 1, 16, 31, 361),  # 361.29 rounds down
        (700, 1, 31, 31, 700),  # the whole period costs the full price (R-BILL-12)
        (700, 1, 28, 28, 700),  # a February period too
        (700, 1, 15, 28, 375),  # exactly 375
        (10, 1, 1, 4, 3),  # 2.5 rounds half-up, not to even
        (30, 1, 1, 4, 8),  # 7.5 rounds half-up
        (700, 3, 1, 31, 68),  # 67.74: quantity multiplies before the one rounding
        (1000, 1, 0, 30, 0),
    ],
)
def test_proration_rounds_half_up_once(unit, quantity, days_left, days, cents):
    """R-BILL-13: price x quantity x days left / days in the period, half-up once."""
    assert prorate(unit, quantity, days_left, days) == cents


def test_proration_refuses_impossible_days():
    with pytest.raises(ValueError):
        prorate(700, 1, 32, 31)
    with pytest.raises(ValueError):
        prorate(700, 1, 1, 0)


def test_round_cents_is_half_up():
    assert round_cents(Decimal("0.5")) == 1
    assert round_cents(Decimal("1.5")) == 2
    assert round_cents(Decimal("2.5")) == 3
    assert round_cents(Decimal("2.4999")) == 2


@pytest.mark.parametrize(
    ("country", "vat_number", "rate", "reverse", "net", "vat"),
    [
        ("DK", None, Decimal(25), False, 700, 175),  # Danish VAT
        ("DK", "DK12345678", Decimal(25), False, 361, 90),  # 90.25 → 90
        ("DK", None, Decimal(25), False, 362, 91),  # 90.5 → 91 (half-up)
        ("DE", "DE123456789", Decimal(0), True, 700, 0),  # reverse charge
        ("FR", "FR12345678901", Decimal(0), True, 700, 0),
        ("DE", None, Decimal(25), False, 700, 175),  # an EU consumer pays Danish VAT
        ("US", None, Decimal(0), False, 700, 0),  # outside the EU: no VAT
        ("NO", "NO123", Decimal(0), False, 700, 0),
    ],
)
def test_vat_by_country(country, vat_number, rate, reverse, net, vat):
    """R-BILL-19: DK 25 %, EU business reverse charge, outside the EU none."""
    found = vat_for(country, vat_number)
    assert found.rate == rate
    assert found.reverse_charge is reverse
    assert found.of(net) == vat
