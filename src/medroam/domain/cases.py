"""Supervision cases (监管案件): the officer workflow, who may do what, and the money.

A case starts from a finding of the audit (a generic reference: rule code and name,
result type 明确违规 / 可疑, the settlement, the flagged amount, evidence) opened by the
place of treatment, or by hand by the place of insurance (协查, assisted investigation).
The national skeleton (supervision.md §4) is flag → 初审 → 复审 → 申诉 → 处理::

    open ─start─▶ initial_review ─escalate─▶ re_review ─notify─▶ notified
    notified ─appeal (within N working days)─▶ appealed
    notified ─expire (after the N-th working day)─▶ window_expired
    appealed | window_expired ─decide─▶ decided (upheld | partial | withdrawn)
    re_review ─decide─▶ decided            (明确违规 only, when the parameter allows it)
    initial_review | re_review ─decide withdrawn─▶ decided (nothing to answer)
    decided ─deduct (拒付) | recover (追回)─▶ deducted | recovered ─clear─▶ cleared
    decided (withdrawn) ─close─▶ closed
    any state before decided ─refer (移送)─▶ referred

Roles: the place of treatment's agency owns the case (就医地经办机构), the place of
insurance's agency co-reviews and may open a 协查 case (参保地经办机构), the institution
answers and appeals (定点医药机构). Each actor acts for a set of regions (agencies) or
institution codes; an actor acting for the wrong party, a wrong role or a step out of
order is refused with :class:`CaseRefusedError` naming what was expected.

Money: the decided amount (at most the flagged amount and at most what the funds paid
for the settlement less what earlier decisions took back) is split over the fund split
by ``fund_pay_type``, pro rata with the largest remainder so the parts sum to the fen
(:func:`split_pro_rata`). An upheld decision takes the flagged amount, or what the funds
can still give back when that is less (:func:`upheld_amount`), the reason in its note.
Fines (罚款) are not part of a case's money and never a clearing item.
Pure: no I/O; timestamps are aware datetimes, days are China (UTC+8) dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

from medroam.domain.calendar import DEFAULT_CALENDAR, WorkingDayCalendar
from medroam.domain.money import format_yuan

CHINA = timezone(timedelta(hours=8), "CST")


class CaseRefusedError(ValueError):
    """A case operation that the workflow does not allow; the message says why, in
    zh-CN first and English after (:func:`refusal`)."""


def refusal(zh: str, en: str) -> CaseRefusedError:
    """A refusal told in zh-CN first, then in English: ``"zh / en"``."""
    return CaseRefusedError(f"{zh} / {en}")


class CaseState(StrEnum):
    OPEN = "open"
    INITIAL_REVIEW = "initial_review"
    RE_REVIEW = "re_review"
    NOTIFIED = "notified"
    APPEALED = "appealed"
    WINDOW_EXPIRED = "window_expired"
    DECIDED = "decided"
    DEDUCTED = "deducted"
    RECOVERED = "recovered"
    CLEARED = "cleared"
    CLOSED = "closed"
    REFERRED = "referred"


STATE_LABELS: Mapping[CaseState, str] = {
    CaseState.OPEN: "待审核",
    CaseState.INITIAL_REVIEW: "初审",
    CaseState.RE_REVIEW: "复审",
    CaseState.NOTIFIED: "已告知机构",
    CaseState.APPEALED: "已申诉",
    CaseState.WINDOW_EXPIRED: "申诉期满",
    CaseState.DECIDED: "已处理决定",
    CaseState.DEDUCTED: "已拒付",
    CaseState.RECOVERED: "已追回",
    CaseState.CLEARED: "已清算",
    CaseState.CLOSED: "已结案(撤销)",
    CaseState.REFERRED: "已移送",
}


class Role(StrEnum):
    TREATMENT = "treatment"  # 就医地经办机构, the owner
    INSURANCE = "insurance"  # 参保地经办机构, the co-reviewer
    INSTITUTION = "institution"  # 定点医药机构, the respondent


ROLE_LABELS: Mapping[Role, str] = {
    Role.TREATMENT: "就医地经办机构",
    Role.INSURANCE: "参保地经办机构",
    Role.INSTITUTION: "定点医药机构",
}


class ResultType(StrEnum):
    VIOLATION = "violation"  # 明确违规
    SUSPICIOUS = "suspicious"  # 可疑

    @classmethod
    def parse(cls, value: str) -> ResultType:
        for member, label in RESULT_TYPE_LABELS.items():
            if value in (member.value, label):
                return member
        raise refusal(
            f"结果类型 {value!r} 应为 明确违规 (violation) 或 可疑 (suspicious)",
            f"result_type {value!r} is not 明确违规 (violation) or 可疑 (suspicious)",
        )


RESULT_TYPE_LABELS: Mapping[ResultType, str] = {
    ResultType.VIOLATION: "明确违规",
    ResultType.SUSPICIOUS: "可疑",
}


class Origin(StrEnum):
    FINDING = "finding"  # 审核疑点 / 违规
    ASSIST = "assist"  # 协查, opened by the place of insurance


ORIGIN_LABELS: Mapping[Origin, str] = {Origin.FINDING: "审核发现", Origin.ASSIST: "参保地协查"}


class Decision(StrEnum):
    UPHELD = "upheld"  # 维持
    PARTIAL = "partial"  # 部分维持
    WITHDRAWN = "withdrawn"  # 撤销


DECISION_LABELS: Mapping[Decision, str] = {
    Decision.UPHELD: "维持",
    Decision.PARTIAL: "部分维持",
    Decision.WITHDRAWN: "撤销",
}


class Action(StrEnum):
    OPEN = "open"  # 立案 (open_case only)
    START = "start"  # 开始初审
    ESCALATE = "escalate"  # 初审通过, 提交复审
    NOTIFY = "notify"  # 告知机构
    APPEAL = "appeal"  # 机构申诉
    EXPIRE = "expire"  # 申诉期满
    DECIDE = "decide"  # 处理决定
    DEDUCT = "deduct"  # 拒付
    RECOVER = "recover"  # 追回
    CLEAR = "clear"  # 已清算
    CLOSE = "close"  # 结案
    REFER = "refer"  # 移送
    COMMENT = "comment"  # 意见 (no change of state)


ACTION_LABELS: Mapping[Action, str] = {
    Action.OPEN: "立案",
    Action.START: "开始初审",
    Action.ESCALATE: "提交复审",
    Action.NOTIFY: "告知机构",
    Action.APPEAL: "申诉",
    Action.EXPIRE: "申诉期满",
    Action.DECIDE: "处理决定",
    Action.DEDUCT: "拒付",
    Action.RECOVER: "追回",
    Action.CLEAR: "清算",
    Action.CLOSE: "结案",
    Action.REFER: "移送",
    Action.COMMENT: "意见",
}

_BEFORE_DECISION = frozenset(
    {
        CaseState.OPEN,
        CaseState.INITIAL_REVIEW,
        CaseState.RE_REVIEW,
        CaseState.NOTIFIED,
        CaseState.APPEALED,
        CaseState.WINDOW_EXPIRED,
    }
)
TERMINAL = frozenset({CaseState.CLEARED, CaseState.CLOSED, CaseState.REFERRED})

# action → (states it may start from, roles that may take it, state it leads to)
_RULES: Mapping[Action, tuple[frozenset[CaseState], frozenset[Role], CaseState | None]] = {
    Action.START: (
        frozenset({CaseState.OPEN}),
        frozenset({Role.TREATMENT}),
        CaseState.INITIAL_REVIEW,
    ),
    Action.ESCALATE: (
        frozenset({CaseState.INITIAL_REVIEW}),
        frozenset({Role.TREATMENT}),
        CaseState.RE_REVIEW,
    ),
    Action.NOTIFY: (
        frozenset({CaseState.RE_REVIEW}),
        frozenset({Role.TREATMENT}),
        CaseState.NOTIFIED,
    ),
    Action.APPEAL: (
        frozenset({CaseState.NOTIFIED}),
        frozenset({Role.INSTITUTION}),
        CaseState.APPEALED,
    ),
    Action.EXPIRE: (
        frozenset({CaseState.NOTIFIED}),
        frozenset({Role.TREATMENT}),
        CaseState.WINDOW_EXPIRED,
    ),
    Action.DECIDE: (
        frozenset(
            {
                CaseState.INITIAL_REVIEW,
                CaseState.RE_REVIEW,
                CaseState.APPEALED,
                CaseState.WINDOW_EXPIRED,
            }
        ),
        frozenset({Role.TREATMENT}),
        CaseState.DECIDED,
    ),
    Action.DEDUCT: (
        frozenset({CaseState.DECIDED}),
        frozenset({Role.TREATMENT}),
        CaseState.DEDUCTED,
    ),
    Action.RECOVER: (
        frozenset({CaseState.DECIDED}),
        frozenset({Role.TREATMENT}),
        CaseState.RECOVERED,
    ),
    Action.CLEAR: (
        frozenset({CaseState.DEDUCTED, CaseState.RECOVERED}),
        frozenset({Role.TREATMENT}),
        CaseState.CLEARED,
    ),
    Action.CLOSE: (frozenset({CaseState.DECIDED}), frozenset({Role.TREATMENT}), CaseState.CLOSED),
    Action.REFER: (
        _BEFORE_DECISION,
        frozenset({Role.TREATMENT, Role.INSURANCE}),
        CaseState.REFERRED,
    ),
    Action.COMMENT: (
        frozenset(CaseState) - TERMINAL,
        frozenset({Role.TREATMENT, Role.INSURANCE, Role.INSTITUTION}),
        None,
    ),
}


@dataclass(frozen=True, slots=True)
class CaseParams:
    """Local parameters of the workflow (time limits are set locally, supervision §4)."""

    appeal_working_days: int = 10
    violation_skips_appeal: bool = True  # 明确违规 may be decided right after 复审

    def __post_init__(self) -> None:
        if not 1 <= self.appeal_working_days <= 90:
            raise ValueError(
                f"申诉期限应为 1 至 90 个工作日，收到 {self.appeal_working_days} / "
                f"appeal_working_days must be 1..90 working days, got {self.appeal_working_days}"
            )


DEFAULT_PARAMS = CaseParams()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person of a role, acting for some regions (agencies) or institution
    codes (an institution)."""

    name: str
    role: Role
    acts_for: frozenset[str]


