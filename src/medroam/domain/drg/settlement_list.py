"""The settlement list (医保基金结算清单, interface 4101) as far as grouping and QC need it,
and its quality control (质控, the result 4104 returns).

``SettlementList`` keeps the interface's field names in comments; the gateway maps the
4101 ``setlinfo`` / ``diseinfo`` / ``oprninfo`` nodes onto it. ``quality_control`` returns
findings, each with a rule id, a severity (``error`` blocks grouping, ``warning`` does
not), the field and a message. Rules:

======  ========  ==================================================================
QC001   error     no principal diagnosis (no ``maindiag_flag`` = 1)
QC002   error     more than one principal diagnosis
QC003   error     diagnosis code malformed (not ICD-10 医保版 shape)
QC004   error     diagnosis code unknown to the grouping scheme
QC005   error     principal diagnosis in no MDC 主诊表 (cannot be a principal)
QC006   error     procedure code malformed (not ICD-9-CM-3 医保版 shape)
QC007   warning   procedure code absent from the scheme's tables
QC008   error     sex missing or invalid
QC009   error     diagnosis conflicts with sex (male-only with female and vice versa,
                  pregnancy with male)
QC010   error     age missing; infant without age in days; neonate without birth weight
QC011   error     age conflict: perinatal principal diagnosis (P00–P96) at age ≥ 1 year
QC012   warning   age unusual for a pregnancy principal diagnosis (< 10 or > 60 years)
QC013   warning   birth weight outside 200–9,999 g
QC014   error     discharge before admission
QC015   warning   act_ipt_days differs from the dates
QC016   warning   a diagnosis code listed twice
======  ========  ==================================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from medroam.domain.drg.grouper import GroupCase
from medroam.domain.drg.scheme import Scheme
from medroam.domain.money import Fen

_DX_SHAPE = re.compile(r"[A-Z][0-9]{2}\.[0-9x]+(?:\+[A-Z][0-9]{2}(?:\.[0-9x]+)?\*)?")
_PX_SHAPE = re.compile(r"[0-9]{2}\.[0-9A-Za-z]{1,8}")


class QcSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class QcFinding:
    rule: str  # QC001 …
    severity: QcSeverity
    field: str  # interface field name, e.g. "diseinfo.diag_code"
    message: str
    code: str = ""  # the offending code, when there is one

    @property
    def blocking(self) -> bool:
        return self.severity is QcSeverity.ERROR


class QcStatus(StrEnum):
    """The list's overall QC result (4104 ``qc_stas``)."""

    PASSED = "passed"  # no finding: grouped
    WARNING = "warning"  # warnings only: grouped
    FAILED = "failed"  # at least one error: not grouped


def qc_status(findings: tuple[QcFinding, ...]) -> QcStatus:
    """``()`` → passed; only QC007/QC012/… warnings → warning; any error → failed."""
    if any(f.blocking for f in findings):
        return QcStatus.FAILED
    return QcStatus.WARNING if findings else QcStatus.PASSED


@dataclass(frozen=True, slots=True)
class ListDiagnosis:
    code: str  # diag_code (医保版 ICD-10)
    name: str = ""  # diag_name
    principal: bool = False  # maindiag_flag = 1


@dataclass(frozen=True, slots=True)
class ListProcedure:
    code: str  # oprn_oprt_code (医保版 ICD-9-CM-3)
    name: str = ""  # oprn_oprt_name
    principal: bool = False  # oprn_oprt_type = 1 (主要手术)
    day: date | None = None  # oprn_oprt_date


@dataclass(frozen=True, slots=True)
class SettlementList:
    setl_id: str  # setl_id 结算ID
    mdtrt_id: str  # mdtrt_id 就诊ID
    fixmedins_code: str  # fixmedins_code 定点医药机构编号
    insuplc: str  # insuplc 参保地 (region code)
    treatment_region: str  # 就医地 (the node's own region)
    gend: str  # gend: "1" male, "2" female
    age: int | None  # age in whole years
    nwb_age_days: int | None = None  # nwb_age 新生儿入院年龄 (days)
    nwb_bir_wt: int | None = None  # nwb_bir_wt 新生儿出生体重 (g)
    adm_time: date | None = None  # adm_time
    dscg_time: date | None = None  # dscg_time
    act_ipt_days: int | None = None  # act_ipt_days 实际住院天数
    dscg_way: str = ""  # dscg_way 离院方式
    diagnoses: tuple[ListDiagnosis, ...] = ()  # diseinfo
    procedures: tuple[ListProcedure, ...] = ()  # oprninfo
    medfee_sumamt: Fen = 0  # 医疗费总额
    psn_selfpay: Fen = 0  # 个人自付
    psn_ownpay: Fen = 0  # 个人自费

    def principal_diagnoses(self) -> tuple[ListDiagnosis, ...]:
        return tuple(d for d in self.diagnoses if d.principal)

    def to_group_case(self) -> GroupCase:
        """Principal diagnosis and principal procedure first, the rest in list order."""
        dx = sorted(self.diagnoses, key=lambda d: not d.principal)
        px = sorted(self.procedures, key=lambda p: not p.principal)
        sex = int(self.gend) if self.gend.isdigit() else None
        los = self.act_ipt_days
        return GroupCase(
            case_id=self.setl_id,
            sex=sex,
            age_years=self.age,
            age_days=self.nwb_age_days,
            weight_g=self.nwb_bir_wt,
            diagnoses=tuple(d.code for d in dx),
            procedures=tuple(p.code for p in px),
            los=los,
            leaving_type=self.dscg_way,
        )


