"""Audit rule metadata (规则元数据), the facts a rule reads and the findings it gives.

The metadata follows the national 《规则分类与释义》 fields (shared/docs/supervision.md
§1.3): result type, time window, scenario, stage, insurance types, severity; ``action``
says what the settlement does with a finding (warn, or refuse at 2207/2304).
Amounts are integer fen, quantities integer ten-thousandths, prices micro-yuan, as in
``domain.catalogue``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from medroam.domain.money import Fen


class ResultType(StrEnum):
    """规则运行结果类型."""

    VIOLATION = "明确违规"
    SUSPECT = "可疑"


class TimeWindow(StrEnum):
    """时间区间: the span a rule looks at."""

    OUTPATIENT_VISIT = "当次门诊"
    INPATIENT_STAY = "当次住院"
    DAY = "单日"
    MONTH = "自然月"
    YEAR = "自然年"
    DAYS = "滚动天数"  # a rolling number of days given by the rule's parameters


class Scenario(StrEnum):
    """应用场景."""

    INPATIENT = "住院"
    OUTPATIENT = "门诊"
    PHARMACY = "购药"
    CROSS_REGION = "异地就医"


class Stage(StrEnum):
    """监管环节."""

    BEFORE = "事前"
    DURING = "事中"
    AFTER = "事后"


class Action(StrEnum):
    """What settlement does with a finding: warn (提醒) or refuse (拦截); 协查 refers it."""

    WARN = "warn"
    REFUSE = "refuse"
    REFER = "refer"  # 协查: sent to the other place for a joint check


class Severity(StrEnum):
    """sev_deg 严重程度 (1 slight … 3 severe)."""

    LOW = "1"
    MEDIUM = "2"
    HIGH = "3"


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """The national metadata every rule carries."""

    code: str  # rule_id, e.g. GZ10000101001000 or a local code
    name: str  # rule_name
    result_type: ResultType
    window: TimeWindow
    scenarios: frozenset[Scenario]
    stages: frozenset[Stage]
    insutypes: frozenset[str]  # 310, 390 …; empty = every insurance type
    severity: Severity
    action: Action
    behaviour: str  # vola_bhvr_type 违规行为类型, e.g. 重复收费


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: its metadata, the mechanism that evaluates it and its parameters.

    ``params`` is the mechanism's own typed parameter object (see ``mechanisms``).
    """

    meta: RuleMeta
    mechanism: str
    params: object
    region: str  # the region whose library holds it (000000 = national)
    effective_from: date
    effective_to: date | None = None  # exclusive
    synthetic: bool = True

    def in_force(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One fee line as the audit sees it."""

    line_id: str  # feedetl_sn / rx_id
    code: str  # med_list_codg
    quantity: int  # cnt, ten-thousandths
    unit_price: int  # pric, micro-yuan
    amount: Fen  # det_item_fee_sumamt, fen
    charge_date: date  # fee_ocur_time (date)


@dataclass(frozen=True, slots=True)
class AuditVisit:
    """One visit or stay with what the rules read about the person and the place."""

    visit_id: str  # mdtrt_id
    psn_no: str
    gender: str  # gend: 1 male, 2 female
    age: int  # on the visit (admission) date
    insutype: str
    scenario: Scenario  # 住院 / 门诊 / 购药
    institution_code: str
    institution_level: str  # InstitutionLevel value (1, 2, 3, 9)
    treatment_region: str
    insured_region: str
    begin: date
    end: date  # discharge date (= begin for an outpatient visit or a purchase)
    diagnoses: tuple[str, ...] = ()  # ICD-10 codes, main first
    procedures: tuple[str, ...] = ()  # ICD-9-CM-3 codes
    total: Fen = 0  # medfee_sumamt of the visit (0 = sum of lines)

    @property
    def cross_region(self) -> bool:
        return self.treatment_region != self.insured_region


@dataclass(frozen=True, slots=True)
class Bill:
    """The visit and its lines: what a pre/during settlement audit reads."""

    visit: AuditVisit
    lines: tuple[AuditLine, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule hit (judge result). ``line_ids`` are the violating lines (违规项),
    ``related_ids`` the lines that are only involved (涉及项)."""

    rule: RuleMeta
    visit_id: str
    psn_no: str
    content: str  # vola_cont, zh-CN
    amount: Fen  # vola_amt
    line_ids: tuple[str, ...] = ()
    related_ids: tuple[str, ...] = ()
    evidence: Mapping[str, str] = field(default_factory=dict)  # vola_evid
    institution_code: str = ""
