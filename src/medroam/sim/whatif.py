"""What shortening the clearing cycle buys: hospital advance days and prepayment usage
under daily, monthly, quarterly and annual clearing, side by side.

The simulated window (a month, say) is taken as the pattern of a steady state: its daily
amounts, hospital by hospital and province pair by province pair, are repeated over two
calendar years, and the second year is measured — so that a quarterly or annual cycle is
seen over whole periods, with the previous year's tail still unpaid in January, and not
cut off by the end of the window.

* **Hospital advance days (垫支天数)**: the amount-weighted mean of the calendar days from
  each settlement to the payment that covers it — the period's clearing application
  (``application_lag_wd`` working days after the period) plus ``payment_deadline_wd``
  working days (``domain.clearing.advance.payment_date_for``, C1's arithmetic). Also
  the hospitals' money outstanding (advanced, not yet paid) on an average day and at the
  peak of the year.
* **Prepayment usage (预付金使用率)**: the national float of an insuring province at a
  treating province covers what the treating side pays out before clearing arrives. For
  each province pair the balance outstanding — what inter-province settlements cleared
  (fund payments and personal accounts, the quotas' basis here) from their settlement
  day until their period is cleared (its application day) — is followed through the
  year; its peak ÷ the pair's quota is the usage, with the yellow (70 %) and red (90 %)
  lines of domain-rules §4.3 — for all floats together (the nation's picture), per
  insuring province (all its floats) and per pair (lumpy when a pair sees a handful of
  settlements a month, as in a small simulation). For a monthly cycle this is
  the monthly clearing amount ÷ quota of §4.3 (plus the days until clearing); for longer
  cycles it is what the float would have to carry.

Pure: integer fen, dates; no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from medroam.domain.clearing.advance import application_date, payment_date_for
from medroam.domain.clearing.params import ClearingParams, PrepayParams
from medroam.domain.clearing.periods import Cycle, period_containing
from medroam.domain.money import RATIO_ONE, div_round


@dataclass(frozen=True, slots=True)
class DayAmount:
    """Cleared money of one hospital and one (insured, treatment) region pair on a day."""

    day: date
    fixmedins_code: str
    insured_region: str
    treatment_region: str
    amount_fen: int  # every cleared line: fund payments and personal accounts


@dataclass(frozen=True, slots=True)
class CycleFigures:
    cycle: str
    advance_days: Decimal | None  # national, amount-weighted
    advance_days_min: Decimal | None  # over hospitals
    advance_days_max: Decimal | None
    advanced_mean_fen: int  # hospitals' money outstanding on an average day of the year
    advanced_peak_fen: int  # … at its peak
    usage_all: int | None  # prepayment usage (ten-thousandths) of all floats together
    usage_province_max: int | None  # the insuring province whose floats are used most
    usage_province_median: int | None  # the median insuring province
    provinces_yellow: int  # insuring provinces at 70 % ≤ usage < 90 %
    provinces_red: int  # … at ≥ 90 %
    pairs: int  # national (insuring, treating) pairs with a quota
    pairs_yellow: int
    pairs_red: int

    def as_dict(self) -> dict[str, object]:
        def pct(r: int | None) -> str | None:
            return None if r is None else f"{Decimal(r) / 100:.2f}%"

        def text(d: Decimal | None) -> str | None:
            return None if d is None else str(d)

        return {
            "cycle": self.cycle,
            "advance_days": text(self.advance_days),
            "advance_days_min": text(self.advance_days_min),
            "advance_days_max": text(self.advance_days_max),
            "advanced_mean_fen": self.advanced_mean_fen,
            "advanced_peak_fen": self.advanced_peak_fen,
            "prepay_usage_all": pct(self.usage_all),
            "prepay_usage_province_max": pct(self.usage_province_max),
            "prepay_usage_province_median": pct(self.usage_province_median),
            "prepay_provinces_yellow": self.provinces_yellow,
            "prepay_provinces_red": self.provinces_red,
            "prepay_pairs": self.pairs,
            "prepay_pairs_yellow": self.pairs_yellow,
            "prepay_pairs_red": self.pairs_red,
        }


def _hundredths(weight: int, amount: int) -> Decimal | None:
    if amount == 0:
        return None
    x100 = div_round(weight * 100, amount) if amount > 0 else div_round(-weight * 100, -amount)
    return (Decimal(x100) / 100).quantize(Decimal("0.01"))


def steady_state(
    rows: Iterable[DayAmount], start: date, days: int, year: int
) -> dict[date, list[DayAmount]]:
    """The window's days repeated over ``year - 1`` and ``year`` (day ``n`` of the tiled
    calendar takes window day ``n mod days``)."""
    if days <= 0:
        raise ValueError("the window must have at least one day")
    by_offset: dict[int, list[DayAmount]] = {}
    for r in rows:
        offset = (r.day - start).days
        if 0 <= offset < days:
            by_offset.setdefault(offset, []).append(r)
    first = date(year - 1, 1, 1)
    out: dict[date, list[DayAmount]] = {}
    day = first
    n = 0
    while day.year <= year:
        found = by_offset.get(n % days)
        if found:
            out[day] = found
        day += timedelta(days=1)
        n += 1
    return out


def _balance(events: Mapping[date, int], first: date, last: date) -> tuple[int, int]:
    """(mean, peak) over ``[first, last]`` of a balance given by its daily changes."""
    balance = 0
    total = 0
    peak = 0
    for day in sorted(d for d in events if d < first):
        balance += events[day]
    day = first
    n = 0
    while day <= last:
        balance += events.get(day, 0)
        total += balance
        peak = max(peak, balance)
        day += timedelta(days=1)
        n += 1
    return (div_round(total, n) if n else 0), peak


def compare_cycles(
    rows: Sequence[DayAmount],
    start: date,
    days: int,
    quotas: Mapping[tuple[str, str], int],
    cycles: Sequence[Cycle] = tuple(Cycle),
    params: ClearingParams | None = None,
    prepay: PrepayParams | None = None,
) -> list[CycleFigures]:
    """Advance days and prepayment usage under each cycle (see the module docstring).

    ``rows``: the simulated window's cleared money by day, hospital and region pair;
    ``quotas``: national prepayment quotas by (insuring province, treating province),
    both as ``XX0000``.
    """
    params = params or ClearingParams()
    prepay = prepay or PrepayParams()
    year = start.year
    tiled = steady_state(rows, start, days, year)
    first, last = date(year, 1, 1), date(year, 12, 31)
    out: list[CycleFigures] = []
    for cycle in cycles:
        pay_on: dict[date, date] = {}
        cleared_on: dict[date, date] = {}
        periods: dict[date, date] = {}
        for day in tiled:
            period = period_containing(cycle, day)
            if period.start not in periods:
                periods[period.start] = application_date(period, params)
            cleared_on[day] = periods[period.start]
            pay_on[day] = payment_date_for(day, cycle, params)
        # hospitals: settlements of the measured year, weighted by amount
        weight: dict[str, int] = {}
        amount: dict[str, int] = {}
        advanced: dict[date, int] = {}
        floats: dict[tuple[str, str], dict[date, int]] = {}
        for day, items in tiled.items():
            paid = pay_on[day]
            cleared = cleared_on[day]
            for r in items:
                advanced[day] = advanced.get(day, 0) + r.amount_fen
                advanced[paid] = advanced.get(paid, 0) - r.amount_fen
                if day.year == year:
                    amount[r.fixmedins_code] = amount.get(r.fixmedins_code, 0) + r.amount_fen
                    weight[r.fixmedins_code] = (
                        weight.get(r.fixmedins_code, 0) + r.amount_fen * (paid - day).days
                    )
                payer = r.insured_region[:2] + "0000"
                payee = r.treatment_region[:2] + "0000"
                if payer != payee and r.amount_fen:
                    events = floats.setdefault((payer, payee), {})
                    events[day] = events.get(day, 0) + r.amount_fen
                    events[cleared] = events.get(cleared, 0) - r.amount_fen
        per_hospital = [
            d for code in amount if (d := _hundredths(weight[code], amount[code])) is not None
        ]
        mean_adv, peak_adv = _balance(advanced, first, last)
        usages: list[int] = []  # per pair
        groups: dict[str, tuple[dict[date, int], int]] = {}  # per insuring province
        everything: dict[date, int] = {}
        total_quota = 0
        for pair, events in sorted(floats.items()):
            quota = quotas.get(pair, 0)
            if quota <= 0:
                continue
            _mean, peak = _balance(events, first, last)
            usages.append(div_round(peak * RATIO_ONE, quota))
            own, own_quota = groups.get(pair[0], ({}, 0))
            for day, delta in events.items():
                own[day] = own.get(day, 0) + delta
                everything[day] = everything.get(day, 0) + delta
            groups[pair[0]] = (own, own_quota + quota)
            total_quota += quota
        usages.sort()
        by_province = sorted(
            div_round(_balance(events, first, last)[1] * RATIO_ONE, quota)
            for events, quota in groups.values()
        )
        usage_all = (
            div_round(_balance(everything, first, last)[1] * RATIO_ONE, total_quota)
            if total_quota
            else None
        )
        out.append(
            CycleFigures(
                cycle=cycle.value,
                advance_days=_hundredths(sum(weight.values()), sum(amount.values())),
                advance_days_min=min(per_hospital) if per_hospital else None,
                advance_days_max=max(per_hospital) if per_hospital else None,
                advanced_mean_fen=mean_adv,
                advanced_peak_fen=peak_adv,
                usage_all=usage_all,
                usage_province_max=by_province[-1] if by_province else None,
                usage_province_median=by_province[len(by_province) // 2] if by_province else None,
                provinces_yellow=sum(1 for u in by_province if prepay.yellow <= u < prepay.red),
                provinces_red=sum(1 for u in by_province if u >= prepay.red),
                pairs=len(usages),
                pairs_yellow=sum(1 for u in usages if prepay.yellow <= u < prepay.red),
                pairs_red=sum(1 for u in usages if u >= prepay.red),
            )
        )
    return out
