"""Each audit mechanism on hand-worked bills (amounts in fen, prices in micro-yuan,
quantities in ten-thousandths)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from medroam.domain.audit import mechanisms as m
from medroam.domain.audit.engine import RuleBook, audit_bill
from medroam.domain.audit.model import (
    Action,
    AuditLine,
    AuditVisit,
    Bill,
    ResultType,
    Rule,
    RuleMeta,
    Scenario,
    Severity,
    Stage,
    TimeWindow,
)

D1 = date(2025, 3, 1)
D2 = date(2025, 3, 2)

META = RuleMeta(
    code="GZ00000000000001",
    name="测试规则",
    result_type=ResultType.VIOLATION,
    window=TimeWindow.INPATIENT_STAY,
    scenarios=frozenset(),
    stages=frozenset(Stage),
    insutypes=frozenset(),
    severity=Severity.MEDIUM,
    action=Action.WARN,
    behaviour="测试",
)


def visit(**kw: object) -> AuditVisit:
    base: dict[str, object] = dict(
        visit_id="V1",
        psn_no="P1",
        gender="1",
        age=40,
        insutype="310",
        scenario=Scenario.INPATIENT,
        institution_code="H1",
        institution_level="2",
        treatment_region="440300",
        insured_region="440300",
        begin=D1,
        end=date(2025, 3, 5),
        diagnoses=("J18.9",),
    )
    base.update(kw)
    return AuditVisit(**base)  # type: ignore[arg-type]


def line(
    lid: str, code: str, qty: int = 10_000, price: int = 10_000_000, day: date = D1
) -> AuditLine:
    """Amount = price × qty in fen: 10 yuan × 1 = 1000 fen by default."""
    return AuditLine(lid, code, qty, price, price * qty // 100_000_000, day)


def test_sex_limit_on_diagnosis_and_item() -> None:
    """A woman (2) with N40 (male only) → one finding, amount 0 (diagnosis, no line);
    a man (1) given a female-only drug of 1000 fen → amount 1000."""
    p = m.SexLimit(m.Target.DIAGNOSIS, frozenset({"N40"}), "1")
    hit = m.check_sex(META, p, Bill(visit(gender="2", diagnoses=("N40.x00",)), ()))
    assert len(hit) == 1 and hit[0].amount == 0 and "N40.x00" in hit[0].content
    assert m.check_sex(META, p, Bill(visit(gender="1", diagnoses=("N40.x00",)), ())) == []
    q = m.SexLimit(m.Target.ITEM, frozenset({"DRUG"}), "2")
    f = m.check_sex(META, q, Bill(visit(gender="1"), (line("a", "DRUG"), line("b", "X"))))
    assert [x.line_ids for x in f] == [("a",)] and f[0].amount == 1000


def test_age_limit() -> None:
    """Child-only drug (max 17): a 40-year-old → hit; a 17-year-old → none."""
    p = m.AgeLimit(m.Target.ITEM, frozenset({"C"}), None, 17)
    bill = (line("a", "C"),)
    assert len(m.check_age(META, p, Bill(visit(age=40), bill))) == 1
    assert m.check_age(META, p, Bill(visit(age=17), bill)) == []


def test_scenario_and_level_limits() -> None:
    """Bed fee (住院 only) in an outpatient visit → hit; drug for level ≥3 at a level-9
    (未定级 = 1) institution → hit; at level 3 → none."""
    s = m.ScenarioLimit(frozenset({"BED"}), frozenset({Scenario.INPATIENT}))
    assert (
        len(
            m.check_scenario(
                META, s, Bill(visit(scenario=Scenario.OUTPATIENT), (line("a", "BED"),))
            )
        )
        == 1
    )
    assert m.check_scenario(META, s, Bill(visit(), (line("a", "BED"),))) == []
    lv = m.LevelLimit(frozenset({"X"}), 3)
    assert len(m.check_level(META, lv, Bill(visit(institution_level="9"), (line("a", "X"),)))) == 1
    assert m.check_level(META, lv, Bill(visit(institution_level="3"), (line("a", "X"),))) == []


def test_price_cap_amount() -> None:
    """Cap 25.00 yuan, charged 30.50 × 2 → excess (30.50 − 25.00) × 2 = 11.00 yuan = 1100 fen."""
    p = m.PriceCap({"S": 25_000_000})
    f = m.check_price(META, p, Bill(visit(), (line("a", "S", 20_000, 30_500_000),)))
    assert len(f) == 1 and f[0].amount == 1100
    assert m.check_price(META, p, Bill(visit(), (line("a", "S", 20_000, 25_000_000),))) == []


def test_quantity_per_day_and_per_visit() -> None:
    """Bed 1/day: day 1 has 1 + 1 (2 units, 2000 fen) → excess 1 unit = 1000 fen; day 2
    has 1 → fine. Per visit, max 1.5: 3 units total 3000 fen → excess 1.5/3 × 3000 = 1500."""
    lines = (line("a", "BED"), line("b", "BED"), line("c", "BED", day=D2))
    day = m.QuantityLimit(frozenset({"BED"}), 10_000, m.Per.DAY)
    f = m.check_quantity(META, day, Bill(visit(), lines))
    assert [(x.line_ids, x.amount) for x in f] == [(("a", "b"), 1000)]
    per_visit = m.QuantityLimit(frozenset({"BED"}), 15_000, m.Per.VISIT)
    assert [x.amount for x in m.check_quantity(META, per_visit, Bill(visit(), lines))] == [1500]


def test_quantity_refund_lines_net() -> None:
    """2 units and a refund of 1 on the same day net to 1 → within a 1/day limit."""
    lines = (line("a", "BED", 20_000), AuditLine("r", "BED", -10_000, 10_000_000, -1000, D1))
    assert (
        m.check_quantity(
            META, m.QuantityLimit(frozenset({"BED"}), 10_000, m.Per.DAY), Bill(visit(), lines)
        )
        == []
    )


def test_duplicate_charge_same_day_only() -> None:
    """ICU bed includes the general bed: both on D1 → the general bed line (1000 fen) is
    the violation and the ICU line is involved; general bed on D2 alone → fine."""
    p = m.DuplicateCharge((("ICU", "BED"),), same_day=True)
    lines = (line("i", "ICU"), line("b1", "BED"), line("b2", "BED", day=D2))
    f = m.check_duplicate(META, p, Bill(visit(), lines))
    assert len(f) == 1
    assert f[0].line_ids == ("b1",) and f[0].related_ids == ("i",) and f[0].amount == 1000


def test_unbundled_charge() -> None:
    """Package 60.00 yuan; 3 of 4 components at 25.00 each on one day = 75.00 → excess
    15.00 yuan = 1500 fen. Two components on D2 (< 3) → no finding."""
    p = m.UnbundledCharge("PKG", frozenset({"c1", "c2", "c3", "c4"}), 3, 60_000_000)
    lines = (
        line("1", "c1", price=25_000_000),
        line("2", "c2", price=25_000_000),
        line("3", "c3", price=25_000_000),
        line("4", "c1", price=25_000_000, day=D2),
        line("5", "c2", price=25_000_000, day=D2),
    )
    f = m.check_unbundled(META, p, Bill(visit(), lines))
    assert [(x.line_ids, x.amount) for x in f] == [(("1", "2", "3"), 1500)]


def test_indication_limit() -> None:
    """Anticoagulant limited to I48: diagnosis J18.9 → hit; diagnoses J18.9 + I48.0 → none."""
    p = m.IndicationLimit(frozenset({"RIV"}), frozenset({"I48"}))
    bill = (line("a", "RIV"),)
    assert len(m.check_indication(META, p, Bill(visit(), bill))) == 1
    assert m.check_indication(META, p, Bill(visit(diagnoses=("J18.9", "I48.0")), bill)) == []


def test_charge_outside_stay() -> None:
    """Stay 03-01..03-05: a line on 02-28 and one on 03-06 are outside (2000 fen)."""
    lines = (
        line("in", "X"),
        line("pre", "X", day=date(2025, 2, 28)),
        line("post", "X", day=date(2025, 3, 6)),
    )
    f = m.check_outside_stay(META, m.NoParams(), Bill(visit(), lines))
    assert f[0].line_ids == ("pre", "post") and f[0].amount == 2000


def test_cross_region_cost_threshold() -> None:
    """Threshold 1000.00 yuan: a cross-region stay of 1000.00 → referred; the same stay
    local → nothing; cross-region 999.99 → nothing."""
    p = m.CostThreshold(100_000)
    cross = visit(insured_region="110000", total=100_000)
    assert len(m.check_cross_region_cost(META, p, Bill(cross, ()))) == 1
    assert m.check_cross_region_cost(META, p, Bill(visit(total=100_000), ())) == []
    assert (
        m.check_cross_region_cost(META, p, Bill(visit(insured_region="110000", total=99_999), ()))
        == []
    )


def test_split_admission() -> None:
    """Discharged 03-05, readmitted 03-15 (gap 10 ≤ 15) with J18.1 (same J18) → hit on
    the second stay; a third stay 04-20 (gap 36) → none; other institution → none."""
    p = m.Readmission(15, 3)
    v1 = visit()
    v2 = visit(visit_id="V2", begin=date(2025, 3, 15), end=date(2025, 3, 20), diagnoses=("J18.1",))
    v3 = visit(visit_id="V3", begin=date(2025, 4, 20), end=date(2025, 4, 25))
    v4 = visit(visit_id="V4", institution_code="H2", begin=date(2025, 3, 7), end=date(2025, 3, 8))
    f = m.check_readmission(META, p, [v3, v2, v1, v4])
    assert [(x.visit_id, x.evidence["gap_days"]) for x in f] == [("V2", "10")]


def test_frequent_visits_rolling_window() -> None:
    """Max 2 outpatient visits in 30 days: visits on days 1, 10, 20 → the third is a hit;
    a fourth on day 41 (window 12..41 holds 20, 41) → fine."""
    p = m.FrequentVisits(Scenario.OUTPATIENT, 2, 30)
    days = [date(2025, 1, 1), date(2025, 1, 10), date(2025, 1, 20), date(2025, 2, 10)]
    vs = [
        visit(
            visit_id=f"O{(d - date(2024, 12, 31)).days}",
            scenario=Scenario.OUTPATIENT,
            begin=d,
            end=d,
        )
        for d in days
    ]
    f = m.check_frequent(META, p, vs)
    assert [x.visit_id for x in f] == ["O20"]


def test_overlapping_settlement() -> None:
    """Stay at H1 03-01..03-05; an outpatient visit at H2 on 03-03 → hit; at H2 on 03-05
    (discharge day) → none; at H1 itself → none."""
    stay = visit()
    other = visit(
        visit_id="B",
        institution_code="H2",
        scenario=Scenario.OUTPATIENT,
        begin=date(2025, 3, 3),
        end=date(2025, 3, 3),
    )
    disch = visit(
        visit_id="C",
        institution_code="H2",
        scenario=Scenario.OUTPATIENT,
        begin=date(2025, 3, 5),
        end=date(2025, 3, 5),
    )
    same = visit(
        visit_id="D", scenario=Scenario.OUTPATIENT, begin=date(2025, 3, 3), end=date(2025, 3, 3)
    )
    f = m.check_overlap(META, m.NoParams(), [stay, other, disch, same])
    assert [(x.visit_id, x.evidence["other_visit"]) for x in f] == [("B", "V1")]


def test_overlapping_settlement_on_the_admission_day_names_the_visit() -> None:
    """A stay at H1 admitted 03-01 (id "V1") and an outpatient visit at H2 the same day
    whose id sorts first ("A0"): the finding is on the visit, settled during the stay —
    whichever way the ids sort (the gateway's ids are random)."""
    stay = visit()
    for visit_id in ("A0", "Z9"):
        same_day = visit(
            visit_id=visit_id,
            institution_code="H2",
            scenario=Scenario.OUTPATIENT,
            begin=date(2025, 3, 1),
            end=date(2025, 3, 1),
        )
        f = m.check_overlap(META, m.NoParams(), [same_day, stay])
        assert [(x.visit_id, x.evidence["other_visit"]) for x in f] == [(visit_id, "V1")]


def _mix(
    code: str, group: str, cases: int, cc: int, lists: tuple[int, int, float, float]
) -> m.CaseMix:
    """A case mix: all DRG cases and those in an MCC/CC DRG; movable lists, O, E, V."""
    movable, observed, expected, variance = lists
    return m.CaseMix(code, group, cases, cc, movable, observed, expected, variance)


# B, C (group G) and D, E (group H): 100 cases, 20 MCC/CC; 80 movable lists in ADRGs at
# 20 % nationally, 16 in an MCC/CC DRG: E = 80 × 0.2 = 16, V = 16 × 0.8 = 12.8 (O/E 1)
_AS_EXPECTED = (80, 16, 16.0, 12.8)


def test_upcoding_is_judged_against_the_nations_coding_of_the_same_adrgs() -> None:
    """max_ratio 1.5, min_cases 30, max_p 0.001. SICK (group G) and UP (group H) have the
    same raw figures: 40 DRG cases, all movable, 18 in an MCC/CC DRG (45 %), against
    their peers' 40 of 200 (20 %): 45 % > 1.5 × 20 % = 30 %, so the raw rule flagged both
    (18 × 200 × 10000 = 36,000,000 > 40 × 40 × 15000 = 24,000,000).

    SICK's lists are in ADRGs at 40 % nationally: E = 40 × 0.4 = 16, V = 16 × 0.6 = 9.6,
    O/E = 18 / 16 = 1.125 ≤ 1.5 → not flagged (its case mix, z = 2 / 3.098 = +0.65).
    UP's are in ADRGs at 15.5 %: E = 40 × 0.155 = 6.2, V = 6.2 × 0.845 = 5.239,
    O/E = 18 / 6.2 = 2.90 > 1.5, z = 11.8 / 2.28889 = +5.155 and P(X ≥ 18 | 6.2) =
    8.53 × 10⁻⁵ ≤ 0.001 (the Poisson tail, summed by ``scores.poisson_upper_tail``;
    scipy's ``poisson.sf(17, 6.2)`` gives the same) → flagged. B, C, D, E: O = E → not."""
    p = m.UpcodingSignal(15_000, 30, 1_000)
    mixes = [
        _mix("B", "G", 100, 20, _AS_EXPECTED),
        _mix("C", "G", 100, 20, _AS_EXPECTED),
        _mix("SICK", "G", 40, 18, (40, 18, 16.0, 9.6)),
        _mix("D", "H", 100, 20, _AS_EXPECTED),
        _mix("E", "H", 100, 20, _AS_EXPECTED),
        _mix("UP", "H", 40, 18, (40, 18, 6.2, 5.239)),
    ]
    # what the raw rule compared: the share against the peers' × max_ratio
    for code in ("SICK", "UP"):
        (me,) = [x for x in mixes if x.institution_code == code]
        peers = [x for x in mixes if x.peer_group == me.peer_group and x is not me]
        peer_cases, peer_cc = sum(x.cases for x in peers), sum(x.cc_mcc_cases for x in peers)
        assert me.cc_mcc_cases * peer_cases * 10_000 > peer_cc * me.cases * p.max_ratio
    (f,) = m.check_upcoding(META, p, mixes)
    assert f.institution_code == "UP"
    assert (f.visit_id, f.psn_no, f.amount) == ("", "", 0)
    assert f.content == (
        "机构 UP 可分级病组的 40 份结算清单中 18 份入 MCC/CC 组，按全国同病组比例预期 "
        "6.20 份（实际/预期 2.90，z = +5.2，偶然出现的概率 P < 0.0001）；"
        "MCC/CC 病例占比 45.00%，同组机构 20.00%"
    )
    assert f.evidence == {
        "movable": "40",
        "observed": "18",
        "expected": "6.20",
        "ratio": "2.90",
        "z": "5.16",
        "p": "8.532e-05",
        "cases": "40",
        "cc_mcc_cases": "18",
        "share": "4500",
        "peer_share": "2000",
        "peer_group": "H",
    }


@pytest.mark.parametrize(("max_p", "flagged"), [(14_388, True), (14_387, False)])
def test_upcoding_needs_a_chance_of_at_most_max_p(max_p: int, flagged: bool) -> None:
    """5 movable lists (of 6 cases), 3 in an MCC/CC DRG, E = 0.5 (V = 0.45): O/E = 6 >
    1.5; P(X ≥ 3 | 0.5) = 1 − e^−0.5 (1 + 0.5 + 0.125) = 1 − 0.606531 × 1.625 = 0.014388,
    i.e. 14,387.7 millionths: flagged at max_p 14,388, not at 14,387. Alone in its peer
    group: judged all the same (the yardstick is national), the raw share told without
    peers."""
    p = m.UpcodingSignal(15_000, 5, max_p)
    found = m.check_upcoding(META, p, [_mix("N", "G", 6, 3, (5, 3, 0.5, 0.45))])
    assert [x.institution_code for x in found] == (["N"] if flagged else [])
    if flagged:
        assert found[0].content.endswith(
            "（实际/预期 6.00，z = +3.7，偶然出现的概率 P = 0.0144）；"
            "MCC/CC 病例占比 50.00%，无同组机构"
        )
        assert found[0].evidence["peer_share"] == ""
        assert found[0].evidence["p"] == "1.439e-02"


def test_one_rare_list_is_chance_whatever_its_z() -> None:
    """5 movable lists, 1 in the MCC/CC DRG of an ADRG whose national rate is 2 %:
    E = 5 × 0.02 = 0.1, V = 0.098, O/E = 10, z = 0.9 / 0.313 = +2.87; with V rounded to
    0.09 as here, z = +3.0, which a z threshold of 3 would flag. P(X ≥ 1 | 0.1) =
    1 − e^−0.1 = 0.0952: one time in ten by chance → not flagged at max_p 0.001 (nor at
    0.05); flagged only from 0.0952 up."""
    mix = _mix("RARE", "G", 5, 1, (5, 1, 0.1, 0.09))
    assert mix.standardised.z == pytest.approx(3.0)
    for max_p in (1_000, 50_000, 95_162):
        assert m.check_upcoding(META, m.UpcodingSignal(15_000, 5, max_p), [mix]) == []
    assert len(m.check_upcoding(META, m.UpcodingSignal(15_000, 5, 95_163), [mix])) == 1


@pytest.mark.parametrize(("max_ratio", "flagged"), [(15_000, False), (13_000, True)])
def test_upcoding_needs_a_ratio_above_max_ratio(max_ratio: int, flagged: bool) -> None:
    """A large hospital a little above the nation: 1000 movable lists in ADRGs at 10 %,
    140 in an MCC/CC DRG: E = 100, V = 90, z = 40 / 9.487 = +4.22 and P(X ≥ 140 | 100)
    = 9.2 × 10⁻⁵ ≤ 0.001, but O/E = 1.40: not flagged at max_ratio 1.5, flagged at 1.3."""
    p = m.UpcodingSignal(max_ratio, 30, 1_000)
    found = m.check_upcoding(META, p, [_mix("BIG", "G", 1200, 160, (1000, 140, 100.0, 90.0))])
    assert [x.institution_code for x in found] == (["BIG"] if flagged else [])


@pytest.mark.parametrize(("min_cases", "flagged"), [(30, False), (20, True)])
def test_upcoding_min_cases_counts_movable_lists(min_cases: int, flagged: bool) -> None:
    """40 DRG cases but 20 movable lists (in ADRGs at 10 %), 15 in an MCC/CC DRG: E = 2,
    V = 1.8, O/E = 7.5, P(X ≥ 15 | 2) = 3.9 × 10⁻⁹. Below min_cases 30 movable lists
    (though 40 cases) → not flagged; at min_cases 20 → flagged."""
    p = m.UpcodingSignal(15_000, min_cases, 1_000)
    found = m.check_upcoding(META, p, [_mix("FEW", "G", 40, 17, (20, 15, 2.0, 1.8))])
    assert [x.institution_code for x in found] == (["FEW"] if flagged else [])


def test_a_case_mix_must_be_consistent() -> None:
    with pytest.raises(ValueError, match="observed ≤ movable ≤ cases"):
        _mix("X", "G", 10, 5, (20, 5, 2.0, 1.8))  # more movable lists than cases
    with pytest.raises(ValueError, match="cc_mcc_cases"):
        _mix("X", "G", 10, 11, (10, 5, 2.0, 1.8))


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: m.SexLimit(m.Target.ITEM, frozenset({"x"}), "3"), "gender"),
        (lambda: m.AgeLimit(m.Target.ITEM, frozenset({"x"}), 18, 10), "max_age"),
        (lambda: m.AgeLimit(m.Target.ITEM, frozenset({"x"}), None, None), "min_age"),
        (lambda: m.LevelLimit(frozenset({"x"}), 4), "min_level"),
        (lambda: m.QuantityLimit(frozenset({"x"}), 0, m.Per.DAY), "max_quantity"),
        (lambda: m.UnbundledCharge("p", frozenset({"a", "b"}), 3, 1), "min_components"),
        (lambda: m.Readmission(0), "days"),
        (lambda: m.UpcodingSignal(9_000, 10), "max_ratio"),
        (lambda: m.UpcodingSignal(15_000, 10, 0), "max_p"),
        (lambda: m.UpcodingSignal(15_000, 10, 1_000_000), "max_p"),
        (lambda: m.DuplicateCharge((("a", "a"),)), "pairs"),
    ],
)
def test_impossible_parameters_are_refused(make: object, field: str) -> None:
    with pytest.raises(m.ParamError) as err:
        make()  # type: ignore[operator]
    assert err.value.field == field


