"""The billing calendar: pure date logic (R-BILL-1, -2, -10, -11, -12, -15, -16).

Dates here are local calendar dates in the team's time zone; converting instants to local dates
is the caller's business (`softbrik.core.clock.local_date`).
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import date, timedelta

CUT_OFF_DAYS = 2  # R-BILL-7, -15
REMINDER_DAYS = 7  # R-BILL-17
CLOSURE_NOTICE_DAYS = 14  # R-CLOSE-1, -4


def last_day(year: int, month: int) -> int:
    return _calendar.monthrange(year, month)[1]


def add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def billing_day(anchor: int, year: int, month: int) -> date:
    """The billing date in a month: the anchor day, or the month's last day (R-BILL-11)."""
    return date(year, month, min(anchor, last_day(year, month)))


@dataclass(frozen=True)
class Period:
    """A half-open range of local dates [start, end) (R-BILL-12)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end


@dataclass(frozen=True)
class BillingCalendar:
    """A team's billing dates.

    `anchor` is the day of the month of the sign-up (1..31). With `calendar_from` set (a billing
    date B on the anchor schedule), billing dates after B are the 1st of each month (R-BILL-16).
    """

    anchor: int
    calendar_from: date | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.anchor <= 31:
            raise ValueError(f"anchor day must be 1..31, not {self.anchor}")

    @classmethod
    def for_sign_up(cls, signed_up_on: date) -> BillingCalendar:
        """R-BILL-1: billed every month on the sign-up day of the month."""
        return cls(anchor=signed_up_on.day)

    def _anniversary_on_or_before(self, day: date) -> date:
        this_month = billing_day(self.anchor, day.year, day.month)
        if this_month <= day:
            return this_month
        year, month = add_months(day.year, day.month, -1)
        return billing_day(self.anchor, year, month)

    def _anniversary_after(self, day: date) -> date:
        this_month = billing_day(self.anchor, day.year, day.month)
        if this_month > day:
            return this_month
        year, month = add_months(day.year, day.month, 1)
        return billing_day(self.anchor, year, month)

    def billing_date_on_or_before(self, day: date) -> date:
        """The start of the period that contains `day`."""
        start = self.calendar_from
        if start is not None and day >= start:
            first = day.replace(day=1)
            return max(first, start)
        return self._anniversary_on_or_before(day)

    def next_billing_date(self, day: date) -> date:
        """The first billing date strictly after `day`: the end of `day`'s period."""
        start = self.calendar_from
        if start is not None and day >= start:
            year, month = add_months(day.year, day.month, 1)
            return date(year, month, 1)
        following = self._anniversary_after(day)
        if start is not None and following > start:
            return start
        return following

    def period(self, day: date) -> Period:
        """The billing period that contains `day` (R-BILL-12)."""
        return Period(self.billing_date_on_or_before(day), self.next_billing_date(day))

    def billing_dates(self, after: date, count: int) -> list[date]:
        """The next `count` billing dates strictly after `after`."""
        dates: list[date] = []
        day = after
        for _ in range(count):
            day = self.next_billing_date(day)
            dates.append(day)
        return dates

    def cut_off(self, billing_date: date) -> date:
        """The last local date whose changes the invoice of `billing_date` reflects (R-BILL-15)."""
        return billing_date - timedelta(days=CUT_OFF_DAYS)

    def reflected_in(self, day: date) -> date:
        """The billing date whose renewal invoice first reflects a change made on `day`."""
        upcoming = self.next_billing_date(day)
        if day <= self.cut_off(upcoming):
            return upcoming
        return self.next_billing_date(upcoming)

    def removal_ends_on(self, day: date) -> date:
        """First day without a seat removed on `day` (R-BILL-6, -14, -15).

        The seat is kept to the end of the period; after the cut-off the next renewal was already
        composed with it, so it is kept (and billed) to the end of the following period.
        """
        return self.reflected_in(day)

    def switch_to_calendar(self, day: date) -> BillingCalendar:
        """Calendar billing from the next billing date after `day` (R-BILL-2, -16)."""
        if self.calendar_from is not None and day >= self.calendar_from:
            return self
        return BillingCalendar(self.anchor, self.next_billing_date(day))

    def closure_effective_on(self, requested_on: date) -> date:
        """The billing date a closure requested on `requested_on` takes effect (R-CLOSE-4)."""
        upcoming = self.next_billing_date(requested_on)
        if requested_on <= upcoming - timedelta(days=CLOSURE_NOTICE_DAYS):
            return upcoming
        return self.next_billing_date(upcoming)

    def basis_days(self, period: Period) -> int:
        """Days that a full month's price pays for in `period` (R-BILL-13, -16).

        Normally the period's own length; for the partial period that starts calendar billing
        [B, 1st) it is the length of the anniversary period that starts at B.
        """
        if self.calendar_from is not None and period.start == self.calendar_from:
            anniversary = BillingCalendar(self.anchor)._anniversary_after(period.start)
            return (anniversary - period.start).days
        return period.days
