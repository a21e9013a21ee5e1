"""DRG payment of the place of treatment (就医地): points, rate and point methods,
coefficients, cross-region cases, outliers, scope exclusions, 特例单议 flags,
readmissions, the year (budget, point value, monthly advance, year-end settlement per
hospital, claims on each place of insurance), and calibration of weights (drg-dip.md §6,
§8; domain-rules.md §6).

Units (all integers, no float):

* RW, points, coefficients and thresholds are **ten-thousandths** (``P4`` = 1.0000):
  RW 1.05 → 10_500; 107.10 points → 1_071_000; coefficient 1.02 → 10_200.
* Money is fen; the value of one point is **micro-yuan** (µ¥, 10⁻⁶ yuan; the interface's
  unit-price precision): 98.50 元/point → 98_500_000.
* ``amount (fen) = points × value / 10⁸`` rounded half away from zero, once.

Both methods price a case in points first: ``base points = RW × 100``. The rate method
(费率法) values a point at ``base rate / 100`` (exact: ``base_rate_fen × 100`` µ¥), so
``standard = RW × base rate × coefficients``; the point method (点数法) values it at the
(provisional, then year-end) point value. Every computed quantity is rounded once, half
away from zero: points to 0.0001, money to the fen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum
from itertools import pairwise

from medroam.domain.money import Fen, apply_ratio, div_round

P4 = 10_000  # 1.0000 in ten-thousandths
MICRO_PER_FEN = 10_000
_AMOUNT_DIVISOR = P4 * MICRO_PER_FEN  # points (×10⁴) × µ¥ → fen


class PaymentMethod(StrEnum):
    RATE = "rate"  # 费率法: base rate (元 per RW) × RW × coefficients
    POINTS = "points"  # 点数法: points × point value from the annual budget


class Scope(StrEnum):
    """Where the patient is insured, seen from the place of treatment."""

    LOCAL = "local"
    INTRA_PROVINCE = "intra_province"  # 省内异地
    INTER_PROVINCE = "inter_province"  # 跨省异地


class CrossRegionMode(StrEnum):
    """DRG-03: a separate standard for intra-province cases, or a coefficient."""

    SEPARATE_TABLE = "separate_table"
    COEFFICIENT = "coefficient"


class FundFormula(StrEnum):
    STANDARD_MINUS_PATIENT_SHARE = "standard_minus_patient_share"  # variant A (common)
    FUND_RATIO = "fund_ratio"  # variant B: standard × fund ratio


class ClearingBasis(StrEnum):
    """What the place of treatment claims from a place of insurance per case."""

    ITEM = "item"  # the itemised fund amount (default, drg-dip.md §8)
    DRG = "drg"  # the DRG fund-to-hospital amount


class CaseClass(StrEnum):
    NORMAL = "normal"
    HIGH = "high"  # 高倍率
    LOW = "low"  # 低倍率
    UNGROUPABLE = "ungroupable"  # 0000, QY or a DRG without a standard
    EXCLUDED_SHORT = "excluded_short_stay"  # paid by item
    EXCLUDED_LONG = "excluded_long_stay"  # paid by item
    NOT_INCLUDED = "not_included"  # inter-province while not included: by item

    @property
    def by_item(self) -> bool:
        return self in (
            CaseClass.EXCLUDED_SHORT,
            CaseClass.EXCLUDED_LONG,
            CaseClass.NOT_INCLUDED,
        )


class ReadmissionAction(StrEnum):
    SCALE = "scale"  # multiply the later stay's points by ``factor``
    ZERO = "zero"  # pay nothing for the later stay
    FLAG = "flag"  # only flag for audit


@dataclass(frozen=True, slots=True)
class GroupStandard:
    """A DRG's relative weight and standard (mean) cost."""

    rw: int  # ten-thousandths
    mean_cost: Fen


@dataclass(frozen=True, slots=True)
class StandardTable:
    groups: Mapping[str, GroupStandard]
    overall_mean: Fen  # mean cost of all cases (converts item costs into points)


@dataclass(frozen=True, slots=True)
class HighBand:
    """High-outlier threshold for base points up to ``max_base_points`` (inclusive)."""

    max_base_points: int | None  # ten-thousandths of a point; None: no upper bound
    threshold: int  # ten-thousandths: 3.0 → 30_000


