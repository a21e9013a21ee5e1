"""Prepayment quotas, usage and warnings (domain-rules §4.3 worked example)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as s

from medroam.domain.calendar import WorkingDayCalendar
from medroam.domain.clearing.params import PrepayParams
from medroam.domain.clearing.periods import ClearingError
from medroam.domain.clearing.prepayment import (
    WarningLevel,
    annual_quota,
    assess,
    exact_level,
    topup_amount,
    usage_rate,
    warning_level,
)

P = PrepayParams()
YUAN = 100


def test_worked_example() -> None:
    quota = annual_quota(120_000_000 * YUAN, P)
    assert quota == 20_000_000 * YUAN
    assert usage_rate(14_500_000 * YUAN, quota) == 7_250
    assert exact_level(14_500_000 * YUAN, quota, P) is WarningLevel.YELLOW
    assert usage_rate(18_200_000 * YUAN, quota) == 9_100
    assert exact_level(18_200_000 * YUAN, quota, P) is WarningLevel.RED


@pytest.mark.parametrize(
    ("cleared", "level"),
    [
        (6_999_999, "none"),
        (7_000_000, "yellow"),
        (8_999_999, "yellow"),
        (9_000_000, "red"),
        (12_000_000, "red"),
        (0, "none"),
        (-5, "none"),
    ],
)
def test_thresholds_fire_at_the_right_usage(cleared: int, level: str) -> None:
    assert exact_level(cleared, 10_000_000, P).value == level


def test_thresholds_are_parameters() -> None:
    strict = PrepayParams(yellow=5_000, red=8_000, topup_target=5_000)
    assert exact_level(5_000_000, 10_000_000, strict) is WarningLevel.YELLOW
    assert exact_level(8_000_000, 10_000_000, strict) is WarningLevel.RED
    assert topup_amount(8_000_000, 10_000_000, strict) == 6_000_000
    assert annual_quota(1_200, PrepayParams(months=6)) == 600
    with pytest.raises(ValueError):
        PrepayParams(yellow=9_500, red=9_000)
    with pytest.raises(ValueError):
        PrepayParams(months=0)


def test_no_quota() -> None:
    assert usage_rate(5, 0) is None and warning_level(None, P) is WarningLevel.NONE
    assert exact_level(5, 0, P) is WarningLevel.RED
    assert exact_level(0, 0, P) is WarningLevel.NONE


def test_topup_and_deadline() -> None:
    cal = WorkingDayCalendar()
    w = assess(
        "310000", "110000", "2026-09", 9_100, 10_000, P, calendar=cal, warned_on=date(2026, 9, 30)
    )
    assert w.level is WarningLevel.RED and w.topup == 13_000 - 10_000
    assert w.topup_due == date(2026, 10, 20)  # 8, 9, 10 (Sat), 12–16, 19, 20 October
    y = assess(
        "310000", "110000", "2026-09", 7_000, 10_000, P, calendar=cal, warned_on=date(2026, 9, 30)
    )
    assert y.topup == 0 and y.topup_due is None
    assert y.as_dict()["usage_rate"] == "70.00%"


def test_negative_prior_year_refused() -> None:
    with pytest.raises(ClearingError):
        annual_quota(-1, P)


@given(s.integers(0, 10**12), s.integers(1, 10**12))
def test_topup_restores_the_target(cleared: int, quota: int) -> None:
    top = topup_amount(cleared, quota, P)
    if exact_level(cleared, quota, P) is WarningLevel.RED:
        assert cleared * 10_000 <= P.topup_target * (quota + top)
        assert top == 0 or cleared * 10_000 > P.topup_target * (quota + top - 1)
    else:
        assert top == 0