@dataclass(frozen=True, slots=True)
class FindingRef:
    """What the case is about: a generic reference to an audit finding (or a 协查 flag)."""

    rule_code: str
    rule_name: str
    result_type: ResultType
    setl_id: str
    flagged_amount: int  # fen
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rule_code.strip():
            raise refusal("规则编码不能为空", "rule_code must not be empty")
        if not self.setl_id.strip():
            raise refusal("结算ID不能为空", "setl_id must not be empty")
        if self.flagged_amount <= 0:
            amount = format_yuan(self.flagged_amount)
            raise refusal(
                f"疑点金额应大于 0 元，收到 {amount} 元",
                f"flagged_amount must be positive, got {amount} 元",
            )


@dataclass(frozen=True, slots=True)
class Parties:
    """The settlement's parties, read from the settlement."""

    fixmedins_code: str
    insured_region: str
    treatment_region: str

    @property
    def cross_region(self) -> bool:
        return self.insured_region != self.treatment_region


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    actor: str
    role: Role
    at: datetime  # aware
    from_state: CaseState | None
    to_state: CaseState
    note: str


@dataclass(frozen=True, slots=True)
class Case:
    case_id: str
    origin: Origin
    finding: FindingRef
    parties: Parties
    state: CaseState
    opened_at: datetime
    appeal_deadline: date | None = None
    decision: Decision | None = None
    decided_amount: int | None = None
    history: tuple[Transition, ...] = ()

    @property
    def upheld_capped(self) -> bool:
        """An upheld decision that recovers less than the flagged amount: the funds could
        give back no more (:func:`upheld_amount`)."""
        return (
            self.decision is Decision.UPHELD
            and self.decided_amount is not None
            and self.decided_amount < self.finding.flagged_amount
        )