@dataclass(frozen=True, slots=True)
class OutlierRule:
    """Defaults: high 3.0 / 2.0 / 1.5 by base points ≤ 100 / ≤ 200 / above; low 0.4;
    both boundaries inclusive; 特例单议 flag at cost ≥ 5 × standard cost."""

    high: tuple[HighBand, ...] = (
        HighBand(100 * P4, 30_000),
        HighBand(200 * P4, 20_000),
        HighBand(None, 15_000),
    )
    low: int = 4_000
    inclusive: bool = True
    review: int = 50_000

    def high_threshold(self, base_points: int) -> int:
        for band in self.high:
            if band.max_base_points is None or base_points <= band.max_base_points:
                return band.threshold
        return self.high[-1].threshold


@dataclass(frozen=True, slots=True)
class ReadmissionRule:
    """Default: same hospital, same DRG, admitted ≤ 15 days after the previous discharge:
    the later stay gets half its points; chemo/radiotherapy groups and stays following a
    transfer (离院方式 2) are exempt."""

    window_days: int = 15
    match_on: str = "same_drg"  # same_drg | same_adrg | same_mdc
    action: ReadmissionAction = ReadmissionAction.SCALE
    factor: int = 5_000
    exempt_adrgs: frozenset[str] = frozenset({"RB1", "RB2", "RC1", "RE1", "RG1"})
    exempt_leaving_types: frozenset[str] = frozenset({"2"})


@dataclass(frozen=True, slots=True)
class PaymentParams:
    """One place of treatment's DRG payment parameters for one year (all data)."""

    region: str
    year: int
    method: PaymentMethod
    standards: StandardTable
    base_rate: Fen = 0  # rate method: fen per 1.0 RW
    point_value: int = 0  # point method: provisional µ¥ per point
    level_coefficients: Mapping[str, int] = field(default_factory=dict)  # level → ×10⁴
    hospital_coefficients: Mapping[str, int] = field(default_factory=dict)  # id → ×10⁴
    cross_region_mode: CrossRegionMode = CrossRegionMode.COEFFICIENT
    cross_region_coefficient: int = P4
    cross_region_standards: StandardTable | None = None
    cross_region_base_rate: Fen | None = None
    include_intra_province: bool = True
    include_inter_province: bool = False
    outliers: OutlierRule = OutlierRule()
    min_los: int = 2  # stays of ≤ min_los days are paid by item
    max_los: int = 60  # stays of ≥ max_los days are paid by item
    ungroupable_factor: int = P4
    fund_formula: FundFormula = FundFormula.STANDARD_MINUS_PATIENT_SHARE
    fund_ratio: int = P4
    readmission: ReadmissionRule = ReadmissionRule()
    clearing_basis: ClearingBasis = ClearingBasis.ITEM

    def value_per_point(self, scope: Scope) -> int:
        """µ¥ per point: base rate / 100 (rate method) or the point value (points)."""
        if self.method is PaymentMethod.POINTS:
            return self.point_value
        rate = self.base_rate
        if (
            scope is not Scope.LOCAL
            and self.cross_region_mode is CrossRegionMode.SEPARATE_TABLE
            and self.cross_region_base_rate is not None
        ):
            rate = self.cross_region_base_rate
        return rate * 100


@dataclass(frozen=True, slots=True)
class PaymentCase:
    """A grouped, itemised-settled stay as payment needs it."""

    case_id: str
    person_id: str
    hospital_id: str
    hospital_level: str
    scope: Scope
    insured_region: str
    drg: str  # "BR21", "BQY", "0000"
    los: int
    leaving_type: str
    admitted: date
    discharged: date
    total_cost: Fen
    patient_share: Fen  # from the itemised settlement (参保地 policy)
    item_fund: Fen  # the itemised fund amount


@dataclass(frozen=True, slots=True)
class PricedCase:
    case: PaymentCase
    klass: CaseClass
    base_points: int  # ×10⁴; 0 when paid by item
    coefficients: tuple[tuple[str, int], ...]
    points: int  # ×10⁴ after class rules, coefficients and readmission
    value: int  # µ¥ per point used
    amount: Fen  # the payment standard of the case (by item: total cost)
    fund_to_hospital: Fen
    special_review: bool = False  # 特例单议 candidate
    readmission_of: str = ""  # the earlier case id, when the readmission rule applied
    steps: tuple[str, ...] = ()


def points_to_fen(points: int, value: int) -> Fen:
    """``points (×10⁴) × value (µ¥)`` in fen, rounded half away from zero."""
    return div_round(points * value, _AMOUNT_DIVISOR)


def _product(base: int, coefs: Sequence[int]) -> int:
    """``base × Π coefs`` (each ×10⁴), rounded once."""
    num, den = base, 1
    for c in coefs:
        num *= c
        den *= P4
    return div_round(num, den)


