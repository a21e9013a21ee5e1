"""Interface codes the rules depend on.

The full code tables (labels, regional extensions) are reference data in
``medroam/data/code_tables.json``; this module holds only the values that the
business rules branch on, as plain string constants so that regional codes still pass
through unchanged.
"""

from __future__ import annotations

from enum import StrEnum

# insutype 险种类型
INSUTYPE_EMPLOYEE = "310"  # 职工基本医疗保险
INSUTYPE_RESIDENT = "390"  # 城乡居民基本医疗保险


class ServiceKind(StrEnum):
    """The three benefit families of the calculator (derived from med_type)."""

    INPATIENT = "inpatient"  # 住院
    OUTPATIENT = "outpatient"  # 普通门诊 (门诊统筹 / 门诊共济)
    CHRONIC = "chronic"  # 门诊慢特病


# med_type 医疗类别 → service kind. Regional extensions are mapped by their first two
# digits when they are longer than two characters (e.g. 140101 门诊大病 → 14).
_MED_TYPE_KIND: dict[str, ServiceKind] = {
    "11": ServiceKind.OUTPATIENT,
    "12": ServiceKind.OUTPATIENT,
    "13": ServiceKind.OUTPATIENT,
    "14": ServiceKind.CHRONIC,
    "15": ServiceKind.CHRONIC,
    "16": ServiceKind.OUTPATIENT,
    "19": ServiceKind.OUTPATIENT,
    "21": ServiceKind.INPATIENT,
    "22": ServiceKind.INPATIENT,
    "23": ServiceKind.INPATIENT,
    "24": ServiceKind.INPATIENT,
    "25": ServiceKind.INPATIENT,
    "26": ServiceKind.INPATIENT,
    "27": ServiceKind.INPATIENT,
    "28": ServiceKind.INPATIENT,
    "29": ServiceKind.INPATIENT,
    "41": ServiceKind.OUTPATIENT,
    "51": ServiceKind.OUTPATIENT,
    "52": ServiceKind.INPATIENT,
}

MED_TYPE_EMERGENCY = "13"  # 急诊
MED_TYPE_EMERGENCY_INPATIENT = "24"  # 急诊转住院
MED_TYPE_PHARMACY = "41"  # 定点药店购药: settled by the personal account only


def service_kind(med_type: str) -> ServiceKind | None:
    """The benefit family of a med_type, or None when the platform does not settle it."""
    kind = _MED_TYPE_KIND.get(med_type)
    if kind is None and len(med_type) > 2:
        kind = _MED_TYPE_KIND.get(med_type[:2])
    return kind


# psn_type 人员类别
PSN_TYPES_RETIRED = frozenset({"1201", "1202", "1203", "1300"})
PSN_TYPES_CIVIL_SERVANT = frozenset({"1102", "1202"})

# chrgitm_lv 收费项目等级 (one client sends 1/2/3; both are accepted)
LEVEL_A = "01"  # 甲类
LEVEL_B = "02"  # 乙类
LEVEL_C = "03"  # 丙类 (self-pay)
_LEVEL_ALIASES = {"1": LEVEL_A, "2": LEVEL_B, "3": LEVEL_C}


def normalize_item_level(value: str) -> str:
    return _LEVEL_ALIASES.get(value, value)


# fund_pay_type 基金支付类型 used by the calculator
FUND_EMPLOYEE_POOL = "310100"  # 职工基本医疗保险统筹基金
FUND_EMPLOYEE_OUTPATIENT_POOL = "310102"  # 职工门诊统筹
FUND_EMPLOYEE_ACCOUNT = "310200"  # 职工个人账户基金
FUND_CIVIL_SERVANT = "320100"  # 公务员医疗补助
FUND_LARGE_EXPENSE = "330100"  # 大额医疗费用补助 (hifob)
FUND_RESIDENT_POOL = "390100"  # 城乡居民基本医疗保险基金
FUND_RESIDENT_OUTPATIENT_POOL = "390102"  # 居民门诊统筹
FUND_RESIDENT_CRITICAL = "390200"  # 城乡居民大病医疗保险 (hifmi)
FUND_MEDICAL_ASSISTANCE = "610100"  # 医疗救助 (maf)
FUND_MUTUAL_AID = "310200"  # 共济 is paid out of personal accounts (part of acct_pay)


class InstitutionLevel(StrEnum):
    """医院等级 as the benefit tables key it (一级/二级/三级, plus unrated)."""

    PRIMARY = "1"  # 一级 (and community / township centres)
    SECONDARY = "2"  # 二级
    TERTIARY = "3"  # 三级
    UNRATED = "9"  # 未定级: treated as 一级 unless a policy says otherwise


class AssistanceCategory(StrEnum):
    """医疗救助对象 categories (marked at the place of insurance)."""

    EXTREME_POVERTY = "tekun"  # 特困人员
    MINIMUM_LIVING = "dibao"  # 低保对象
    NEAR_MINIMUM = "dibao_edge"  # 低保边缘
    RELAPSE_POVERTY = "fanpin"  # 返贫致贫人口


class FilingType(StrEnum):
    """The six person types of 异地就医备案 (医保发〔2022〕22号)."""

    LT_RETIRED = "LT_RETIRED"  # 异地安置退休人员
    LT_RESIDENT = "LT_RESIDENT"  # 异地长期居住人员
    LT_WORKER = "LT_WORKER"  # 常驻异地工作人员
    TMP_REFERRAL = "TMP_REFERRAL"  # 异地转诊就医人员
    TMP_EMERGENCY = "TMP_EMERGENCY"  # 异地急诊抢救人员
    TMP_OTHER = "TMP_OTHER"  # 其他跨省临时外出就医人员

    @property
    def long_term(self) -> bool:
        return self.value.startswith("LT_")


class BenefitStatus(StrEnum):
    """How a visit stands with respect to filing; decides the ratio reduction."""

    LOCAL = "local"  # 本地就医 (not cross-region)
    LONG_TERM = "long_term"  # 长期异地 at the filed place: full standard
    LONG_TERM_AT_HOME = "long_term_at_home"  # 两地享受: back at the place of insurance
    REFERRAL = "referral"  # 转诊
    EMERGENCY = "emergency"  # 急诊抢救 (filed, or treated as filed)
    TEMPORARY_OTHER = "temporary_other"  # 其他临时外出 (also: long-term outside its area)
    UNFILED = "unfiled"  # 未备案
