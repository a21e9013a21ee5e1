"""Prepayment funds (预付金): quota, usage rate, warnings and the emergency top-up.

domain-rules §4: the insuring province (参保省) advances a float to the treating
province (就医省); the annual quota is the previous year's monthly average times
``months`` (default 2); usage = the period's clearing amount ÷ the quota; ≥ 70 % yellow,
≥ 90 % red with an emergency top-up. Warnings are information: they never block a
settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from medroam.domain.calendar import WorkingDayCalendar
from medroam.domain.clearing.params import PrepayParams
from medroam.domain.clearing.periods import ClearingError
from medroam.domain.money import RATIO_ONE, Fen, Ratio, div_round


class WarningLevel(StrEnum):
    NONE = "none"
    YELLOW = "yellow"
    RED = "red"


def annual_quota(prior_year_total: Fen, params: PrepayParams) -> Fen:
    """``prior_year_total ÷ 12 × months``, rounded once, half away from zero."""
    if prior_year_total < 0:
        raise ClearingError(f"a prior-year total cannot be negative: {prior_year_total}")
    return div_round(prior_year_total * params.months, 12)


def usage_rate(cleared: Fen, quota: Fen) -> Ratio | None:
    """Cleared ÷ quota in ten-thousandths (half away from zero); ``None`` without a quota."""
    if quota <= 0:
        return None
    return div_round(cleared * RATIO_ONE, quota)


def warning_level(rate: Ratio | None, params: PrepayParams) -> WarningLevel:
    """Yellow at ``≥ yellow``, red at ``≥ red``; no quota at all is red when money moved."""
    if rate is None:
        return WarningLevel.NONE
    if rate >= params.red:
        return WarningLevel.RED
    if rate >= params.yellow:
        return WarningLevel.YELLOW
    return WarningLevel.NONE


def exact_level(cleared: Fen, quota: Fen, params: PrepayParams) -> WarningLevel:
    """The warning level compared exactly (no rounding of the rate)."""
    if quota <= 0:
        return WarningLevel.RED if cleared > 0 else WarningLevel.NONE
    if cleared * RATIO_ONE >= params.red * quota:
        return WarningLevel.RED
    if cleared * RATIO_ONE >= params.yellow * quota:
        return WarningLevel.YELLOW
    return WarningLevel.NONE


def topup_amount(cleared: Fen, quota: Fen, params: PrepayParams) -> Fen:
    """The emergency top-up that brings usage back to ``topup_target`` (0 if not red)."""
    if exact_level(cleared, quota, params) is not WarningLevel.RED:
        return 0
    needed = -(-cleared * RATIO_ONE // params.topup_target)  # ceiling: never under target
    return max(0, needed - quota)


@dataclass(frozen=True, slots=True)
class UsageWarning:
    """One (insuring, treating) pair's usage in one month."""

    payer: str  # insuring province (or pooling region at the provincial level)
    payee: str  # treating province (or the province at the provincial level)
    month: str  # YYYY-MM
    cleared: Fen
    quota: Fen
    rate: Ratio | None
    level: WarningLevel
    topup: Fen
    topup_due: date | None

    def as_dict(self) -> dict[str, object]:
        return {
            "payer": self.payer,
            "payee": self.payee,
            "month": self.month,
            "cleared_fen": self.cleared,
            "quota_fen": self.quota,
            "usage_rate": None if self.rate is None else f"{self.rate / 100:.2f}%",
            "usage_ratio_ten_thousandths": self.rate,
            "level": self.level.value,
            "topup_fen": self.topup,
            "topup_due": None if self.topup_due is None else self.topup_due.isoformat(),
        }


def assess(
    payer: str,
    payee: str,
    month: str,
    cleared: Fen,
    quota: Fen,
    params: PrepayParams,
    *,
    calendar: WorkingDayCalendar,
    warned_on: date,
) -> UsageWarning:
    """Usage, level and (when red) the top-up and its deadline in working days."""
    level = exact_level(cleared, quota, params)
    topup = topup_amount(cleared, quota, params)
    due = (
        calendar.add_working_days(warned_on, params.topup_deadline_wd)
        if level is WarningLevel.RED
        else None
    )
    return UsageWarning(
        payer, payee, month, cleared, quota, usage_rate(cleared, quota), level, topup, due
    )
