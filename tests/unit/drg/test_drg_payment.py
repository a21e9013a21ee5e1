"""DRG payment worked examples, every figure computed by hand in the docstring.

Units: RW, points and coefficients ×10⁴; money in fen; point values in µ¥ (10⁻⁶ yuan).
Rounding: half away from zero, once per computed quantity (points to 0.0001, money to
the fen).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medroam.domain.drg.payment import (
    CaseClass,
    ClearingBasis,
    CrossRegionMode,
    FundFormula,
    GroupStandard,
    OutlierRule,
    PaymentCase,
    PaymentMethod,
    PaymentParams,
    ReadmissionAction,
    ReadmissionRule,
    Scope,
    StandardTable,
    YearBudget,
    base_rate,
    calibrate,
    case_points,
    monthly_advance,
    point_value,
    price_cases,
    settle_year,
)

BR23 = GroupStandard(rw=10_500, mean_cost=1_050_000)  # RW 1.05, mean ¥10,500.00
TABLE = StandardTable({"BR23": BR23, "RE19": BR23}, overall_mean=1_200_000)
POINTS = PaymentParams(
    region="620100",
    year=2025,
    method=PaymentMethod.POINTS,
    standards=TABLE,
    point_value=98_500_000,  # ¥98.50 per point
    level_coefficients={"3": 10_200},  # 1.02
)


def pc(
    cost: int,
    *,
    drg: str = "BR23",
    los: int = 8,
    scope: Scope = Scope.LOCAL,
    share: int = 0,
    case_id: str = "c1",
    person: str = "P1",
    hospital: str = "H1",
    admitted: date = date(2025, 3, 1),
    discharged: date = date(2025, 3, 9),
    leaving: str = "1",
) -> PaymentCase:
    return PaymentCase(
        case_id,
        person,
        hospital,
        "3",
        scope,
        "621000",
        drg,
        los,
        leaving,
        admitted,
        discharged,
        cost,
        share,
        cost - share,
    )


def test_worked_example_normal() -> None:
    """§6.9: BR23, RW 1.05 → base 105 points; coefficient 1.02 → 107.10 points;
    cost ¥9,800 / ¥10,500 = 0.93 (normal); 107.10 × ¥98.50 = ¥10,549.35.
    Patient share ¥2,000 → fund to hospital ¥8,549.35."""
    p = case_points(pc(980_000, share=200_000), POINTS)
    assert p.klass is CaseClass.NORMAL
    assert (p.base_points, p.points) == (1_050_000, 1_071_000)
    assert p.amount == 1_054_935
    assert p.fund_to_hospital == 854_935
    assert p.coefficients == (("level 3", 10_200),)


def test_worked_example_high() -> None:
    """§6.9: cost ¥40,000; 40,000/10,500 = 3.81 ≥ 2.0 (base 105 is in (100, 200]);
    points = 107.10 + (40,000/10,500 − 2.0) × 105 = 107.10 + (400 − 210) = 297.10;
    297.10 × ¥98.50 = ¥29,264.35."""
    p = case_points(pc(4_000_000), POINTS)
    assert p.klass is CaseClass.HIGH
    assert p.points == 2_971_000
    assert p.amount == 2_926_435


def test_worked_example_low() -> None:
    """§6.9: cost ¥3,000; 3,000/10,500 = 0.29 ≤ 0.4; points = 105 × 3,000/10,500 = 30;
    30 × ¥98.50 = ¥2,955.00 (no coefficient on low cases)."""
    p = case_points(pc(300_000), POINTS)
    assert p.klass is CaseClass.LOW
    assert (p.points, p.amount) == (300_000, 295_500)


def test_boundaries_inclusive_by_default() -> None:
    """At exactly 2.0 × mean (¥21,000) the case is high but worth the normal 107.10
    points (the formula is continuous); at exactly 0.4 × mean (¥4,200) it is low:
    105 × 0.4 = 42 points. With exclusive boundaries both are normal (107.10)."""
    high = case_points(pc(2_100_000), POINTS)
    assert (high.klass, high.points) == (CaseClass.HIGH, 1_071_000)
    low = case_points(pc(420_000), POINTS)
    assert (low.klass, low.points) == (CaseClass.LOW, 420_000)
    strict = replace(POINTS, outliers=OutlierRule(inclusive=False))
    assert case_points(pc(2_100_000), strict).klass is CaseClass.NORMAL
    assert case_points(pc(420_000), strict).points == 1_071_000


def test_high_threshold_bands() -> None:
    rule = OutlierRule()
    assert rule.high_threshold(1_000_000) == 30_000  # 100 points: ≤ 100 → 3.0
    assert rule.high_threshold(1_000_001) == 20_000
    assert rule.high_threshold(2_000_000) == 20_000
    assert rule.high_threshold(2_000_001) == 15_000


def test_special_review_flag() -> None:
    """特例单议 candidate at cost ≥ 5 × mean: ¥52,500 flags, ¥52,499.99 does not."""
    assert case_points(pc(5_250_000), POINTS).special_review
    assert not case_points(pc(5_249_999), POINTS).special_review


def test_rate_method() -> None:
    """Base rate ¥10,000 per RW: standard = 1.05 × 10,000 × 1.02 = ¥10,710.00; a point is
    worth ¥100 (10⁸ µ¥)."""
    rate = replace(POINTS, method=PaymentMethod.RATE, base_rate=1_000_000)
    p = case_points(pc(980_000), rate)
    assert (p.value, p.amount) == (100_000_000, 1_071_000)


def test_cross_region_coefficient() -> None:
    """Intra-province case, coefficient 0.95: 105 × 1.02 × 0.95 = 101.745 points;
    × ¥98.50 = ¥10,021.8825 → ¥10,021.88."""
    params = replace(POINTS, cross_region_coefficient=9_500)
    p = case_points(pc(980_000, scope=Scope.INTRA_PROVINCE), params)
    assert p.points == 1_017_450
    assert p.amount == 1_002_188
    assert p.coefficients[-1] == ("cross-region", 9_500)


def test_cross_region_separate_table() -> None:
    """Separate standard: RW 1.10 → 110 points × 1.02 = 112.20; separate base rate
    ¥9,500 → ¥95 per point → ¥10,659.00. A local case keeps ¥10,710.00."""
    params = replace(
        POINTS,
        method=PaymentMethod.RATE,
        base_rate=1_000_000,
        cross_region_mode=CrossRegionMode.SEPARATE_TABLE,
        cross_region_standards=StandardTable({"BR23": GroupStandard(11_000, 1_100_000)}, 1),
        cross_region_base_rate=950_000,
    )
    assert case_points(pc(980_000, scope=Scope.INTRA_PROVINCE), params).amount == 1_065_900
    assert case_points(pc(980_000), params).amount == 1_071_000


def test_same_case_local_and_intra_province() -> None:
    """With coefficient 1.0 the DRG amount is the place of treatment's, identical for a
    local and an intra-province patient; only the patient share (参保地 policy) differs,
    so the fund-to-hospital differs by exactly the share difference."""
    local = case_points(pc(980_000, share=150_000), POINTS)
    intra = case_points(pc(980_000, share=250_000, scope=Scope.INTRA_PROVINCE), POINTS)
    assert local.amount == intra.amount == 1_054_935
    assert local.fund_to_hospital - intra.fund_to_hospital == 100_000


def test_inter_province_by_item_unless_included() -> None:
    p = case_points(pc(980_000, share=300_000, scope=Scope.INTER_PROVINCE), POINTS)
    assert p.klass is CaseClass.NOT_INCLUDED
    assert (p.amount, p.fund_to_hospital, p.points) == (980_000, 680_000, 0)
    included = replace(POINTS, include_inter_province=True)
    assert case_points(pc(980_000, scope=Scope.INTER_PROVINCE), included).points == 1_071_000


@pytest.mark.parametrize(
    ("los", "klass"),
    [
        (2, CaseClass.EXCLUDED_SHORT),
        (3, CaseClass.NORMAL),
        (59, CaseClass.NORMAL),
        (60, CaseClass.EXCLUDED_LONG),
    ],
)
def test_stay_length_exclusions(los: int, klass: CaseClass) -> None:
    assert case_points(pc(980_000, los=los), POINTS).klass is klass


def test_stay_length_exclusions_are_parameters() -> None:
    params = replace(POINTS, min_los=1, max_los=90)
    assert case_points(pc(980_000, los=2), params).klass is CaseClass.NORMAL
    assert case_points(pc(980_000, los=60), params).klass is CaseClass.NORMAL


def test_ungroupable_paid_from_cost() -> None:
    """0000, cost ¥6,000, overall mean ¥12,000 → 50 points; factor 0.8 → 40 points;
    × ¥98.50 = ¥3,940.00."""
    params = replace(POINTS, ungroupable_factor=8_000)
    p = case_points(pc(600_000, drg="0000"), params)
    assert p.klass is CaseClass.UNGROUPABLE
    assert (p.points, p.amount) == (400_000, 394_000)


def test_fund_ratio_formula() -> None:
    """Variant B: ¥10,549.35 × 0.90 = ¥9,494.415 → ¥9,494.42."""
    params = replace(POINTS, fund_formula=FundFormula.FUND_RATIO, fund_ratio=9_000)
    assert case_points(pc(980_000), params).fund_to_hospital == 949_442


def test_readmission_within_15_days_same_drg() -> None:
    """Second BR23 stay admitted 9 days after the first discharge: half points,
    107.10 × 0.5 = 53.55; × ¥98.50 = ¥5,274.675 → ¥5,274.68. A stay 16 days later, one in
    another hospital, and a chemotherapy group (RE1) are untouched."""
    first = pc(980_000, case_id="a", discharged=date(2025, 3, 1), admitted=date(2025, 2, 20))
    second = pc(980_000, case_id="b", admitted=date(2025, 3, 10), discharged=date(2025, 3, 18))
    late = pc(980_000, case_id="c", admitted=date(2025, 4, 3), discharged=date(2025, 4, 9))
    other = pc(980_000, case_id="d", hospital="H2", admitted=date(2025, 3, 5))
    out = {p.case.case_id: p for p in price_cases([second, late, first, other], POINTS)}
    assert (out["b"].points, out["b"].amount, out["b"].readmission_of) == (535_500, 527_468, "a")
    assert out["a"].points == out["c"].points == out["d"].points == 1_071_000
    assert out["c"].readmission_of == ""
    chemo = [
        replace(first, drg="RE19"),
        replace(second, drg="RE19"),
    ]
    assert all(p.readmission_of == "" for p in price_cases(chemo, POINTS))


def test_readmission_flag_only() -> None:
    params = replace(POINTS, readmission=ReadmissionRule(action=ReadmissionAction.FLAG))
    first = pc(980_000, case_id="a", discharged=date(2025, 3, 1), admitted=date(2025, 2, 20))
    second = pc(980_000, case_id="b", admitted=date(2025, 3, 10))
    out = price_cases([first, second], params)
    assert (out[1].readmission_of, out[1].points) == ("a", 1_071_000)


# --- the year ------------------------------------------------------------------------

X = GroupStandard(rw=20_000, mean_cost=2_000_000)  # RW 2.0 → 200 points; mean ¥20,000


def _year_cases() -> list[PaymentCase]:
    cases = []
    for i in range(3):
        cases.append(pc(2_000_000, drg="X", share=200_000, case_id=f"h1-{i}", person=f"A{i}"))
    for i in range(2):
        c = pc(2_000_000, drg="X", share=200_000, hospital="H2", scope=Scope.INTRA_PROVINCE)
        cases.append(replace(c, case_id=f"h2-{i}", person_id=f"B{i}", item_fund=1_500_000))
    return cases


def test_year_end_settlement_point_method() -> None:
    """Budget ¥1,000,000, 5 % held back → ¥950,000 distributable. Points: H1 3 × 200,
    H2 2 × 200 = 1,000 → point value ¥950.00. H1 600 × 950 = ¥570,000 less shares
    3 × ¥2,000 = ¥564,000 due; H2 ¥380,000 − ¥4,000 = ¥376,000.
    Advances at the provisional ¥900: H1 (600 × 900 − 6,000) × 85 % = ¥453,900;
    H2 (400 × 900 − 4,000) × 85 % = ¥302,600. Balances: ¥110,100 and ¥73,400.
    H2's two intra-province cases are claimed from 621000: by item 2 × ¥15,000 = ¥30,000;
    on the DRG basis ¥376,000."""
    params = replace(
        POINTS,
        standards=StandardTable({"X": X}, 2_000_000),
        level_coefficients={},
        point_value=900_000_000,
    )
    priced = price_cases(_year_cases(), params)
    adv = monthly_advance(priced, 8_500)
    assert adv == {"H1": 45_390_000, "H2": 30_260_000}
    year = settle_year(priced, params, YearBudget(100_000_000, holdback=500), adv)
    assert (year.distributable, year.total_points, year.value) == (
        95_000_000,
        10_000_000,
        950_000_000,
    )
    h1, h2 = year.hospitals
    assert (h1.drg_amount, h1.fund_due, h1.advances, h1.balance) == (
        57_000_000,
        56_400_000,
        45_390_000,
        11_010_000,
    )
    assert (h2.drg_amount, h2.fund_due, h2.balance) == (38_000_000, 37_600_000, 7_340_000)
    assert sum(h.drg_amount for h in year.hospitals) == year.distributable
    (claim,) = year.claims
    assert (claim.insured_region, claim.cases, claim.claim) == ("621000", 2, 3_000_000)
    drg_basis = settle_year(
        priced, replace(params, clearing_basis=ClearingBasis.DRG), YearBudget(100_000_000, 500)
    )
    assert drg_basis.claims[0].claim == 37_600_000


def test_point_value_from_budget() -> None:
    """¥950,000 over 1,000 points = ¥950 per point; ¥100 over 3 points = ¥33.333333."""
    assert point_value(95_000_000, 10_000_000) == 950_000_000
    assert point_value(10_000, 30_000) == 33_333_333


# --- calibration --------------------------------------------------------------------------


def test_calibration_by_hand() -> None:
    """A: ¥1,000, ¥2,000, ¥3,000 → mean ¥2,000; B: ¥4,000 ×3 and ¥6,000 → ¥4,500;
    C has 2 cases (< 3) → unstable. Overall mean over A and B: ¥24,000 / 7 = ¥3,428.571
    → ¥3,428.57. RW_A = 2,000 / 3,428.57 = 0.58333 → 0.5833; RW_B = 1.31250 → 1.3125.
    Base rate for 100 A and 200 B cases and a ¥1,000,000 budget:
    ¥1,000,000 / (100 × 0.5833 + 200 × 1.3125 = 320.83) = ¥3,116.9155 → ¥3,116.92."""
    y = 100
    samples = [("A", 1000 * y), ("A", 2000 * y), ("A", 3000 * y)]
    samples += [("B", 4000 * y)] * 3 + [("B", 6000 * y), ("C", 5 * y), ("C", 7 * y)]
    samples += [("0000", 99_999 * y)]
    cal = calibrate(samples, trim=0, min_cases=3)
    assert cal.standards.overall_mean == 342_857
    assert cal.standards.groups["A"] == GroupStandard(5_833, 200_000)
    assert cal.standards.groups["B"] == GroupStandard(13_125, 450_000)
    assert cal.unstable == frozenset({"C"})
    assert base_rate(100_000_000, {"A": 100, "B": 200}, cal.standards) == 311_692


def test_calibration_trims_each_end() -> None:
    """40 cases at 2.5 %: 40 × 250 / 10⁴ = 1 case cut at each end; costs 1..40 yuan with
    the top one at ¥1,000: kept 2..39 → mean ¥20.50."""
    costs = [i * 100 for i in range(1, 40)] + [100_000]
    cal = calibrate([("A", c) for c in costs], trim=250, min_cases=5)
    assert cal.standards.groups["A"].mean_cost == 2_050
    assert cal.counts["A"] == 38


# --- properties -------------------------------------------------------------------------


@given(
    cost=st.integers(min_value=0, max_value=100_000_000),
    rw=st.integers(min_value=1_000, max_value=80_000),
    coef=st.integers(min_value=5_000, max_value=15_000),
)
def test_points_properties(cost: int, rw: int, coef: int) -> None:
    """Points are never negative; a low case never exceeds base points; at exactly the
    high threshold the points equal the normal points."""
    mean = 1_000_000
    params = replace(
        POINTS,
        standards=StandardTable({"G": GroupStandard(rw, mean)}, mean),
        level_coefficients={"3": coef},
    )
    p = case_points(pc(cost, drg="G"), params)
    assert p.points >= 0
    if p.klass is CaseClass.LOW:
        assert p.points <= p.base_points
    thr = params.outliers.high_threshold(rw * 100)
    at = case_points(pc(thr * mean // 10_000, drg="G"), params)
    assert at.points == div_normal(rw * 100, coef)


def div_normal(base: int, coef: int) -> int:
    q, r = divmod(base * coef, 10_000)
    return q + (1 if 2 * r >= 10_000 else 0)


@given(st.lists(st.integers(min_value=1, max_value=5_000_000), min_size=1, max_size=30))
def test_budget_is_distributed(costs: list[int]) -> None:
    """Σ case amounts at the year-end point value equals the distributable budget up to
    the per-case rounding (≤ ½ fen each) and the point value's (≤ ½ µ¥ per point);
    advances + balance = fund due for every hospital."""
    cases = [pc(c, case_id=f"k{i}", person=f"p{i}") for i, c in enumerate(costs)]
    priced = price_cases(cases, POINTS)
    if sum(p.points for p in priced if not p.klass.by_item) == 0:
        return
    adv = monthly_advance(priced, 8_500)
    year = settle_year(priced, POINTS, YearBudget(123_456_789), adv)
    drg = sum(p.amount for p in year.cases if not p.klass.by_item)
    slack = len(costs) + year.total_points // 100_000_000 + 1
    assert abs(drg - year.distributable) <= slack
    for h in year.hospitals:
        assert h.advances + h.balance == h.fund_due
