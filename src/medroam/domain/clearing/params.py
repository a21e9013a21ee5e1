"""Clearing and prepayment parameters the documents leave open (domain-rules §10).

Every default and its reason is in ``docs/clearing.md``; these are plain values so that
a deployment (or a test) swaps any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from medroam.domain.calendar import DEFAULT_CALENDAR, WorkingDayCalendar
from medroam.domain.clearing.periods import Cycle
from medroam.domain.money import RATIO_ONE, Ratio


class Netting(StrEnum):
    NET = "net"  # one net transfer per province (multilateral netting)
    GROSS = "gross"  # one transfer per (paying, receiving) province pair


class MonthBasis(StrEnum):
    SETTLEMENT = "settlement"  # the settlement date decides the period (§5.1 default)
    CONFIRMATION = "confirmation"  # the date the place of insurance confirmed it


class QuotaBasis(StrEnum):
    FUND_PAYMENT = "fund_payment"  # fund lines only (fund_pay_sumamt)
    CLEARED = "cleared"  # everything cleared, personal accounts included


@dataclass(frozen=True, slots=True)
class ClearingParams:
    netting: Netting = Netting.NET
    month_basis: MonthBasis = MonthBasis.SETTLEMENT
    payment_deadline_wd: int = 30  # hospital paid ≤ 30 working days after its application
    application_lag_wd: int = 1  # hospital applies (3203) on the 1st working day after
    mutual_aid_cycle: Cycle = Cycle.MONTHLY  # 共济: 按月全额清算
    calendar: WorkingDayCalendar = DEFAULT_CALENDAR

    def __post_init__(self) -> None:
        if self.payment_deadline_wd < 0 or self.application_lag_wd < 0:
            raise ValueError("working-day windows must not be negative")


@dataclass(frozen=True, slots=True)
class PrepayParams:
    months: int = 2  # quota = prior-year monthly average × months
    basis: QuotaBasis = QuotaBasis.FUND_PAYMENT
    yellow: Ratio = 7_000  # usage ≥ 70 % → yellow
    red: Ratio = 9_000  # usage ≥ 90 % → red + emergency top-up
    topup_target: Ratio = 7_000  # the top-up brings usage back to this level
    topup_deadline_wd: int = 10  # the insuring province tops up within 10 working days

    def __post_init__(self) -> None:
        if not 1 <= self.months <= 12:
            raise ValueError(f"prepay months must be 1..12, got {self.months}")
        if not 0 < self.yellow <= self.red <= RATIO_ONE * 10:
            raise ValueError("thresholds must satisfy 0 < yellow <= red")
        if not 0 < self.topup_target <= self.red:
            raise ValueError("the top-up target must lie in (0, red]")
        if self.topup_deadline_wd < 0:
            raise ValueError("the top-up deadline must not be negative")
