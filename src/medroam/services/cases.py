"""Supervision cases (监管案件): open, move, show and list, each in one unit of work.

The workflow itself is ``domain/cases.py``; this module reads the settlement a case is
about (its parties and fund split), stores the case and every step, and on a decision
with an amount posts the balanced ledger entry (kind ``case``, on the settlement) and
writes the clearing adjustments (one negative row per ``fund_pay_type``). A refusal of
the workflow, an unknown case or settlement, or any failure leaves nothing written.
After earlier decisions on the same settlement, a decided amount is split over what each
fund has left.

Cross-region adjustments are clearing lines (``batch.lines.adjustment_lines``): the
next clearing run whose period covers the decision day takes them (sets ``run_id``),
deducting them from the hospital's payment and from what the place of insurance owes.
``clear`` is refused until that has happened; a local case has no clearing item.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from medroam.domain.calendar import DEFAULT_CALENDAR, WorkingDayCalendar
from medroam.domain.cases import (
    DEFAULT_PARAMS,
    TERMINAL,
    Action,
    Actor,
    Case,
    CaseParams,
    CaseRefusedError,
    CaseState,
    Decision,
    FindingRef,
    Origin,
    Parties,
    ResultType,
    Role,
    Transition,
    apply,
    decision_legs,
    open_case,
    split_pro_rata,
)
from medroam.domain.clearing.funds import MUTUAL_AID_FUND_PAY_TYPE
from medroam.domain.codes import FUND_EMPLOYEE_ACCOUNT
from medroam.services.errors import NotFoundError, RefusedError
from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow
from medroam.store.case_tables import CaseAdjustmentRow, CaseEventRow, CaseRow
from medroam.store.repositories import LedgerRepository, new_id
from medroam.store.tables import SettlementDetailRow, SettlementRow

CASE_ID_PREFIX = "CS"
_STATUS_LABELS = {"cancelled": "已取消的结算", "voided": "已作废的冲销记录"}
POSTING_KIND = "case"


@dataclass(frozen=True, slots=True)
class Adjustment:
    fund_pay_type: str
    amount: int  # fen, negative
    run_id: str | None


@dataclass(frozen=True, slots=True)
class CaseView:
    """A stored case with its steps and clearing adjustments."""

    case: Case
    appeal_working_days: int | None
    posting_id: int | None
    adjustments: tuple[Adjustment, ...]
    updated_at: datetime


def _refused(exc: CaseRefusedError) -> RefusedError:
    return RefusedError(str(exc))


def _settlement(session: Session, setl_id: str) -> SettlementRow:
    """The settlement in force a case is opened on, locked until the case is stored (one
    opening at a time per settlement, so two cannot both pass the check of ``_unended``)."""
    row = session.execute(
        select(SettlementRow).where(SettlementRow.setl_id == setl_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"结算 {setl_id} 不存在 / settlement {setl_id} not found")
    if row.refd_setl_flag or row.status != "valid":
        zh = "冲销记录" if row.refd_setl_flag else _STATUS_LABELS.get(row.status, row.status)
        en = "a reverse record" if row.refd_setl_flag else row.status
        raise RefusedError(
            f"结算 {setl_id} 为{zh}，案件须在有效的结算上立案 / settlement {setl_id} is {en}; "
            "a case is opened on a settlement in force"
        )
    return row


def fund_split(session: Session, setl_id: str) -> dict[str, int]:
    """What each fund paid for a settlement, by ``fund_pay_type`` (the personal account
    and mutual aid left out: they are the person's money, not a fund's)."""
    rows = session.execute(
        select(SettlementDetailRow.fund_pay_type, func.sum(SettlementDetailRow.paid))
        .where(
            SettlementDetailRow.setl_id == setl_id,
            SettlementDetailRow.fund_pay_type.not_in(
                [FUND_EMPLOYEE_ACCOUNT, MUTUAL_AID_FUND_PAY_TYPE]
            ),
        )
        .group_by(SettlementDetailRow.fund_pay_type)
    ).all()
    return {fpt: int(paid) for fpt, paid in rows if paid}


def open_new(
    engine: Engine,
    *,
    origin: Origin,
    finding: FindingRef,
    actor: Actor,
    at: datetime,
    note: str = "",
) -> CaseView:
    """Open a case on a settlement in force; its parties come from the settlement. The
    flagged amount may not exceed the settlement's total (medfee), and a second case on
    the same settlement and rule code is refused while the first has not ended."""
    with unit_of_work(engine) as session:
        return _open(session, origin, finding, actor, at, note)


def open_from_finding(
    engine: Engine, finding_id: int, *, actor: Actor, at: datetime, note: str = ""
) -> CaseView:
    """立案 from a stored audit finding (``audit_findings``), by the place of treatment:
    the case's settlement, rule, result type, flagged amount and evidence are the
    finding's (its evidence under ``evidence``, with its id, run and content); the note,
    if none is given, is the finding's content. A finding on an institution (no
    settlement) or without an amount is refused: such a case is opened by hand."""
    with unit_of_work(engine) as session:
        finding, content = _finding_ref(session, finding_id)
        return _open(session, Origin.FINDING, finding, actor, at, note or content[:500])


def _finding_ref(session: Session, finding_id: int) -> tuple[FindingRef, str]:
    """The reference a case keeps to a stored finding, and the finding's content."""
    row = session.get(AuditFindingRow, finding_id)
    if row is None:
        raise NotFoundError(f"审核疑点 {finding_id} 不存在 / finding {finding_id} not found")
    if not row.setl_id:
        raise RefusedError(
            f"审核疑点 {finding_id}（{row.rule_code} {row.rule_name}）是机构级疑点，没有单笔结算，"
            "不能据此立案；请手工立案，指定结算 / "
            f"finding {finding_id} is on an institution, not a settlement; open a case by hand "
            "on a settlement"
        )
    if row.amount <= 0:
        raise RefusedError(
            f"审核疑点 {finding_id} 没有涉及金额，不能据此立案；请手工立案 / "
            f"finding {finding_id} has no amount; open a case by hand"
        )
    try:
        result_type = ResultType.parse(row.result_type)
    except CaseRefusedError as exc:
        raise _refused(exc) from None
    evidence = {
        "finding_id": str(row.finding_id),
        "run_id": row.run_id,
        "content": row.content,
        "evidence": row.evidence,
    }
    ref = FindingRef(
        row.rule_code, row.rule_name, result_type, row.setl_id, int(row.amount), evidence
    )
    return ref, row.content