def test_audit_bill_selects_by_stage_scenario_and_region() -> None:
    """A 事后-only rule does not run at 事中; a 门诊 rule does not run on a stay; a local
    rule replaces the national one of the same code."""
    cap = m.PriceCap({"S": 25_000_000})
    national = Rule(META, "price_cap", cap, "000000", date(2025, 1, 1))
    local_meta = replace(META, name="本地")
    local = Rule(local_meta, "price_cap", m.PriceCap({"S": 20_000_000}), "440300", date(2025, 1, 1))
    after_only_meta = replace(META, code="GZ00000000000002", stages=frozenset({Stage.AFTER}))
    outpatient_meta = replace(
        META, code="GZ00000000000003", scenarios=frozenset({Scenario.OUTPATIENT})
    )
    outpatient_only = Rule(outpatient_meta, "price_cap", cap, "000000", date(2025, 1, 1))
    after_only = Rule(after_only_meta, "price_cap", cap, "000000", date(2025, 1, 1))
    book = RuleBook((national, local, after_only, outpatient_only))
    bill = Bill(visit(), (line("a", "S", 10_000, 22_000_000),))
    f = audit_bill(book, bill, Stage.DURING, D1)
    assert [(x.rule.name, x.amount) for x in f] == [("本地", 200)]
    other = Bill(visit(treatment_region="110105"), bill.lines)
    assert audit_bill(book, other, Stage.DURING, D1) == []


