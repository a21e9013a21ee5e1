"""Clearing cycles and their periods.

A period is written the way the CLI takes it: ``2026-10-15`` (daily), ``2026-10``
(monthly; ``202610`` as in ``setlym`` is accepted too), ``2026Q4`` (quarterly),
``2026`` (annual). Periods are closed date ranges ``[start, end]`` in the local date of
the place of treatment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class ClearingError(ValueError):
    """Bad clearing input: a clear message, and nothing is posted."""


class Cycle(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    start: date
    end: date
    cycle: Cycle

    @property
    def label(self) -> str:
        if self.cycle is Cycle.DAILY:
            return self.start.isoformat()
        if self.cycle is Cycle.MONTHLY:
            return f"{self.start.year:04d}-{self.start.month:02d}"
        if self.cycle is Cycle.QUARTERLY:
            return f"{self.start.year:04d}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year:04d}"

    @property
    def months(self) -> int:
        """Calendar months the period spans (0 for a day: it is part of one month)."""
        return {Cycle.DAILY: 0, Cycle.MONTHLY: 1, Cycle.QUARTERLY: 3, Cycle.ANNUAL: 12}[self.cycle]

    def is_open(self, as_of: date) -> bool:
        """A period is open until its last day has passed."""
        return as_of <= self.end

    def __str__(self) -> str:
        return f"{self.cycle.value} {self.label}"


def _month_end(year: int, month: int) -> date:
    if month == 12:
        return date(year, 12, 31)
    return date(year, month + 1, 1) - timedelta(days=1)


def month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), _month_end(year, month), Cycle.MONTHLY)


_PATTERNS = {
    Cycle.DAILY: re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    Cycle.MONTHLY: re.compile(r"^(\d{4})-?(\d{2})$"),
    Cycle.QUARTERLY: re.compile(r"^(\d{4})-?[Qq]([1-4])$"),
    Cycle.ANNUAL: re.compile(r"^(\d{4})$"),
}
_EXAMPLES = {
    Cycle.DAILY: "2026-10-15",
    Cycle.MONTHLY: "2026-10",
    Cycle.QUARTERLY: "2026Q4",
    Cycle.ANNUAL: "2026",
}


def parse_cycle(text: str) -> Cycle:
    try:
        return Cycle(text.strip().lower())
    except ValueError:
        allowed = ", ".join(c.value for c in Cycle)
        raise ClearingError(f"unknown clearing cycle {text!r}; use one of {allowed}") from None


def parse_period(cycle: Cycle | str, text: str) -> Period:
    """The period ``text`` of ``cycle``; a clear error for anything else."""
    cycle = parse_cycle(cycle) if isinstance(cycle, str) else cycle
    match = _PATTERNS[cycle].match(text.strip())
    if match is None:
        raise ClearingError(
            f"{text!r} is not a {cycle.value} period (write it like {_EXAMPLES[cycle]})"
        )
    parts = [int(g) for g in match.groups()]
    try:
        if cycle is Cycle.DAILY:
            day = date(parts[0], parts[1], parts[2])
            return Period(day, day, cycle)
        if cycle is Cycle.MONTHLY:
            if not 1 <= parts[1] <= 12:
                raise ValueError("month must be 1..12")
            return month_period(parts[0], parts[1])
        if cycle is Cycle.QUARTERLY:
            first = 3 * (parts[1] - 1) + 1
            return Period(date(parts[0], first, 1), _month_end(parts[0], first + 2), cycle)
        return Period(date(parts[0], 1, 1), date(parts[0], 12, 31), cycle)
    except ValueError as exc:
        raise ClearingError(f"{text!r} is not a valid {cycle.value} period: {exc}") from None


def period_containing(cycle: Cycle, day: date) -> Period:
    """The period of ``cycle`` that contains ``day``."""
    if cycle is Cycle.DAILY:
        return Period(day, day, cycle)
    if cycle is Cycle.MONTHLY:
        return month_period(day.year, day.month)
    if cycle is Cycle.QUARTERLY:
        first = 3 * ((day.month - 1) // 3) + 1
        return Period(date(day.year, first, 1), _month_end(day.year, first + 2), cycle)
    return Period(date(day.year, 1, 1), date(day.year, 12, 31), cycle)


def months_of(period: Period) -> list[Period]:
    """The calendar months a period touches, in order."""
    out: list[Period] = []
    year, month = period.start.year, period.start.month
    while date(year, month, 1) <= period.end:
        out.append(month_period(year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
