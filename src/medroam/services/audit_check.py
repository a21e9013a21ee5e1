"""Real-time audit (事前/事中 智能审核) on the settlement path and for 3101/3102.

The settlement path has already loaded the visit, its unsettled fee lines, the person
and the institution; :func:`bill_of_visit` turns them into a domain ``Bill`` without
any further SQL. :func:`audit` runs the *bill* rules in force at the place of treatment
for the stage (事中 at 2206/2207/2303/2304; 事前 for 3101) on the day.

History rules (分解住院, 频繁就诊, 同时多地结算) are NOT run here: they need the person's
visits of a period (and, for overlaps, other regions' settlements), which is one more
query per settlement and, for the overlap rule, data the place of treatment does not
hold. They stay with the batch audit (事后, ``medroam audit run``); see
docs/audit-realtime.md.

The rule book is the packaged library (``refdata.audit_rules.load_rule_book``), parsed
once per process; its selection per (region, day, stage) is cached by ``RuleBook``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from medroam.domain.audit.engine import RuleBook, audit_bill
from medroam.domain.audit.mechanisms import Kind
from medroam.domain.audit.model import (
    Action,
    AuditLine,
    AuditVisit,
    Bill,
    Finding,
    Scenario,
    Stage,
)
from medroam.domain.codes import MED_TYPE_PHARMACY
from medroam.domain.money import format_yuan
from medroam.refdata.audit_rules import load_rule_book
from medroam.store.repositories import LineLike, VisitLike

__all__ = [
    "BILL",
    "Stage",
    "audit",
    "bill_of_visit",
    "jr_id",
    "refusal_text",
    "refusals",
    "rule_book",
    "warning_text",
]

INPATIENT_KIND = "inpatient"
BILL = Kind.BILL  # the only kind of rule run on the settlement path


def rule_book(override: object = None) -> RuleBook:
    """The rule book to use: ``override`` when it is one (tests, a region's own
    library), else the packaged library (parsed once per process)."""
    if isinstance(override, RuleBook):
        return override
    return load_rule_book()


def scenario_of(kind: str, med_type: str) -> Scenario:
    if kind == INPATIENT_KIND:
        return Scenario.INPATIENT
    if med_type == MED_TYPE_PHARMACY:
        return Scenario.PHARMACY
    return Scenario.OUTPATIENT


def _unique(codes: Iterable[str | None]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for code in codes:
        if code:
            seen.setdefault(code, None)
    return tuple(seen)


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the audit reads of the person: sex (gend) and age on the visit date."""

    psn_no: str
    gender: str
    age: int
    insutype: str
    insured_region: str


def bill_of_visit(
    visit: VisitLike,
    lines: Sequence[LineLike],
    person: PersonFacts,
    *,
    treatment_region: str,
    med_type: str,
    until: date,
) -> Bill:
    """The domain bill of a visit being (pre-)settled. Diagnoses: the visit's main
    diagnosis (2402 / 2203) and disease code, then the lines' ``dise_codg``; ``until``
    ends a stay that has no discharge yet (a mid-stay settlement)."""
    audit_lines = tuple(
        AuditLine(
            line_id=ln.feedetl_sn,
            code=ln.med_list_codg,
            quantity=ln.quantity,
            unit_price=ln.unit_price,
            amount=ln.amount,
            charge_date=ln.fee_ocur_time.date(),
        )
        for ln in lines
    )
    begin = visit.begin_time.date()
    end = visit.end_time.date() if visit.end_time is not None else max(begin, until)
    if visit.kind != INPATIENT_KIND:
        end = begin
    diagnoses = _unique([visit.main_diag_code, visit.dise_codg, *(ln.dise_codg for ln in lines)])
    return Bill(
        visit=AuditVisit(
            visit_id=visit.mdtrt_id,
            psn_no=person.psn_no,
            gender=person.gender,
            age=person.age,
            insutype=person.insutype,
            scenario=scenario_of(visit.kind, med_type),
            institution_code=visit.fixmedins_code,
            institution_level=visit.institution_level,
            treatment_region=treatment_region,
            insured_region=person.insured_region,
            begin=begin,
            end=end,
            diagnoses=diagnoses,
            total=sum(li.amount for li in audit_lines),
        ),
        lines=audit_lines,
    )


def audit(book: RuleBook, bill: Bill, stage: Stage, day: date) -> tuple[Finding, ...]:
    """The bill rules in force for ``stage`` at the place of treatment on ``day``."""
    return tuple(audit_bill(book, bill, stage, day))


def refusals(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.rule.action is Action.REFUSE]


def _one(f: Finding) -> str:
    return f"{f.rule.code} {f.rule.name}：{f.content}（涉及金额 {format_yuan(f.amount)} 元）"


def refusal_text(found: Sequence[Finding]) -> str:
    """The err_msg of a settlement refused by the audit (zh-CN): the first refusing
    rule's code, name and finding, and how many more refuse (err_msg is C(200))."""
    more = f"；另有 {len(found) - 1} 条拒绝结算的审核结果" if len(found) > 1 else ""
    return f"智能审核拒绝结算：{_one(found[0])}{more}"


def warning_text(found: Sequence[Finding]) -> str:
    """warn_msg of a pre-settlement: every finding, those that will refuse marked."""
    parts = []
    for f in found:
        mark = "【结算时将拒绝】" if f.rule.action is Action.REFUSE else ""
        parts.append(mark + _one(f))
    return "智能审核提醒：" + "；".join(parts)


def jr_id(f: Finding) -> str:
    """判断结果 id: the rule code, '-', and 12 hex of a hash of the visit and lines, so
    the same bill gives the same id (3103 names it back)."""
    key = "|".join((f.visit_id, f.rule.code, *f.line_ids, *f.related_ids))
    return f"{f.rule.code}-{hashlib.sha1(key.encode()).hexdigest()[:12]}"
