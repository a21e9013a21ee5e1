"""Supervision case commands (监管案件): ``medroam case open | show | list | move``.

``open`` takes a stored audit finding (``--finding ID``, as the console's 立案 button)
or the finding by hand (``--setl-id`` … ``--amount``).

Every command opens the database given by ``--db`` (default env ``MEDROAM_DB``, else
``sqlite:///./medroam.db``), migrates it and runs one service call. Who acts is given by
``--actor`` (a name), ``--role`` (treatment 就医地 / insurance 参保地 / institution 机构)
and ``--acts-for`` (the regions or institution codes the actor acts for, repeatable).
Amounts are yuan with at most two decimals; times are shown in China time (UTC+8).
A refused step prints one line and exits with code 2; nothing is written.
Heavy modules (services, database) are imported inside the commands.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from medroam.cli.common import DbOpt, console, fail, open_database

if TYPE_CHECKING:
    from medroam.domain.cases import Actor, FindingRef
    from medroam.services.cases import CaseView

CHINA_TZ = timezone(timedelta(hours=8), "CST")

app = typer.Typer(
    help="Supervision cases (监管案件): 初审 → 复审 → 告知 → 申诉 → 处理 → 拒付/追回.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who acts (name or staff id).")]
RoleOpt = Annotated[
    str,
    typer.Option("--role", help="treatment (就医地经办), insurance (参保地经办), institution."),
]
ActsForOpt = Annotated[
    list[str],
    typer.Option("--acts-for", help="Region or institution code acted for (repeatable)."),
]
NoteOpt = Annotated[str, typer.Option("--note", help="Note recorded with the step.")]
AtOpt = Annotated[
    str | None,
    typer.Option("--at", hidden=True, help="Moment of the action (ISO 8601; default now)."),
]

_ROLE_ALIASES = {
    "就医地": "treatment",
    "就医地经办机构": "treatment",
    "参保地": "insurance",
    "参保地经办机构": "insurance",
    "机构": "institution",
    "定点医药机构": "institution",
}


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(CHINA_TZ)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"--at：{value!r} 不是 ISO 8601 日期时间 / --at: {value!r} is not an ISO 8601 date-time"
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=CHINA_TZ)


def _actor(name: str, role: str, acts_for: list[str]) -> Actor:
    from medroam.domain.cases import Actor, Role

    if not name.strip():
        fail("--actor：请填写办理人姓名 / --actor: a name is needed")
    try:
        parsed = Role(_ROLE_ALIASES.get(role, role))
    except ValueError:
        fail(
            f"--role：{role!r} 应为 treatment（就医地）、insurance（参保地）或 institution（机构）"
            f" / --role: {role!r} is not treatment, insurance or institution"
        )
    if not acts_for:
        fail(
            "--acts-for：请填写办理人代表的地区或机构编码 / "
            "--acts-for: give the region or institution code the actor acts for"
        )
    return Actor(name.strip(), parsed, frozenset(acts_for))


def _fen(value: str, option: str) -> int:
    from medroam.domain.money import MoneyError, yuan_to_fen

    try:
        return yuan_to_fen(value, field=option)
    except MoneyError as exc:
        fail(f"{option}：金额应为元，最多两位小数，例如 1200.50 / {exc}")


def _call(db: str | None, action: Any) -> Any:
    """Run ``action(engine)`` on the existing, migrated database (``common.open_database``:
    a missing SQLite file is refused, not created); refusals become one clear line."""
    from sqlalchemy.exc import SQLAlchemyError

    from medroam.domain.cases import CaseRefusedError
    from medroam.gateway.errors import BusinessError, InputError

    engine = open_database(db)
    try:
        return action(engine)
    except (BusinessError, InputError, CaseRefusedError, ValueError) as exc:
        fail(str(exc))
    except SQLAlchemyError as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        fail(f"数据库出错 / database: {first[0] if first else type(exc).__name__}", code=1)
    finally:
        engine.dispose()


def _local(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(fen: int | None) -> str:
    from medroam.domain.money import format_yuan

    return "—" if fen is None else format_yuan(fen)


def _fund_label(code: str) -> str:
    from medroam.refdata.code_tables import load_code_tables

    label = load_code_tables().label("fund_pay_type", code)
    return f"{code} {label}" if label else code


def _as_dict(view: CaseView) -> dict[str, Any]:
    c = view.case
    return {
        "case_id": c.case_id,
        "origin": c.origin.value,
        "rule_code": c.finding.rule_code,
        "rule_name": c.finding.rule_name,
        "result_type": c.finding.result_type.value,
        "setl_id": c.finding.setl_id,
        "flagged_amount_fen": c.finding.flagged_amount,
        "evidence": dict(c.finding.evidence),
        "fixmedins_code": c.parties.fixmedins_code,
        "insured_region": c.parties.insured_region,
        "treatment_region": c.parties.treatment_region,
        "state": c.state.value,
        "appeal_working_days": view.appeal_working_days,
        "appeal_deadline": c.appeal_deadline.isoformat() if c.appeal_deadline else None,
        "decision": c.decision.value if c.decision else None,
        "decided_amount_fen": c.decided_amount,
        "decision_capped": c.upheld_capped,
        "posting_id": view.posting_id,
        "history": [
            {
                "action": t.action.value,
                "actor": t.actor,
                "role": t.role.value,
                "at": t.at.astimezone(CHINA_TZ).isoformat(),
                "from_state": t.from_state.value if t.from_state else None,
                "to_state": t.to_state.value,
                "note": t.note,
            }
            for t in c.history
        ],
        "adjustments": [
            {"fund_pay_type": a.fund_pay_type, "amount_fen": a.amount, "run_id": a.run_id}
            for a in view.adjustments
        ],
    }


def _decision_text(view: CaseView) -> str:
    from medroam.domain.cases import DECISION_LABELS

    c = view.case
    if c.decision is None:
        return "—"
    if c.upheld_capped:
        return f"{DECISION_LABELS[c.decision]}（疑点金额超过基金可追回金额，按可追回金额追回）"
    return DECISION_LABELS[c.decision]


def _print_case(view: CaseView) -> None:
    from medroam.domain.cases import (
        ACTION_LABELS,
        ORIGIN_LABELS,
        RESULT_TYPE_LABELS,
        ROLE_LABELS,
        STATE_LABELS,
    )

    c = view.case
    head = Table(title=f"监管案件 {c.case_id}", show_header=False)
    head.add_column("项目")
    head.add_column("内容")
    rows = [
        ("状态", f"{STATE_LABELS[c.state]} ({c.state.value})"),
        ("来源", ORIGIN_LABELS[c.origin]),
        ("规则", f"{c.finding.rule_code} {c.finding.rule_name}"),
        ("结果类型", RESULT_TYPE_LABELS[c.finding.result_type]),
        ("结算ID (setl_id)", c.finding.setl_id),
        ("定点医药机构", c.parties.fixmedins_code),
        ("参保地 / 就医地", f"{c.parties.insured_region} / {c.parties.treatment_region}"),
        ("疑点金额(元)", _yuan(c.finding.flagged_amount)),
        (
            "申诉截止日",
            f"{c.appeal_deadline.isoformat()} ({view.appeal_working_days} 个工作日)"
            if c.appeal_deadline
            else "—",
        ),
        ("处理决定", _decision_text(view)),
        ("决定金额(元)", _yuan(c.decided_amount)),
    ]
    for key, value in rows:
        head.add_row(key, value)
    console.print(head)
    steps = Table(title="办理记录")
    for column in ("时间(北京时间)", "操作", "操作人", "角色", "状态变化", "说明"):
        steps.add_column(column)
    for t in c.history:
        change = STATE_LABELS[t.to_state]
        if t.from_state is not None and t.from_state is not t.to_state:
            change = f"{STATE_LABELS[t.from_state]} → {change}"
        steps.add_row(
            _local(t.at), ACTION_LABELS[t.action], t.actor, ROLE_LABELS[t.role], change, t.note
        )
    console.print(steps)
    if view.adjustments:
        adj = Table(title="清算调整 (拒付/追回, 按原基金支付结构)")
        for column in ("基金支付类型", "金额(元)", "清算批次"):
            adj.add_column(column)
        for a in view.adjustments:
            adj.add_row(_fund_label(a.fund_pay_type), _yuan(a.amount), a.run_id or "待下次清算")
        console.print(adj)


def _hand_finding(
    setl_id: str | None,
    rule_code: str | None,
    rule_name: str | None,
    result_type: str | None,
    amount: str | None,
    evidence: str | None,
) -> FindingRef:
    """The finding of a case opened by hand, from the options; one clear line if not."""
    from medroam.domain.cases import CaseRefusedError, FindingRef, ResultType

    if (
        setl_id is None
        or rule_code is None
        or rule_name is None
        or result_type is None
        or (amount is None)
    ):
        given = {
            "--setl-id": setl_id,
            "--rule-code": rule_code,
            "--rule-name": rule_name,
            "--result-type": result_type,
            "--amount": amount,
        }
        missing = [option for option, value in given.items() if value is None]
        fail(
            f"请指定 --finding 疑点ID，或手工立案时指定 {'、'.join(missing)} / "
            f"give --finding ID, or {', '.join(missing)} to open a case by hand"
        )
    try:
        parsed_evidence = json.loads(evidence or "{}")
    except json.JSONDecodeError as exc:
        fail(
            f"--evidence：不是 JSON（第 {exc.pos} 个字符） / "
            f"--evidence: not JSON ({exc.msg} at character {exc.pos})"
        )
    if not isinstance(parsed_evidence, dict):
        fail("--evidence：须为 JSON 对象 / --evidence: must be a JSON object")
    try:
        return FindingRef(
            rule_code.strip(),
            rule_name.strip(),
            ResultType.parse(result_type),
            setl_id.strip(),
            _fen(amount, "--amount"),
            parsed_evidence,
        )
    except CaseRefusedError as exc:
        fail(str(exc))


@app.command("open")
def open_(
    actor: ActorOpt,
    role: RoleOpt,
    acts_for: ActsForOpt,
    finding_id: Annotated[
        int | None,
        typer.Option(
            "--finding",
            help="Open from a stored audit finding (its id, `medroam audit findings`): its "
            "settlement, rule, result type, amount and evidence.",
            show_default=False,
        ),
    ] = None,
    setl_id: Annotated[
        str | None, typer.Option("--setl-id", help="The settlement (结算ID).", show_default=False)
    ] = None,
    rule_code: Annotated[
        str | None, typer.Option("--rule-code", help="Rule code (规则编码).", show_default=False)
    ] = None,
    rule_name: Annotated[
        str | None, typer.Option("--rule-name", help="Rule name (规则名称).", show_default=False)
    ] = None,
    result_type: Annotated[
        str | None,
        typer.Option(
            "--result-type", help="明确违规 (violation) or 可疑 (suspicious).", show_default=False
        ),
    ] = None,
    amount: Annotated[
        str | None, typer.Option("--amount", help="Flagged amount in yuan.", show_default=False)
    ] = None,
    assist: Annotated[
        bool, typer.Option("--assist", help="A 协查 case opened by the place of insurance.")
    ] = False,
    evidence: Annotated[
        str | None,
        typer.Option("--evidence", help="Evidence as a JSON object.", show_default=False),
    ] = None,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Open a case (立案): from an audit finding (--finding), or by hand on a settlement."""
    from medroam.domain.cases import Origin

    if finding_id is not None:
        by_hand = {
            "--setl-id": setl_id,
            "--rule-code": rule_code,
            "--rule-name": rule_name,
            "--result-type": result_type,
            "--amount": amount,
            "--evidence": evidence,
            "--assist": True if assist else None,
        }
        extra = [option for option, value in by_hand.items() if value is not None]
        if extra:
            fail(
                f"--finding：结算、规则、结果类型、金额和证据取自审核疑点，不能同时指定 "
                f"{'、'.join(extra)} / --finding takes them from the finding; "
                f"drop {', '.join(extra)}"
            )
    # what the case is about: a stored finding's id, or the finding given by hand
    source: int | FindingRef = (
        finding_id
        if finding_id is not None
        else _hand_finding(setl_id, rule_code, rule_name, result_type, amount, evidence)
    )
    origin = Origin.ASSIST if assist else Origin.FINDING
    who = _actor(actor, role, acts_for)
    moment = _now(at)

    def action(engine: Any) -> CaseView:
        from medroam.services import cases

        if isinstance(source, int):
            return cases.open_from_finding(engine, source, actor=who, at=moment, note=note)
        return cases.open_new(
            engine, origin=origin, finding=source, actor=who, at=moment, note=note
        )

    view = _call(db, action)
    if as_json:
        typer.echo(json.dumps(_as_dict(view), ensure_ascii=False, indent=2))
        return
    origin_text = f"（审核疑点 {finding_id}）" if finding_id is not None else ""
    console.print(f"已立案 {view.case.case_id}{origin_text}")
    _print_case(view)