def actions_for(state: CaseState, role: Role) -> list[Action]:
    """The steps ``role`` may take on a case in ``state`` (in workflow order); a screen
    offers these and nothing else. Dates and amounts are still checked by ``apply``."""
    return [a for a, (sources, roles, _t) in _RULES.items() if state in sources and role in roles]


def china_day(at: datetime) -> date:
    if at.tzinfo is None or at.utcoffset() is None:
        raise refusal(
            f"时间 {at.isoformat()} 须带时区", f"timestamp {at.isoformat()} must be timezone-aware"
        )
    return at.astimezone(CHINA).date()


def _party_of(role: Role, parties: Parties) -> str:
    if role is Role.TREATMENT:
        return parties.treatment_region
    if role is Role.INSURANCE:
        return parties.insured_region
    return parties.fixmedins_code


def _check_acts_for(actor: Actor, parties: Parties) -> None:
    party = _party_of(actor.role, parties)
    if party not in actor.acts_for:
        label = ROLE_LABELS[actor.role]
        raise refusal(
            f"{actor.name}（{label}）不代表本案件的{label} {party}，"
            f"其代表 {'、'.join(sorted(actor.acts_for))}",
            f"{actor.name} ({label}) does not act for {party}, "
            f"the case's {label}; acts for {sorted(actor.acts_for)}",
        )


