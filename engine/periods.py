"""Pay and reporting periods, defined once: parse `2026-Q1`, `2026-03`, `2026-H1` or `2026`,
their bounds, the periods of a unit that overlap a span, and daily proration.

`koncept eval --period`, KPIs, payouts, statements and fixtures all read periods here.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from dsl.canonical import PERIODS_PER_YEAR
from engine.money import EXACT

__all__ = [
    "PERIODS_PER_YEAR",
    "PayPeriod",
    "coarser_or_same",
    "parse_period",
    "period_of",
    "periods_overlapping",
    "proration_factor",
]


@dataclass(frozen=True, slots=True, order=True)
class PayPeriod:
    """A pay period: `2026-Q1` (quarter), `2026-03` (month) or `2026` (year), with its days."""

    start: dt.date
    end: dt.date
    unit: str
    id: str

    @property
    def days(self) -> int:
        """Number of calendar days, both ends included."""
        return (self.end - self.start).days + 1

    def holds(self, day: dt.date) -> bool:
        """Whether the day lies in the period."""
        return self.start <= day <= self.end


def period_of(day: dt.date, unit: str) -> PayPeriod:
    """The period of `unit` that holds `day`."""
    if unit == "year":
        return PayPeriod(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), unit, f"{day.year}")
    if unit == "quarter":
        quarter = (day.month - 1) // 3 + 1
        first = 3 * quarter - 2
        last = dt.date(day.year, first + 2, calendar.monthrange(day.year, first + 2)[1])
        return PayPeriod(dt.date(day.year, first, 1), last, unit, f"{day.year}-Q{quarter}")
    if unit == "half":
        half = 1 if day.month <= 6 else 2
        start = dt.date(day.year, 6 * half - 5, 1)
        end = dt.date(day.year, 6, 30) if half == 1 else dt.date(day.year, 12, 31)
        return PayPeriod(start, end, unit, f"{day.year}-H{half}")
    if unit == "month":
        last = dt.date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
        return PayPeriod(dt.date(day.year, day.month, 1), last, unit, f"{day.year}-{day.month:02d}")
    raise ValueError(f"unknown period unit {unit!r} (expected month, quarter, half or year)")


def parse_period(text: str) -> PayPeriod:
    """`2026-Q1`, `2026-03` or `2026` as a PayPeriod; ValueError with an example otherwise."""
    value = text.strip()
    try:
        if len(value) == 4 and value.isdigit():
            return period_of(dt.date(int(value), 1, 1), "year")
        year, _, rest = value.partition("-")
        if len(year) == 4 and year.isdigit() and rest[:1] in ("Q", "q") and rest[1:] in "1234":
            return period_of(dt.date(int(year), 3 * int(rest[1:]) - 2, 1), "quarter")
        if len(year) == 4 and year.isdigit() and rest[:1] in ("H", "h") and rest[1:] in "12":
            return period_of(dt.date(int(year), 6 * int(rest[1:]) - 5, 1), "half")
        if len(year) == 4 and year.isdigit() and rest.isdigit() and 1 <= int(rest) <= 12:
            return period_of(dt.date(int(year), int(rest), 1), "month")
    except ValueError:
        pass
    raise ValueError(
        f"{text!r} is not a period (expected a quarter like 2026-Q1, a month like 2026-03, a half "
        "year like 2026-H1 or a year like 2026)"
    )


def periods_overlapping(start: dt.date, end: dt.date, unit: str) -> tuple[PayPeriod, ...]:
    """Every period of `unit` that shares at least one day with [start, end]."""
    found: list[PayPeriod] = []
    current = period_of(start, unit)
    while current.start <= end:
        found.append(current)
        current = period_of(current.end + dt.timedelta(days=1), unit)
    return tuple(found)


def proration_factor(
    period: PayPeriod, hire_date: dt.date | None, end_date: dt.date | None = None
) -> tuple[int, Decimal]:
    """(days employed in the period, that share of the period's days); unknown dates count as
    employed (hire dates are optional in the canonical reps table)."""
    first = max(period.start, hire_date) if hire_date else period.start
    last = min(period.end, end_date) if end_date else period.end
    days = max(0, (last - first).days + 1)
    # An exact fraction (to 80 digits, as all payout arithmetic): 31/90 is never rounded.
    return days, EXACT.divide(Decimal(days), Decimal(period.days))


def coarser_or_same(asked: str, unit: str) -> bool:
    """Whether a period of unit `asked` is made of whole periods of `unit` (a year of quarters)."""
    return PERIODS_PER_YEAR[asked] <= PERIODS_PER_YEAR[unit]
