"""The billing calendar (R-BILL-1, -2, -10, -11, -12, -15, -16, R-CLOSE-4)."""

from datetime import UTC, date, datetime

import pytest

from softbrik.core.calendar import BillingCalendar, Period
from softbrik.core.clock import local_date

D = date


@pytest.mark.parametrize(
    ("signed_up", "after", "expected"),
    [
        # R-BILL-1: signed up 12 December, next payment 12 January.
        (D(2026, 12, 12), D(2026, 12, 12), [D(2027, 1, 12), D(2027, 2, 12), D(2027, 3, 12)]),
        # R-BILL-11: anchor 31 bills on the month's last day, computed from the anchor.
        (
            D(2027, 1, 31),
            D(2027, 1, 31),
            [D(2027, 2, 28), D(2027, 3, 31), D(2027, 4, 30), D(2027, 5, 31)],
        ),
        # Leap year: anchor 31 and anchor 29 bill on 29 February 2028.
        (D(2028, 1, 31), D(2028, 1, 31), [D(2028, 2, 29), D(2028, 3, 31)]),
        (D(2028, 2, 29), D(2028, 2, 29), [D(2028, 3, 29), D(2028, 4, 29), D(2028, 5, 29)]),
        # Anchor 30 across February and back.
        (D(2027, 1, 30), D(2027, 1, 30), [D(2027, 2, 28), D(2027, 3, 30)]),
        # Year end.
        (D(2026, 11, 15), D(2026, 12, 20), [D(2027, 1, 15), D(2027, 2, 15)]),
    ],
)
def test_billing_dates_follow_the_anchor(signed_up, after, expected):
    cal = BillingCalendar.for_sign_up(signed_up)
    assert cal.billing_dates(after, len(expected)) == expected


def test_a_leap_day_anchor_is_29_in_every_month_and_28_in_common_februaries():
    cal = BillingCalendar.for_sign_up(D(2028, 2, 29))
    dates = cal.billing_dates(D(2028, 2, 29), 12)
    assert dates[-1] == D(2029, 2, 28)
    assert all(d.day == 29 for d in dates[:-1])


@pytest.mark.parametrize(
    ("anchor", "day", "period", "days"),
    [
        (12, D(2027, 1, 27), Period(D(2027, 1, 12), D(2027, 2, 12)), 31),  # R-BILL-13 example
        (12, D(2027, 1, 12), Period(D(2027, 1, 12), D(2027, 2, 12)), 31),  # the billing day opens
        (12, D(2027, 1, 11), Period(D(2026, 12, 12), D(2027, 1, 12)), 31),  # the day before closes
        (31, D(2027, 3, 1), Period(D(2027, 2, 28), D(2027, 3, 31)), 31),
        (31, D(2027, 2, 27), Period(D(2027, 1, 31), D(2027, 2, 28)), 28),
        (1, D(2027, 2, 10), Period(D(2027, 2, 1), D(2027, 3, 1)), 28),
    ],
)
def test_periods_are_half_open_ranges_between_billing_dates(anchor, day, period, days):
    """R-BILL-12."""
    got = BillingCalendar(anchor).period(day)
    assert got == period
    assert got.days == days
    assert day in got
    assert got.end not in got


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # R-BILL-10: 23:30Z on 31 January is 00:30 on 1 February in Copenhagen (winter, UTC+1).
        (datetime(2026, 1, 31, 23, 30, tzinfo=UTC), D(2026, 2, 1)),
        (datetime(2026, 1, 31, 22, 59, tzinfo=UTC), D(2026, 1, 31)),
        # Summer time (UTC+2): 22:30Z on 30 June is 1 July.
        (datetime(2026, 6, 30, 22, 30, tzinfo=UTC), D(2026, 7, 1)),
        (datetime(2026, 6, 30, 21, 59, tzinfo=UTC), D(2026, 6, 30)),
        # The night of the spring change (29 March 2026, 02:00 -> 03:00 local).
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), D(2026, 3, 29)),
        # The night of the autumn change (25 October 2026, 03:00 -> 02:00 local).
        (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), D(2026, 10, 25)),
        (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), D(2026, 10, 25)),
        (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), D(2026, 10, 26)),
    ],
)
def test_calendar_decisions_use_copenhagen_local_dates(instant, expected):
    assert local_date(instant, "Europe/Copenhagen") == expected