def open_case(
    case_id: str,
    origin: Origin,
    finding: FindingRef,
    parties: Parties,
    actor: Actor,
    at: datetime,
    note: str = "",
    *,
    medfee: int | None = None,
    unended: Sequence[str] = (),
) -> Case:
    """A new case in state ``open``: from a finding by the place of treatment, or a 协查
    case by the place of insurance.

    ``medfee`` is the settlement's total (medfee_sumamt, fen): the flagged amount may not
    exceed it. ``unended`` are the ids of the cases on the same settlement and rule code
    that have not ended (not cleared, closed or referred): while one is, no second case
    is opened. Example: on a settlement of 1,315.08 元, a flagged 99,999,999.00 元 is
    refused, 1,315.08 元 is not.
    """
    china_day(at)
    expected = Role.TREATMENT if origin is Origin.FINDING else Role.INSURANCE
    if actor.role is not expected:
        raise refusal(
            f"{ORIGIN_LABELS[origin]}案件由{ROLE_LABELS[expected]}立案，"
            f"{actor.name}（{ROLE_LABELS[actor.role]}）不能立案",
            f"a {ORIGIN_LABELS[origin]} case is opened by {ROLE_LABELS[expected]}, "
            f"not by {actor.name} ({ROLE_LABELS[actor.role]})",
        )
    _check_acts_for(actor, parties)
    setl = finding.setl_id
    if medfee is not None and finding.flagged_amount > medfee:
        flagged, total = format_yuan(finding.flagged_amount), format_yuan(medfee)
        raise refusal(
            f"疑点金额 {flagged} 元超过结算 {setl} 的医疗费总额 {total} 元，不能立案",
            f"flagged amount {flagged} 元 is above settlement {setl}'s total "
            f"(medfee_sumamt) {total} 元",
        )
    if unended:
        ids = "、".join(unended)
        raise refusal(
            f"结算 {setl} 的规则 {finding.rule_code} 已有未结案件 {ids}，不能重复立案；"
            "请在该案件中办理",
            f"settlement {setl} already has a case for rule {finding.rule_code} that has not "
            f"ended: {', '.join(unended)}",
        )
    opened = Transition(Action.OPEN, actor.name, actor.role, at, None, CaseState.OPEN, note)
    return Case(case_id, origin, finding, parties, CaseState.OPEN, at, history=(opened,))


