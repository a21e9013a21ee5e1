"""清算与预付金 (continued): prepayment quotas and their usage with the yellow and red
warnings, the tracked emergency top-up (requested by the treating side after a red
warning, recorded as paid by the paying side with its voucher number), and the hospital
payments due after each clearing run. Every list pages on the server and exports as CSV
and XLSX with the same filters."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Select, and_, false, func, literal, null, select
from sqlalchemy.orm import Session

from medroam.domain.clearing.periods import ClearingError
from medroam.services import prepayment
from medroam.services.uow import unit_of_work
from medroam.store.console_more_tables import PrepayTopupRow
from medroam.store.tables import (
    InstitutionRow,
    PrepayQuotaRow,
    PrepayWarningRow,
    RunPaymentRow,
)
from medroam.web import fmt
from medroam.web.security import NATION, PROVINCE, Officer, record

if TYPE_CHECKING:
    from medroam.web.console import Pages

LEVEL_NAMES = {"national": "国家级（省间）", "provincial": "省级（省内）"}
WARNING_NAMES = {"none": "正常", "yellow": "黄色预警", "red": "红色预警"}
TOPUP_STATE_NAMES = {"requested": "待到账", "paid": "已到账"}
DUE_FILTERS = {"": "全部", "open": "未过回款截止日", "past": "已过回款截止日"}
YUAN = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
VOUCHER = re.compile(r"^[A-Za-z0-9-]{4,60}$")
REQUEST_ROLES = (PROVINCE, NATION)
PAY_ROLES = ("insured_place", PROVINCE, NATION)
Row = tuple[Any, ...]


def parse_yuan(text: str) -> int | None:
    """``"1,234.5"`` → ``123450`` fen (separators allowed; at most two decimals); None
    when it is not a positive amount."""
    cleaned = text.replace(",", "").replace("，", "").strip()
    if not YUAN.match(cleaned):
        return None
    fen = int(Decimal(cleaned) * 100)
    return fen if fen > 0 else None


def days_x100(value: int | None) -> str:
    """Hundredths of a day for a person: ``5825`` → ``58.25``; None → ``—``."""
    if value is None:
        return "—"
    whole, frac = divmod(value, 100)
    return f"{whole}.{frac:02d}"


def may_request(officer: Officer, payee: str) -> bool:
    """The treating side (the payee's province, or the nation) asks for a top-up."""
    return officer.role in REQUEST_ROLES and officer.covers(payee)


def may_pay(officer: Officer, payer: str) -> bool:
    """The paying side (the payer's region or province, or the nation) records it paid."""
    return officer.role in PAY_ROLES and officer.covers(payer)


def install(router: APIRouter, pages: Pages) -> None:
    from medroam.web.console import (
        csv_response,
        page_of,
        pager,
        region_condition,
        render,
        xlsx_response,
    )

    engine, clock = pages.engine, pages.clock

    def exporting_officer(request: Request, ext: str) -> Officer | Response:
        """The officer asking for a CSV/XLSX download, or the answer (sign-in, 404)."""
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        if ext not in {"csv", "xlsx"}:
            return pages.not_found(sess, "export", ext)
        return sess.officer

    # --- prepayment quotas, usage and warnings ------------------------------------------

    def quota_filters(request: Request) -> tuple[dict[str, str], dict[str, str]]:
        today = clock().astimezone(fmt.CHINA_TZ).date()
        f = {
            k: request.query_params.get(k, "").strip()[:10]
            for k in ("year", "month", "level", "warning")
        }
        errors: dict[str, str] = {}
        if not f["year"]:
            f["year"] = str(today.year)
        elif not (f["year"].isdigit() and len(f["year"]) == 4):
            errors["year"] = "年度应为 4 位数字，如 2026"
        if f["month"] and not re.match(r"^\d{4}-(0[1-9]|1[0-2])$", f["month"]):
            errors["month"] = "月份格式应为 YYYY-MM"
        elif f["month"] and "year" not in errors and not f["month"].startswith(f["year"]):
            errors["month"] = "月份应在所选年度内"
        if f["level"] and f["level"] not in LEVEL_NAMES:
            errors["level"] = "未知的预付金层级"
        if f["warning"] and f["warning"] not in WARNING_NAMES:
            errors["warning"] = "未知的预警等级"
        return f, errors

    def latest_month(session: Session, year: str) -> str:
        found = session.execute(
            select(func.max(PrepayWarningRow.month)).where(PrepayWarningRow.month.like(year + "%"))
        ).scalar()
        return str(found) if found else f"{year}-01"

    def quota_query(me: Officer, f: dict[str, str], assessed: bool) -> Select[*Row]:
        """One row per pair: level, payer, payee, quota_fen, and the month's usage.

        When the month was assessed, the assessments lead (a pair that cleared money
        without any quota is red and must show); otherwise the year's quotas, unused."""
        year = int(f["year"])
        if assessed:
            w = PrepayWarningRow
            stmt = (
                select(
                    w.level,
                    w.payer,
                    w.payee,
                    PrepayQuotaRow.amount_fen.label("quota_fen"),
                    w.cleared_fen,
                    w.rate,
                    w.warning,
                    w.topup_fen,
                    w.topup_due,
                )
                .outerjoin(
                    PrepayQuotaRow,
                    and_(
                        PrepayQuotaRow.level == w.level,
                        PrepayQuotaRow.payer == w.payer,
                        PrepayQuotaRow.payee == w.payee,
                        PrepayQuotaRow.year == year,
                    ),
                )
                .where(w.month == f["month"], region_condition(me, w.payer, w.payee))
            )
            if f["level"]:
                stmt = stmt.where(w.level == f["level"])
            if f["warning"]:
                stmt = stmt.where(w.warning == f["warning"])
            return stmt.order_by(w.rate.desc().nulls_first(), w.level, w.payer, w.payee)
        q = PrepayQuotaRow
        stmt = select(
            q.level,
            q.payer,
            q.payee,
            q.amount_fen.label("quota_fen"),
            literal(0).label("cleared_fen"),
            null().label("rate"),
            literal("none").label("warning"),
            literal(0).label("topup_fen"),
            null().label("topup_due"),
        ).where(q.year == year, region_condition(me, q.payer, q.payee))
        if f["level"]:
            stmt = stmt.where(q.level == f["level"])
        if f["warning"] not in ("", "none"):
            stmt = stmt.where(false())
        return stmt.order_by(q.level, q.payer, q.payee)

    def is_assessed(session: Session, month: str) -> bool:
        found = session.execute(
            select(PrepayWarningRow.warning_id).where(PrepayWarningRow.month == month).limit(1)
        ).first()
        return found is not None

    def open_topups(session: Session, me: Officer, limit: int = 100) -> list[PrepayTopupRow]:
        """The top-ups of the officer's scope, open ones first, newest first."""
        return list(
            session.execute(
                select(PrepayTopupRow)
                .where(region_condition(me, PrepayTopupRow.payer, PrepayTopupRow.payee))
                .order_by(PrepayTopupRow.state.desc(), PrepayTopupRow.topup_id.desc())
                .limit(limit)
            ).scalars()
        )

    def prepayment_page(
        request: Request,
        errors: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        f, filter_errors = quota_filters(request)
        rows: list[Any] = []
        total = 0
        page = page_of(request)
        topups: list[PrepayTopupRow] = []
        with unit_of_work(engine) as session:
            if not filter_errors:
                f["month"] = f["month"] or latest_month(session, f["year"])
                stmt = quota_query(me, f, is_assessed(session, f["month"]))
                total = int(
                    session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
                )
                rows = list(session.execute(stmt.limit(20).offset((page - 1) * 20)).all())
            topups = open_topups(session, me)
        pending = {(t.level, t.payer, t.payee, t.month) for t in topups if t.state == "requested"}
        today = clock().astimezone(fmt.CHINA_TZ).date()
        return render(
            "prepayment.html",
            status,
            me=me,
            csrf=sess.csrf,
            active="clearing",
            f=f,
            filter_errors=filter_errors,
            rows=rows,
            pager=pager(request, page, total),
            topups=topups,
            pending=pending,
            today=today,
            errors=errors or {},
            form=form or {},
            message=request.query_params.get("msg", ""),
            may_request=may_request,
            may_pay=may_pay,
            LEVEL_NAMES=LEVEL_NAMES,
            WARNING_NAMES=WARNING_NAMES,
            TOPUP_STATE_NAMES=TOPUP_STATE_NAMES,
        )

    @router.get("/clearing/prepayment")
    def prepayment_list(request: Request) -> Response:
        return prepayment_page(request)

    quota_header = [
        "层级",
        "付款方",
        "收款方",
        "年度",
        "年度额度（元）",
        "月份",
        "当月清算（元）",
        "使用率",
        "预警",
        "建议补足（元）",
        "补足期限",
    ]

    @router.get("/clearing/prepayment.{ext}")
    def prepayment_export(request: Request, ext: str) -> Response:
        me = exporting_officer(request, ext)
        if isinstance(me, Response):
            return me
        f, filter_errors = quota_filters(request)
        if filter_errors:
            return prepayment_page(request, status=400)
        with unit_of_work(engine) as session:
            f["month"] = f["month"] or latest_month(session, f["year"])
            assessed = is_assessed(session, f["month"])
            found = session.execute(quota_query(me, f, assessed).limit(100_000)).all()
        data = [
            [
                LEVEL_NAMES.get(r.level, r.level),
                fmt.region(r.payer),
                fmt.region(r.payee),
                f["year"],
                "" if r.quota_fen is None else fmt.yuan_plain(r.quota_fen),
                f["month"],
                fmt.yuan_plain(r.cleared_fen),
                "" if r.rate is None else fmt.ratio(r.rate),
                WARNING_NAMES.get(r.warning, r.warning),
                fmt.yuan_plain(r.topup_fen),
                r.topup_due.isoformat() if r.topup_due else "",
            ]
            for r in found
        ]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker(f"prepayment-{f['year']}-{f['month']}", quota_header, data)

    topup_header = [
        "编号",
        "层级",
        "付款方",
        "收款方",
        "预警月份",
        "金额（元）",
        "补足期限",
        "状态",
        "申请人",
        "申请时间（北京时间）",
        "登记人",
        "到账时间（北京时间）",
        "转账凭证号",
    ]

    @router.get("/clearing/prepayment/topups.{ext}")
    def topups_export(request: Request, ext: str) -> Response:
        me = exporting_officer(request, ext)
        if isinstance(me, Response):
            return me
        today = clock().astimezone(fmt.CHINA_TZ).date()
        with unit_of_work(engine) as session:
            found = open_topups(session, me, limit=100_000)
        data = [
            [
                t.topup_id,
                LEVEL_NAMES.get(t.level, t.level),
                fmt.region(t.payer),
                fmt.region(t.payee),
                t.month,
                fmt.yuan_plain(t.amount_fen),
                t.due_on.isoformat() if t.due_on else "",
                TOPUP_STATE_NAMES.get(t.state, t.state)
                + (
                    "（已逾期）" if t.state == "requested" and t.due_on and t.due_on < today else ""
                ),
                t.requested_by,
                fmt.china_time(t.requested_at),
                t.paid_by or "",
                fmt.china_time(t.paid_at) if t.paid_at else "",
                t.voucher or "",
            ]
            for t in found
        ]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("prepayment-topups", topup_header, data)

    @router.post("/clearing/prepayment/topups")
    async def request_topup(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        now = clock()
        level, payer, payee, month = (form.get(k, "") for k in ("level", "payer", "payee", "month"))
        pair = f"{level}:{payer}>{payee}:{month}"
        with unit_of_work(engine) as session:
            warning = session.execute(
                select(PrepayWarningRow).where(
                    PrepayWarningRow.level == level,
                    PrepayWarningRow.payer == payer,
                    PrepayWarningRow.payee == payee,
                    PrepayWarningRow.month == month,
                )
            ).scalar_one_or_none()
        if warning is None or not (me.covers(payer) or me.covers(payee)):
            return pages.not_found(sess, "prepay_warning", pair)
        if not may_request(me, payee):
            return pages.refused(sess, "request", "prepay_topup", pair, "角色或地区无权发起补足")
        errors: dict[str, str] = {}
        amount = parse_yuan(form.get("amount", ""))
        if warning.warning != "red":
            errors["topup"] = "仅红色预警可发起紧急补足"
        elif amount is None:
            errors["topup"] = "补足金额应为大于 0 的元金额，最多两位小数"
        else:
            with unit_of_work(engine) as session:
                already = session.execute(
                    select(PrepayTopupRow.topup_id).where(
                        PrepayTopupRow.level == level,
                        PrepayTopupRow.payer == payer,
                        PrepayTopupRow.payee == payee,
                        PrepayTopupRow.month == month,
                        PrepayTopupRow.state == "requested",
                    )
                ).first()
            if already is not None:
                errors["topup"] = "该预警已有待到账的补足申请"
        if errors or amount is None:
            return prepayment_page(request, errors, {**form, "pair": pair}, 422)
        with unit_of_work(engine) as session:
            row = PrepayTopupRow(
                level=level,
                payer=payer,
                payee=payee,
                year=int(month[:4]),
                month=month,
                amount_fen=amount,
                due_on=warning.topup_due,
                state="requested",
                requested_by=me.username,
                requested_at=now,
            )
            session.add(row)
            session.flush()
            record(
                session,
                now,
                me,
                "request",
                "prepay_topup",
                str(row.topup_id),
                detail=f"{pair} 申请紧急补足 {fmt.yuan(amount)} 元",
                after={"state": "requested", "amount_fen": amount},
            )
        return RedirectResponse(
            "/clearing/prepayment?" + urlencode({"msg": f"已发起补足申请 {fmt.yuan(amount)} 元"}),
            303,
        )

    @router.post("/clearing/prepayment/topups/{topup_id}/paid")
    async def topup_paid(request: Request, topup_id: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        form = await pages.checked_form(request, sess)
        if form is None:
            return pages.csrf_refused(sess)
        now = clock()
        with unit_of_work(engine) as session:
            row = session.get(PrepayTopupRow, int(topup_id)) if topup_id.isdigit() else None
            visible = row is not None and (me.covers(row.payer) or me.covers(row.payee))
        if row is None or not visible:
            return pages.not_found(sess, "prepay_topup", topup_id)
        if not may_pay(me, row.payer):
            return pages.refused(sess, "pay", "prepay_topup", topup_id, "角色或地区无权登记到账")
        voucher = form.get("voucher", "")
        errors: dict[str, str] = {}
        if row.state != "requested":
            errors["voucher"] = "该补足已登记到账"
        elif not VOUCHER.match(voucher):
            errors["voucher"] = "请填写转账凭证号（4–60 位字母、数字或连字符）"
        if not errors:
            try:
                with unit_of_work(engine) as session:
                    locked = session.get(PrepayTopupRow, row.topup_id, with_for_update=True)
                    assert locked is not None
                    if locked.state != "requested":
                        raise ClearingError("already paid")
                    quota = prepayment.topup_in(
                        session,
                        locked.year,
                        locked.level,
                        locked.payer,
                        locked.payee,
                        now=now,
                        amount=locked.amount_fen,
                        reason=f"emergency top-up {locked.month}, voucher {voucher}",
                    )
                    locked.state, locked.paid_by = "paid", me.username
                    locked.paid_at, locked.voucher = now, voucher
                    record(
                        session,
                        now,
                        me,
                        "pay",
                        "prepay_topup",
                        topup_id,
                        detail=f"到账 {fmt.yuan(locked.amount_fen)} 元，凭证 {voucher}",
                        before={"state": "requested"},
                        after={"state": "paid", "quota_fen": quota["quota_fen"]},
                    )
            except ClearingError as exc:
                errors["voucher"] = f"无法登记：{exc}"
        if errors:
            return prepayment_page(request, errors, {**form, "topup_id": topup_id}, 422)
        return RedirectResponse(
            "/clearing/prepayment?" + urlencode({"msg": f"补足 {topup_id} 已登记到账"}), 303
        )

    # --- hospital payments due ----------------------------------------------------------

    def payment_filters(request: Request) -> tuple[dict[str, str], dict[str, str]]:
        f = {
            k: request.query_params.get(k, "").strip()[:60]
            for k in ("run_id", "fixmedins_code", "due")
        }
        errors = {}
        if f["due"] not in DUE_FILTERS:
            errors["due"] = "未知的回款状态"
        return f, errors

    def payment_query(me: Officer, f: dict[str, str], today: date) -> Select[RunPaymentRow, str]:
        stmt = (
            select(RunPaymentRow, InstitutionRow.name)
            .outerjoin(
                InstitutionRow, InstitutionRow.fixmedins_code == RunPaymentRow.fixmedins_code
            )
            .where(region_condition(me, RunPaymentRow.treatment_region))
        )
        if f["run_id"]:
            stmt = stmt.where(RunPaymentRow.run_id == f["run_id"])
        if f["fixmedins_code"]:
            stmt = stmt.where(RunPaymentRow.fixmedins_code == f["fixmedins_code"])
        if f["due"] == "open":
            stmt = stmt.where(RunPaymentRow.due_on >= today)
        elif f["due"] == "past":
            stmt = stmt.where(RunPaymentRow.due_on < today)
        return stmt.order_by(
            RunPaymentRow.due_on, RunPaymentRow.amount_fen.desc(), RunPaymentRow.fixmedins_code
        )

    @router.get("/clearing/payments")
    def payments(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        me = sess.officer
        today = clock().astimezone(fmt.CHINA_TZ).date()
        f, errors = payment_filters(request)
        page = page_of(request)
        rows: list[Any] = []
        total, amount = 0, 0
        if not errors:
            stmt = payment_query(me, f, today)
            with unit_of_work(engine) as session:
                sub = stmt.subquery()
                total, amount = session.execute(
                    select(func.count(), func.coalesce(func.sum(sub.c.amount_fen), 0))
                ).one()
                rows = list(session.execute(stmt.limit(20).offset((page - 1) * 20)).all())
        return render(
            "payments.html",
            400 if errors else 200,
            me=me,
            csrf=sess.csrf,
            active="clearing",
            f=f,
            errors=errors,
            rows=rows,
            total_amount=int(amount),
            today=today,
            pager=pager(request, page, int(total)),
            DUE_FILTERS=DUE_FILTERS,
            days_x100=days_x100,
        )

    payment_header = [
        "清算批次",
        "定点机构编码",
        "定点机构",
        "就医地",
        "应付金额（元）",
        "结算笔数",
        "医院申请日",
        "回款截止日",
        "距截止日（天）",
        "垫付天数",
    ]

    @router.get("/clearing/payments.{ext}")
    def payments_export(request: Request, ext: str) -> Response:
        me = exporting_officer(request, ext)
        if isinstance(me, Response):
            return me
        today = clock().astimezone(fmt.CHINA_TZ).date()
        f, errors = payment_filters(request)
        if errors:
            return payments(request)
        with unit_of_work(engine) as session:
            found = session.execute(payment_query(me, f, today).limit(100_000)).all()
        data = [
            [
                p.run_id,
                p.fixmedins_code,
                name or "",
                fmt.region(p.treatment_region),
                fmt.yuan_plain(p.amount_fen),
                p.settlements,
                p.applied_on.isoformat(),
                p.due_on.isoformat(),
                (p.due_on - today).days,
                days_x100(p.advance_days_x100),
            ]
            for p, name in found
        ]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("hospital-payments", payment_header, data)