def _open(
    session: Session, origin: Origin, finding: FindingRef, actor: Actor, at: datetime, note: str
) -> CaseView:
    s = _settlement(session, finding.setl_id)
    parties = Parties(s.fixmedins_code, s.insured_region, s.treatment_region)
    case_id = new_id(CASE_ID_PREFIX, s.treatment_region, at)
    try:
        case = open_case(
            case_id,
            origin,
            finding,
            parties,
            actor,
            at,
            note,
            medfee=s.medfee,
            unended=_unended(session, finding.setl_id, finding.rule_code),
        )
    except CaseRefusedError as exc:
        raise _refused(exc) from None
    session.add(
        CaseRow(
            case_id=case_id,
            origin=origin.value,
            rule_code=finding.rule_code,
            rule_name=finding.rule_name,
            result_type=finding.result_type.value,
            setl_id=finding.setl_id,
            flagged_amount=finding.flagged_amount,
            evidence=dict(finding.evidence),
            fixmedins_code=parties.fixmedins_code,
            insured_region=parties.insured_region,
            treatment_region=parties.treatment_region,
            state=case.state.value,
            opened_at=at,
            updated_at=at,
        )
    )
    session.flush()
    _add_event(session, case_id, 1, case.history[0])
    return _view(session, _load(session, case_id))


def _unended(session: Session, setl_id: str, rule_code: str) -> list[str]:
    """The cases on a settlement for a rule code that have not ended, oldest first."""
    return list(
        session.execute(
            select(CaseRow.case_id)
            .where(
                CaseRow.setl_id == setl_id,
                CaseRow.rule_code == rule_code,
                CaseRow.state.not_in([state.value for state in TERMINAL]),
            )
            .order_by(CaseRow.opened_at, CaseRow.case_id)
        ).scalars()
    )