def apply(
    case: Case,
    action: Action,
    actor: Actor,
    at: datetime,
    *,
    note: str = "",
    decision: Decision | None = None,
    amount: int | None = None,
    fund_paid: int | None = None,
    params: CaseParams = DEFAULT_PARAMS,
    calendar: WorkingDayCalendar = DEFAULT_CALENDAR,
) -> Case:
    """The case after ``action`` by ``actor`` at ``at``; :class:`CaseRefusedError` if not allowed.

    ``decide`` needs ``decision``. Partial needs ``amount`` (fen, below the flagged
    amount and ≤ ``fund_paid``, what the funds paid for the settlement less what earlier
    decisions took back); upheld takes :func:`upheld_amount` (``amount`` may be left out,
    and is refused if it differs), and when that is less than the flagged amount the
    reason is added to the step's note in zh-CN; withdrawn takes nothing.
    """
    day = china_day(at)
    if action not in _RULES:
        raise refusal(
            f"案件 {case.case_id}：{ACTION_LABELS[action]} 不是已立案案件的办理步骤",
            f"case {case.case_id}: {action.value} is not a step of an open case",
        )
    sources, roles, target = _RULES[action]
    label = ACTION_LABELS[action]
    if case.state not in sources:
        allowed = ", ".join(f"{s.value} ({STATE_LABELS[s]})" for s in sorted(sources))
        allowed_zh = "、".join(STATE_LABELS[s] for s in sorted(sources))
        raise refusal(
            f"案件 {case.case_id}：{STATE_LABELS[case.state]}状态下不能{label}，"
            f"{label}须在以下状态办理：{allowed_zh}",
            f"case {case.case_id}: cannot {action.value} ({label}) in state "
            f"{case.state.value} ({STATE_LABELS[case.state]}); allowed from: {allowed}",
        )
    if actor.role not in roles:
        who = "、".join(ROLE_LABELS[r] for r in sorted(roles))
        raise refusal(
            f"案件 {case.case_id}：{label}由{who}办理，{actor.name}（{ROLE_LABELS[actor.role]}）"
            "不能办理",
            f"case {case.case_id}: {action.value} ({label}) is for {who}, not for "
            f"{actor.name} ({ROLE_LABELS[actor.role]})",
        )
    _check_acts_for(actor, case.parties)
    if case.history and at < case.history[-1].at:
        last = case.history[-1].at.isoformat()
        raise refusal(
            f"案件 {case.case_id}：时间 {at.isoformat()} 早于上一步（{last}）",
            f"case {case.case_id}: {at.isoformat()} is before the last step ({last})",
        )
    changes: dict[str, Any] = {}
    new_state = target if target is not None else case.state
    if action is Action.NOTIFY:
        changes["appeal_deadline"] = calendar.add_working_days(day, params.appeal_working_days)
    elif action is Action.APPEAL:
        deadline = case.appeal_deadline
        if deadline is not None and day > deadline:
            raise refusal(
                f"案件 {case.case_id}：申诉期已于 {deadline.isoformat()} 届满（告知后 "
                f"{params.appeal_working_days} 个工作日），{day.isoformat()} 申诉已逾期",
                f"case {case.case_id}: the appeal window closed on {deadline.isoformat()} "
                f"({params.appeal_working_days} working days after notice); "
                f"{day.isoformat()} is too late",
            )
    elif action is Action.EXPIRE:
        deadline = case.appeal_deadline
        if deadline is not None and day <= deadline:
            raise refusal(
                f"案件 {case.case_id}：申诉期至 {deadline.isoformat()} 止，"
                f"{day.isoformat()} 尚未届满",
                f"case {case.case_id}: the appeal window is open until {deadline.isoformat()}; "
                f"it cannot expire on {day.isoformat()}",
            )
    elif action is Action.DECIDE:
        outcome, reason = _decide(case, decision, amount, fund_paid, params)
        changes.update(outcome)
        note = "；".join(text for text in (note, reason) if text)
    elif action in (Action.DEDUCT, Action.RECOVER) and not case.decided_amount:
        raise refusal(
            f"案件 {case.case_id}：处理决定为撤销，没有可{label}的金额，请结案",
            f"case {case.case_id}: nothing to {action.value} ({label}): the decision "
            "withdrew the case; close it instead",
        )
    elif action is Action.CLOSE and case.decided_amount:
        decided = format_yuan(case.decided_amount)
        raise refusal(
            f"案件 {case.case_id}：决定金额 {decided} 元须先拒付或追回，不能结案",
            f"case {case.case_id}: a decided amount of {decided} 元 "
            "must be deducted (拒付) or recovered (追回) before the case ends",
        )
    step = Transition(action, actor.name, actor.role, at, case.state, new_state, note)
    return replace(case, state=new_state, history=(*case.history, step), **changes)


