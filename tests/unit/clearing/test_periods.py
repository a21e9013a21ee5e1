from __future__ import annotations

from datetime import date

import pytest

from medroam.domain.clearing.periods import (
    ClearingError,
    Cycle,
    months_of,
    parse_cycle,
    parse_period,
    period_containing,
)


@pytest.mark.parametrize(
    ("cycle", "text", "start", "end", "label"),
    [
        ("daily", "2026-10-15", date(2026, 10, 15), date(2026, 10, 15), "2026-10-15"),
        ("monthly", "2026-10", date(2026, 10, 1), date(2026, 10, 31), "2026-10"),
        ("monthly", "202602", date(2026, 2, 1), date(2026, 2, 28), "2026-02"),
        ("monthly", "2028-02", date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        ("quarterly", "2026Q4", date(2026, 10, 1), date(2026, 12, 31), "2026Q4"),
        ("quarterly", "2026-q1", date(2026, 1, 1), date(2026, 3, 31), "2026Q1"),
        ("annual", "2026", date(2026, 1, 1), date(2026, 12, 31), "2026"),
    ],
)
def test_parse(cycle: str, text: str, start: date, end: date, label: str) -> None:
    p = parse_period(cycle, text)
    assert (p.start, p.end, p.label) == (start, end, label)
    assert period_containing(p.cycle, end) == p


@pytest.mark.parametrize(
    ("cycle", "text"),
    [
        ("monthly", "2026-13"),
        ("monthly", "2026-10-01"),
        ("daily", "2026-02-30"),
        ("quarterly", "2026Q5"),
        ("annual", "26"),
        ("monthly", ""),
    ],
)
def test_bad_periods(cycle: str, text: str) -> None:
    with pytest.raises(ClearingError):
        parse_period(cycle, text)


def test_bad_cycle_and_open_periods() -> None:
    with pytest.raises(ClearingError, match="unknown clearing cycle"):
        parse_cycle("weekly")
    october = parse_period(Cycle.MONTHLY, "2026-10")
    assert october.is_open(date(2026, 10, 31)) and not october.is_open(date(2026, 11, 1))
    assert [m.label for m in months_of(parse_period("quarterly", "2026Q4"))] == [
        "2026-10",
        "2026-11",
        "2026-12",
    ]
    assert parse_period("annual", "2026").months == 12