def move(
    engine: Engine,
    case_id: str,
    action: Action,
    actor: Actor,
    at: datetime,
    *,
    note: str = "",
    decision: Decision | None = None,
    amount: int | None = None,
    params: CaseParams = DEFAULT_PARAMS,
    calendar: WorkingDayCalendar = DEFAULT_CALENDAR,
) -> CaseView:
    """Take one step of a case (refused as a whole if the workflow does not allow it)."""
    with unit_of_work(engine) as session:
        row = _load(session, case_id, lock=True)
        before = _case_of(session, row)
        if action is Action.DECIDE:  # one decision at a time per settlement
            session.execute(
                select(SettlementRow.setl_id)
                .where(SettlementRow.setl_id == row.setl_id)
                .with_for_update()
            )
        split = fund_split(session, row.setl_id)
        taken = _taken(session, row.setl_id)
        try:
            after = apply(
                before,
                action,
                actor,
                at,
                note=note,
                decision=decision,
                amount=amount,
                fund_paid=sum(split.values()) - sum(taken.values()),
                params=params,
                calendar=calendar,
            )
        except CaseRefusedError as exc:
            raise _refused(exc) from None
        if action is Action.CLEAR:
            _check_taken(session, row)
        row.state = after.state.value
        row.updated_at = at
        if action is Action.NOTIFY:
            row.appeal_working_days = params.appeal_working_days
            row.appeal_deadline = after.appeal_deadline
        if action is Action.DECIDE:
            row.decision = after.decision.value if after.decision else None
            row.decided_amount = after.decided_amount
            if after.decided_amount:
                row.posting_id = _post_decision(session, row, after, split, taken, at)
        _add_event(session, case_id, len(after.history), after.history[-1])
        return _view(session, row)


def _check_taken(session: Session, row: CaseRow) -> None:
    """A cross-region case is cleared once a clearing run has taken its adjustments."""
    if row.insured_region == row.treatment_region:
        return  # local care: no inter-region clearing item
    untaken = session.execute(
        select(func.count())
        .select_from(CaseAdjustmentRow)
        .where(CaseAdjustmentRow.case_id == row.case_id, CaseAdjustmentRow.run_id.is_(None))
    ).scalar_one()
    if untaken:
        raise RefusedError(
            f"案件 {row.case_id}：尚有 {untaken} 笔清算调整未被清算批次纳入；请先清算包含处理"
            f"决定日的期间 / case {row.case_id}: {untaken} clearing adjustment(s) not yet taken "
            "by a clearing run; clear the period that covers the decision day first"
        )


def _taken(session: Session, setl_id: str) -> dict[str, int]:
    """What earlier decisions on the settlement already took back, by fund_pay_type."""
    rows = session.execute(
        select(CaseAdjustmentRow.fund_pay_type, func.sum(CaseAdjustmentRow.amount))
        .where(CaseAdjustmentRow.setl_id == setl_id)
        .group_by(CaseAdjustmentRow.fund_pay_type)
    ).all()
    return {fpt: -int(total) for fpt, total in rows}


def _post_decision(
    session: Session,
    row: CaseRow,
    case: Case,
    split: Mapping[str, int],
    taken: Mapping[str, int],
    at: datetime,
) -> int:
    amount = case.decided_amount or 0
    # over what each fund has left after earlier decisions: the parts then fit each fund
    # (the domain keeps the amount within their sum); without them, the fund split itself
    left = {fpt: paid - taken.get(fpt, 0) for fpt, paid in split.items()}
    parts = split_pro_rata(amount, left)
    posting_id = LedgerRepository(session).post(
        row.setl_id, POSTING_KIND, decision_legs(parts, case.parties), at
    )
    for fpt, part in sorted(parts.items()):
        session.add(
            CaseAdjustmentRow(
                case_id=row.case_id,
                setl_id=row.setl_id,
                fixmedins_code=row.fixmedins_code,
                insured_region=row.insured_region,
                treatment_region=row.treatment_region,
                fund_pay_type=fpt,
                amount=-part,
                created_at=at,
                run_id=None,
            )
        )
    session.flush()
    return posting_id


def get(engine: Engine, case_id: str) -> CaseView:
    with unit_of_work(engine) as session:
        return _view(session, _load(session, case_id))


