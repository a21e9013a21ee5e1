"""DRG payment of a file of grouped cases (``medroam drg price`` / ``medroam drg year``).

The input is the groups CSV of ``medroam drg group`` run on cases that carry the payment
columns (``services.drg.PAYMENT_COLUMNS``, written by ``drg synth``):

=================  ===========================================================
``id``             case id (unique in the file)
``status``         optional; ``error`` rows (not grouped) are reported, not priced
``drg``            the DRG (``BR23``, ``BQY``, ``0000``)
``los``            length of stay in days
``leaving_type``   optional 离院方式 (default 1); 2 = transfer (readmission exempt)
``person_id``      optional (default: the case id) — the readmission rule's person
``hospital_id``    the hospital; ``hospital_level`` its level (1/2/3)
``insured_region`` the place of insurance (6 digits)
``admitted``       ``discharged``: ISO dates; the discharge must lie in the year
``total_cost``     ``patient_share``, ``item_fund`` (optional, default cost − share):
                   yuan with at most 2 decimals
=================  ===========================================================

The place of treatment is the region of the payment parameters: a case insured there is
local, one insured in the same province (first two digits) intra-province, any other
inter-province. A row that cannot be read is reported with its id and reason and the rest
is priced.

Worked example (rate method, base rate ¥10,000.00 so one point is worth ¥100.00; BR23
RW 1.0500 with a standard cost of ¥10,500.00; level 3 coefficient 1.0500; cross-region
coefficient 0.9800; inter-province cases not included). Three stays at a level-3
hospital of 620100, each costing ¥9,800.00 of which the patient paid ¥2,000.00:

* insured in 620100 (local): 105 × 1.05 = 110.2500 points → ¥11,025.00; the fund owes
  the hospital 11,025.00 − 2,000.00 = ¥9,025.00;
* insured in 621000 (intra-province): 105 × 1.05 × 0.98 = 108.0450 points →
  ¥10,804.50; fund ¥8,804.50;
* insured in 110100 (inter-province, not included): by item, fund = the itemised fund
  ¥7,800.00.

The year (all three discharged in March; advance 85 %): the hospital is due
9,025.00 + 8,804.50 + 7,800.00 = ¥25,629.50, was advanced 0.85 × 25,629.50 = ¥21,785.08
(21,785.075 rounded half up) and gets the balance ¥3,844.42 at year end; 620100 claims
the itemised fund from each place of insurance: ¥7,800.00 from 621000 and ¥7,800.00 from
110100.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from medroam.domain.drg.payment import (
    P4,
    PaymentCase,
    PaymentParams,
    PricedCase,
    Scope,
    YearBudget,
    YearSettlement,
    monthly_advance,
    price_cases,
    settle_year,
)
from medroam.domain.money import Fen, MoneyError, yuan_to_fen
from medroam.services.drg import ERROR_STATUS, RowError

REQUIRED_COLUMNS = (
    "id",
    "drg",
    "los",
    "hospital_id",
    "hospital_level",
    "insured_region",
    "admitted",
    "discharged",
    "total_cost",
    "patient_share",
)
DEFAULT_ADVANCE_RATIO = 8_500


def scope_of(insured_region: str, treatment_region: str) -> Scope:
    """``620100`` at ``620100`` → local; ``621000`` → intra-province; ``110100`` → inter."""
    if insured_region == treatment_region:
        return Scope.LOCAL
    if insured_region[:2] == treatment_region[:2]:
        return Scope.INTRA_PROVINCE
    return Scope.INTER_PROVINCE


def _text(row: Mapping[str, str], key: str) -> str:
    value = (row.get(key) or "").strip()
    if not value:
        raise RowError(f"{key}: missing")
    return value


def _fen(row: Mapping[str, str], key: str) -> Fen:
    try:
        fen = yuan_to_fen(_text(row, key), field=key)
    except MoneyError as exc:
        raise RowError(str(exc)) from None
    if fen < 0:
        raise RowError(f"{key}: must not be negative")
    return fen


def _day(row: Mapping[str, str], key: str) -> date:
    value = _text(row, key)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RowError(f"{key}: {value!r} is not a date yyyy-mm-dd") from None


def parse_payment_row(row: Mapping[str, str], params: PaymentParams) -> PaymentCase:
    """One groups-CSV row → a ``PaymentCase`` at the params' place of treatment; raises
    ``RowError`` with the reason (e.g. ``total_cost: '12.345' has more than 2 decimals``)."""
    case_id = _text(row, "id")
    status = (row.get("status") or "").strip()
    if status == ERROR_STATUS:
        reason = (row.get("error") or "").strip() or "status error"
        raise RowError(f"not grouped: {reason}")
    drg = _text(row, "drg")
    los_text = _text(row, "los")
    if not los_text.isdigit():
        raise RowError(f"los: {los_text!r} is not a whole number of days")
    insured = _text(row, "insured_region")
    if len(insured) != 6 or not insured.isdigit():
        raise RowError(f"insured_region: {insured!r} is not a 6-digit region code")
    admitted, discharged = _day(row, "admitted"), _day(row, "discharged")
    if discharged < admitted:
        raise RowError(f"discharged {discharged} is before admitted {admitted}")
    if discharged.year != params.year:
        raise RowError(f"discharged {discharged} is outside {params.year} (the parameters' year)")
    cost, share = _fen(row, "total_cost"), _fen(row, "patient_share")
    if share > cost:
        raise RowError("patient_share exceeds total_cost")
    item_fund = _fen(row, "item_fund") if (row.get("item_fund") or "").strip() else cost - share
    return PaymentCase(
        case_id=case_id,
        person_id=(row.get("person_id") or "").strip() or case_id,
        hospital_id=_text(row, "hospital_id"),
        hospital_level=_text(row, "hospital_level"),
        scope=scope_of(insured, params.region),
        insured_region=insured,
        drg=drg,
        los=int(los_text),
        leaving_type=(row.get("leaving_type") or "").strip() or "1",
        admitted=admitted,
        discharged=discharged,
        total_cost=cost,
        patient_share=share,
        item_fund=item_fund,
    )


@dataclass(slots=True)
class CaseFile:
    """The readable cases of a file and the rows that were not (id, reason)."""

    rows: int = 0
    cases: list[PaymentCase] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def read_cases(
    lines: Iterable[str],
    params: PaymentParams,
    on_row: Callable[[], None] | None = None,
) -> CaseFile:
    """Read a groups CSV (header first). Raises ``RowError`` only for the file itself (no
    header, missing columns); a bad row is recorded in ``errors`` and skipped."""
    out = CaseFile()
    reader = csv.reader(iter(lines))
    header = next(reader, None)
    if header is None:
        raise RowError("the file is empty")
    names = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise RowError(f"header lacks column(s) {', '.join(missing)}")
    seen: set[str] = set()
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            continue
        out.rows += 1
        row_id = fields[0].strip() or f"line {reader.line_num}"
        try:
            if len(fields) != len(names):
                raise RowError(f"malformed line: expected {len(names)} fields, got {len(fields)}")
            case = parse_payment_row(dict(zip(names, fields, strict=True)), params)
            if case.case_id in seen:
                raise RowError("id repeated in the file")
        except RowError as exc:
            out.errors.append((row_id, str(exc)))
        else:
            seen.add(case.case_id)
            out.cases.append(case)
        if on_row is not None:
            on_row()
    return out


# --- price -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceReport:
    params: PaymentParams
    rows: int
    priced: tuple[PricedCase, ...]
    errors: tuple[tuple[str, str], ...]


def price_file(
    lines: Iterable[str],
    params: PaymentParams,
    on_row: Callable[[], None] | None = None,
) -> PriceReport:
    """Every readable case priced at the params (provisional point value for the point
    method), the readmission rule applied over the file."""
    read = read_cases(lines, params, on_row)
    priced = price_cases(read.cases, params)
    return PriceReport(params, read.rows, tuple(priced), tuple(read.errors))


# --- the year ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YearReport:
    params: PaymentParams
    budget: YearBudget | None
    rows: int
    errors: tuple[tuple[str, str], ...]
    provisional: tuple[PricedCase, ...]  # priced at the provisional value
    advance_ratio: int  # ×10⁴
    advances_by_month: Mapping[str, Mapping[str, Fen]]  # "2025-03" → hospital → fen
    advances: Mapping[str, Fen]  # hospital → Σ months
    settlement: YearSettlement


def year_file(
    lines: Iterable[str],
    params: PaymentParams,
    budget: YearBudget | None,
    on_row: Callable[[], None] | None = None,
) -> YearReport:
    """The year of a place of treatment: cases priced at the provisional value, monthly
    advances by month of discharge (``advance_ratio`` of the month's fund-to-hospital),
    the year-end point value from the budget (point method), each hospital's balance and
    the claims on each place of insurance. Raises ``ValueError`` when the point method
    has no budget or no case earns points."""
    read = read_cases(lines, params, on_row)
    priced = price_cases(read.cases, params)
    ratio = budget.advance_ratio if budget is not None else DEFAULT_ADVANCE_RATIO
    by_month: dict[str, list[PricedCase]] = defaultdict(list)
    for p in priced:
        by_month[p.case.discharged.strftime("%Y-%m")].append(p)
    advances_by_month = {m: monthly_advance(by_month[m], ratio) for m in sorted(by_month)}
    advances: dict[str, Fen] = defaultdict(int)
    for month in advances_by_month.values():
        for hospital, fen in month.items():
            advances[hospital] += fen
    settlement = settle_year(priced, params, budget, dict(advances))
    return YearReport(
        params,
        budget,
        read.rows,
        tuple(read.errors),
        tuple(priced),
        ratio,
        advances_by_month,
        dict(sorted(advances.items())),
        settlement,
    )


def points_text(points: int) -> str:
    """×10⁴ points as a 4-decimal string: 1_102_500 → ``"110.2500"``."""
    sign = "-" if points < 0 else ""
    q, r = divmod(abs(points), P4)
    return f"{sign}{q}.{r:04d}"


def point_value_text(micro_yuan: int) -> str:
    """µ¥ per point as yuan with 6 decimals: 98_500_000 → ``"98.500000"``."""
    q, r = divmod(micro_yuan, 1_000_000)
    return f"{q}.{r:06d}"
