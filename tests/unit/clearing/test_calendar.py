"""Working days with the official holiday arrangement (chinesecalendar)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from medroam.domain.calendar import BeyondData, CalendarError, WorkingDayCalendar
from medroam.domain.clearing.advance import application_date, payment_date_for, payment_due
from medroam.domain.clearing.params import ClearingParams
from medroam.domain.clearing.periods import Cycle, parse_period

CAL = WorkingDayCalendar()


def test_national_day_2026_is_not_worked_and_the_make_up_saturday_is() -> None:
    assert not any(CAL.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert CAL.is_workday(date(2026, 9, 20))  # Sunday worked in lieu
    assert CAL.is_workday(date(2026, 10, 10))  # Saturday worked in lieu
    assert not CAL.is_workday(date(2026, 10, 11))


def test_working_days_skip_the_holiday() -> None:
    assert CAL.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
    assert CAL.add_working_days(date(2026, 9, 29), 3) == date(2026, 10, 9)
    assert CAL.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)  # the Saturday
    assert CAL.add_working_days(date(2026, 10, 3), 0) == date(2026, 10, 8)
    assert CAL.working_days_between(date(2026, 9, 30), date(2026, 10, 12)) == 4


def test_due_date_across_national_day() -> None:
    """September's clearing: hospitals apply on the first working day after 30 September
    (8 October, after the holiday) and are paid within 30 working days (18 November)."""
    params = ClearingParams()
    september = parse_period(Cycle.MONTHLY, "2026-09")
    applied = application_date(september, params)
    assert applied == date(2026, 10, 8)
    due = payment_due(applied, params)
    # counted by hand from 8 Oct: 9 (1), 10 (Sat, worked: 2), 12–16 (7), 19–23 (12),
    # 26–30 (17), 2–6 Nov (22), 9–13 (27), 16, 17, 18 Nov (30)
    assert due == date(2026, 11, 18)
    days = [applied + timedelta(days=i) for i in range(1, (due - applied).days + 1)]
    assert sum(CAL.is_workday(d) for d in days) == 30
    assert payment_date_for(date(2026, 9, 3), Cycle.MONTHLY, params) == due
    # with a 20-working-day rule
    assert payment_due(applied, ClearingParams(payment_deadline_wd=20)) == date(2026, 11, 4)


def test_beyond_the_package_data() -> None:
    assert CAL.is_workday(date(2031, 1, 6))  # a Monday: weekdays fallback
    assert not CAL.is_workday(date(2031, 1, 5))
    strict = WorkingDayCalendar(beyond_data=BeyondData.ERROR)
    with pytest.raises(CalendarError, match="2031-01-06"):
        strict.is_workday(date(2031, 1, 6))
    published = CAL.with_overrides(holidays=[date(2031, 1, 1)], workdays=[date(2031, 1, 4)])
    assert not published.is_workday(date(2031, 1, 1)) and published.is_workday(date(2031, 1, 4))


def test_negative_days_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2026, 1, 5), -1)