def list_cases(
    engine: Engine,
    *,
    state: CaseState | None = None,
    fixmedins_code: str | None = None,
    region: str | None = None,
    limit: int = 200,
) -> list[CaseView]:
    """Cases, newest first; ``region`` matches the place of treatment or of insurance."""
    query = select(CaseRow).order_by(CaseRow.opened_at.desc(), CaseRow.case_id).limit(limit)
    if state is not None:
        query = query.where(CaseRow.state == state.value)
    if fixmedins_code is not None:
        query = query.where(CaseRow.fixmedins_code == fixmedins_code)
    if region is not None:
        query = query.where(
            (CaseRow.treatment_region == region) | (CaseRow.insured_region == region)
        )
    with unit_of_work(engine) as session:
        return [_view(session, row) for row in session.execute(query).scalars()]


def pending_adjustments(engine: Engine) -> list[dict[str, Any]]:
    """Cross-region clearing adjustments that no clearing run has taken yet."""
    with unit_of_work(engine) as session:
        rows = session.execute(
            select(CaseAdjustmentRow)
            .where(
                CaseAdjustmentRow.run_id.is_(None),
                CaseAdjustmentRow.insured_region != CaseAdjustmentRow.treatment_region,
            )
            .order_by(CaseAdjustmentRow.adjustment_id)
        ).scalars()
        return [
            {
                "case_id": r.case_id,
                "setl_id": r.setl_id,
                "fixmedins_code": r.fixmedins_code,
                "insured_region": r.insured_region,
                "treatment_region": r.treatment_region,
                "fund_pay_type": r.fund_pay_type,
                "amount": r.amount,
            }
            for r in rows
        ]


# --- rows ↔ domain -----------------------------------------------------------------------


def _load(session: Session, case_id: str, *, lock: bool = False) -> CaseRow:
    query = select(CaseRow).where(CaseRow.case_id == case_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"案件 {case_id} 不存在 / case {case_id} not found")
    return row


def _add_event(session: Session, case_id: str, seq: int, step: Transition) -> None:
    session.add(
        CaseEventRow(
            case_id=case_id,
            seq=seq,
            action=step.action.value,
            actor=step.actor,
            role=step.role.value,
            from_state=step.from_state.value if step.from_state else None,
            to_state=step.to_state.value,
            at=step.at,
            note=step.note,
        )
    )
    session.flush()


def _case_of(session: Session, row: CaseRow) -> Case:
    events = session.execute(
        select(CaseEventRow).where(CaseEventRow.case_id == row.case_id).order_by(CaseEventRow.seq)
    ).scalars()
    history = tuple(
        Transition(
            Action(e.action),
            e.actor,
            Role(e.role),
            e.at,
            CaseState(e.from_state) if e.from_state else None,
            CaseState(e.to_state),
            e.note,
        )
        for e in events
    )
    return Case(
        case_id=row.case_id,
        origin=Origin(row.origin),
        finding=FindingRef(
            row.rule_code,
            row.rule_name,
            ResultType(row.result_type),
            row.setl_id,
            row.flagged_amount,
            row.evidence,
        ),
        parties=Parties(row.fixmedins_code, row.insured_region, row.treatment_region),
        state=CaseState(row.state),
        opened_at=row.opened_at,
        appeal_deadline=row.appeal_deadline,
        decision=Decision(row.decision) if row.decision else None,
        decided_amount=row.decided_amount,
        history=history,
    )


def _view(session: Session, row: CaseRow) -> CaseView:
    adjustments = session.execute(
        select(CaseAdjustmentRow)
        .where(CaseAdjustmentRow.case_id == row.case_id)
        .order_by(CaseAdjustmentRow.fund_pay_type)
    ).scalars()
    return CaseView(
        case=_case_of(session, row),
        appeal_working_days=row.appeal_working_days,
        posting_id=row.posting_id,
        adjustments=tuple(Adjustment(a.fund_pay_type, a.amount, a.run_id) for a in adjustments),
        updated_at=row.updated_at,
    )


def deadline_text(deadline: date | None) -> str:
    return deadline.isoformat() if deadline else "—"


__all__: Sequence[str] = (
    "Adjustment",
    "CaseView",
    "fund_split",
    "get",
    "list_cases",
    "move",
    "open_from_finding",
    "open_new",
    "pending_adjustments",
)