def _fund(params: PaymentParams, amount: Fen, patient_share: Fen) -> Fen:
    if params.fund_formula is FundFormula.FUND_RATIO:
        return apply_ratio(amount, params.fund_ratio)
    return max(amount - patient_share, 0)


def _by_item(case: PaymentCase, klass: CaseClass, why: str) -> PricedCase:
    return PricedCase(case, klass, 0, (), 0, 0, case.total_cost, case.item_fund, steps=(why,))


def case_points(case: PaymentCase, params: PaymentParams) -> PricedCase:
    """Classify and price one case (before readmission, at the params' point value)."""
    if case.scope is Scope.INTER_PROVINCE and not params.include_inter_province:
        return _by_item(case, CaseClass.NOT_INCLUDED, "inter-province: paid by item")
    if case.scope is Scope.INTRA_PROVINCE and not params.include_intra_province:
        return _by_item(case, CaseClass.NOT_INCLUDED, "intra-province: paid by item")
    if case.los <= params.min_los:
        return _by_item(case, CaseClass.EXCLUDED_SHORT, f"stay {case.los} ≤ {params.min_los} d")
    if case.los >= params.max_los:
        return _by_item(case, CaseClass.EXCLUDED_LONG, f"stay {case.los} ≥ {params.max_los} d")

    cross = case.scope is not Scope.LOCAL
    table = params.standards
    if cross and params.cross_region_mode is CrossRegionMode.SEPARATE_TABLE:
        table = params.cross_region_standards or table
    coefs: list[tuple[str, int]] = []
    level = params.level_coefficients.get(case.hospital_level)
    if level is not None:
        coefs.append((f"level {case.hospital_level}", level))
    own = params.hospital_coefficients.get(case.hospital_id)
    if own is not None:
        coefs.append((f"hospital {case.hospital_id}", own))
    if cross and params.cross_region_mode is CrossRegionMode.COEFFICIENT:
        coefs.append(("cross-region", params.cross_region_coefficient))
    value = params.value_per_point(case.scope)
    cost = case.total_cost
    std = table.groups.get(case.drg)
    steps: list[str] = []

    if std is None:
        # ungroupable, QY or no standard: item cost converted to points
        base = div_round(cost * 100 * P4, table.overall_mean)
        points = _product(base, (params.ungroupable_factor,))
        klass = CaseClass.UNGROUPABLE
        steps.append(f"{case.drg}: cost / overall mean × 100 × {params.ungroupable_factor}/10⁴")
        review = False
    else:
        base = std.rw * 100
        normal = _product(base, [c for _, c in coefs])
        mean = std.mean_cost
        rules = params.outliers
        hi = rules.high_threshold(base)
        lo = rules.low
        # compare cost / mean with thresholds exactly: cost × 10⁴ vs threshold × mean
        scaled = cost * P4
        is_high = scaled >= hi * mean if rules.inclusive else scaled > hi * mean
        is_low = scaled <= lo * mean if rules.inclusive else scaled < lo * mean
        if is_high:
            klass = CaseClass.HIGH
            points = normal + div_round((scaled - hi * mean) * base, mean * P4)
            steps.append(f"high: cost/mean ≥ {hi}/10⁴; + (cost/mean − threshold) × base")
        elif is_low:
            klass = CaseClass.LOW
            points = min(base, div_round(base * cost, mean))
            steps.append(f"low: cost/mean ≤ {lo}/10⁴; base × cost/mean")
        else:
            klass = CaseClass.NORMAL
            points = normal
        review = scaled >= rules.review * mean
    amount = points_to_fen(points, value)
    return PricedCase(
        case,
        klass,
        base,
        tuple(coefs),
        points,
        value,
        amount,
        _fund(params, amount, case.patient_share),
        special_review=review,
        steps=tuple(steps),
    )


def revalue(priced: PricedCase, value: int, params: PaymentParams) -> PricedCase:
    """The same points at another point value (e.g. the year-end one)."""
    if priced.klass.by_item:
        return priced
    amount = points_to_fen(priced.points, value)
    return replace(
        priced,
        value=value,
        amount=amount,
        fund_to_hospital=_fund(params, amount, priced.case.patient_share),
    )


def _matches(rule: ReadmissionRule, a: str, b: str) -> bool:
    if rule.match_on == "same_adrg":
        return a[:3] == b[:3]
    if rule.match_on == "same_mdc":
        return a[:1] == b[:1]
    return a == b