def test_a_sign_up_just_after_local_midnight_anchors_on_the_local_day():
    """R-BILL-10: 2026-01-31T23:30Z signs up on 1 February, so the anchor is 1."""
    signed_up = local_date(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), "Europe/Copenhagen")
    cal = BillingCalendar.for_sign_up(signed_up)
    assert cal.anchor == 1
    assert cal.next_billing_date(signed_up) == D(2026, 3, 1)


def test_periods_across_daylight_saving_changes_count_calendar_days():
    cal = BillingCalendar(15)
    assert cal.period(D(2026, 3, 20)) == Period(D(2026, 3, 15), D(2026, 4, 15))
    assert cal.period(D(2026, 3, 20)).days == 31
    assert cal.period(D(2026, 10, 20)).days == 31


@pytest.mark.parametrize(
    ("day", "reflected_in"),
    [
        # R-BILL-15: billing date 12 Feb, cut-off 10 Feb.
        (D(2027, 2, 9), D(2027, 2, 12)),
        (D(2027, 2, 10), D(2027, 2, 12)),
        (D(2027, 2, 11), D(2027, 3, 12)),
        (D(2027, 2, 12), D(2027, 3, 12)),
    ],
)
def test_cut_off_two_days_before_the_billing_date(day, reflected_in):
    cal = BillingCalendar(12)
    assert cal.reflected_in(day) == reflected_in
    assert cal.removal_ends_on(day) == reflected_in


@pytest.mark.parametrize(
    ("anchor", "switched_on", "dates", "basis"),
    [
        # R-BILL-2 / -16: anchor 12, switch on 20 Dec: 12 Jan still anniversary, then 1st.
        (12, D(2026, 12, 20), [D(2027, 1, 12), D(2027, 2, 1), D(2027, 3, 1)], 31),
        # Anchor 31: next billing date 31 Jan, then 1 Feb (a 1-day period), then 1 Mar.
        (31, D(2027, 1, 5), [D(2027, 1, 31), D(2027, 2, 1), D(2027, 3, 1)], 28),
        # Anchor 1: already on the 1st, nothing partial.
        (1, D(2027, 1, 5), [D(2027, 2, 1), D(2027, 3, 1), D(2027, 4, 1)], 28),
    ],
)
def test_switch_to_calendar_billing(anchor, switched_on, dates, basis):
    cal = BillingCalendar(anchor).switch_to_calendar(switched_on)
    assert cal.billing_dates(switched_on, 3) == dates
    start = dates[0]
    partial = cal.period(start)
    assert partial == Period(start, dates[1])
    assert cal.basis_days(partial) == basis
    # From then on, periods run from the 1st to the 1st.
    assert cal.period(D(2027, 3, 17)) == Period(D(2027, 3, 1), D(2027, 4, 1))


@pytest.mark.parametrize(
    ("requested_on", "effective_on"),
    [
        # R-CLOSE-4: next billing date 12 Feb; deadline 29 Jan.
        (D(2027, 1, 29), D(2027, 2, 12)),
        (D(2027, 1, 30), D(2027, 3, 12)),
        (D(2027, 1, 12), D(2027, 2, 12)),
    ],
)
def test_closure_deadline(requested_on, effective_on):
    assert BillingCalendar(12).closure_effective_on(requested_on) == effective_on


def test_anchor_must_be_a_day_of_the_month():
    with pytest.raises(ValueError):
        BillingCalendar(32)
