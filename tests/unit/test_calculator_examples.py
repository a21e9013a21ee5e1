"""Worked examples of the calculator, every figure computed by hand from the rules.

Rules: domain-rules §2.3 (filing reductions), §3.2 (calculation order), §3.4–§3.6, and
national-interface §5 (setlinfo fields, identities I1–I6). Parameters of the synthetic
policies are documented in ``tests/factories.py``. Each docstring shows the arithmetic in
yuan; ``expect`` compares every setlinfo amount that matters (fund fields not named are
expected to be 0) and checks the identities.

Readings chosen where the rules leave room:
* A tier bound of a layer is on the cumulative annual basis (TierBounds.CUMULATIVE).
* The age bonus uses the age on the admission date (visit.begin).
* The over-cap basis of 大额 is the eligible amount beyond the point where the pooled fund
  reached its cap, that point being pool ÷ ratio; the examples use figures where that
  division is exact so no rounding choice is involved.
* Fits are marked. A test whose free inputs were chosen so that the output hits a
  published figure proves only that the calculator *can* produce it, not that its rules
  are right; such a test carries ``@pytest.mark.fit`` and says "FIT" in its name and
  docstring. The only one here is the 长治 case (§3.5, test 22): its bill and its
  year-to-date 大病 basis were solved for the reported amounts. What can be checked
  without free inputs (Σ of the reported components, the total implied by 76.7 %) is
  in its own unfitted test. Every other example takes all its inputs from the rules or
  the factory policies and derives the figures from them (test 01 reproduces §3.6,
  whose inputs are all given there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import pytest

from medroam.domain import accumulators as acc
from medroam.domain.accumulators import Accumulators
from medroam.domain.calculator import CalculationError, reverse, settle
from medroam.domain.catalogue import FeeLine
from medroam.domain.codes import (
    FUND_LARGE_EXPENSE,
    AssistanceCategory,
    BenefitStatus,
    ServiceKind,
)
from medroam.domain.policy import (
    BenefitPolicy,
    LayerBasis,
    LayerFund,
    LevelTerms,
    SupplementaryLayer,
    Tier,
)
from medroam.domain.settlement import AccountState, Person, Settlement, Visit
from tests.factories import (
    A_CAPPED,
    A_DIALYSIS,
    A_SERVICE,
    B_CAPPED,
    B_DRUG,
    B_RESTRICTED,
    B_SERVICE,
    C_ITEM,
    DIALYSIS,
    L1,
    L2,
    L3,
    UNLISTED,
    employee_policy,
    fen,
    line,
    make_catalogue,
    pct,
    person,
    resident,
    resident_policy,
    visit,
    with_inpatient,
)

CAT = make_catalogue()

_FIELDS = (
    "medfee",
    "fulamt_ownpay",
    "overlmt_selfpay",
    "preselfpay",
    "inscp",
    "deductible",
    "pool",
    "civil_servant",
    "enterprise",
    "critical_illness",
    "large_expense",
    "assistance",
    "other",
    "fund_total",
    "personal",
    "account",
    "mutual_aid",
    "cash",
    "hospital",
)
_REQUIRED = {"medfee", "inscp", "deductible", "pool", "fund_total", "personal", "cash"}


def run(
    lines: Sequence[FeeLine],
    *,
    v: Visit | None = None,
    p: Person | None = None,
    status: BenefitStatus = BenefitStatus.LONG_TERM,
    policy: BenefitPolicy | None = None,
    ytd: Mapping[str, int] | None = None,
    account: AccountState | None = None,
) -> Settlement:
    return settle(
        lines,
        v or visit(),
        p or person(),
        status,
        policy or employee_policy(),
        CAT,
        Accumulators(ytd or {}),
        account or AccountState(),
    )


def expect(s: Settlement, **yuan: str) -> None:
    """Compare the named amounts (in yuan); unnamed amounts must be 0; identities hold."""
    missing = _REQUIRED - set(yuan)
    assert not missing, f"example must state {missing}"
    want = {f: fen(yuan.get(f, "0")) for f in _FIELDS}
    got = {f: getattr(s, f) for f in _FIELDS}
    assert got == want
    assert s.identities() == []


def delta_yuan(s: Settlement) -> dict[str, int]:
    return dict(s.accumulator_delta)


# ---------------------------------------------------------------------------------------
# (1) the synthetic worked example of §3.6
# ---------------------------------------------------------------------------------------


def test_01_synthetic_worked_example_of_section_3_6() -> None:
    """§3.6 exactly. Policy: base 80 % at the level, referral −10 pp, deductible 1,200,
    大额 layer on the personal in-policy burden, threshold 15,000, 60 %, no cap.

    Bill 60,000.00 = 丙 3,000 + capped consumable 1,500 (cap 1,000: 500 over the limit)
                     + 乙 drug 20,000 (10 %) + 甲 service 35,500.
    全自费            = 3,000.00
    超限价            = 1,500 − 1,000 = 500.00
    乙类先行自付      = 20,000 × 10 % = 2,000.00
    in-policy         = 60,000 − 3,000 − 500 − 2,000 = 54,500.00
    deductible        = 1,200.00
    above deductible  = 54,500 − 1,200 = 53,300.00
    ratio             = 80 % − 10 pp = 70 %
    pool (hifp)       = 53,300 × 70 % = 37,310.00
    in-policy burden  = 54,500 − 37,310 = 17,190.00 (= 1,200 + 53,300 × 30 %)
    大额 (hifob)      = (17,190 − 15,000) × 60 % = 1,314.00
    fund total        = 37,310 + 1,314 = 38,624.00
    personal share    = 60,000 − 38,624 = 21,376.00
    account           = min(2,000, 21,376) = 2,000.00; balance after 0.00
    cash              = 21,376 − 2,000 = 19,376.00
    """
    layer = SupplementaryLayer(
        fund=LayerFund.LARGE_EXPENSE,
        fund_pay_type=FUND_LARGE_EXPENSE,
        basis=LayerBasis.PERSONAL_BURDEN,
        threshold=fen(15_000),
        tiers=(Tier(None, pct(60)),),
        annual_cap=None,
    )
    policy = with_inpatient(
        employee_policy(layers=(layer,)), levels={L3: LevelTerms(fen(1_200), pct(80))}
    )
    lines = [
        line(C_ITEM, "3000"),
        line(A_CAPPED, "1500", 1, "1500"),
        line(B_DRUG, "20000", 100),
        line(A_SERVICE, "35500"),
    ]
    s = run(
        lines,
        v=visit(account_flag="1"),
        status=BenefitStatus.REFERRAL,
        policy=policy,
        account=AccountState(balance=fen(2_000)),
    )
    expect(
        s,
        medfee="60000",
        fulamt_ownpay="3000",
        overlmt_selfpay="500",
        preselfpay="2000",
        inscp="54500",
        deductible="1200",
        pool="37310",
        large_expense="1314",
        fund_total="38624",
        personal="21376",
        account="2000",
        cash="19376",
    )
    assert s.pool_ratio == pct(70)
    assert s.balance_before == fen(2_000) and s.balance_after == 0
    assert delta_yuan(s) == {
        acc.IP_ADMISSIONS: 1,
        acc.IP_DEDUCTIBLE: fen(1_200),
        acc.POOL_FUND: fen(37_310),
        acc.layer_basis_key("hifob"): fen(17_190),
        acc.layer_paid_key("hifob"): fen(1_314),
        acc.ACCOUNT_PAID: fen(2_000),
        acc.MEDFEE: fen(60_000),
        acc.INSCP: fen(54_500),
    }


# ---------------------------------------------------------------------------------------
# (2) employee: the basic cap is reached, 大额 pays on the over-cap basis
# ---------------------------------------------------------------------------------------


def test_02_employee_crosses_basic_cap_into_large_expense() -> None:
    """Employee, tertiary (1,200 / 85 %), cap 300,000 with 294,900 already paid this year.

    Bill: 甲 service 20,000.00.
    in-policy         = 20,000.00; deductible 1,200.00; eligible = 18,800.00
    uncapped pool     = 18,800 × 85 % = 15,980.00
    remaining cap     = 300,000 − 294,900 = 5,100.00  → pool = 5,100.00
    cap reached at    = 5,100 ÷ 85 % = 6,000.00 of the eligible amount
    over-cap basis    = 18,800 − 6,000 = 12,800.00
    大额 (hifob)      = 12,800 × 90 % = 11,520.00 (layer cap 300,000 untouched)
    fund total        = 5,100 + 11,520 = 16,620.00
    personal          = 20,000 − 16,620 = 3,380.00
                        (check: 1,200 + 6,000 × 15 % + 12,800 × 10 % = 1,200 + 900 + 1,280)
    pool accumulator after = 294,900 + 5,100 = 300,000.00 (exactly at the cap)
    """
    ytd = {acc.POOL_FUND: fen(294_900), acc.IP_ADMISSIONS: 2}
    s = run([line(A_SERVICE, "20000")], ytd=ytd)
    expect(
        s,
        medfee="20000",
        inscp="20000",
        deductible="1200",
        pool="5100",
        large_expense="11520",
        fund_total="16620",
        personal="3380",
        cash="3380",
    )
    after = Accumulators(ytd).apply(s.accumulator_delta)
    assert after[acc.POOL_FUND] == fen(300_000)
    assert after[acc.layer_basis_key("hifob")] == fen(12_800)
    assert after[acc.layer_paid_key("hifob")] == fen(11_520)
    pool_detail = s.details[0]
    assert (pool_detail.fund_pay_type, pool_detail.limit, pool_detail.paid) == (
        "310100",
        fen(5_100),
        fen(5_100),
    )


# ---------------------------------------------------------------------------------------
# (3) resident: 大病保险 tiers
# ---------------------------------------------------------------------------------------


def test_03_resident_critical_illness_through_three_tiers() -> None:
    """Resident, tertiary (900 / 60 %), cap 150,000. 大病 basis this year so far 10,000
    (below the 15,000 threshold, nothing paid yet).

    Bill: 甲 service 250,000.00.
    deductible 900.00; eligible = 249,100.00
    pool (hifp)       = 249,100 × 60 % = 149,460.00 (≤ 150,000, not capped)
    in-policy burden  = 250,000 − 149,460 = 100,540.00
    大病 basis        = 10,000 → 110,540 (cumulative)
      15,000– 50,000 : 35,000 × 60 % = 21,000.00   (crosses the threshold)
      50,000–100,000 : 50,000 × 70 % = 35,000.00   (crosses 50,000)
     100,000–110,540 : 10,540 × 80 % =  8,432.00   (crosses 100,000)
    大病 (hifmi)      = 64,432.00
    fund total        = 149,460 + 64,432 = 213,892.00
    personal = cash   = 250,000 − 213,892 = 36,108.00
    """
    ytd = {acc.layer_basis_key("hifmi"): fen(10_000)}
    s = run([line(A_SERVICE, "250000")], p=resident(), policy=resident_policy(), ytd=ytd)
    expect(
        s,
        medfee="250000",
        inscp="250000",
        deductible="900",
        pool="149460",
        critical_illness="64432",
        fund_total="213892",
        personal="36108",
        cash="36108",
    )
    assert s.accumulator_delta[acc.layer_basis_key("hifmi")] == fen(100_540)
    assert s.accumulator_delta[acc.layer_paid_key("hifmi")] == fen(64_432)


# ---------------------------------------------------------------------------------------
# (4) medical assistance
# ---------------------------------------------------------------------------------------


def test_04_medical_assistance_for_minimum_living_person() -> None:
    """Resident 低保 (threshold 1,000 on the cumulative burden, 70 %, cap 50,000);
    400.00 of burden already counted this year. Secondary hospital (500 / 75 %).

    Bill: 甲 10,000 + 丙 1,000 = 11,000.00.
    全自费 1,000.00; in-policy 10,000.00; deductible 500.00; eligible 9,500.00
    pool              = 9,500 × 75 % = 7,125.00
    burden            = 10,000 − 7,125 = 2,875.00
    大病              = 0 (basis 0 → 2,875, below 15,000)
    assistance basis  = 400 → 3,275; above the 1,000 threshold: 3,275 − 1,000 = 2,275.00
    医疗救助 (maf)    = 2,275 × 70 % = 1,592.50
    fund total        = 7,125 + 1,592.50 = 8,717.50
    personal = cash   = 11,000 − 8,717.50 = 2,282.50 (= 1,000 丙 + 2,875 − 1,592.50)
    """
    p = resident(assistance=AssistanceCategory.MINIMUM_LIVING)
    ytd = {acc.ASSISTANCE_BASIS: fen(400)}
    s = run(
        [line(A_SERVICE, "10000"), line(C_ITEM, "1000")],
        v=visit(institution_level=L2),
        p=p,
        policy=resident_policy(),
        ytd=ytd,
    )
    expect(
        s,
        medfee="11000",
        fulamt_ownpay="1000",
        inscp="10000",
        deductible="500",
        pool="7125",
        assistance="1592.50",
        fund_total="8717.50",
        personal="2282.50",
        cash="2282.50",
    )
    assert s.accumulator_delta[acc.ASSISTANCE_BASIS] == fen("2875")
    assert s.accumulator_delta[acc.ASSISTANCE_PAID] == fen("1592.50")


# ---------------------------------------------------------------------------------------
# (5)–(9) filing status and the ratio reduction (§2.3)
# ---------------------------------------------------------------------------------------

_BILL_5_6 = ("10000", "2000")  # 甲 service, 乙 drug (10 %)


def _bill_5_6() -> list[FeeLine]:
    return [line(A_SERVICE, _BILL_5_6[0]), line(B_DRUG, _BILL_5_6[1], 10)]


def test_05_temporary_other_reduction() -> None:
    """Employee, TMP_OTHER (其他临时外出), secondary (600 / 88 %), reduction 15 pp (≤ 20).

    Bill: 甲 10,000 + 乙 2,000 = 12,000.00.
    先行自付 = 2,000 × 10 % = 200.00; in-policy = 11,800.00; deductible 600.00
    ratio   = 88 % − 15 pp = 73 %
    pool    = 11,200 × 73 % = 8,176.00
    personal = cash = 12,000 − 8,176 = 3,824.00
    """
    s = run(_bill_5_6(), v=visit(institution_level=L2), status=BenefitStatus.TEMPORARY_OTHER)
    expect(
        s,
        medfee="12000",
        preselfpay="200",
        inscp="11800",
        deductible="600",
        pool="8176",
        fund_total="8176",
        personal="3824",
        cash="3824",
    )
    assert s.pool_ratio == pct(73)


def test_06_unfiled_reduction() -> None:
    """Employee, not filed (未备案, settled directly), secondary, reduction 20 pp.

    Same bill as (5): in-policy 11,800.00, deductible 600.00, eligible 11,200.00
    ratio   = 88 % − 20 pp = 68 %
    pool    = 11,200 × 68 % = 7,616.00
    personal = cash = 12,000 − 7,616 = 4,384.00
    """
    s = run(_bill_5_6(), v=visit(institution_level=L2), status=BenefitStatus.UNFILED)
    expect(
        s,
        medfee="12000",
        preselfpay="200",
        inscp="11800",
        deductible="600",
        pool="7616",
        fund_total="7616",
        personal="4384",
        cash="4384",
    )
    assert s.pool_ratio == pct(68)


def test_07_emergency() -> None:
    """Emergency rescue (treated as filed, FIL-07), employee reduction 5 pp (≤ 10).

    (a) 急诊转住院 (med_type 24), tertiary 1,200 / 85 %:
        Bill 甲 30,000 + 乙 5,000 = 35,000.00; 先行自付 500.00; in-policy 34,500.00
        ratio 85 − 5 = 80 %; pool = (34,500 − 1,200) × 80 % = 33,300 × 80 % = 26,640.00
        personal = cash = 35,000 − 26,640 = 8,360.00
    (b) 急诊 outpatient (med_type 13), 门诊共济 deductible 500, 60 %:
        Bill 甲 800.00; deductible 500.00; ratio 60 − 5 = 55 %
        pool = 300 × 55 % = 165.00; personal = cash = 635.00
    """
    s = run(
        [line(A_SERVICE, "30000"), line(B_DRUG, "5000", 50)],
        v=visit(med_type="24"),
        status=BenefitStatus.EMERGENCY,
    )
    assert s.kind is ServiceKind.INPATIENT
    expect(
        s,
        medfee="35000",
        preselfpay="500",
        inscp="34500",
        deductible="1200",
        pool="26640",
        fund_total="26640",
        personal="8360",
        cash="8360",
    )
    o = run([line(A_SERVICE, "800")], v=visit(med_type="13"), status=BenefitStatus.EMERGENCY)
    assert o.kind is ServiceKind.OUTPATIENT
    expect(
        o,
        medfee="800",
        inscp="800",
        deductible="500",
        pool="165",
        fund_total="165",
        personal="635",
        cash="635",
    )
    assert o.accumulator_delta == {
        acc.OP_DEDUCTIBLE: fen(500),
        acc.OP_FUND: fen(165),
        acc.MEDFEE: fen(800),
        acc.INSCP: fen(800),
    }


_RETIREE = {"psn_type": "1201", "birth_date": date(1958, 8, 1)}  # 66 on 2025-03-01


def test_08_long_term_resident_treated_at_home() -> None:
    """A resettled retiree (LT_RETIRED) back at the place of insurance (两地享受):
    the referral-level floor, 10 pp off. Primary hospital 300 / 90 %, retiree +5 pp.

    Bill 甲 5,000.00; deductible 300.00; eligible 4,700.00
    ratio = 90 % + 5 pp − 10 pp = 85 %
    pool  = 4,700 × 85 % = 3,995.00; personal = cash = 1,005.00
    """
    s = run(
        [line(A_SERVICE, "5000")],
        v=visit(institution_level=L1),
        p=person(**_RETIREE),
        status=BenefitStatus.LONG_TERM_AT_HOME,
    )
    expect(
        s,
        medfee="5000",
        inscp="5000",
        deductible="300",
        pool="3995",
        fund_total="3995",
        personal="1005",
        cash="1005",
    )
    assert s.pool_ratio == pct(85)


def test_09_long_term_at_the_filed_place_has_no_reduction() -> None:
    """The same retiree at the filed place (LONG_TERM): 参保地 standard, no reduction.

    Bill 甲 5,000.00; deductible 300.00; eligible 4,700.00
    ratio = 90 % + 5 pp = 95 %
    pool  = 4,700 × 95 % = 4,465.00; personal = cash = 535.00
    """
    s = run(
        [line(A_SERVICE, "5000")],
        v=visit(institution_level=L1),
        p=person(**_RETIREE),
        status=BenefitStatus.LONG_TERM,
    )
    expect(
        s,
        medfee="5000",
        inscp="5000",
        deductible="300",
        pool="4465",
        fund_total="4465",
        personal="535",
        cash="535",
    )
    assert s.pool_ratio == pct(95)


# ---------------------------------------------------------------------------------------
# (10) dialysis and its monthly quota
# ---------------------------------------------------------------------------------------


def test_10_dialysis_monthly_quota() -> None:
    """Employee qualified for 尿毒症透析 (M07801): deductible 0, 90 %, quota 6,000 / month,
    sharing the inpatient cap. 4,000.00 of this month's quota (2025-03) already used.

    March: 10 sessions × 400.00 = 4,000.00 (甲)
        uncapped = 4,000 × 90 % = 3,600.00; quota left 6,000 − 4,000 = 2,000.00
        pool = 2,000.00 (the quota binds, not the annual cap: no 大额)
        personal = cash = 4,000 − 2,000 = 2,000.00
    April (accumulators after March applied): quota 2025-04 unused
        pool = 3,600.00; personal = cash = 400.00
    Annual pool accumulator: 4,000 + 2,000 + 3,600 = 9,600.00
    """
    p = person(chronic_diseases=frozenset({DIALYSIS}))
    ytd = Accumulators(
        {
            acc.chronic_quota_key(DIALYSIS, date(2025, 3, 1), True): fen(4_000),
            acc.POOL_FUND: fen(4_000),
        }
    )
    bill = [line(A_DIALYSIS, "4000", 10, "400")]
    march = visit(
        med_type="14", disease_code=DIALYSIS, begin=date(2025, 3, 20), settle_date=date(2025, 3, 20)
    )
    s = settle(bill, march, p, BenefitStatus.LONG_TERM, employee_policy(), CAT, ytd, AccountState())
    assert s.kind is ServiceKind.CHRONIC
    expect(
        s,
        medfee="4000",
        inscp="4000",
        deductible="0",
        pool="2000",
        fund_total="2000",
        personal="2000",
        cash="2000",
    )
    assert s.accumulator_delta == {
        "chronic_fund:M07801:2025-03": fen(2_000),
        acc.POOL_FUND: fen(2_000),
        acc.MEDFEE: fen(4_000),
        acc.INSCP: fen(4_000),
    }
    ytd = ytd.apply(s.accumulator_delta)
    april = visit(
        med_type="14", disease_code=DIALYSIS, begin=date(2025, 4, 3), settle_date=date(2025, 4, 3)
    )
    t = settle(bill, april, p, BenefitStatus.LONG_TERM, employee_policy(), CAT, ytd, AccountState())
    expect(
        t,
        medfee="4000",
        inscp="4000",
        deductible="0",
        pool="3600",
        fund_total="3600",
        personal="400",
        cash="400",
    )
    ytd = ytd.apply(t.accumulator_delta)
    assert ytd["chronic_fund:M07801:2025-03"] == fen(6_000)
    assert ytd["chronic_fund:M07801:2025-04"] == fen(3_600)
    assert ytd[acc.POOL_FUND] == fen(9_600)


# ---------------------------------------------------------------------------------------
# (11) general outpatient
# ---------------------------------------------------------------------------------------


def test_11_general_outpatient_with_deductible_partly_used() -> None:
    """Employee 门诊共济 (deductible 500 / year, 60 %, cap 3,000), primary, med_type 11.
    This year: 300.00 of the deductible used, 1,000.00 paid by the outpatient pool.

    Bill 甲 800 + 乙 500 (10 %) + 丙 100 = 1,400.00
    全自费 100.00; 先行自付 50.00; in-policy 1,250.00
    deductible = min(1,250, 500 − 300) = 200.00; eligible 1,050.00
    pool (310102) = 1,050 × 60 % = 630.00 (cap left 2,000); no 大额 for outpatient
    personal = cash = 1,400 − 630 = 770.00
    Same bill with 2,800.00 of the outpatient cap used: pool = min(630, 200) = 200.00,
    personal = cash = 1,200.00.
    """
    bill = [line(A_SERVICE, "800"), line(B_DRUG, "500", 5), line(C_ITEM, "100")]
    v = visit(med_type="11", institution_level=L1)
    s = run(bill, v=v, ytd={acc.OP_DEDUCTIBLE: fen(300), acc.OP_FUND: fen(1_000)})
    expect(
        s,
        medfee="1400",
        fulamt_ownpay="100",
        preselfpay="50",
        inscp="1250",
        deductible="200",
        pool="630",
        fund_total="630",
        personal="770",
        cash="770",
    )
    assert s.details[0].fund_pay_type == "310102"
    assert s.accumulator_delta[acc.OP_DEDUCTIBLE] == fen(200)
    assert s.accumulator_delta[acc.OP_FUND] == fen(630)
    assert acc.POOL_FUND not in s.accumulator_delta
    c = run(bill, v=v, ytd={acc.OP_DEDUCTIBLE: fen(300), acc.OP_FUND: fen(2_800)})
    expect(
        c,
        medfee="1400",
        fulamt_ownpay="100",
        preselfpay="50",
        inscp="1250",
        deductible="200",
        pool="200",
        fund_total="200",
        personal="1200",
        cash="1200",
    )


# ---------------------------------------------------------------------------------------
# (12)–(14) personal account and family mutual aid
# ---------------------------------------------------------------------------------------

# Employee, tertiary: bill 甲 10,000.00; deductible 1,200; pool = 8,800 × 85 % = 7,480.00;
# personal share = 2,520.00 (used by tests 12–14 and 21).


def test_12_personal_account_smaller_than_personal_share() -> None:
    """acct_used_flag 1, balance 1,000.00.

    pool 7,480.00; personal 2,520.00
    account = min(1,000, 2,520) = 1,000.00; balance after 0.00
    cash    = 2,520 − 1,000 = 1,520.00
    """
    s = run(
        [line(A_SERVICE, "10000")],
        v=visit(account_flag="1"),
        account=AccountState(balance=fen(1_000), mutual_aid_balance=fen(3_000)),
    )
    expect(
        s,
        medfee="10000",
        inscp="10000",
        deductible="1200",
        pool="7480",
        fund_total="7480",
        personal="2520",
        account="1000",
        cash="1520",
    )
    assert (s.balance_before, s.balance_after) == (fen(1_000), 0)
    assert s.mutual_aid_balance_after == fen(3_000)  # flag 1 never touches the family quota
    assert s.accumulator_delta[acc.ACCOUNT_PAID] == fen(1_000)


def test_13_without_personal_account() -> None:
    """acct_used_flag 0 with 5,000.00 in the account: the account pays nothing.

    pool 7,480.00; personal 2,520.00; account 0.00; cash 2,520.00; balance stays 5,000.00
    """
    s = run(
        [line(A_SERVICE, "10000")],
        v=visit(account_flag="0"),
        account=AccountState(balance=fen(5_000)),
    )
    expect(
        s,
        medfee="10000",
        inscp="10000",
        deductible="1200",
        pool="7480",
        fund_total="7480",
        personal="2520",
        cash="2520",
    )
    assert s.balance_after == fen(5_000)
    assert acc.ACCOUNT_PAID not in s.accumulator_delta


def test_14_family_mutual_aid_own_account_first() -> None:
    """acct_used_flag 2, own balance 1,000.00, family quota 3,000.00, own first.

    Employee: personal 2,520.00; own = 1,000.00; mutual aid = min(3,000, 1,520) = 1,520.00
      acct_pay = 2,520.00 (includes acct_mulaid_pay 1,520.00, I3); cash 0.00
      balance after 0.00; family quota after 3,000 − 1,520 = 1,480.00
    Resident beneficiary (no own balance), tertiary 900 / 60 %: bill 甲 10,000.00
      pool = 9,100 × 60 % = 5,460.00; burden 4,540.00 (大病 basis 4,540 < 15,000: 0)
      personal 4,540.00 all from a family quota of 5,000.00; cash 0.00; quota after 460.00
    """
    s = run(
        [line(A_SERVICE, "10000")],
        v=visit(account_flag="2"),
        account=AccountState(balance=fen(1_000), mutual_aid_balance=fen(3_000)),
    )
    expect(
        s,
        medfee="10000",
        inscp="10000",
        deductible="1200",
        pool="7480",
        fund_total="7480",
        personal="2520",
        account="2520",
        mutual_aid="1520",
        cash="0",
    )
    assert (s.balance_after, s.mutual_aid_balance_after) == (0, fen(1_480))
    r = run(
        [line(A_SERVICE, "10000")],
        v=visit(account_flag="2"),
        p=resident(),
        policy=resident_policy(),
        account=AccountState(balance=0, mutual_aid_balance=fen(5_000)),
    )
    expect(
        r,
        medfee="10000",
        inscp="10000",
        deductible="900",
        pool="5460",
        fund_total="5460",
        personal="4540",
        account="4540",
        mutual_aid="4540",
        cash="0",
    )
    assert (r.balance_after, r.mutual_aid_balance_after) == (0, fen(460))


# ---------------------------------------------------------------------------------------
# (15) mid-stay settlement; (16) cancellation
# ---------------------------------------------------------------------------------------


def test_15_mid_stay_settlement_pays_one_deductible_and_counts_one_admission() -> None:
    """Employee, tertiary, first admission of the year, settled in two parts (中途结算).

    Part 1: 甲 20,000.00; deductible 1,200.00; pool = 18,800 × 85 % = 15,980.00;
            personal 4,020.00; admissions 0 → 1; deductible accumulator 1,200.00
    Part 2 (admission_counted, deductible_applied 1,200.00): 甲 10,000.00
            deductible 0.00; pool = 10,000 × 85 % = 8,500.00; personal 1,500.00
            admissions stay 1; pooled payments 15,980 + 8,500 = 24,480.00
    """
    v1 = visit(mid_settlement=True)
    s1 = run([line(A_SERVICE, "20000")], v=v1)
    expect(
        s1,
        medfee="20000",
        inscp="20000",
        deductible="1200",
        pool="15980",
        fund_total="15980",
        personal="4020",
        cash="4020",
    )
    ytd = Accumulators().apply(s1.accumulator_delta)
    v2 = visit(admission_counted=True, deductible_applied=fen(1_200))
    s2 = settle(
        [line(A_SERVICE, "10000")],
        v2,
        person(),
        BenefitStatus.LONG_TERM,
        employee_policy(),
        CAT,
        ytd,
        AccountState(),
    )
    expect(
        s2,
        medfee="10000",
        inscp="10000",
        deductible="0",
        pool="8500",
        fund_total="8500",
        personal="1500",
        cash="1500",
    )
    assert acc.IP_ADMISSIONS not in s2.accumulator_delta
    after = ytd.apply(s2.accumulator_delta)
    assert after[acc.IP_ADMISSIONS] == 1
    assert after[acc.IP_DEDUCTIBLE] == fen(1_200)
    assert after[acc.POOL_FUND] == fen(24_480)


def test_16_cancellation_is_the_exact_negative_and_restores_state() -> None:
    """Reverse the over-cap case of (2) paid partly from the account (flag 1, 1,000.00).

    Original: pool 5,100.00; 大额 11,520.00; fund 16,620.00; personal 3,380.00;
              account 1,000.00; cash 2,380.00; balance 1,000 → 0
    Reverse:  every amount negated: −5,100.00, −11,520.00, −16,620.00, −3,380.00,
              −1,000.00, −2,380.00; balance 0 → 1,000.00
    Accumulators: 294,900 + 5,100 − 5,100 = 294,900.00 (all keys restored)
    """
    ytd = Accumulators({acc.POOL_FUND: fen(294_900), acc.IP_ADMISSIONS: 2})
    s = run(
        [line(A_SERVICE, "20000")],
        v=visit(account_flag="1"),
        ytd=ytd,
        account=AccountState(balance=fen(1_000)),
    )
    expect(
        s,
        medfee="20000",
        inscp="20000",
        deductible="1200",
        pool="5100",
        large_expense="11520",
        fund_total="16620",
        personal="3380",
        account="1000",
        cash="2380",
    )
    now = AccountState(balance=s.balance_after, mutual_aid_balance=s.mutual_aid_balance_after)
    r = reverse(s, now)
    expect(
        r,
        medfee="-20000",
        inscp="-20000",
        deductible="-1200",
        pool="-5100",
        large_expense="-11520",
        fund_total="-16620",
        personal="-3380",
        account="-1000",
        cash="-2380",
    )
    assert r.reversed_
    assert (r.balance_before, r.balance_after) == (0, fen(1_000))
    assert [d.paid for d in r.details] == [-d.paid for d in s.details]
    assert dict(r.accumulator_delta) == {k: -v for k, v in s.accumulator_delta.items()}
    after = ytd.apply(s.accumulator_delta)
    assert after[acc.POOL_FUND] == fen(300_000)
    assert after.apply(r.accumulator_delta) == ytd


# ---------------------------------------------------------------------------------------
# (17) 丙类, unlisted, refused and over-price-cap lines; (18) 乙类 self-pay ratios
# ---------------------------------------------------------------------------------------


def test_17_class_c_unlisted_refused_and_over_price_cap_lines() -> None:
    """Employee, tertiary (1,200 / 85 %).

    丙 item                          800.00 → 全自费 800.00
    code not in the catalogue        200.00 → 全自费 200.00
    capped consumable 2 × 1,250     2,500.00 → 超限价 (1,250 − 1,000) × 2 = 500.00; in 2,000.00
    capped consumable 1.5 × 1,250   1,875.00 → 超限价 250 × 1.5 = 375.00; in 1,500.00
    restricted drug, not approved    300.00 → 全自费 300.00
    restricted drug, approved (1)    300.00 → 先行自付 30.00; in 270.00
    甲 service, approval refused (2) 5,000.00 → 全自费 5,000.00
    甲 service                     10,000.00 → in 10,000.00
    medfee   = 20,975.00; 全自费 = 800 + 200 + 300 + 5,000 = 6,300.00
    超限价   = 875.00; 先行自付 30.00; in-policy = 2,000 + 1,500 + 270 + 10,000 = 13,770.00
    (I6: 6,300 + 875 + 30 + 13,770 = 20,975)
    pool     = (13,770 − 1,200) × 85 % = 12,570 × 85 % = 10,684.50
    personal = cash = 20,975 − 10,684.50 = 10,290.50
    """
    lines = [
        line(C_ITEM, "800"),
        line(UNLISTED, "200"),
        line(A_CAPPED, "2500", 2, "1250"),
        line(A_CAPPED, "1875", "1.5", "1250"),
        line(B_RESTRICTED, "300", 3, approval="0"),
        line(B_RESTRICTED, "300", 3, approval="1"),
        line(A_SERVICE, "5000", approval="2"),
        line(A_SERVICE, "10000"),
    ]
    s = run(lines)
    expect(
        s,
        medfee="20975",
        fulamt_ownpay="6300",
        overlmt_selfpay="875",
        preselfpay="30",
        inscp="13770",
        deductible="1200",
        pool="10684.50",
        fund_total="10684.50",
        personal="10290.50",
        cash="10290.50",
    )
    split = [(r.reason, r.fulamt_ownpay, r.overlmt, r.preselfpay, r.inscp) for r in s.lines]
    assert split == [
        ("class_c", fen(800), 0, 0, 0),
        ("not_in_catalogue", fen(200), 0, 0, 0),
        ("listed", 0, fen(500), 0, fen(2_000)),
        ("listed", 0, fen(375), 0, fen(1_500)),
        ("restricted_unapproved", fen(300), 0, 0, 0),
        ("listed", 0, 0, fen(30), fen(270)),
        ("approval_refused", fen(5_000), 0, 0, 0),
        ("listed", 0, 0, 0, fen(10_000)),
    ]


def test_18_class_b_first_self_pay() -> None:
    """Employee, secondary (600 / 88 %). Rounding: half away from zero, per line.

    乙 drug 10 %      333.33 → 33.333 → 33.33;  in 300.00
    乙 service 15 %   123.45 → 18.5175 → 18.52; in 104.93
    乙 drug 10 %      100.05 → 10.005 → 10.01;  in 90.04 (a half fen rounds up)
    乙 consumable 20 %, cap 500, 2 × 600 = 1,200.00 → 超限价 200.00;
                      then (1,200 − 200) × 20 % = 200.00 先行自付; in 800.00
    甲 service       5,000.00 → in 5,000.00
    medfee   = 333.33 + 123.45 + 100.05 + 1,200 + 5,000 = 6,756.83
    先行自付 = 33.33 + 18.52 + 10.01 + 200 = 261.86; 超限价 200.00
    in-policy = 300.00 + 104.93 + 90.04 + 800 + 5,000 = 6,294.97
    pool     = (6,294.97 − 600) × 88 % = 5,694.97 × 0.88 = 5,011.5736 → 5,011.57
    personal = cash = 6,756.83 − 5,011.57 = 1,745.26
    """
    lines = [
        line(B_DRUG, "333.33", 3),
        line(B_SERVICE, "123.45"),
        line(B_DRUG, "100.05", 1),
        line(B_CAPPED, "1200", 2, "600"),
        line(A_SERVICE, "5000"),
    ]
    s = run(lines, v=visit(institution_level=L2))
    expect(
        s,
        medfee="6756.83",
        overlmt_selfpay="200",
        preselfpay="261.86",
        inscp="6294.97",
        deductible="600",
        pool="5011.57",
        fund_total="5011.57",
        personal="1745.26",
        cash="1745.26",
    )
    assert [r.preselfpay for r in s.lines] == [
        fen(x) for x in ("33.33", "18.52", "10.01", "200", "0")
    ]
    assert [r.selfpay_ratio for r in s.lines] == [pct(10), pct(15), pct(10), pct(20), 0]


# ---------------------------------------------------------------------------------------
# (19) age bonus; (20) later admission; (21) civil servant
# ---------------------------------------------------------------------------------------


def test_19_age_70_bonus() -> None:
    """Resident, primary (200 / 85 %), +5 pp from age 70 (age on the admission date).

    Born 1955-03-01, admitted 2025-03-01: age 70 → ratio 90 %.
      Bill 甲 3,000.00: pool = 2,800 × 90 % = 2,520.00; personal = cash = 480.00
    Born 1955-03-02: age 69 on 2025-03-01 → ratio 85 %.
      pool = 2,800 × 85 % = 2,380.00; personal = cash = 620.00
    """
    v = visit(institution_level=L1)
    old = run(
        [line(A_SERVICE, "3000")],
        v=v,
        p=resident(birth_date=date(1955, 3, 1)),
        policy=resident_policy(),
    )
    expect(
        old,
        medfee="3000",
        inscp="3000",
        deductible="200",
        pool="2520",
        fund_total="2520",
        personal="480",
        cash="480",
    )
    assert old.pool_ratio == pct(90)
    young = run(
        [line(A_SERVICE, "3000")],
        v=v,
        p=resident(birth_date=date(1955, 3, 2)),
        policy=resident_policy(),
    )
    expect(
        young,
        medfee="3000",
        inscp="3000",
        deductible="200",
        pool="2380",
        fund_total="2380",
        personal="620",
        cash="620",
    )


def test_20_second_admission_half_deductible() -> None:
    """Employee, tertiary, later_admission_factor 0.5 (内蒙古 row: 1,200 first, 600 later).
    One admission already this year.

    Bill 甲 10,000.00; deductible = 1,200 × 0.5 = 600.00; eligible 9,400.00
    pool = 9,400 × 85 % = 7,990.00; personal = cash = 2,010.00
    admissions 1 → 2; deductible accumulator +600.00
    (The first admission, admissions 0: deductible 1,200.00, pool 7,480.00.)
    """
    policy = with_inpatient(employee_policy(), later_admission_factor=pct(50))
    s = run([line(A_SERVICE, "10000")], policy=policy, ytd={acc.IP_ADMISSIONS: 1})
    expect(
        s,
        medfee="10000",
        inscp="10000",
        deductible="600",
        pool="7990",
        fund_total="7990",
        personal="2010",
        cash="2010",
    )
    assert s.accumulator_delta[acc.IP_ADMISSIONS] == 1
    assert s.accumulator_delta[acc.IP_DEDUCTIBLE] == fen(600)
    first = run([line(A_SERVICE, "10000")], policy=policy)
    assert (first.deductible, first.pool) == (fen(1_200), fen(7_480))


def test_21_civil_servant_subsidy() -> None:
    """psn_type 1102 (公务员在职): subsidy 60 % of the in-policy burden left, cap 100,000.

    Bill 甲 10,000 + 丙 500 = 10,500.00; deductible 1,200; pool = 8,800 × 85 % = 7,480.00
    burden = 10,000 − 7,480 = 2,520.00 (no 大额: cap not reached)
    公务员补助 = 2,520 × 60 % = 1,512.00; fund = 7,480 + 1,512 = 8,992.00
    personal = cash = 10,500 − 8,992 = 1,508.00 (= 500 丙 + 1,008)
    With 99,000.00 of the subsidy cap used: 公务员补助 = min(1,512, 1,000) = 1,000.00;
      fund 8,480.00; personal = cash = 2,020.00
    psn_type 1101: no subsidy; personal = cash = 3,020.00
    """
    bill = [line(A_SERVICE, "10000"), line(C_ITEM, "500")]
    cs = person(psn_type="1102", civil_servant=True)
    s = run(bill, p=cs)
    expect(
        s,
        medfee="10500",
        fulamt_ownpay="500",
        inscp="10000",
        deductible="1200",
        pool="7480",
        civil_servant="1512",
        fund_total="8992",
        personal="1508",
        cash="1508",
    )
    assert s.accumulator_delta[acc.CIVIL_SERVANT_PAID] == fen(1_512)
    capped = run(bill, p=cs, ytd={acc.CIVIL_SERVANT_PAID: fen(99_000)})
    expect(
        capped,
        medfee="10500",
        fulamt_ownpay="500",
        inscp="10000",
        deductible="1200",
        pool="7480",
        civil_servant="1000",
        fund_total="8480",
        personal="2020",
        cash="2020",
    )
    plain = run(bill)
    assert plain.civil_servant == 0 and plain.cash == fen(3_020)


# ---------------------------------------------------------------------------------------
# (22) the 长治 case (§3.5)
# ---------------------------------------------------------------------------------------


def test_22a_changzhi_reported_figures_are_consistent() -> None:
    """人民日报 2018-07-16 (§3.5), no free input: basic 51,064.16 + 大病 48,346.90 =
    99,411.06 (the printed 99,411.10 is a typo). The overall 76.7 % (rounded to 0.1 %)
    puts the total T in 0.7665 ≤ 99,411.06 ÷ T < 0.7675: T > 99,411.06 ÷ 0.7675 =
    129,525.811 and T ≤ 99,411.06 ÷ 0.7665 = 129,694.794, i.e. 129,525.82 to 129,694.79
    ("nearly 13万"; §3.5 says about 129,526–129,695)."""
    fund = fen("51064.16") + fen("48346.90")
    assert fund == fen("99411.06") != fen("99411.10")
    lowest = -(-fund * 10_000 // 7675)  # smallest total with fund / total < 76.75 %
    highest = fund * 10_000 // 7665  # largest total with fund / total ≥ 76.65 %
    assert (lowest, highest) == (fen("129525.82"), fen("129694.79"))


@pytest.mark.fit
def test_22_changzhi_case_fit() -> None:
    """FIT — not evidence that the rules are right. The free inputs were solved for the
    reported amounts of 人民日报 2018-07-16: the bill 甲 128,560.40 (so that 40 % of
    it above the deductible is exactly 51,064.16) and 11,570.76 of 大病 basis already
    counted this year (so that the tiers pay exactly 48,346.90). The policy is made up
    for it (not 长治's real policy): a resident child, tertiary 900 / 60 %, care as other
    temporary care (−20 pp → 40 %), 大病 as in the resident factory. It shows only that
    one settlement can carry a basic and a 大病 payment of this size together.

    Bill: 甲 128,560.40 + 丙 1,000.00 = 129,560.40 (inside 129,526–129,695, "nearly 13万")
    in-policy 128,560.40; deductible 900.00; eligible 127,660.40
    pool (hifp)  = 127,660.40 × 40 % = 51,064.16
    burden       = 128,560.40 − 51,064.16 = 77,496.24
    大病 basis   = 11,570.76 → 89,067.00
      15,000–50,000: 35,000 × 60 % = 21,000.00
      50,000–89,067: 39,067 × 70 % = 27,346.90
    大病 (hifmi) = 48,346.90
    fund total   = 51,064.16 + 48,346.90 = 99,411.06
    personal     = 129,560.40 − 99,411.06 = 30,149.34
    overall      = 99,411.06 ÷ 129,560.40 = 0.7673 → 76.7 % (patient 23.3 %)
    """
    child = resident(
        psn_no="14040000000000000001",
        birth_date=date(2010, 5, 1),
        psn_type="1403",
        insured_region="140400",
    )
    s = run(
        [line(A_SERVICE, "128560.40"), line(C_ITEM, "1000")],
        v=visit(begin=date(2018, 6, 1), settle_date=date(2018, 7, 1)),
        p=child,
        status=BenefitStatus.TEMPORARY_OTHER,
        policy=resident_policy(region="140400"),
        ytd={acc.layer_basis_key("hifmi"): fen("11570.76")},
    )
    expect(
        s,
        medfee="129560.40",
        fulamt_ownpay="1000",
        inscp="128560.40",
        deductible="900",
        pool="51064.16",
        critical_illness="48346.90",
        fund_total="99411.06",
        personal="30149.34",
        cash="30149.34",
    )
    # 76.7 % after rounding to 0.1 %: 0.7665 ≤ fund / total < 0.7675
    assert 7665 * s.medfee <= 10_000 * s.fund_total < 7675 * s.medfee
    assert fen("129526") <= s.medfee <= fen("129695")


# ---------------------------------------------------------------------------------------
# (23) bad input
# ---------------------------------------------------------------------------------------


def _raises(match: str, **kw: Any) -> None:
    lines = kw.pop("lines", [line(A_SERVICE, "100")])
    with pytest.raises(CalculationError, match=match):
        run(lines, **kw)


def test_23a_unknown_med_type() -> None:
    """med_type 99 is no settled medical category: the message names the value."""
    _raises(r"med_type '99'", v=visit(med_type="99"))


def test_23b_chronic_visit_without_disease_code() -> None:
    """med_type 14 without dise_codg."""
    _raises(r"dise_codg", v=visit(med_type="14"), p=person(chronic_diseases=frozenset({DIALYSIS})))


def test_23c_disease_not_in_the_policy_list() -> None:
    """A disease code the place of insurance does not list."""
    _raises(r"'M99999'", v=visit(med_type="14", disease_code="M99999"))


def test_23d_person_not_qualified_for_the_disease() -> None:
    """The person lacks the 参保地 qualification (认定) for M07801."""
    p = person()
    _raises(rf"{p.psn_no}.*'{DIALYSIS}'", v=visit(med_type="14", disease_code=DIALYSIS), p=p)


def test_23e_insutype_mismatch() -> None:
    """A resident (390) against the employee (310) policy."""
    _raises(r"insutype '390'.*'310'", p=resident())


def test_23f_net_negative_bill() -> None:
    """甲 100.00 and a refund of 150.00: net −50.00 → rejected, the value in the message."""
    lines = [line(A_SERVICE, "100"), line(A_SERVICE, "-150", -1, refund_of="X")]
    _raises(r"-50\.00", lines=lines)


def test_23g_no_lines() -> None:
    _raises(r"at least one fee line", lines=[])


def test_23h_refund_exceeding_the_charges_of_one_component() -> None:
    """Refund lines may not exceed the charges: here only within 全自费.

    Lines: 甲 1,000.00 and a refund of 丙 −500.00 with no 丙 charge. Net 500.00 ≥ 0 but
    全自费 = −500.00. Mid-stay part with the deductible already applied:
    pool = 1,000 × 85 % = 850.00 > the whole net bill 500.00 → personal −350.00.
    §3.2 invariants and §5.3 I6 give no meaning to a negative 全自费 amount or a
    negative cash payment, so the bill must be refused like a net negative one.
    """
    lines = [line(A_SERVICE, "1000"), line(C_ITEM, "-500", -1, refund_of="X")]
    v = visit(admission_counted=True, deductible_applied=fen(1_200))
    _raises(r"-500\.00|refund", lines=lines, v=v, ytd={acc.IP_ADMISSIONS: 1})
