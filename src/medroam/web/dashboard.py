"""运行监测: the dashboard of the console, for a period and a scope.

Every chart is also a table on the page and a CSV (``/dashboard/<key>.csv`` with the same
period and scope). The scope is the officer's own (a region, a province or the nation),
or a part of it chosen with ``scope`` (a pooling region or a province code); a scope
outside the officer's is refused next to the field. Dates are China time.

Charts: settlements by kind of care (住院 / 普通门诊 / 门诊慢特病 / 药店) with cost, fund
and fund ratio; the top provinces and institutions of treatment; refusals by reason
(the gateway's message log); active filings by type and by channel; clearing speed (days
from settlement to the hospitals' clearing application and to their payment, per run);
hospital advance days per run; prepayment usage against the quotas with the warnings.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import case, func, or_, select

from medroam.batch.lines import epoch_day
from medroam.services.uow import unit_of_work
from medroam.store.tables import (
    ClearingItemRow,
    ClearingRunRow,
    FilingRow,
    InstitutionRow,
    MessageLogRow,
    PrepayWarningRow,
    RunPaymentRow,
    SettlementRow,
)
from medroam.web import fmt

if TYPE_CHECKING:
    from medroam.web.console import Pages
    from medroam.web.security import Officer

PHARMACY_MED_TYPE = "41"
CARE_NAMES = {
    "inpatient": "住院",
    "outpatient": "普通门诊",
    "chronic": "门诊慢特病",
    "pharmacy": "药店",
}
WARNING_NAMES = {"red": "红色预警", "yellow": "黄色预警", "none": "正常"}
LEVEL_NAMES = {"national": "跨省（国家）", "provincial": "省内"}
REFUSALS_READ = 20_000  # refusals of a period read to group by reason (newest first)

CHART_SPECS: dict[str, tuple[str, list[str]]] = {
    "kind": (
        "按就医类型的结算",
        ["就医类型", "结算笔数", "医疗费用（元）", "基金支付（元）", "基金支付比例"],
    ),
    "province": ("就医地省份前十", ["就医省份", "结算笔数", "医疗费用（元）"]),
    "institution": ("定点医药机构前十", ["定点医药机构", "结算笔数", "医疗费用（元）"]),
    "refusal": ("拒绝原因前十", ["拒绝原因", "次数", "交易"]),
    "filing_type": ("有效备案按类型", ["备案类型", "人数"]),
    "filing_channel": ("有效备案按办理渠道", ["办理渠道", "人数"]),
    "clearing_speed": (
        "清算速度（天）",
        ["清算批次", "平均结算至清算申请天数", "平均结算至拨付天数", "结算笔数"],
    ),
    "advance": (
        "医疗机构垫付天数",
        ["清算批次", "加权垫付天数", "机构数", "清算金额（元）"],
    ),
    "prepayment": (
        "预付金使用率",
        ["付款方 → 收款方", "使用率（%）", "层级", "月份", "预警", "应补足（元）"],
    ),
}


def period_of(request: Request, clock: Callable[[], datetime]) -> tuple[date, date]:
    """The chosen period (default: the last 365 days, China time)."""
    from medroam.web.console import parse_day

    today = clock().astimezone(fmt.CHINA_TZ).date()
    start = parse_day(request.query_params.get("start", "")) or today - timedelta(days=365)
    end = parse_day(request.query_params.get("end", "")) or today
    return (start, end) if start <= end else (end, start)


def scope_of(request: Request, officer: Officer) -> tuple[str, str]:
    """The chosen scope (a region or province code within the officer's, "" for all of
    it) and the error to show next to the field, if any."""
    chosen = request.query_params.get("scope", "").strip()[:6]
    if not chosen:
        return "", ""
    if not (len(chosen) == 6 and chosen.isdigit()):
        return "", "范围应为 6 位行政区划代码（统筹区或省份，如 110100、440000）"
    if fmt.region_name(chosen) == chosen:
        return "", f"未知的行政区划代码 {chosen}"
    if not officer.covers(chosen):
        return "", "所选范围不在您的经办范围内"
    return chosen, ""


def _within(chosen: str, *columns: Any) -> Any:
    """SQL: any of ``columns`` lies in the chosen scope (True when none is chosen)."""
    if not chosen:
        return True
    if chosen.endswith("0000"):
        return or_(*(c.like(chosen[:2] + "%") for c in columns))
    return or_(*(c == chosen for c in columns))


def _days(x100: int | None) -> str:
    return "—" if x100 is None else f"{x100 / 100:.2f}"


def refusal_reason(response: str) -> str:
    """The reason of a logged refusal envelope, its ids left out so that refusals group
    by cause (a word with four digits or more becomes "…")."""
    try:
        doc = json.loads(response)
    except ValueError:
        return "（无法读取）"
    message = str(doc.get("err_msg", "")) if isinstance(doc, dict) else ""
    words = []
    for word in message.replace(":", " ").split():
        words.append("…" if sum(ch.isdigit() for ch in word) >= 4 else word)
    return " ".join(words)[:80] or "（无说明）"


def dashboard_data(
    engine: Any, officer: Officer, start: date, end: date, chosen: str
) -> dict[str, list[list[Any]]]:
    from medroam.web.console import region_condition, settlement_columns

    lo = datetime.combine(start, datetime.min.time(), fmt.CHINA_TZ)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), fmt.CHINA_TZ)
    columns = settlement_columns(officer)
    scope = (region_condition(officer, *columns), _within(chosen, *columns))
    in_period = (SettlementRow.setl_time >= lo, SettlementRow.setl_time < hi)
    originals = SettlementRow.refd_setl_flag.is_(False)
    care = case((SettlementRow.med_type == PHARMACY_MED_TYPE, "pharmacy"), else_=SettlementRow.kind)
    with unit_of_work(engine) as session:
        by_kind = session.execute(
            select(
                care,
                func.count(),
                func.coalesce(func.sum(SettlementRow.medfee), 0),
                func.coalesce(func.sum(SettlementRow.fund_total), 0),
            )
            .where(*scope, *in_period, originals)
            .group_by(care)
            .order_by(care)
        ).all()
        province = func.substr(SettlementRow.treatment_region, 1, 2)
        by_province = session.execute(
            select(province, func.count(), func.coalesce(func.sum(SettlementRow.medfee), 0))
            .where(*scope, *in_period, originals)
            .group_by(province)
            .order_by(func.count().desc(), province)
            .limit(10)
        ).all()
        by_institution = session.execute(
            select(
                SettlementRow.fixmedins_code,
                func.count(),
                func.coalesce(func.sum(SettlementRow.medfee), 0),
            )
            .where(*scope, *in_period, originals)
            .group_by(SettlementRow.fixmedins_code)
            .order_by(func.count().desc(), SettlementRow.fixmedins_code)
            .limit(10)
        ).all()
        names = dict(
            session.execute(
                select(InstitutionRow.fixmedins_code, InstitutionRow.name).where(
                    InstitutionRow.fixmedins_code.in_([c for c, _n, _m in by_institution])
                )
            ).all()
        )
        # refusals: the gateway's log, by the refusing call's institution region
        refused = session.execute(
            select(MessageLogRow.response, MessageLogRow.infno)
            .join(InstitutionRow, InstitutionRow.fixmedins_code == MessageLogRow.fixmedins_code)
            .where(
                MessageLogRow.infcode < 0,
                MessageLogRow.received_at >= lo,
                MessageLogRow.received_at < hi,
                region_condition(officer, InstitutionRow.region),
                _within(chosen, InstitutionRow.region),
            )
            .order_by(MessageLogRow.log_id.desc())
            .limit(REFUSALS_READ)
        ).all()
        filing_scope = (
            region_condition(officer, FilingRow.insured_region, FilingRow.destination),
            _within(chosen, FilingRow.insured_region, FilingRow.destination),
            FilingRow.status == "active",
        )
        by_type = session.execute(
            select(FilingRow.filing_type, func.count())
            .where(*filing_scope)
            .group_by(FilingRow.filing_type)
            .order_by(FilingRow.filing_type)
        ).all()
        by_channel = session.execute(
            select(FilingRow.channel, func.count())
            .where(*filing_scope)
            .group_by(FilingRow.channel)
            .order_by(func.count().desc(), FilingRow.channel)
        ).all()
        # clearing speed: the cleared items of runs applied in the period
        item_scope = (
            region_condition(
                officer, ClearingItemRow.treatment_region, ClearingItemRow.insured_region
            ),
            _within(chosen, ClearingItemRow.treatment_region, ClearingItemRow.insured_region),
        )
        speed = session.execute(
            select(
                ClearingRunRow.run_id,
                ClearingRunRow.applied_on,
                ClearingRunRow.due_on,
                func.count(),
                func.sum(ClearingItemRow.setl_day),
            )
            .join(ClearingItemRow, ClearingItemRow.cleared_run_id == ClearingRunRow.run_id)
            .where(
                *item_scope, ClearingRunRow.applied_on >= start, ClearingRunRow.applied_on <= end
            )
            .group_by(ClearingRunRow.run_id, ClearingRunRow.applied_on, ClearingRunRow.due_on)
            .order_by(ClearingRunRow.applied_on, ClearingRunRow.run_id)
        ).all()
        pay = RunPaymentRow
        payment_scope = (
            region_condition(officer, pay.treatment_region),
            _within(chosen, pay.treatment_region),
            pay.applied_on >= start,
            pay.applied_on <= end,
        )
        advance = session.execute(
            select(
                RunPaymentRow.run_id,
                func.sum(RunPaymentRow.advance_days_x100 * RunPaymentRow.amount_fen),
                func.sum(
                    case(
                        (RunPaymentRow.advance_days_x100.is_not(None), RunPaymentRow.amount_fen),
                        else_=0,
                    )
                ),
                func.count(),
                func.sum(RunPaymentRow.amount_fen),
            )
            .where(
                *payment_scope, RunPaymentRow.applied_on >= start, RunPaymentRow.applied_on <= end
            )
            .group_by(RunPaymentRow.run_id)
            .order_by(RunPaymentRow.run_id)
        ).all()
        latest_month = session.execute(
            select(func.max(PrepayWarningRow.month)).where(PrepayWarningRow.month <= f"{end:%Y-%m}")
        ).scalar_one()
        warnings = []
        if latest_month is not None:
            warnings = list(
                session.execute(
                    select(PrepayWarningRow)
                    .where(
                        PrepayWarningRow.month == latest_month,
                        region_condition(officer, PrepayWarningRow.payer, PrepayWarningRow.payee),
                        _within(chosen, PrepayWarningRow.payer, PrepayWarningRow.payee),
                        PrepayWarningRow.rate.is_not(None),
                    )
                    .order_by(PrepayWarningRow.rate.desc(), PrepayWarningRow.payer)
                    .limit(15)
                ).scalars()
            )

    kinds = [
        [
            CARE_NAMES.get(k, k),
            int(n),
            fmt.yuan_plain(int(m)),
            fmt.yuan_plain(int(f)),
            fmt.ratio(int(f) * 10000 // int(m)) if m else "—",
        ]
        for k, n, m, f in by_kind
    ]
    reasons: Counter[tuple[str, str]] = Counter(
        (refusal_reason(response), infno) for response, infno in refused
    )
    speed_rows = []
    for run_id, applied_on, due_on, n, day_sum in speed:
        mean_day = int(day_sum) / int(n)
        speed_rows.append(
            [
                run_id,
                f"{epoch_day(applied_on) - mean_day:.1f}",
                f"{epoch_day(due_on) - mean_day:.1f}",
                int(n),
            ]
        )
    return {
        "kind": kinds,
        "province": [
            [fmt.region_name(p + "0000"), int(n), fmt.yuan_plain(int(m))] for p, n, m in by_province
        ],
        "institution": [
            [names.get(c, c), int(n), fmt.yuan_plain(int(m))] for c, n, m in by_institution
        ],
        "refusal": [[r, n, infno] for (r, infno), n in reasons.most_common(10)],
        "filing_type": [[fmt.FILING_TYPE_NAMES.get(t, t), int(n)] for t, n in by_type],
        "filing_channel": [[fmt.CHANNEL_NAMES.get(c, c), int(n)] for c, n in by_channel],
        "clearing_speed": speed_rows,
        "advance": [
            [
                run_id,
                _days(int(weighted) // int(weight) if weight else None),
                int(n),
                fmt.yuan_plain(int(total or 0)),
            ]
            for run_id, weighted, weight, n, total in advance
        ],
        "prepayment": [
            [
                f"{fmt.region_name(w.payer)} → {fmt.region_name(w.payee)}",
                f"{(w.rate or 0) / 100:.2f}",
                LEVEL_NAMES.get(w.level, w.level),
                w.month,
                WARNING_NAMES.get(w.warning, w.warning),
                fmt.yuan_plain(int(w.topup_fen)),
            ]
            for w in warnings
        ],
    }


def _numeric(value: Any) -> Any:
    """A chart's value: numbers as they are, "12.34" as a number, "—" as 0."""
    if isinstance(value, int | float):
        return value
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return 0


