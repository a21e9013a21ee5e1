"""What-if of the clearing cycle: the arithmetic on a hand-made steady state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from medroam.domain.clearing.advance import payment_date_for
from medroam.domain.clearing.params import ClearingParams
from medroam.domain.clearing.periods import Cycle
from medroam.domain.money import div_round
from medroam.sim.whatif import DayAmount, compare_cycles, steady_state

START = date(2026, 10, 1)


def rows(days: int, amount: int = 10_000) -> list[DayAmount]:
    out = []
    for n in range(days):
        day = START + timedelta(days=n)
        out.append(DayAmount(day, "H1", "130100", "110100", amount))  # 河北 → 北京
        out.append(DayAmount(day, "H2", "110100", "110100", 0))  # nothing to clear
    return out


def test_the_window_repeats_over_two_years() -> None:
    tiled = steady_state(rows(7), START, 7, 2026)
    assert min(tiled) == date(2025, 1, 1) and max(tiled) == date(2026, 12, 31)
    assert len(tiled) == 365 + 365
    assert all(len(v) == 2 for v in tiled.values())


def test_shorter_cycles_pay_hospitals_sooner_and_use_less_float() -> None:
    # a quota of two months of this pace: 61 days × 100 yuan
    quotas = {("130000", "110000"): 61 * 10_000}
    figures = compare_cycles(rows(31), START, 31, quotas)
    assert [f.cycle for f in figures] == ["daily", "monthly", "quarterly", "annual"]
    days = [f.advance_days for f in figures]
    assert all(d is not None for d in days)
    assert days == sorted(d for d in days if d is not None)
    peaks = [f.advanced_peak_fen for f in figures]
    means = [f.advanced_mean_fen for f in figures]
    assert peaks == sorted(peaks) and means == sorted(means)
    usage = [f.usage_all for f in figures]
    assert usage == [f.usage_province_max for f in figures]  # one pair, one province
    assert usage == sorted(u for u in usage if u is not None)
    daily, monthly, quarterly, annual = usage
    assert daily is not None and daily < 3_000  # a few days, even over a long holiday
    assert monthly is not None and 5_000 <= monthly < 7_000  # a month and the lag ÷ two
    assert quarterly is not None and quarterly >= 9_000
    assert annual is not None and annual >= 60_000
    assert [f.pairs_red for f in figures] == [0, 0, 1, 1]
    assert figures[2].provinces_red == 1


def test_advance_days_are_the_amount_weighted_days_to_payment() -> None:
    params = ClearingParams()
    figures = compare_cycles(rows(31), START, 31, {}, cycles=(Cycle.MONTHLY,))
    (monthly,) = figures
    # brute force over the measured year: every day carries the same amount
    waits = [
        (payment_date_for(day, Cycle.MONTHLY, params) - day).days
        for day in (date(2026, 1, 1) + timedelta(days=n) for n in range(365))
    ]
    expected = Decimal(div_round(sum(waits) * 100, len(waits))) / 100
    assert monthly.advance_days == expected
    assert monthly.advance_days_min == monthly.advance_days_max == expected  # one hospital
    assert monthly.pairs == 0 and monthly.usage_all is None  # no quota: no usage