def _sex_only_tables(scheme: Scheme) -> tuple[frozenset[str], frozenset[str]]:
    """(male-only codes, female-only codes) from the MDCM/MDCN/MDCO 主诊表."""
    tables = {m.letter: m.principal_dx or frozenset() for m in scheme.mdcs}
    male = tables.get("M", frozenset())
    female = tables.get("N", frozenset()) | tables.get("O", frozenset())
    return male - female, female - male


def quality_control(sl: SettlementList, scheme: Scheme) -> tuple[QcFinding, ...]:
    """Every finding on the list, in rule order."""
    out: list[QcFinding] = []
    E, W = QcSeverity.ERROR, QcSeverity.WARNING  # noqa: N806

    principal = sl.principal_diagnoses()
    if not principal:
        out.append(QcFinding("QC001", E, "diseinfo.maindiag_flag", "no principal diagnosis"))
    elif len(principal) > 1:
        codes = ", ".join(d.code for d in principal)
        out.append(
            QcFinding("QC002", E, "diseinfo.maindiag_flag", f"{len(principal)} principals: {codes}")
        )
    seen: set[str] = set()
    for d in sl.diagnoses:
        if not _DX_SHAPE.fullmatch(d.code):
            out.append(QcFinding("QC003", E, "diseinfo.diag_code", "malformed code", d.code))
        elif d.code not in scheme.known_diagnoses:
            out.append(
                QcFinding("QC004", E, "diseinfo.diag_code", f"unknown to {scheme.label}", d.code)
            )
        if d.code in seen:
            out.append(QcFinding("QC016", W, "diseinfo.diag_code", "listed twice", d.code))
        seen.add(d.code)
    if len(principal) == 1:
        pdx = principal[0].code
        in_tables = any(m.principal_dx is not None and pdx in m.principal_dx for m in scheme.mdcs)
        if pdx in scheme.known_diagnoses and not in_tables:
            out.append(
                QcFinding(
                    "QC005", E, "diseinfo.diag_code", "not valid as a principal diagnosis", pdx
                )
            )
    for p in sl.procedures:
        if not _PX_SHAPE.fullmatch(p.code):
            out.append(QcFinding("QC006", E, "oprninfo.oprn_oprt_code", "malformed code", p.code))
        elif p.code not in scheme.known_procedures:
            out.append(
                QcFinding("QC007", W, "oprninfo.oprn_oprt_code", f"not in {scheme.label}", p.code)
            )

    if sl.gend not in ("1", "2"):
        out.append(QcFinding("QC008", E, "setlinfo.gend", f"sex {sl.gend!r} is not 1 or 2"))
    else:
        male_only, female_only = _sex_only_tables(scheme)
        wrong = female_only if sl.gend == "1" else male_only
        who = "male" if sl.gend == "1" else "female"
        for d in sl.diagnoses:
            if d.code in wrong:
                out.append(
                    QcFinding("QC009", E, "diseinfo.diag_code", f"conflicts with sex {who}", d.code)
                )

    if sl.age is None:
        out.append(QcFinding("QC010", E, "setlinfo.age", "age is missing"))
    elif sl.age == 0 and sl.nwb_age_days is None:
        out.append(QcFinding("QC010", E, "setlinfo.nwb_age", "an infant needs the age in days"))
    elif (
        sl.age == 0
        and sl.nwb_age_days is not None
        and sl.nwb_age_days <= 28
        and (sl.nwb_bir_wt is None)
    ):
        out.append(QcFinding("QC010", E, "setlinfo.nwb_bir_wt", "a neonate needs a weight"))
    if sl.age is not None and len(principal) == 1:
        pdx = principal[0].code
        if pdx.startswith("P") and pdx[1:3].isdigit() and int(pdx[1:3]) <= 96 and sl.age >= 1:
            out.append(
                QcFinding("QC011", E, "setlinfo.age", f"perinatal diagnosis at age {sl.age}", pdx)
            )
        if pdx.startswith("O") and (sl.age < 10 or sl.age > 60):
            out.append(QcFinding("QC012", W, "setlinfo.age", f"pregnancy at age {sl.age}", pdx))
    if sl.nwb_bir_wt is not None and not 200 <= sl.nwb_bir_wt <= 9_999:
        out.append(QcFinding("QC013", W, "setlinfo.nwb_bir_wt", f"birth weight {sl.nwb_bir_wt} g"))
    if sl.adm_time is not None and sl.dscg_time is not None:
        if sl.dscg_time < sl.adm_time:
            out.append(QcFinding("QC014", E, "setlinfo.dscg_time", "discharge before admission"))
        elif sl.act_ipt_days is not None:
            days = max((sl.dscg_time - sl.adm_time).days, 1)
            if days != sl.act_ipt_days:
                out.append(
                    QcFinding(
                        "QC015",
                        W,
                        "setlinfo.act_ipt_days",
                        f"{sl.act_ipt_days} days, the dates give {days}",
                    )
                )
    out.sort(key=lambda f: f.rule)
    return tuple(out)