@app.command("show")
def show(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """Show a case, its steps and its clearing adjustments."""

    def action(engine: Any) -> CaseView:
        from medroam.services import cases

        return cases.get(engine, case_id)

    view = _call(db, action)
    if as_json:
        typer.echo(json.dumps(_as_dict(view), ensure_ascii=False, indent=2))
        return
    _print_case(view)


@app.command("list")
def list_(
    state: Annotated[
        str | None, typer.Option("--state", help="Only cases in this state.", show_default=False)
    ] = None,
    hospital: Annotated[
        str | None, typer.Option("--hospital", help="Only this institution.", show_default=False)
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Place of treatment or insurance.", show_default=False),
    ] = None,
    as_json: JsonOpt = False,
    db: DbOpt = None,
) -> None:
    """List cases, newest first."""
    from medroam.domain.cases import RESULT_TYPE_LABELS, STATE_LABELS, CaseState

    try:
        wanted = CaseState(state) if state else None
    except ValueError:
        names = ", ".join(f"{s.value}（{STATE_LABELS[s]}）" for s in CaseState)
        fail(f"--state：{state!r} 不是案件状态，应为 {names} / --state: {state!r} is not a state")

    def action(engine: Any) -> list[CaseView]:
        from medroam.services import cases

        return cases.list_cases(engine, state=wanted, fixmedins_code=hospital, region=region)

    views: list[CaseView] = _call(db, action)
    if as_json:
        typer.echo(json.dumps([_as_dict(v) for v in views], ensure_ascii=False, indent=2))
        return
    table = Table(title=f"监管案件 ({len(views)} 件)")
    table.add_column("案件编号", no_wrap=True)
    for column in (
        "状态",
        "规则",
        "结果类型",
        "机构",
        "参保地>就医地",
        "疑点金额(元)",
        "决定金额(元)",
        "立案时间",
    ):
        table.add_column(column)
    for v in views:
        c = v.case
        table.add_row(
            c.case_id,
            STATE_LABELS[c.state],
            f"{c.finding.rule_code} {c.finding.rule_name}",
            RESULT_TYPE_LABELS[c.finding.result_type],
            c.parties.fixmedins_code,
            f"{c.parties.insured_region}>{c.parties.treatment_region}",
            _yuan(c.finding.flagged_amount),
            _yuan(c.decided_amount),
            _local(c.opened_at),
        )
    console.print(table)


@app.command("move")
def move(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    step: Annotated[
        str,
        typer.Argument(
            help="start, escalate, notify, appeal, expire, decide, deduct, recover, clear, "
            "close, refer or comment."
        ),
    ],
    actor: ActorOpt,
    role: RoleOpt,
    acts_for: ActsForOpt,
    decision: Annotated[
        str | None,
        typer.Option("--decision", help="upheld, partial or withdrawn.", show_default=False),
    ] = None,
    amount: Annotated[
        str | None,
        typer.Option(
            "--amount",
            help="Decided amount in yuan: needed for partial; upheld takes the flagged "
            "amount (at most what the funds can still give back) and may leave it out.",
            show_default=False,
        ),
    ] = None,
    appeal_days: Annotated[
        int, typer.Option("--appeal-days", help="Appeal window in working days.")
    ] = 10,
    violation_skips_appeal: Annotated[
        bool,
        typer.Option(
            "--violation-skips-appeal/--violation-needs-appeal",
            help="明确违规 may be decided right after 复审.",
        ),
    ] = True,
    note: NoteOpt = "",
    as_json: JsonOpt = False,
    db: DbOpt = None,
    at: AtOpt = None,
) -> None:
    """Take one step of a case."""
    from medroam.domain.cases import ACTION_LABELS, Action, CaseParams, Decision

    try:
        parsed_step = Action(step)
    except ValueError:
        names = ", ".join(
            f"{a.value}（{ACTION_LABELS[a]}）" for a in Action if a is not Action.OPEN
        )
        fail(f"步骤 {step!r} 应为 {names} 之一 / step {step!r} is not one of them")
    try:
        parsed_decision = Decision(decision) if decision else None
    except ValueError:
        fail(
            f"--decision：{decision!r} 应为 upheld（维持）、partial（部分维持）或 withdrawn（撤销）"
            f" / --decision: {decision!r} is not upheld, partial or withdrawn"
        )
    try:
        params = CaseParams(appeal_days, violation_skips_appeal)
    except ValueError as exc:
        fail(f"--appeal-days：{exc}")
    fen = _fen(amount, "--amount") if amount is not None else None
    who = _actor(actor, role, acts_for)
    moment = _now(at)

    def action(engine: Any) -> CaseView:
        from medroam.services import cases

        return cases.move(
            engine,
            case_id,
            parsed_step,
            who,
            moment,
            note=note,
            decision=parsed_decision,
            amount=fen,
            params=params,
        )

    view = _call(db, action)
    if as_json:
        typer.echo(json.dumps(_as_dict(view), ensure_ascii=False, indent=2))
        return
    console.print(f"{case_id}: {ACTION_LABELS[parsed_step]} 完成")
    _print_case(view)
