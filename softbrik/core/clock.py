"""Time for domain code (DESIGN.md, Time and money).

Domain code never calls `datetime.now()`: it asks the `Clock` it was given. The system clock
reads the wall clock; the test clock (SOFTBRIK_TEST_CLOCK=1) only moves when told to, so tests
and frontend developers can watch every billing effect that time causes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class TestClock:
    """A clock that stands still until `advance` moves it forward (never back)."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime | None = None) -> None:
        self._now = to_utc(start) if start else SystemClock().now()

    def now(self) -> datetime:
        return self._now

    def advance(self, to: datetime) -> datetime:
        to = to_utc(to)
        if to < self._now:
            from softbrik.core.errors import BadUserInput

            raise BadUserInput("The test clock only moves forward.", field="to")
        self._now = to
        return self._now


def to_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date of an instant in a time zone (R-BILL-10)."""
    return to_utc(moment).astimezone(ZoneInfo(tz)).date()


def start_of_local_day(day: date, tz: str) -> datetime:
    """The UTC instant at which a local calendar day begins."""
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz)).astimezone(UTC)
