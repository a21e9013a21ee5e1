"""Hospital cash flow: when a hospital is paid, and for how long it advanced the money.

垫支天数 (advance days) of a hospital = the amount-weighted mean of the calendar days
between each settlement and the payment that covers it. A hospital applies for the
clearing of a period (3203) ``application_lag_wd`` working days after the period ends
and is paid ``payment_deadline_wd`` working days after applying (§5.3: "in principle
within 30 working days"). Shorter cycles pay earlier; this module is the reference
arithmetic and the batch layer applies it to millions of lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from medroam.domain.clearing.params import ClearingParams
from medroam.domain.clearing.periods import Cycle, Period, period_containing
from medroam.domain.money import Fen, div_round


def application_date(period: Period, params: ClearingParams) -> date:
    """The day the hospital applies for clearing of ``period`` (3203)."""
    return params.calendar.add_working_days(period.end, params.application_lag_wd)


def payment_due(applied_on: date, params: ClearingParams) -> date:
    """The last day to pay a hospital that applied on ``applied_on``."""
    return params.calendar.add_working_days(applied_on, params.payment_deadline_wd)


def payment_date_for(setl_date: date, cycle: Cycle, params: ClearingParams) -> date:
    """When a settlement made on ``setl_date`` is paid under ``cycle`` (at the deadline)."""
    return payment_due(application_date(period_containing(cycle, setl_date), params), params)


def weighted_days(items: Iterable[tuple[Fen, date, date]]) -> Decimal | None:
    """Amount-weighted mean days from settlement to payment, to 0.01 day (half away
    from zero); ``None`` when the amounts sum to zero."""
    weight = 0
    total = 0
    for amount, settled, paid in items:
        weight += amount * (paid - settled).days
        total += amount
    if total == 0:
        return None
    hundredths = div_round(weight * 100, total) if total > 0 else div_round(-weight * 100, -total)
    return Decimal(hundredths) / 100
