"""Why ``medroam bench`` gives quarterly and annual the same advance days (issue 12 item
16): the bench's settlements are all in October, and an October day's quarter (Q4) and
year end on the same 31 December, so both cycles pay on the same date. A day of another
quarter tells them apart."""

from __future__ import annotations

from datetime import date

from medroam.bench.clearing import ADVANCE_NOTE, PERIOD
from medroam.domain.clearing.advance import payment_date_for
from medroam.domain.clearing.params import ClearingParams
from medroam.domain.clearing.periods import Cycle


def test_an_october_day_is_paid_on_the_same_date_quarterly_and_annually() -> None:
    params = ClearingParams()
    october = date(2026, 10, 15)
    assert PERIOD.start.month == 10 and "12-31" in ADVANCE_NOTE
    assert payment_date_for(october, Cycle.QUARTERLY, params) == payment_date_for(
        october, Cycle.ANNUAL, params
    )
    february = date(2026, 2, 15)
    assert payment_date_for(february, Cycle.QUARTERLY, params) < payment_date_for(
        february, Cycle.ANNUAL, params
    )
