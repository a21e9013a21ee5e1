"""支付方式管理: DRG results of the settlement lists (医保基金结算清单) per hospital and
period — groups with their cases and item cost, and the lists that failed QC."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from medroam.services.drg_results import group_results
from medroam.services.uow import unit_of_work
from medroam.store.tables import InstitutionRow, SettlementListRow, SettlementRow
from medroam.web import fmt

if TYPE_CHECKING:
    from medroam.web.console import Pages

QC_NAMES = {"passed": "通过", "warning": "有提示", "failed": "未通过"}
GROUP_HEADER = ["DRG 组", "ADRG", "MDC", "病例数", "医疗费用合计（元）", "例均费用（元）"]
RESULT_HEADER = [
    "定点医药机构",
    "DRG 组",
    "病例数",
    "权重（RW）",
    "项目费用（元）",
    "按病组支付（元）",
    "支付−费用（元）",
    "支付参数",
]
FAILED_HEADER = ["结算清单号", "结算ID", "定点机构", "上传时间", "错误数", "质控问题"]


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

    def query(request: Request, me: Any) -> tuple[dict[str, str], list[Any], dict[str, str]]:
        f = {k: request.query_params.get(k, "").strip()[:30] for k in ("hospital", "start", "end")}
        errors = {
            k: "日期格式应为 YYYY-MM-DD" for k in ("start", "end") if f[k] and not parse_day(f[k])
        }
        where: list[Any] = [
            region_condition(me, SettlementListRow.treatment_region, SettlementListRow.insuplc)
        ]
        if f["hospital"]:
            where.append(SettlementListRow.fixmedins_code == f["hospital"])
        start, end = parse_day(f["start"]), parse_day(f["end"])
        if start:
            where.append(
                SettlementListRow.uploaded_at
                >= datetime.combine(start, datetime.min.time(), fmt.CHINA_TZ)
            )
        if end:
            where.append(
                SettlementListRow.uploaded_at
                < datetime.combine(end + timedelta(days=1), datetime.min.time(), fmt.CHINA_TZ)
            )
        return f, where, errors

    def groups(where: list[Any]) -> list[list[Any]]:
        with unit_of_work(engine) as session:
            rows = session.execute(
                select(
                    SettlementListRow.drg,
                    SettlementListRow.adrg,
                    SettlementListRow.mdc,
                    func.count(),
                    func.coalesce(func.sum(SettlementRow.medfee), 0),
                )
                .join(SettlementRow, SettlementRow.setl_id == SettlementListRow.setl_id)
                .where(*where, SettlementListRow.group_status.is_not(None))
                .group_by(SettlementListRow.drg, SettlementListRow.adrg, SettlementListRow.mdc)
                .order_by(func.count().desc(), SettlementListRow.drg)
                .limit(500)
            ).all()
        return [
            [
                d or "未入组",
                a or "—",
                m or "—",
                int(n),
                fmt.yuan_plain(int(t)),
                fmt.yuan_plain(int(t) // int(n)) if n else "—",
            ]
            for d, a, m, n, t in rows
        ]

    def results(where: list[Any]) -> list[list[Any]]:
        """Per hospital and DRG: weight, item cost and what DRG payment would pay."""
        with unit_of_work(engine) as session:
            rows = session.execute(
                select(SettlementListRow, SettlementRow, InstitutionRow.level)
                .join(SettlementRow, SettlementRow.setl_id == SettlementListRow.setl_id)
                .join(
                    InstitutionRow,
                    InstitutionRow.fixmedins_code == SettlementListRow.fixmedins_code,
                )
                .where(*where, SettlementListRow.group_status.is_not(None))
                .limit(20_000)
            ).all()
            found = group_results((lst, setl, level) for lst, setl, level in rows)
            names = {
                c: n
                for c, n in session.execute(
                    select(InstitutionRow.fixmedins_code, InstitutionRow.name).where(
                        InstitutionRow.fixmedins_code.in_({r.fixmedins_code for r in found})
                    )
                )
            }
        return [
            [
                names.get(r.fixmedins_code, r.fixmedins_code),
                r.drg,
                r.cases,
                "—" if r.rw is None else f"{r.rw / 10_000:.4f}",
                fmt.yuan_plain(r.item_cost),
                "—" if r.payment is None else fmt.yuan_plain(r.payment),
                "—" if r.difference is None else fmt.yuan_plain(r.difference),
                r.parameters or "本地无 DRG 支付参数",
            ]
            for r in found
        ]

    def failures_text(row: SettlementListRow) -> str:
        return (
            "；".join(
                str(x.get("message", "")) for x in row.findings if x.get("severity") == "error"
            )
            or "—"
        )

    @router.get("/payment")
    def payment(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        f, where, errors = query(request, sess.officer)
        page = page_of(request)
        group_rows: list[list[Any]] = []
        result_rows: list[list[Any]] = []
        failed: list[SettlementListRow] = []
        total = 0
        counts: dict[str, int] = {}
        if not errors:
            group_rows = groups(where)
            result_rows = results(where)
            with unit_of_work(engine) as session:
                counts = {
                    QC_NAMES.get(s, s): int(n)
                    for s, n in session.execute(
                        select(SettlementListRow.qc_status, func.count())
                        .where(*where)
                        .group_by(SettlementListRow.qc_status)
                    )
                }
                failed, total = paginate(
                    session,
                    select(SettlementListRow)
                    .where(*where, SettlementListRow.qc_status == "failed")
                    .order_by(SettlementListRow.uploaded_at.desc()),
                    page,
                )
        return render(
            "payment.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="payment",
            f=f,
            errors=errors,
            groups=group_rows,
            header=GROUP_HEADER,
            results=result_rows,
            result_header=RESULT_HEADER,
            counts=counts,
            failed=failed,
            failures_text=failures_text,
            pager=pager(request, page, total),
        )

    @router.get("/payment/{what}.{ext}")
    def payment_export(request: Request, what: str, ext: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        if what not in ("groups", "results", "failed") or ext not in ("csv", "xlsx"):
            return pages.not_found(sess, "export", f"{what}.{ext}")
        _f, where, errors = query(request, sess.officer)
        if errors:
            return pages.not_found(sess, "export", f"{what}.{ext}")
        if what == "groups":
            header, rows = GROUP_HEADER, groups(where)
        elif what == "results":
            header, rows = RESULT_HEADER, results(where)
        else:
            with unit_of_work(engine) as session:
                lists = list(
                    session.execute(
                        select(SettlementListRow)
                        .where(*where, SettlementListRow.qc_status == "failed")
                        .order_by(SettlementListRow.uploaded_at.desc())
                        .limit(100_000)
                    ).scalars()
                )
                names = {
                    c: n
                    for c, n in session.execute(
                        select(InstitutionRow.fixmedins_code, InstitutionRow.name)
                    )
                }
            header = FAILED_HEADER
            rows = [
                [
                    r.setl_list_id,
                    r.setl_id,
                    names.get(r.fixmedins_code, r.fixmedins_code),
                    fmt.china_time(r.uploaded_at),
                    r.qc_errors,
                    failures_text(r),
                ]
                for r in lists
            ]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker(f"drg-{what}", header, rows)
