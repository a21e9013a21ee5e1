"""智能监管: supervision cases (监管案件) in the console — the list with its filters and
exports, a case's page with its timeline, and the forms that open a case (立案 / 协查)
and take its steps (初审 → 复审 → 告知机构 → 申诉期满 → 处理决定 → 拒付 / 追回 → 清算).

An officer acts on a case as the place of treatment (就医地, the owner) when the case's
place of treatment lies in their scope and their role is 就医地经办, 审核员, 省级 or
国家级; as the place of insurance (参保地, co-reviewer) likewise for its place of
insurance with 参保地经办, 审核员, 省级 or 国家级. A case in neither answers 404. The
institution's appeal (申诉) is not an officer's step: it comes from the institution
(``medroam case move … --role institution``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from medroam.domain.cases import (
    ACTION_LABELS,
    DECISION_LABELS,
    ORIGIN_LABELS,
    RESULT_TYPE_LABELS,
    ROLE_LABELS,
    STATE_LABELS,
    Action,
    Actor,
    CaseState,
    Decision,
    FindingRef,
    Origin,
    Parties,
    ResultType,
    Role,
    actions_for,
)
from medroam.domain.money import MoneyError, yuan_to_fen
from medroam.gateway.errors import BusinessError
from medroam.services import cases as case_service
from medroam.services.uow import unit_of_work
from medroam.store.audit_tables import AuditFindingRow, AuditRunRow
from medroam.store.case_tables import CaseRow
from medroam.store.tables import SettlementRow
from medroam.web import fmt
from medroam.web.security import record

if TYPE_CHECKING:
    from medroam.web.console import Pages
    from medroam.web.security import Officer

TREATMENT_ROLES = frozenset({"treatment_place", "auditor", "province", "nation"})
INSURANCE_ROLES = frozenset({"insured_place", "auditor", "province", "nation"})
LIST_HEADER = [
    "案件号",
    "来源",
    "规则编码",
    "规则名称",
    "结果类型",
    "结算ID",
    "定点机构",
    "参保地",
    "就医地",
    "疑点金额（元）",
    "处理金额（元）",
    "状态",
    "立案时间（北京时间）",
    "申诉期限",
]
FILTERS = ("state", "hospital", "rule", "start", "end")
# steps that need no more than a note (decide has its own form)
SIMPLE_STEPS = frozenset(ACTION_LABELS) - {Action.OPEN, Action.DECIDE}


def case_roles(officer: Officer, parties: Parties) -> list[Role]:
    """The case roles ``officer`` may act in on a case with ``parties`` (owner first)."""
    roles = []
    if officer.role in TREATMENT_ROLES and officer.covers(parties.treatment_region):
        roles.append(Role.TREATMENT)
    if officer.role in INSURANCE_ROLES and officer.covers(parties.insured_region):
        roles.append(Role.INSURANCE)
    return roles


def actor_for(officer: Officer, role: Role, parties: Parties) -> Actor:
    region = parties.treatment_region if role is Role.TREATMENT else parties.insured_region
    return Actor(f"{officer.display_name}（{officer.username}）", role, frozenset({region}))


def offered(officer: Officer, parties: Parties, state: CaseState) -> dict[Action, Role]:
    """Each step the officer may take now, with the role they take it in."""
    steps: dict[Action, Role] = {}
    for role in case_roles(officer, parties):
        for action in actions_for(state, role):
            steps.setdefault(action, role)
    return steps


def _scope(officer: Officer) -> Any:
    """The cases the officer sees: those they may act on in some role (``case_roles``)."""
    from medroam.web.console import region_condition

    columns = []
    if officer.role in TREATMENT_ROLES:
        columns.append(CaseRow.treatment_region)
    if officer.role in INSURANCE_ROLES:
        columns.append(CaseRow.insured_region)
    return region_condition(officer, *columns) if columns else False


def parse_amount(text: str) -> tuple[int | None, str]:
    """Yuan with at most two decimals → (fen, ""), or (None, the error in Chinese)."""
    if not text:
        return None, "请填写金额（元）"
    try:
        fen = yuan_to_fen(text, field="金额")
    except MoneyError:
        return None, "金额应为元，最多两位小数，例如 1200.50"
    if fen <= 0:
        return None, "金额应大于 0"
    return fen, ""


def install(router: APIRouter, pages: Pages) -> None:
    from medroam.web.console import (
        csv_response,
        page_of,
        pager,
        paginate,
        parse_day,
        region_condition,
        render,
        xlsx_response,
    )

    engine = pages.engine

    def query(request: Request, me: Officer) -> tuple[dict[str, str], list[Any], dict[str, str]]:
        f = {k: request.query_params.get(k, "").strip()[:40] for k in FILTERS}
        errors = {
            k: "日期格式应为 YYYY-MM-DD" for k in ("start", "end") if f[k] and not parse_day(f[k])
        }
        if f["state"] and f["state"] not in {s.value for s in CaseState}:
            errors["state"] = "未知的案件状态"
        where: list[Any] = [_scope(me)]
        if f["state"] and "state" not in errors:
            where.append(CaseRow.state == f["state"])
        if f["hospital"]:
            where.append(CaseRow.fixmedins_code == f["hospital"])
        if f["rule"]:
            where.append(CaseRow.rule_code == f["rule"])
        start, end = parse_day(f["start"]), parse_day(f["end"])
        if start:
            where.append(
                CaseRow.opened_at >= datetime.combine(start, datetime.min.time(), fmt.CHINA_TZ)
            )
        if end:
            where.append(
                CaseRow.opened_at
                < datetime.combine(end + timedelta(days=1), datetime.min.time(), fmt.CHINA_TZ)
            )
        return f, where, errors

    def row_values(c: CaseRow) -> list[Any]:
        return [
            c.case_id,
            ORIGIN_LABELS[Origin(c.origin)],
            c.rule_code,
            c.rule_name,
            RESULT_TYPE_LABELS[ResultType(c.result_type)],
            c.setl_id,
            c.fixmedins_code,
            fmt.region(c.insured_region),
            fmt.region(c.treatment_region),
            fmt.yuan_plain(c.flagged_amount),
            fmt.yuan_plain(c.decided_amount) if c.decided_amount is not None else "—",
            STATE_LABELS[CaseState(c.state)],
            fmt.china_time(c.opened_at),
            c.appeal_deadline.isoformat() if c.appeal_deadline else "—",
        ]

    def findings(
        me: Officer, period: str, rule: str, page: int
    ) -> tuple[list[Any], int, list[str]]:
        """The stored findings of a month in the officer's scope (newest run), the page
        asked for, and the months that have a run."""
        scope = [
            region_condition(me, AuditFindingRow.treatment_region, AuditFindingRow.insured_region)
        ]
        with unit_of_work(engine) as session:
            months = list(
                session.execute(
                    select(AuditRunRow.period).order_by(AuditRunRow.period.desc())
                ).scalars()
            )
            if not period and months:
                period = months[0]
            stmt = select(AuditFindingRow).where(AuditFindingRow.period == period, *scope)
            if rule:
                stmt = stmt.where(AuditFindingRow.rule_code == rule)
            rows, total = paginate(
                session,
                stmt.order_by(AuditFindingRow.amount.desc(), AuditFindingRow.finding_id),
                page,
            )
        return rows, total, months

    def list_page(
        request: Request,
        me: Officer,
        csrf: str,
        *,
        status: int = 200,
        form: dict[str, str] | None = None,
        form_errors: dict[str, str] | None = None,
        message: str = "",
    ) -> Response:
        f, where, errors = query(request, me)
        page = page_of(request)
        rows: list[CaseRow] = []
        total = 0
        counts: dict[str, int] = {}
        if not errors:
            with unit_of_work(engine) as session:
                rows, total = paginate(
                    session,
                    select(CaseRow)
                    .where(*where)
                    .order_by(CaseRow.opened_at.desc(), CaseRow.case_id),
                    page,
                )
                counts = {
                    STATE_LABELS[CaseState(s)]: int(n)
                    for s, n in session.execute(
                        select(CaseRow.state, func.count())
                        .where(_scope(me))
                        .group_by(CaseRow.state)
                        .order_by(CaseRow.state)
                    )
                }
        may_open = me.role in TREATMENT_ROLES | INSURANCE_ROLES
        month = request.query_params.get("finding_period", "").strip()[:7]
        rule = request.query_params.get("finding_rule", "").strip()[:40]
        fpage = (
            int(request.query_params.get("finding_page", "1") or 1)
            if request.query_params.get("finding_page", "1").isdigit()
            else 1
        )
        found, found_total, months = findings(me, month, rule, max(fpage, 1))
        return render(
            "supervision/cases.html",
            status,
            me=me,
            csrf=csrf,
            active="supervision",
            f=f,
            errors=errors,
            rows=[(c, row_values(c)) for c in rows],
            header=LIST_HEADER,
            counts=counts,
            pager=pager(request, page, total),
            states=[(s.value, STATE_LABELS[s]) for s in CaseState],
            may_open=may_open,
            form=form or {},
            form_errors=form_errors or {},
            result_types=[(r.value, RESULT_TYPE_LABELS[r]) for r in ResultType],
            message=message,
            findings=found,
            findings_total=found_total,
            finding_months=months,
            finding_period=month or (months[0] if months else ""),
            finding_rule=rule,
            may_open_finding=me.role in TREATMENT_ROLES,
            yuan=fmt.yuan_plain,
        )

    @router.get("/supervision")
    def supervision(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        return list_page(request, sess.officer, sess.csrf)

    @router.get("/supervision/cases.{ext}")
    def export(request: Request, ext: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        _f, where, errors = query(request, sess.officer)
        if ext not in ("csv", "xlsx") or errors:
            return pages.not_found(sess, "export", f"cases.{ext}")
        with unit_of_work(engine) as session:
            cases = session.execute(
                select(CaseRow)
                .where(*where)
                .order_by(CaseRow.opened_at.desc(), CaseRow.case_id)
                .limit(100_000)
            ).scalars()
            rows = [row_values(c) for c in cases]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("supervision-cases", LIST_HEADER, rows)

    def opened(me: Officer, case_id: str, now: Any, after: dict[str, Any]) -> Response:
        """A case was opened: log it, show it."""
        with unit_of_work(engine) as session:
            record(session, now, me, "open", "case", case_id, after={"state": "open", **after})
        return RedirectResponse(f"/supervision/cases/{case_id}", status_code=303)

    @router.post("/supervision/cases")
    async def open_case(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        me = sess.officer
        errors: dict[str, str] = {}
        origin = Origin.ASSIST if form.get("origin") == Origin.ASSIST.value else Origin.FINDING
        setl_id = form.get("setl_id", "")[:40]
        required = (("setl_id", "结算ID"), ("rule_code", "规则编码"), ("rule_name", "规则名称"))
        for name, label in required:
            if not form.get(name):
                errors[name] = f"请填写{label}"
        if form.get("result_type") not in {r.value for r in ResultType}:
            errors["result_type"] = "请选择结果类型（明确违规或可疑）"
        amount, problem = parse_amount(form.get("amount", ""))
        if problem:
            errors["amount"] = problem
        parties: Parties | None = None
        if setl_id and "setl_id" not in errors:
            with unit_of_work(engine) as session:
                s = session.get(SettlementRow, setl_id)
                if s is not None:
                    parties = Parties(s.fixmedins_code, s.insured_region, s.treatment_region)
            needed = Role.TREATMENT if origin is Origin.FINDING else Role.INSURANCE
            if parties is None or needed not in case_roles(me, parties):
                # a settlement outside the scope is "not found", as anywhere in the console
                errors["setl_id"] = "结算不存在，或不在您可立案的经办范围内"
        if errors or parties is None or amount is None:
            return list_page(
                request, me, sess.csrf, status=422, form=form, form_errors=errors or {}
            )
        role = Role.TREATMENT if origin is Origin.FINDING else Role.INSURANCE
        finding = FindingRef(
            form["rule_code"][:40],
            form["rule_name"][:100],
            ResultType(form["result_type"]),
            setl_id,
            amount,
            {"source": "console"},
        )
        now = pages.clock()
        try:
            view = case_service.open_new(
                engine,
                origin=origin,
                finding=finding,
                actor=actor_for(me, role, parties),
                at=now,
                note=form.get("note", "")[:500],
            )
        except BusinessError as exc:
            errors["setl_id"] = str(exc)
            return list_page(request, me, sess.csrf, status=422, form=form, form_errors=errors)
        return opened(me, view.case.case_id, now, {"setl_id": setl_id, "amount_fen": amount})

    @router.post("/supervision/findings/{finding_id}/case")
    async def case_from_finding(request: Request, finding_id: int) -> Response:
        """立案 from a stored finding (``case_service.open_from_finding``, as ``medroam case
        open --finding``): the place of treatment of the finding opens it; a refusal
        (no settlement or amount, a case already open) is shown above the list."""
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        me = sess.officer
        with unit_of_work(engine) as session:
            row = session.get(AuditFindingRow, finding_id)
        parties = (
            None
            if row is None
            else Parties(row.fixmedins_code, row.insured_region, row.treatment_region)
        )
        if row is None or parties is None or Role.TREATMENT not in case_roles(me, parties):
            return pages.not_found(sess, "finding", str(finding_id))
        now = pages.clock()
        try:  # the finding's settlement, rule, result type, amount and evidence
            view = case_service.open_from_finding(
                engine,
                finding_id,
                actor=actor_for(me, Role.TREATMENT, parties),
                at=now,
                note=form.get("note", "")[:500],
            )
        except BusinessError as exc:  # no settlement or amount, or a case already open
            return list_page(request, me, sess.csrf, status=422, message=str(exc))
        after = {"finding_id": finding_id, "setl_id": row.setl_id, "amount_fen": row.amount}
        return opened(me, view.case.case_id, now, after)

    def case_page(
        sess: Any, case_id: str, *, status: int = 200, message: str = "", errors: Any = None
    ) -> Response:
        me: Officer = sess.officer
        try:
            view = case_service.get(engine, case_id)
        except BusinessError:
            return pages.not_found(sess, "case", case_id)
        case = view.case
        if not case_roles(me, case.parties):
            return pages.not_found(sess, "case", case_id)
        steps = offered(me, case.parties, case.state)
        return render(
            "supervision/case.html",
            status,
            me=me,
            csrf=sess.csrf,
            active="supervision",
            view=view,
            case=case,
            steps=[(a, ACTION_LABELS[a], ROLE_LABELS[r]) for a, r in steps.items()],
            simple_steps=SIMPLE_STEPS,
            decide=Action.DECIDE in steps,
            decisions=[(d.value, DECISION_LABELS[d]) for d in Decision],
            labels={
                "state": STATE_LABELS,
                "action": ACTION_LABELS,
                "role": ROLE_LABELS,
                "origin": ORIGIN_LABELS,
                "result": RESULT_TYPE_LABELS,
                "decision": DECISION_LABELS,
            },
            message=message,
            errors=errors or {},
        )

    @router.get("/supervision/cases/{case_id}")
    def show_case(request: Request, case_id: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        return case_page(sess, case_id[:40])

    @router.post("/supervision/cases/{case_id}/steps")
    async def take_step(request: Request, case_id: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        me = sess.officer
        case_id = case_id[:40]
        try:
            before = case_service.get(engine, case_id).case
        except BusinessError:
            return pages.not_found(sess, "case", case_id)
        if not case_roles(me, before.parties):
            return pages.not_found(sess, "case", case_id)
        try:
            action = Action(form.get("action", ""))
        except ValueError:
            action = Action.OPEN  # never offered: refused below
        steps = offered(me, before.parties, before.state)
        if action not in steps:
            why = f"角色或地区不允许在“{STATE_LABELS[before.state]}”状态下执行此操作"
            return pages.refused(sess, "step", "case", case_id, why)
        errors: dict[str, str] = {}
        decision: Decision | None = None
        amount: int | None = None
        if action is Action.DECIDE:
            try:
                decision = Decision(form.get("decision", ""))
            except ValueError:
                errors["decision"] = "请选择处理决定（维持、部分维持或撤销）"
            # upheld may leave the amount out: the flagged amount, capped by the domain
            given = form.get("amount", "").strip()
            if decision is Decision.PARTIAL or (decision is Decision.UPHELD and given):
                amount, problem = parse_amount(given)
                if problem:
                    errors["amount"] = problem
        if errors:
            return case_page(sess, case_id, status=422, errors=errors)
        now = pages.clock()
        try:
            after = case_service.move(
                engine,
                case_id,
                action,
                actor_for(me, steps[action], before.parties),
                now,
                note=form.get("note", "")[:500],
                decision=decision,
                amount=amount,
            ).case
        except BusinessError as exc:
            key = "amount" if action is Action.DECIDE else "step"
            return case_page(sess, case_id, status=422, errors={key: str(exc)})
        with unit_of_work(engine) as session:
            record(
                session,
                now,
                me,
                action.value,
                "case",
                case_id,
                before={"state": before.state.value},
                after={
                    "state": after.state.value,
                    **(
                        {"decided_amount_fen": after.decided_amount} if after.decided_amount else {}
                    ),
                },
            )
        return RedirectResponse(f"/supervision/cases/{case_id}", status_code=303)
