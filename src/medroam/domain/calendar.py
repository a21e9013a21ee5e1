"""Working days (工作日) of the mainland calendar, with adjusted holidays (调休).

Deadlines in clearing are counted in working days: a hospital is paid "in principle
within 30 working days" of its clearing application (domain-rules §5.3), finance
transfers within N working days (§4.2), a red prepayment warning gives the insuring
province N working days to top up (§4.3).

The official holiday arrangement comes from the ``chinesecalendar`` package, which
knows each year's public holidays and the weekend days worked in lieu. Outside the
years it covers, :class:`WorkingDayCalendar` falls back to Monday–Friday (the default)
or refuses (``beyond_data="error"``); ``extra_holidays`` and ``extra_workdays`` let a
deployment add a newly published arrangement as data before the package is updated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

import chinese_calendar  # type: ignore[import-untyped]


class CalendarError(ValueError):
    """A date the calendar cannot classify (outside its data, with ``beyond_data=error``)."""


class BeyondData(StrEnum):
    WEEKDAYS = "weekdays"  # Monday–Friday are working days
    ERROR = "error"  # refuse to guess


def _official_is_workday(day: date) -> bool:
    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True, slots=True)
class WorkingDayCalendar:
    """Which days are working days.

    ``source`` decides a day inside its data and raises ``NotImplementedError`` outside
    it (the ``chinesecalendar`` convention); ``extra_holidays`` / ``extra_workdays``
    override it either way.
    """

    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    beyond_data: BeyondData = BeyondData.WEEKDAYS
    source: Callable[[date], bool] = field(default=_official_is_workday, compare=False)

    def is_workday(self, day: date) -> bool:
        if day in self.extra_holidays:
            return False
        if day in self.extra_workdays:
            return True
        try:
            return self.source(day)
        except NotImplementedError as exc:
            if self.beyond_data is BeyondData.ERROR:
                raise CalendarError(f"no holiday data for {day.isoformat()}: {exc}") from None
            return day.weekday() < 5

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself not counted).

        ``add_working_days(d, 0)`` is ``d`` if it is a working day, else the next one.
        """
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        current = start
        if days == 0:
            while not self.is_workday(current):
                current += timedelta(days=1)
            return current
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_workday(current):
                remaining -= 1
        return current

    def next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        return self.add_working_days(day, 1)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in ``(start, end]`` (negative when ``end`` precedes ``start``)."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_workday(current):
                count += 1
        return count

    def with_overrides(
        self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()
    ) -> WorkingDayCalendar:
        return WorkingDayCalendar(
            extra_holidays=self.extra_holidays | frozenset(holidays),
            extra_workdays=self.extra_workdays | frozenset(workdays),
            beyond_data=self.beyond_data,
            source=self.source,
        )


DEFAULT_CALENDAR = WorkingDayCalendar()
