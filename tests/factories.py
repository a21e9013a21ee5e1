"""Small builders for calculator tests: catalogue, fee lines, policies, persons, visits.

Everything here is SYNTHETIC test data built by hand from domain-rules §3.4 (the
parameter ranges) and the brief of the calculator tests. Amounts are written in yuan
strings and converted once with ``money.yuan_to_fen``; nothing here is a real catalogue
or a real regional policy.

Parameter choices that the rules leave open (documented once, used by every test):

* Employee policy (insutype 310, "150100"): inpatient levels 1/2/3 deductible
  300/600/1,200 and ratio 90/88/85 %, annual cap 300,000, retirees +5 pp, no age bonus,
  later admissions pay the full deductible (tests override the factor);
  大额 (hifob) on the ``over_cap`` basis, threshold 0, 90 %, cap 300,000;
  general outpatient 门诊共济: deductible 500 / year, 60 % at every level, cap 3,000,
  retirees +10 pp;
  chronic diseases (outpatient_chronic mode, sharing the inpatient cap):
  M07801 尿毒症透析 deductible 0, 90 %, quota 6,000 per month;
  M03900 高血压 deductible 300, 70 %, quota 3,000 per year;
  M00500 恶性肿瘤门诊放化疗 deductible 0, 85 %, no quota;
  公务员补助 60 % of the remaining in-policy burden (deductible included), cap 100,000;
  personal account enabled, covering the whole personal share, own account first.
* Resident policy (insutype 390, "532900"): levels 200/500/900, 85/75/60 %, cap 150,000,
  age ≥ 70 +5 pp (大理 row of §3.4), referral terms 900 / 50 % kept but unused
  (temporary care uses the same-level base);
  大病 (hifmi) on the ``personal_burden`` basis, threshold 15,000, tiers 60 % up to a
  cumulative 50,000, 70 % up to 100,000, 80 % above, cap 300,000;
  门诊统筹 deductible 200 / year, 50 %, cap 2,000;
  chronic: M07801 80 % quota 5,000 / month; M03900 60 % quota 1,500 / year;
  no civil-servant subsidy; account enabled (a resident has no own balance but may be a
  family mutual-aid beneficiary, §5.6).
* Filing reductions (pp off the base, within the bounds of §2.3):
  employees LONG_TERM 0, LONG_TERM_AT_HOME 10 (the "referral level" floor of two-way
  benefit), REFERRAL 10, EMERGENCY 5, TEMPORARY_OTHER 15, UNFILED 20;
  residents LONG_TERM 0, LONG_TERM_AT_HOME 10, REFERRAL 10, EMERGENCY 0,
  TEMPORARY_OTHER 20, UNFILED 20.
* 医疗救助, both schemes, on the cumulative in-policy burden left after insurance:
  特困 threshold 0, 90 %, cap 100,000; 低保 threshold 1,000, 70 %, cap 50,000;
  低保边缘 and 返贫致贫 threshold 5,000, 60 %, cap 30,000.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from medroam.domain.catalogue import (
    LEVEL_A,
    LEVEL_B,
    LEVEL_C,
    PRICE_SCALE,
    QTY_SCALE,
    Catalogue,
    CatalogueItem,
    FeeLine,
)
from medroam.domain.codes import (
    FUND_LARGE_EXPENSE,
    FUND_RESIDENT_CRITICAL,
    INSUTYPE_EMPLOYEE,
    INSUTYPE_RESIDENT,
    AssistanceCategory,
    BenefitStatus,
    InstitutionLevel,
    ServiceKind,
)
from medroam.domain.money import yuan_to_fen
from medroam.domain.policy import (
    AccountCoverage,
    AccountPolicy,
    AssistancePolicy,
    AssistanceTerms,
    BenefitPolicy,
    ChronicMode,
    ChronicPolicy,
    ChronicTerms,
    CivilServantPolicy,
    FilingRules,
    InpatientPolicy,
    LayerBasis,
    LayerFund,
    LevelTerms,
    MutualAidOrder,
    OutpatientPolicy,
    QuotaPeriod,
    SupplementaryLayer,
    Tier,
    TierBounds,
)
from medroam.domain.settlement import Person, Visit


def fen(yuan: str | int) -> int:
    """Yuan string → fen (exact)."""
    return yuan_to_fen(yuan)


def pct(percent: str | int) -> int:
    """Percent → ten-thousandths ratio: pct(85) == 8500, pct("12.5") == 1250."""
    return int(Decimal(str(percent)) * 100)


# --- catalogue of the place of treatment (synthetic) -----------------------------------

A_SERVICE = "SYN-A-SVC"  # 甲类 treatment service, no price cap
A_DIALYSIS = "SYN-A-DIAL"  # 甲类 血液透析 service
A_CAPPED = "SYN-A-CONS"  # 甲类 consumable, unit price cap 1,000.00
B_DRUG = "SYN-B-DRUG"  # 乙类 western drug, first self-pay 10 %
B_SERVICE = "SYN-B-SVC"  # 乙类 service, first self-pay 15 %
B_CAPPED = "SYN-B-CONS"  # 乙类 consumable, first self-pay 20 %, unit price cap 500.00
B_RESTRICTED = "SYN-B-RDRUG"  # 乙类 restricted drug (限制使用), first self-pay 10 %
C_ITEM = "SYN-C-ITEM"  # 丙类 item (self-paid)
UNLISTED = "SYN-NOT-LISTED"  # a code absent from the catalogue

TREATMENT_REGION = "110105"  # 北京市朝阳区 (place of treatment)


def _item(
    code: str,
    name: str,
    list_type: str,
    charge_type: str,
    level: str,
    selfpay: int = 0,
    cap_yuan: str | None = None,
    **flags: bool,
) -> CatalogueItem:
    cap = None if cap_yuan is None else int(Decimal(cap_yuan) * PRICE_SCALE)
    return CatalogueItem(code, name, list_type, charge_type, level, selfpay, cap, **flags)


def catalogue_items() -> dict[str, CatalogueItem]:
    items = [
        _item(A_SERVICE, "治疗服务(甲)", "201", "05", LEVEL_A),
        _item(A_DIALYSIS, "血液透析(甲)", "201", "05", LEVEL_A),
        _item(A_CAPPED, "医用耗材(甲,限价1000)", "301", "08", LEVEL_A, 0, "1000"),
        _item(B_DRUG, "西药(乙,10%)", "101", "09", LEVEL_B, pct(10)),
        _item(B_SERVICE, "诊疗项目(乙,15%)", "201", "05", LEVEL_B, pct(15)),
        _item(B_CAPPED, "医用耗材(乙,20%,限价500)", "301", "08", LEVEL_B, pct(20), "500"),
        _item(B_RESTRICTED, "限制使用西药(乙,10%)", "101", "09", LEVEL_B, pct(10), restricted=True),
        _item(C_ITEM, "丙类项目", "201", "14", LEVEL_C, pct(100)),
    ]
    return {i.code: i for i in items}


def make_catalogue(*extra: CatalogueItem, region: str = "110000") -> Catalogue:
    """The synthetic 就医地 catalogue above, plus any ``extra`` items."""
    items = catalogue_items()
    items.update({i.code: i for i in extra})
    return Catalogue(region=region, items=items, source="synthetic test catalogue")


_line_ids = itertools.count(1)


def line(
    code: str,
    yuan: str,
    qty: str | int = 1,
    price: str | None = None,
    *,
    line_id: str | None = None,
    approval: str = "0",
    refund_of: str | None = None,
) -> FeeLine:
    """A fee line of ``yuan`` in total; ``qty`` units at ``price`` yuan (default yuan/qty).

    A refund line has a negative ``yuan`` and a negative ``qty``.
    """
    amount = Decimal(yuan)
    quantity = Decimal(str(qty))
    unit = Decimal(price) if price is not None else abs(amount / quantity)
    return FeeLine(
        line_id=line_id or f"L{next(_line_ids):05d}",
        list_code=code,
        amount=yuan_to_fen(yuan),
        quantity=int(quantity * QTY_SCALE),
        unit_price=int((unit * PRICE_SCALE).to_integral_value()),
        hosp_approval=approval,
        refund_of=refund_of,
    )


# --- policies (hand-built, synthetic) --------------------------------------------------

L1, L2, L3 = InstitutionLevel.PRIMARY.value, InstitutionLevel.SECONDARY.value, "3"
DIALYSIS = "M07801"  # 尿毒症透析 (monthly quota)
HYPERTENSION = "M03900"  # 高血压
CANCER = "M00500"  # 恶性肿瘤门诊放化疗


def assistance_policy() -> AssistancePolicy:
    return AssistancePolicy(
        categories={
            AssistanceCategory.EXTREME_POVERTY: AssistanceTerms(0, pct(90), fen(100_000)),
            AssistanceCategory.MINIMUM_LIVING: AssistanceTerms(fen(1_000), pct(70), fen(50_000)),
            AssistanceCategory.NEAR_MINIMUM: AssistanceTerms(fen(5_000), pct(60), fen(30_000)),
            AssistanceCategory.RELAPSE_POVERTY: AssistanceTerms(fen(5_000), pct(60), fen(30_000)),
        }
    )


def _filing(reductions: dict[BenefitStatus, int]) -> FilingRules:
    full = {s: 0 for s in BenefitStatus}
    full.update(reductions)
    return FilingRules(reductions=full)


def employee_policy(**over: Any) -> BenefitPolicy:
    """Employee (310) policy; keyword overrides replace whole BenefitPolicy fields."""
    policy = BenefitPolicy(
        region="150100",
        insutype=INSUTYPE_EMPLOYEE,
        effective_from=date(2025, 1, 1),
        effective_to=None,
        inpatient=InpatientPolicy(
            levels={
                L1: LevelTerms(fen(300), pct(90)),
                L2: LevelTerms(fen(600), pct(88)),
                L3: LevelTerms(fen(1_200), pct(85)),
            },
            annual_cap=fen(300_000),
            retired_bonus=pct(5),
        ),
        outpatient=OutpatientPolicy(
            annual_deductible=fen(500),
            ratios={L1: pct(60), L2: pct(60), L3: pct(60)},
            annual_cap=fen(3_000),
            retired_bonus=pct(10),
        ),
        chronic=ChronicPolicy(
            diseases={
                DIALYSIS: ChronicTerms(DIALYSIS, 0, pct(90), fen(6_000), QuotaPeriod.MONTH),
                HYPERTENSION: ChronicTerms(HYPERTENSION, fen(300), pct(70), fen(3_000)),
                CANCER: ChronicTerms(CANCER, 0, pct(85), None),
            },
            mode=ChronicMode.OUTPATIENT_CHRONIC,
            shares_inpatient_cap=True,
        ),
        layers=(
            SupplementaryLayer(
                fund=LayerFund.LARGE_EXPENSE,
                fund_pay_type=FUND_LARGE_EXPENSE,
                basis=LayerBasis.OVER_CAP,
                threshold=0,
                tiers=(Tier(None, pct(90)),),
                annual_cap=fen(300_000),
            ),
        ),
        civil_servant=CivilServantPolicy(ratio=pct(60), annual_cap=fen(100_000)),
        assistance=assistance_policy(),
        account=AccountPolicy(
            enabled=True,
            coverage=AccountCoverage.PERSONAL_SHARE,
            mutual_aid_order=MutualAidOrder.OWN_FIRST,
        ),
        filing=_filing(
            {
                BenefitStatus.LONG_TERM_AT_HOME: pct(10),
                BenefitStatus.REFERRAL: pct(10),
                BenefitStatus.EMERGENCY: pct(5),
                BenefitStatus.TEMPORARY_OTHER: pct(15),
                BenefitStatus.UNFILED: pct(20),
            }
        ),
        pool_fund_type="310100",
        outpatient_fund_type="310102",
        synthetic=True,
        source="synthetic test policy (tests/factories.py)",
    )
    return replace(policy, **over)


RESIDENT_CRITICAL = SupplementaryLayer(
    fund=LayerFund.CRITICAL_ILLNESS,
    fund_pay_type=FUND_RESIDENT_CRITICAL,
    basis=LayerBasis.PERSONAL_BURDEN,
    threshold=fen(15_000),
    tiers=(
        Tier(fen(50_000), pct(60)),
        Tier(fen(100_000), pct(70)),
        Tier(None, pct(80)),
    ),
    annual_cap=fen(300_000),
    tier_bounds=TierBounds.CUMULATIVE,
    applies_to=frozenset({ServiceKind.INPATIENT, ServiceKind.CHRONIC}),
)


def resident_policy(**over: Any) -> BenefitPolicy:
    """Resident (390) policy; keyword overrides replace whole BenefitPolicy fields."""
    policy = BenefitPolicy(
        region="532900",
        insutype=INSUTYPE_RESIDENT,
        effective_from=date(2025, 1, 1),
        effective_to=None,
        inpatient=InpatientPolicy(
            levels={
                L1: LevelTerms(fen(200), pct(85)),
                L2: LevelTerms(fen(500), pct(75)),
                L3: LevelTerms(fen(900), pct(60)),
            },
            annual_cap=fen(150_000),
            elderly_bonus=pct(5),
            elderly_age=70,
            referral_terms=LevelTerms(fen(900), pct(50)),
        ),
        outpatient=OutpatientPolicy(
            annual_deductible=fen(200),
            ratios={L1: pct(50), L2: pct(50), L3: pct(50)},
            annual_cap=fen(2_000),
        ),
        chronic=ChronicPolicy(
            diseases={
                DIALYSIS: ChronicTerms(DIALYSIS, 0, pct(80), fen(5_000), QuotaPeriod.MONTH),
                HYPERTENSION: ChronicTerms(HYPERTENSION, 0, pct(60), fen(1_500)),
            },
        ),
        layers=(RESIDENT_CRITICAL,),
        civil_servant=None,
        assistance=assistance_policy(),
        account=AccountPolicy(enabled=True),
        filing=_filing(
            {
                BenefitStatus.LONG_TERM_AT_HOME: pct(10),
                BenefitStatus.REFERRAL: pct(10),
                BenefitStatus.EMERGENCY: 0,
                BenefitStatus.TEMPORARY_OTHER: pct(20),
                BenefitStatus.UNFILED: pct(20),
            }
        ),
        pool_fund_type="390100",
        outpatient_fund_type="390102",
        synthetic=True,
        source="synthetic test policy (tests/factories.py)",
    )
    return replace(policy, **over)


def with_inpatient(policy: BenefitPolicy, **over: Any) -> BenefitPolicy:
    """The policy with some InpatientPolicy fields replaced."""
    return replace(policy, inpatient=replace(policy.inpatient, **over))


# --- person and visit ------------------------------------------------------------------


def person(**over: Any) -> Person:
    """An employed (1101) employee of 呼和浩特, born 1980-03-15; override anything."""
    base: dict[str, Any] = {
        "psn_no": "15010000000000000001",
        "name": "测试人员",
        "cert_type": "01",
        "cert_no": "150102198003150011",
        "gender": "1",
        "birth_date": date(1980, 3, 15),
        "insutype": INSUTYPE_EMPLOYEE,
        "psn_type": "1101",
        "insured_region": "150100",
    }
    base.update(over)
    return Person(**base)


def resident(**over: Any) -> Person:
    """An adult resident (1501) of 大理州; override anything."""
    base: dict[str, Any] = {
        "psn_no": "53290000000000000001",
        "cert_no": "532901198506200021",
        "gender": "2",
        "birth_date": date(1985, 6, 20),
        "insutype": INSUTYPE_RESIDENT,
        "psn_type": "1501",
        "insured_region": "532900",
    }
    base.update(over)
    return person(**base)


def visit(**over: Any) -> Visit:
    """An inpatient admission (med_type 21) at a tertiary hospital in 北京; override."""
    base: dict[str, Any] = {
        "visit_id": "MDTRT0001",
        "med_type": "21",
        "institution_code": "H11010500001",
        "institution_level": L3,
        "treatment_region": TREATMENT_REGION,
        "begin": date(2025, 3, 1),
        "settle_date": date(2025, 3, 10),
    }
    base.update(over)
    return Visit(**base)