def install(router: APIRouter, pages: Pages) -> None:
    from medroam.web.console import csv_response, render

    engine = pages.engine

    @router.get("/")
    def dashboard(request: Request) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        start, end = period_of(request, pages.clock)
        chosen, scope_error = scope_of(request, sess.officer)
        data = dashboard_data(engine, sess.officer, start, end, chosen)
        charts = [
            {
                "key": k,
                "title": t,
                "header": h,
                "rows": data[k],
                "values": [_numeric(r[1]) for r in data[k]],
            }
            for k, (t, h) in CHART_SPECS.items()
        ]
        return render(
            "dashboard.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="dashboard",
            charts=charts,
            start=start,
            end=end,
            scope=chosen,
            scope_error=scope_error,
            scope_input=request.query_params.get("scope", "")[:6],
        )

    @router.get("/dashboard/{chart}.csv")
    def dashboard_csv(request: Request, chart: str) -> Response:
        sess = pages.session_of(request)
        if sess is None or sess.officer is None:
            return pages.to_login(request)
        if chart not in CHART_SPECS:
            return pages.not_found(sess, "chart", chart)
        start, end = period_of(request, pages.clock)
        chosen, _error = scope_of(request, sess.officer)
        data = dashboard_data(engine, sess.officer, start, end, chosen)
        name = f"dashboard-{chart}-{start}-{end}" + (f"-{chosen}" if chosen else "")
        return csv_response(name, CHART_SPECS[chart][1], data[chart])
