"""清算与预付金: reconciliation (propose, confirm, dispute, the disputes queue), clearing
runs (start, verify), statements ready to print and downloadable as CSV and XLSX."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select

from medroam.domain.clearing.periods import ClearingError, Cycle, parse_period
from medroam.domain.clearing.statements import AMOUNT_SUFFIX, Statement
from medroam.refdata.regions import load_regions
from medroam.services import clearing as svc
from medroam.services import prepayment
from medroam.services.uow import unit_of_work
from medroam.store.tables import ClearingItemRow, ClearingRunRow, InstitutionRow
from medroam.web import fmt
from medroam.web.security import NATION, PROVINCE, Officer, record_now

if TYPE_CHECKING:
    from medroam.web.console import Pages

RECON_STATE_NAMES = {
    "proposed": "已上报待确认",
    "confirmed": "已确认",
    "disputed": "有争议",
    "withdrawn": "已撤回",
}
COLUMN_NAMES = {
    "advance_days": "垫付天数",
    "amount_fen": "金额（元）",
    "applied_on": "申请日期",
    "cleared_fen": "清算金额（元）",
    "clr_type": "清算类别",
    "due_on": "应付日期",
    "fixmedins_code": "定点机构编码",
    "fund_line": "基金类别",
    "hospital": "定点机构",
    "hospitals_apply_on": "医院申请日",
    "hospitals_paid_by": "医院回款截止日",
    "insured_province": "参保省份",
    "insutype": "险种",
    "inter_payable_fen": "省间应付（元）",
    "inter_province_fen": "省间金额（元）",
    "inter_receivable_fen": "省间应收（元）",
    "intra_payable_fen": "省内应付（元）",
    "intra_receivable_fen": "省内应收（元）",
    "lines": "笔数",
    "net_fen": "净额（元）",
    "payable_fen": "应付（元）",
    "payee": "收款方",
    "payer": "付款方",
    "period": "清算期",
    "province": "省份",
    "receivable_fen": "应收（元）",
    "region": "统筹区",
    "run_id": "清算批次",
    "settlements": "结算笔数",
    "treatment_province": "就医省份",
    "treatment_region": "就医地",
}
REGION_COLUMNS = {
    "insured_province",
    "treatment_province",
    "province",
    "region",
    "treatment_region",
    "payer",
    "payee",
}
PARTY_KIND_NAMES = {
    "national": "全国",
    "province": "省级",
    "region": "统筹区",
    "hospital": "定点医疗机构",
}


def column_name(column: str) -> str:
    return COLUMN_NAMES.get(column, column)


def cell(column: str, value: Any) -> str:
    """A statement cell for a person: yuan with separators, regions with names."""
    if value is None:
        return "—"
    if column.endswith(AMOUNT_SUFFIX) and isinstance(value, int):
        return fmt.yuan(value)
    if column in REGION_COLUMNS and isinstance(value, str) and len(value) == 6:
        return fmt.region(value)
    if column == "insutype" and isinstance(value, str):
        return fmt.code("insutype", value)
    if isinstance(value, bool):
        return "是" if value else "否"
    return fmt.show(value)


def plain(column: str, value: Any) -> Any:
    """A statement cell for CSV/XLSX: yuan without separators, codes as they are."""
    if value is None:
        return ""
    if column.endswith(AMOUNT_SUFFIX) and isinstance(value, int):
        return fmt.yuan_plain(value)
    return fmt.show(value)


def statement_rows(statement: Statement) -> list[list[Any]]:
    rows: list[list[Any]] = [["部分", "项目", "数值"]]
    for key, value in statement.figures.items():
        rows.append(["汇总", column_name(key), plain(key, value)])
    for section in statement.sections:
        rows.append([])
        rows.append([section.title, *(column_name(c) for c in section.columns)])
        for row in section.rows:
            rows.append(
                [section.title, *(plain(c, v) for c, v in zip(section.columns, row, strict=True))]
            )
    return rows


def may_read_party(officer: Officer, kind: str, party: str, home: str | None) -> bool:
    if kind == "national":
        return officer.role == NATION
    if kind == "province":
        return officer.role in (NATION, PROVINCE, "auditor") and officer.covers(party)
    if kind == "region":
        return officer.covers(party)
    return officer.role != "insured_place" and officer.covers(home)


def install(router: APIRouter, pages: Pages) -> None:
    from medroam.web.console import render

    engine, clock = pages.engine, pages.clock

    def scope_of(officer: Officer) -> str:
        return officer.region or svc.NATIONAL

    def item_scope(officer: Officer) -> Any:
        from medroam.web.console import region_condition

        if officer.role == "insured_place":
            return region_condition(officer, ClearingItemRow.insured_region)
        if officer.role == "treatment_place":
            return region_condition(officer, ClearingItemRow.treatment_region)
        return region_condition(
            officer, ClearingItemRow.insured_region, ClearingItemRow.treatment_region
        )

    @router.get("/clearing/disputes.{ext}")
    def disputes_export(request: Request, ext: str) -> Response:
        return clearing_export(request, "disputes", ext)

    @router.get("/clearing/runs.{ext}")
    def runs_export(request: Request, ext: str) -> Response:
        return clearing_export(request, "runs", ext)

    def clearing_export(request: Request, what: str, ext: str) -> Response:
        """The disputes work queue (all of it, in the officer's scope) or the runs, as
        CSV or XLSX."""
        from medroam.web.console import csv_response, xlsx_response

        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        if what not in ("disputes", "runs") or ext not in ("csv", "xlsx"):
            return pages.not_found(sess, "export", f"{what}.{ext}")
        me = sess.officer
        header: list[str]
        rows: list[list[Any]]
        with unit_of_work(engine) as session:
            if what == "disputes":
                header = ["结算ID", "参保地", "就医地", "定点机构", "医疗费用（元）",
                          "基金支付（元）", "争议原因", "更新时间（北京时间）"]  # fmt: skip
                rows = [
                    [
                        d.setl_id, fmt.region(d.insured_region), fmt.region(d.treatment_region),
                        d.fixmedins_code, fmt.yuan_plain(int(d.medfee)),
                        fmt.yuan_plain(int(d.fund)),
                        d.dispute_reason or "", fmt.china_time(d.updated_at),
                    ]
                    for d in session.execute(
                        select(ClearingItemRow)
                        .where(item_scope(me), ClearingItemRow.state == "disputed")
                        .order_by(ClearingItemRow.updated_at.desc())
                        .limit(100_000)
                    ).scalars()
                ]  # fmt: skip
            else:
                header = ["清算批次", "周期", "清算期", "范围", "笔数", "金额（元）",
                          "医院申请日", "医院回款截止日"]  # fmt: skip
                rows = [
                    [
                        r.run_id, r.cycle, r.period_label, r.scope, int(r.line_count),
                        fmt.yuan_plain(int(r.amount_fen)), r.applied_on.isoformat(),
                        r.due_on.isoformat(),
                    ]
                    for r in session.execute(
                        select(ClearingRunRow).order_by(ClearingRunRow.end_day.desc())
                    ).scalars()
                ]  # fmt: skip
        maker = csv_response if ext == "csv" else xlsx_response
        return maker(f"clearing-{what}", header, rows)

    def clearing_page(
        request: Request,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        with unit_of_work(engine) as session:
            states = session.execute(
                select(
                    ClearingItemRow.state,
                    func.count(),
                    func.coalesce(func.sum(ClearingItemRow.medfee), 0),
                    func.coalesce(func.sum(ClearingItemRow.fund), 0),
                )
                .where(item_scope(me))
                .group_by(ClearingItemRow.state)
                .order_by(ClearingItemRow.state)
            ).all()
            disputes = list(
                session.execute(
                    select(ClearingItemRow)
                    .where(item_scope(me), ClearingItemRow.state == "disputed")
                    .order_by(ClearingItemRow.updated_at.desc())
                    .limit(50)
                ).scalars()
            )
            runs = list(
                session.execute(
                    select(ClearingRunRow).order_by(ClearingRunRow.end_day.desc()).limit(24)
                ).scalars()
            )
        warnings = [
            w for w in prepayment.warnings(engine) if me.covers(w["payer"]) or me.covers(w["payee"])
        ][-50:]
        return render(
            "clearing.html",
            status,
            warnings=warnings,
            me=me,
            csrf=sess.csrf,
            active="clearing",
            states=[(RECON_STATE_NAMES.get(s, s), int(n), int(m), int(f)) for s, n, m, f in states],
            disputes=disputes,
            runs=runs,
            errors=errors or {},
            form=form or {},
            message=request.query_params.get("msg", ""),
            verification=None,
            may_propose=me.role in ("treatment_place", PROVINCE, NATION),
            may_confirm=me.role in ("insured_place", PROVINCE, NATION),
            may_run=me.role == NATION,
            own_party=me.region or svc.NATIONAL,
        )

    @router.get("/clearing")
    def clearing(request: Request) -> Response:
        return clearing_page(request)

    def period_error(text: str, today: date) -> tuple[Any, str | None]:
        try:
            period = parse_period(Cycle.MONTHLY, text)
        except ClearingError:
            return None, "清算期格式应为 YYYY-MM（如 2026-11）"
        if period.is_open(today):
            return None, f"{text} 尚未结束，期末次日起方可办理"
        return period, None

    @router.post("/clearing/{action}")
    async def clearing_action(request: Request, action: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        now = clock()
        today = now.astimezone(fmt.CHINA_TZ).date()
        allowed = {
            "propose": ("treatment_place", PROVINCE, NATION),
            "confirm": ("insured_place", PROVINCE, NATION),
            "dispute": ("insured_place", PROVINCE, NATION),
            "run": (NATION,),
            "verify": (PROVINCE, NATION),
        }
        if action not in allowed:
            return pages.not_found(sess, "clearing", action)
        if me.role not in allowed[action]:
            return pages.refused(sess, action, "clearing", action, "角色或地区无权办理此项清算业务")
        errors: dict[str, str] = {}
        message = ""
        try:
            if action in ("propose", "run"):
                period, problem = period_error(form.get("period", ""), today)
                if problem:
                    errors[action + "_period"] = problem
                elif action == "propose":
                    p = svc.propose(engine, period, now=now, treatment_scope=scope_of(me))
                    message = (
                        f"已上报 {p.proposed} 笔（结转争议 {p.carried} 笔），批次 {p.batch_id}"
                    )
                else:
                    run = svc.clear(engine, Cycle.MONTHLY, period.label, as_of=today, now=now)
                    problems = svc.verify_run(engine, run.run_id)
                    state = "核对一致" if not problems else f"核对有 {len(problems)} 处差异"
                    message = f"清算批次 {run.run_id} 已完成，{state}"
            elif action == "confirm":
                n = svc.confirm(
                    engine, now=now, insured_region=None if me.role == NATION else me.region
                )
                message = f"已确认 {n} 笔对账明细"
            elif action == "dispute":
                setl_id, reason = form.get("setl_id", ""), form.get("reason", "")
                if not setl_id:
                    errors["dispute_setl_id"] = "请填写结算ID"
                if not reason:
                    errors["dispute_reason"] = "请填写争议原因"
                if not errors:
                    with unit_of_work(engine) as session:
                        item = session.get(ClearingItemRow, setl_id)
                        visible = item is not None and me.covers(item.insured_region)
                    if not visible:
                        errors["dispute_setl_id"] = "该结算不在本地区的对账明细中"
                        if item is not None:  # another region's item: an out-of-scope attempt
                            record_now(
                                engine,
                                now,
                                me,
                                "dispute",
                                "clearing_item",
                                setl_id,
                                outcome="refused",
                                detail="不在本人经办范围内的对账明细",
                            )
                    else:
                        n = svc.dispute(engine, [setl_id], reason[:500], now=now)
                        message = f"已对 {n} 笔提出争议" if n else "该笔已清算或已有争议，未变更"
            else:  # verify
                run_id = form.get("run_id", "")
                with unit_of_work(engine) as session:
                    known = session.get(ClearingRunRow, run_id) is not None
                if not known:
                    return pages.not_found(sess, "clearing_run", run_id)
                problems = svc.verify_run(engine, run_id)
                message = (
                    f"清算批次 {run_id} 按明细重算，结果一致"
                    if not problems
                    else f"清算批次 {run_id} 重算有差异：" + "；".join(problems[:5])
                )
        except ClearingError as exc:
            errors[action + "_period"] = f"无法办理：{exc}"
        if errors:
            return clearing_page(request, errors, form, 422)
        record_now(
            engine,
            now,
            me,
            action,
            "clearing",
            form.get("period") or form.get("setl_id") or form.get("run_id") or "-",
            detail=message,
        )
        return RedirectResponse("/clearing?" + _q(message), 303)

    @router.get("/clearing/runs/{run_id}/statements/{party}")
    def statement(request: Request, run_id: str, party: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        kind, home = party_kind(party)
        with unit_of_work(engine) as session:
            run = session.get(ClearingRunRow, run_id)
            found: Statement | None = None
            if run is not None and kind is not None and may_read_party(me, kind, party, home):
                for candidate in svc.build_statements(session, run, load_regions(), (kind, party)):
                    if candidate.party == party and candidate.party_kind == kind:
                        found = candidate
        if found is None:
            return pages.not_found(sess, "statement", f"{run_id}/{party}")
        out = request.query_params.get("format", "html")
        rows = statement_rows(found)
        name = f"{run_id}-{found.file_stem}"
        if out == "csv":
            buf = io.StringIO()
            csv.writer(buf).writerows(rows)
            return Response(
                "\ufeff" + buf.getvalue(),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        if out == "xlsx":
            from medroam.web.console import xlsx_response

            return xlsx_response(name, rows[0], rows[1:])
        return render(
            "statement.html",
            me=me,
            csrf=sess.csrf,
            active="clearing",
            st=found,
            kind_name=PARTY_KIND_NAMES.get(found.party_kind, found.party_kind),
            party_name=party_label(found.party_kind, found.party),
            column_name=column_name,
            cell=cell,
            printed=fmt.china_time(clock()),
        )

    def party_kind(party: str) -> tuple[str | None, str | None]:
        if party == svc.NATIONAL:
            return "national", None
        if party.isdigit() and len(party) == 6:
            region = load_regions().get(party)
            if region is None:
                return None, None
            return ("province" if region.is_province else "region"), party
        with unit_of_work(engine) as session:
            inst = session.get(InstitutionRow, party)
            return ("hospital", inst.region) if inst else (None, None)

    def party_label(kind: str, party: str) -> str:
        if kind == "national":
            return "全国"
        if kind == "hospital":
            with unit_of_work(engine) as session:
                inst = session.get(InstitutionRow, party)
            return f"{inst.name}（{party}）" if inst else party
        return fmt.region(party)


def _q(message: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"msg": message})