def test_a_district_follows_its_city_library_and_its_own_wins() -> None:
    """Shenzhen's library (440300) caps S at 20.00 yuan, the nation at 25.00, and
    Futian (440304) at 19.00. One unit (cnt 1 = 10,000 ten-thousandths) priced 22.00
    yuan (22,000,000 micro-yuan):

    * at Nanshan (440305, no library of its own) the city's cap applies: 22.00 − 20.00
      = 2.00 yuan over, 200 fen (before, only 000000, 440000 and 440305 were looked up,
      so the national cap applied and nothing was found);
    * at Futian its own cap wins: 22.00 − 19.00 = 3.00 yuan, 300 fen;
    * at Shenzhen's own code (440300) the city cap: 200 fen;
    * at Guangzhou (440106), another city: the national cap, nothing found.
    """
    national = Rule(META, "price_cap", m.PriceCap({"S": 25_000_000}), "000000", date(2025, 1, 1))
    city_meta = replace(META, name="深圳")
    city = Rule(city_meta, "price_cap", m.PriceCap({"S": 20_000_000}), "440300", date(2025, 1, 1))
    district_meta = replace(META, name="福田")
    district = Rule(
        district_meta, "price_cap", m.PriceCap({"S": 19_000_000}), "440304", date(2025, 1, 1)
    )
    book = RuleBook((national, city, district))
    lines = (line("a", "S", 10_000, 22_000_000),)

    def found(region: str) -> list[tuple[str, int]]:
        bill = Bill(visit(treatment_region=region), lines)
        return [(x.rule.name, x.amount) for x in audit_bill(book, bill, Stage.DURING, D1)]

    assert found("440305") == [("深圳", 200)]
    assert found("440304") == [("福田", 300)]
    assert found("440300") == [("深圳", 200)]
    assert found("440106") == []