def apply_readmissions(priced: Sequence[PricedCase], params: PaymentParams) -> list[PricedCase]:
    """Apply the readmission rule over a batch (same person, same hospital), in input order.

    A later stay admitted within ``window_days`` of the previous stay's discharge, in a
    matching group, not exempt, is scaled, zeroed or flagged.
    """
    rule = params.readmission
    out = list(priced)
    order = sorted(
        range(len(out)),
        key=lambda i: (out[i].case.person_id, out[i].case.hospital_id, out[i].case.admitted),
    )
    for prev_i, cur_i in pairwise(order):
        prev, cur = out[prev_i].case, out[cur_i].case
        if (prev.person_id, prev.hospital_id) != (cur.person_id, cur.hospital_id):
            continue
        if out[cur_i].klass.by_item or out[prev_i].klass.by_item:
            continue
        gap = (cur.admitted - prev.discharged).days
        if not 0 <= gap <= rule.window_days or not _matches(rule, prev.drg, cur.drg):
            continue
        if cur.drg[:3] in rule.exempt_adrgs or prev.leaving_type in rule.exempt_leaving_types:
            continue
        p = out[cur_i]
        if rule.action is ReadmissionAction.FLAG:
            points = p.points
        elif rule.action is ReadmissionAction.ZERO:
            points = 0
        else:
            points = div_round(p.points * rule.factor, P4)
        amount = points_to_fen(points, p.value)
        out[cur_i] = replace(
            p,
            points=points,
            amount=amount,
            fund_to_hospital=_fund(params, amount, cur.patient_share),
            readmission_of=prev.case_id,
            steps=(*p.steps, f"readmission {gap} d after {prev.case_id}: {rule.action.value}"),
        )
    return out


def price_cases(cases: Iterable[PaymentCase], params: PaymentParams) -> list[PricedCase]:
    """Price a batch: each case, then the readmission rule over the batch."""
    return apply_readmissions([case_points(c, params) for c in cases], params)


# --- the year: budget, point value, advances, year-end settlement, claims ----------------


@dataclass(frozen=True, slots=True)
class YearBudget:
    budget: Fen  # the annual DRG budget for these cases (total-cost terms)
    holdback: int = 0  # 调剂金 share held back (×10⁴)
    advance_ratio: int = 8_500  # monthly advance share (×10⁴)

    @property
    def distributable(self) -> Fen:
        return self.budget - apply_ratio(self.budget, self.holdback)


def point_value(distributable: Fen, total_points: int) -> int:
    """µ¥ per point so that ``total_points`` are worth ``distributable`` fen."""
    if total_points <= 0:
        raise ValueError("no points to value")
    return div_round(distributable * _AMOUNT_DIVISOR, total_points)


def monthly_advance(priced_month: Iterable[PricedCase], ratio: int) -> dict[str, Fen]:
    """Per hospital: ``ratio`` × the month's fund-to-hospital amounts (provisional)."""
    due: dict[str, Fen] = defaultdict(int)
    for p in priced_month:
        due[p.case.hospital_id] += p.fund_to_hospital
    return {h: apply_ratio(v, ratio) for h, v in sorted(due.items())}


@dataclass(frozen=True, slots=True)
class HospitalYear:
    hospital_id: str
    cases: int
    points: int  # ×10⁴, DRG-paid cases
    drg_amount: Fen  # Σ case standards at the year-end point value
    item_amount: Fen  # Σ total cost of cases paid by item
    fund_due: Fen  # Σ fund-to-hospital (DRG) + Σ itemised fund (by item)
    advances: Fen
    balance: Fen  # fund_due − advances: paid (+) or recovered (−) at year end


@dataclass(frozen=True, slots=True)
class InsuranceClaim:
    """What the place of treatment claims from one place of insurance for the year."""

    insured_region: str
    cases: int
    item_fund: Fen
    drg_fund: Fen
    claim: Fen  # by the clearing basis


@dataclass(frozen=True, slots=True)
class YearSettlement:
    value: int  # the year-end point value, µ¥
    distributable: Fen
    total_points: int
    hospitals: tuple[HospitalYear, ...]
    claims: tuple[InsuranceClaim, ...]
    cases: tuple[PricedCase, ...]  # revalued


