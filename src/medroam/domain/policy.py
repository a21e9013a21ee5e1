"""Benefit policy of a place of insurance (参保地支付政策).

A policy is keyed by (pooling region, insutype, effective date). It holds parameters
only; the mechanism lives in :mod:`medroam.domain.calculator`. Every field that a region
can set is here, with the default documented where the rules leave a choice.

Units: amounts in fen, ratios and percentage-point bonuses/reductions in ten-thousandths
(10 pp == 1000).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from medroam.domain.codes import (
    PSN_TYPES_CIVIL_SERVANT,
    AssistanceCategory,
    BenefitStatus,
    FilingType,
    InstitutionLevel,
    ServiceKind,
)
from medroam.domain.money import DEFAULT_ROUNDING, Fen, Ratio, RoundingRule


@dataclass(frozen=True, slots=True)
class LevelTerms:
    """Deductible and pooled-fund ratio at one institution level."""

    deductible: Fen
    ratio: Ratio


@dataclass(frozen=True, slots=True)
class InpatientPolicy:
    """住院: per-admission deductible, ratio by level, annual cap of the pooled fund."""

    levels: Mapping[str, LevelTerms]  # keyed by InstitutionLevel value: "1", "2", "3"
    annual_cap: Fen | None  # 统筹基金年度最高支付限额 (None: no cap)
    # Later admissions in the year: deductible × factor (e.g. 5000 = half); admissions with
    # an ordinal ≥ deductible_free_from pay none (None: always pay).
    later_admission_factor: Ratio = 10_000
    deductible_free_from: int | None = None
    retired_bonus: Ratio = 0  # 退休人员 ratio bonus (pp)
    elderly_bonus: Ratio = 0  # age bonus (pp), e.g. 500 for +5 pp at ≥ 70
    elderly_age: int = 70
    # 转外就医 / out-of-region standard (e.g. 大理 "outside prefecture 900 / 50 %"). Used as
    # the base for temporary cross-region care when FilingRules.temp_base == "referral".
    referral_terms: LevelTerms | None = None

    def terms(self, level: str) -> LevelTerms:
        if level in self.levels:
            return self.levels[level]
        if level == InstitutionLevel.UNRATED and InstitutionLevel.PRIMARY in self.levels:
            return self.levels[InstitutionLevel.PRIMARY]
        raise KeyError(level)


@dataclass(frozen=True, slots=True)
class OutpatientPolicy:
    """普通门诊统筹 / 门诊共济: annual deductible, ratio by level, annual cap."""

    annual_deductible: Fen
    ratios: Mapping[str, Ratio]  # by institution level
    annual_cap: Fen | None
    retired_bonus: Ratio = 0
    elderly_bonus: Ratio = 0
    elderly_age: int = 70

    def ratio(self, level: str) -> Ratio:
        if level in self.ratios:
            return self.ratios[level]
        if level == InstitutionLevel.UNRATED and InstitutionLevel.PRIMARY in self.ratios:
            return self.ratios[InstitutionLevel.PRIMARY]
        raise KeyError(level)


class QuotaPeriod(StrEnum):
    MONTH = "month"
    YEAR = "year"


class ChronicMode(StrEnum):
    """How chronic/special-disease outpatient care is paid (open question 9)."""

    OUTPATIENT_CHRONIC = "outpatient_chronic"  # its own deductible, ratio and quota
    INPATIENT_LIKE = "inpatient_like"  # ratio of the inpatient table at the same level


@dataclass(frozen=True, slots=True)
class ChronicTerms:
    """One 门诊慢特病 at the place of insurance."""

    disease_code: str
    annual_deductible: Fen
    ratio: Ratio
    quota: Fen | None  # fund payment limit per quota period (e.g. a monthly dialysis quota)
    quota_period: QuotaPeriod = QuotaPeriod.YEAR


@dataclass(frozen=True, slots=True)
class ChronicPolicy:
    diseases: Mapping[str, ChronicTerms]
    mode: ChronicMode = ChronicMode.OUTPATIENT_CHRONIC
    # Whether chronic-disease pooled payments count toward the inpatient annual cap.
    shares_inpatient_cap: bool = True


class LayerBasis(StrEnum):
    """What a supplementary layer pays on."""

    PERSONAL_BURDEN = "personal_burden"  # in-policy cost the person still bears
    OVER_CAP = "over_cap"  # in-policy cost above the point where the basic cap was reached


class TierBounds(StrEnum):
    """Whether tier upper bounds count the whole cumulative basis or only the part above
    the threshold ("1.2万以上至3万 55 %" is cumulative; "起付线以上0–5万 60 %" is not)."""

    CUMULATIVE = "cumulative"
    ABOVE_THRESHOLD = "above_threshold"


@dataclass(frozen=True, slots=True)
class Tier:
    upper: Fen | None  # None: no upper bound
    ratio: Ratio


class LayerFund(StrEnum):
    CRITICAL_ILLNESS = "hifmi"  # 居民大病保险
    LARGE_EXPENSE = "hifob"  # 职工大额医疗费用补助


@dataclass(frozen=True, slots=True)
class SupplementaryLayer:
    """大病保险 (residents, hifmi_pay) or 大额补助 (employees, hifob_pay)."""

    fund: LayerFund
    fund_pay_type: str
    basis: LayerBasis
    threshold: Fen  # annual, on the cumulative basis
    tiers: tuple[Tier, ...]
    annual_cap: Fen | None
    tier_bounds: TierBounds = TierBounds.CUMULATIVE
    applies_to: frozenset[ServiceKind] = frozenset({ServiceKind.INPATIENT, ServiceKind.CHRONIC})


@dataclass(frozen=True, slots=True)
class CivilServantPolicy:
    """公务员医疗补助 (cvlserv_pay) on the personal in-policy burden left after insurance."""

    ratio: Ratio
    annual_cap: Fen | None
    covers_deductible: bool = True
    psn_types: frozenset[str] = PSN_TYPES_CIVIL_SERVANT
    applies_to: frozenset[ServiceKind] = frozenset(ServiceKind)


@dataclass(frozen=True, slots=True)
class AssistanceTerms:
    threshold: Fen  # annual, on the cumulative in-policy burden left after insurance
    ratio: Ratio
    annual_cap: Fen | None


@dataclass(frozen=True, slots=True)
class AssistancePolicy:
    """医疗救助 (maf_pay) by assistance category."""

    categories: Mapping[AssistanceCategory, AssistanceTerms]
    applies_to: frozenset[ServiceKind] = frozenset(ServiceKind)


class AccountCoverage(StrEnum):
    PERSONAL_SHARE = "personal_share"  # the whole personal share, self-paid parts included
    IN_POLICY_ONLY = "in_policy_only"  # only the in-policy personal burden


class MutualAidOrder(StrEnum):
    OWN_FIRST = "own_first"  # beneficiary's own account before the family quota (default)
    MUTUAL_AID_FIRST = "mutual_aid_first"


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    """个人账户 and 家庭共济 (acct_pay, acct_mulaid_pay)."""

    enabled: bool
    coverage: AccountCoverage = AccountCoverage.PERSONAL_SHARE
    mutual_aid_order: MutualAidOrder = MutualAidOrder.OWN_FIRST


class TempBase(StrEnum):
    """Base of the ratio for temporary cross-region care (open question 7)."""

    SAME_LEVEL = "same_level"  # the same-level local ratio (default)
    REFERRAL = "referral"  # the 参保地's referral (转外就医) terms


# National bounds on the reductions (domain-rules §2.3): referral and emergency at most
# 10 pp; other temporary care and unfiled care at most 20 pp.
REDUCTION_BOUNDS: Mapping[BenefitStatus, Ratio] = {
    BenefitStatus.LOCAL: 0,
    BenefitStatus.LONG_TERM: 0,
    BenefitStatus.LONG_TERM_AT_HOME: 1000,
    BenefitStatus.REFERRAL: 1000,
    BenefitStatus.EMERGENCY: 1000,
    BenefitStatus.TEMPORARY_OTHER: 2000,
    BenefitStatus.UNFILED: 2000,
}


@dataclass(frozen=True, slots=True)
class FilingRules:
    """The place of insurance's filing parameters (备案) and their effect on benefits."""

    reductions: Mapping[BenefitStatus, Ratio]  # pp taken off the base ratio
    temp_base: TempBase = TempBase.SAME_LEVEL
    reduction_applies_to: frozenset[ServiceKind] = frozenset(ServiceKind)
    # Validity of temporary filings in months by person type (≥ 6 in principle; regions
    # may set e.g. 3 for referrals). Long-term filings are open-ended.
    temp_validity_months: Mapping[FilingType, int] = field(
        default_factory=lambda: {
            FilingType.TMP_REFERRAL: 6,
            FilingType.TMP_EMERGENCY: 6,
            FilingType.TMP_OTHER: 6,
        }
    )
    change_lock_months: int = 6  # long-term filing change/cancel lock, ≤ 6
    granularity: str = "city"  # "province" or "city": what a filing's destination names
    unfiled_direct_settlement: bool = True  # may unfiled cross-region care settle directly?
    retroactive_before_discharge: bool = True  # a filing made before discharge counts

    def reduction(self, status: BenefitStatus) -> Ratio:
        return self.reductions.get(status, 0)


@dataclass(frozen=True, slots=True)
class BenefitPolicy:
    """Everything the place of insurance decides for one insurance type."""

    region: str  # admdvs of the place of insurance (pooling region)
    insutype: str  # 310 employees, 390 residents
    effective_from: date
    effective_to: date | None
    inpatient: InpatientPolicy
    outpatient: OutpatientPolicy | None
    chronic: ChronicPolicy | None
    layers: tuple[SupplementaryLayer, ...]
    civil_servant: CivilServantPolicy | None
    assistance: AssistancePolicy | None
    account: AccountPolicy
    filing: FilingRules
    pool_fund_type: str  # 310100 / 390100
    outpatient_fund_type: str  # 310102 / 390102
    synthetic: bool = True
    source: str = "synthetic"
    # One rounding per computed amount (domain-rules §10 question 15); default 0.01 yuan,
    # half away from zero (docs/architecture.md).
    rounding: RoundingRule = DEFAULT_ROUNDING

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)