def upheld_amount(flagged: int, recoverable: int | None) -> int:
    """What an upheld decision takes back (fen): the flagged amount, or what the funds can
    still give back for the settlement (``recoverable``: what they paid less what earlier
    decisions took back) when that is less; ``None`` means unknown, the flagged amount.

    Worked example: flagged 1,223.46 元 (122,346 fen) on a settlement whose funds paid
    400.00 元 (40,000 fen), nothing taken back before: min(122,346, 40,000) = 40,000, an
    upheld decision recovers 400.00 元. Had the funds paid 2,000.00 元, it would recover
    the whole 1,223.46 元.
    """
    return flagged if recoverable is None else min(flagged, max(recoverable, 0))


def capped_reason(flagged: int, recovered: int, setl_id: str) -> str:
    """Why an upheld decision recovers less than the flagged amount (zh-CN, for the
    decision's note)."""
    return (
        f"维持：疑点金额 {format_yuan(flagged)} 元超过基金可追回金额 {format_yuan(recovered)} 元"
        f"（基金为结算 {setl_id} 支付的金额减去此前处理决定已追回的部分），"
        f"按 {format_yuan(recovered)} 元追回"
    )


def _decide(
    case: Case,
    decision: Decision | None,
    amount: int | None,
    fund_paid: int | None,
    params: CaseParams,
) -> tuple[dict[str, Any], str]:
    """The decision's changes to the case, and the reason of a capped upheld decision
    (else "")."""
    cid = case.case_id
    if decision is None:
        raise refusal(
            f"案件 {cid}：请选择处理决定：维持 (upheld)、部分维持 (partial) 或撤销 (withdrawn)",
            f"case {cid}: decide needs a decision (upheld / partial / withdrawn)",
        )
    if decision is Decision.WITHDRAWN:
        if amount:
            raise refusal(
                f"案件 {cid}：撤销决定没有金额，收到 {format_yuan(amount)} 元",
                f"case {cid}: a withdrawn case has no amount, got {format_yuan(amount)} 元",
            )
        return {"decision": decision, "decided_amount": 0}, ""
    if case.state is CaseState.INITIAL_REVIEW:
        raise refusal(
            f"案件 {cid}：初审阶段只能撤销；请先提交复审",
            f"case {cid}: in 初审 a case can only be withdrawn; escalate it to 复审 first",
        )
    if case.state is CaseState.RE_REVIEW and not (
        case.finding.result_type is ResultType.VIOLATION and params.violation_skips_appeal
    ):
        kind = RESULT_TYPE_LABELS[case.finding.result_type]
        raise refusal(
            f"案件 {cid}：{kind}案件须先告知机构、给予申诉机会，再作处理决定",
            f"case {cid}: a {kind} case goes to the institution for appeal (notify) "
            "before a decision",
        )
    flagged = case.finding.flagged_amount
    setl = case.finding.setl_id
    if decision is Decision.UPHELD:
        due = upheld_amount(flagged, fund_paid)
        if due <= 0:
            raise refusal(
                f"案件 {cid}：基金为结算 {setl} 可追回的金额为 0.00 元（基金支付减去此前处理决定"
                "已追回的部分），维持决定没有可追回的金额；请撤销 (withdrawn)",
                f"case {cid}: the funds have nothing left to give back for settlement {setl}; "
                "withdraw the case instead",
            )
        if amount is not None and amount != due:
            why = ""
            if due < flagged:
                why = (
                    f"（疑点金额 {format_yuan(flagged)} 元超过基金可追回金额 "
                    f"{format_yuan(due)} 元）"
                )
            raise refusal(
                f"案件 {cid}：维持决定按 {format_yuan(due)} 元处理{why}，不能认定为 "
                f"{format_yuan(amount)} 元；请不填金额，或改用部分维持 (partial)",
                f"case {cid}: an upheld decision takes {format_yuan(due)} 元 (the flagged amount "
                f"{format_yuan(flagged)} 元, at most what the funds can give back), not "
                f"{format_yuan(amount)} 元; leave the amount out or use partial",
            )
        reason = "" if due == flagged else capped_reason(flagged, due, setl)
        return {"decision": decision, "decided_amount": due}, reason
    if amount is None or amount <= 0:
        raise refusal(
            f"案件 {cid}：部分维持决定须有大于 0 的认定金额",
            f"case {cid}: a partial decision needs a positive amount",
        )
    if amount > flagged:
        raise refusal(
            f"案件 {cid}：认定金额 {format_yuan(amount)} 元超过疑点金额 {format_yuan(flagged)} 元",
            f"case {cid}: decided amount {format_yuan(amount)} 元 is above the flagged amount "
            f"{format_yuan(flagged)} 元",
        )
    if amount == flagged:
        raise refusal(
            f"案件 {cid}：部分维持的金额须低于疑点金额 {format_yuan(flagged)} 元；"
            "全额请用维持 (upheld)",
            f"case {cid}: a partial decision is below the flagged amount",
        )
    if fund_paid is not None and amount > fund_paid:
        raise refusal(
            f"案件 {cid}：认定金额 {format_yuan(amount)} 元超过基金为结算 {setl} 可追回的金额 "
            f"{format_yuan(fund_paid)} 元",
            f"case {cid}: decided amount {format_yuan(amount)} 元 is above what the funds paid "
            f"for settlement {setl} ({format_yuan(fund_paid)} 元)",
        )
    return {"decision": decision, "decided_amount": amount}, ""