def settle_year(
    priced: Sequence[PricedCase],
    params: PaymentParams,
    budget: YearBudget | None = None,
    advances: Mapping[str, Fen] | None = None,
) -> YearSettlement:
    """Year-end settlement. Point method: the point value is ``distributable ÷ Σ points``
    and every DRG-paid case is revalued at it; rate method: amounts stay as priced.
    Hospitals get ``fund_due − advances``; cross-region cases become claims on their
    places of insurance, on the params' clearing basis."""
    drg_paid = [p for p in priced if not p.klass.by_item]
    total = sum(p.points for p in drg_paid)
    if params.method is PaymentMethod.POINTS:
        if budget is None:
            raise ValueError("the point method needs the year's budget")
        dist = budget.distributable
        value = point_value(dist, total)
        cases = [revalue(p, value, params) for p in priced]
    else:
        dist = sum(p.amount for p in drg_paid)
        value = params.value_per_point(Scope.LOCAL)
        cases = list(priced)
    adv = advances or {}
    by_h: dict[str, list[PricedCase]] = defaultdict(list)
    by_r: dict[str, list[PricedCase]] = defaultdict(list)
    for p in cases:
        by_h[p.case.hospital_id].append(p)
        if p.case.scope is not Scope.LOCAL:
            by_r[p.case.insured_region].append(p)
    hospitals: list[HospitalYear] = []
    for h in sorted(set(by_h) | set(adv)):
        ps = by_h.get(h, [])
        drg = [p for p in ps if not p.klass.by_item]
        item = [p for p in ps if p.klass.by_item]
        fund_due = sum(p.fund_to_hospital for p in ps)
        hospitals.append(
            HospitalYear(
                h,
                len(ps),
                sum(p.points for p in drg),
                sum(p.amount for p in drg),
                sum(p.amount for p in item),
                fund_due,
                adv.get(h, 0),
                fund_due - adv.get(h, 0),
            )
        )
    claims: list[InsuranceClaim] = []
    for r in sorted(by_r):
        ps = by_r[r]
        item_fund = sum(p.case.item_fund for p in ps)
        drg_fund = sum(p.fund_to_hospital for p in ps)
        claim = item_fund if params.clearing_basis is ClearingBasis.ITEM else drg_fund
        claims.append(InsuranceClaim(r, len(ps), item_fund, drg_fund, claim))
    return YearSettlement(value, dist, total, tuple(hospitals), tuple(claims), tuple(cases))


# --- calibration ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calibration:
    standards: StandardTable
    counts: Mapping[str, int]  # cases per DRG after trimming
    unstable: frozenset[str]  # groups below ``min_cases`` (no RW; paid as ungroupable)


def calibrate(
    samples: Iterable[tuple[str, Fen]],
    *,
    trim: int = 250,
    min_cases: int = 5,
    exclude: frozenset[str] = frozenset({"0000"}),
) -> Calibration:
    """Relative weights from a year of (DRG, total cost) pairs.

    Per DRG, the ``trim`` share (×10⁴; default 2.5 %) of cases is cut from each end of
    the sorted costs (``n × trim ÷ 10⁴`` rounded down), the rest averaged (rounded to the
    fen). The overall mean is taken over every kept case of the stable groups;
    ``RW = mean_g ÷ overall`` to 4 decimals. Groups with fewer than ``min_cases`` kept
    cases, and ``0000``/QY, get no weight.
    """
    by: dict[str, list[Fen]] = defaultdict(list)
    for drg, cost in samples:
        if drg in exclude or drg.endswith("QY"):
            continue
        by[drg].append(cost)
    kept: dict[str, list[Fen]] = {}
    unstable: set[str] = set()
    for drg, costs in by.items():
        costs.sort()
        k = len(costs) * trim // P4
        rest = costs[k : len(costs) - k] if k else costs
        if len(rest) < min_cases:
            unstable.add(drg)
        else:
            kept[drg] = rest
    n_all = sum(len(v) for v in kept.values())
    if n_all == 0:
        raise ValueError("no stable group to calibrate")
    overall = div_round(sum(sum(v) for v in kept.values()), n_all)
    groups = {}
    for drg in sorted(kept):
        mean = div_round(sum(kept[drg]), len(kept[drg]))
        groups[drg] = GroupStandard(div_round(mean * P4, overall), mean)
    return Calibration(
        StandardTable(groups, overall),
        {d: len(v) for d, v in sorted(kept.items())},
        frozenset(unstable),
    )


def base_rate(budget: Fen, expected_cases: Mapping[str, int], standards: StandardTable) -> Fen:
    """费率: fen per 1.0 RW = budget ÷ Σ (expected cases × RW)."""
    weight = sum(n * standards.groups[d].rw for d, n in expected_cases.items())
    if weight <= 0:
        raise ValueError("no weighted cases")
    return div_round(budget * P4, weight)