def split_pro_rata(amount: int, parts: Mapping[str, int]) -> dict[str, int]:
    """``amount`` fen split over ``parts`` in proportion, largest remainder method.

    Each key gets ``floor(amount × part / total)``; the fen left over go one each to the
    keys with the largest remainders (ties: the smaller key first). The result sums to
    ``amount`` exactly; zero parts get nothing and are left out.
    """
    if amount < 0:
        raise ValueError(f"amount must not be negative, got {amount}")
    positive = {k: v for k, v in parts.items() if v > 0}
    total = sum(positive.values())
    if amount and total <= 0:
        raise ValueError("no positive part to split over")
    if amount > total:
        raise ValueError(f"amount {amount} fen is above the parts' total {total} fen")
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for key in sorted(positive):
        share, rest = divmod(amount * positive[key], total)
        shares[key] = share
        remainders.append((-rest, key))
    left = amount - sum(shares.values())
    for _, key in sorted(remainders)[:left]:
        shares[key] += 1
    return {k: v for k, v in shares.items() if v}


Leg = tuple[str, int]


def decision_legs(split: Mapping[str, int], parties: Parties) -> list[Leg]:
    """The balanced ledger legs of a decided amount split by ``fund_pay_type``.

    The opposite of the settlement's legs (services/ledger.py) for that part: each fund
    of the place of insurance is credited back (−), the hospital's payable is reduced
    (+); for cross-region care the place of insurance owes the place of treatment less
    (payable +) and the place of treatment is owed less (receivable −).
    """
    legs: list[Leg] = [
        (f"fund:{parties.insured_region}:{fpt}", -amt) for fpt, amt in sorted(split.items()) if amt
    ]
    total = sum(split.values())
    if parties.cross_region:
        pair = f"{parties.insured_region}>{parties.treatment_region}"
        legs.append((f"payable:region:{pair}", total))
        legs.append((f"receivable:region:{pair}", -total))
    legs.append((f"payable:hospital:{parties.fixmedins_code}", total))
    if sum(a for _, a in legs) != 0:  # pragma: no cover - by construction
        raise AssertionError(f"unbalanced legs {legs}")
    return legs
