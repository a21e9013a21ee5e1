"""The console's pages (经办管理系统) : sign-in, 运行监测, 跨省异地就医管理 (persons,
filings desk, settlements), the operations log and the menu's other subsystems.

Every page needs a signed-in officer; every POST carries the session's CSRF token; an
object outside the officer's scope answers 404 (and the attempt is logged)."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, Select, func, or_, select
from sqlalchemy.orm import Session

from medroam.domain import filing as filing_domain
from medroam.domain.codes import INSUTYPE_RESIDENT, FilingType
from medroam.domain.filing import (
    Filing,
    FilingChanges,
    FilingChannel,
    FilingError,
    FilingRequest,
)
from medroam.domain.policy import FilingRules
from medroam.refdata.policies import load_policy_book
from medroam.refdata.regions import load_regions
from medroam.services import filings as filing_service
from medroam.services.uow import unit_of_work
from medroam.store.console_tables import OperationLogRow
from medroam.store.filing_document_tables import FilingDocumentRow
from medroam.store.filings import FilingRepository, filing_to_record
from medroam.store.refdata_cache import policy_for
from medroam.store.tables import (
    ClearingItemRow,
    FeeLineRow,
    FilingEventRow,
    FilingRow,
    InstitutionRow,
    InsuranceRow,
    PersonRow,
    SettlementDetailRow,
    SettlementRow,
)
from medroam.web import fmt
from medroam.web.clearing import install as install_clearing
from medroam.web.dashboard import CHART_SPECS, period_of
from medroam.web.dashboard import install as install_dashboard
from medroam.web.explain import explain_settlement
from medroam.web.payment import install as install_payment
from medroam.web.prepay import install as install_prepay
from medroam.web.security import (
    NATION,
    OFFICER,
    PROVINCE,
    LoginError,
    Officer,
    SessionInfo,
    WebSettings,
    authenticate,
    close_session,
    csrf_ok,
    load_session,
    open_session,
    record,
    record_now,
)
from medroam.web.supervision import install as install_supervision

SESSION_COOKIE = "medroam_session"
LOGIN_CSRF_COOKIE = "medroam_login_csrf"
PAGE_SIZE = 20
OPLOG_HEADER = [
    "时间（北京时间）",
    "操作人",
    "角色",
    "操作",
    "对象类型",
    "对象编号",
    "结果",
    "说明",
    "变更前 → 变更后",
]
WRITE_FILING_ROLES = {"insured_place", PROVINCE, NATION}

env = Environment(
    loader=PackageLoader("medroam.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    yuan=fmt.yuan,
    ratio=fmt.ratio,
    ct=fmt.china_time,
    cd=fmt.china_date,
    region=fmt.region,
    region_name=fmt.region_name,
    mask_certno=fmt.mask_certno,
    mask_name=fmt.mask_name,
    show=fmt.show,
)
env.globals.update(
    code=fmt.code,
    named=fmt.named,
    ROLE_NAMES=fmt.ROLE_NAMES,
    KIND_NAMES=fmt.KIND_NAMES,
    STATUS_NAMES=fmt.STATUS_NAMES,
    FILING_TYPE_NAMES=fmt.FILING_TYPE_NAMES,
    FILING_STATUS_NAMES=fmt.FILING_STATUS_NAMES,
    FILING_EVENT_NAMES=fmt.FILING_EVENT_NAMES,
    CHANNEL_NAMES=fmt.CHANNEL_NAMES,
    OUTCOME_NAMES=fmt.OUTCOME_NAMES,
)

MENU = (
    ("dashboard", "/", "运行监测"),
    ("roaming", "/persons", "跨省异地就医管理"),
    ("clearing", "/clearing", "清算与预付金"),
    ("payment", "/payment", "支付方式管理"),
    ("supervision", "/supervision", "智能监管"),
    ("reports", "/reports", "报表中心"),
    ("oplog", "/oplog", "操作日志"),
)


def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(env.get_template(name).render(menu=MENU, **ctx), status_code=status)


def _cookie(response: Response, name: str, value: str, settings: WebSettings, path: str) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookie,
        path=path,
    )


async def form_of(request: Request) -> dict[str, str]:
    """The urlencoded form body: first value of each field, stripped."""
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[0].strip() for k, v in parse_qs(body, keep_blank_values=True).items()}


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def page_of(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def paginate(session: Session, stmt: Select[Any], page: int) -> tuple[list[Any], int]:
    total = int(session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one())
    rows = list(session.execute(stmt.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).scalars())
    return rows, total


def pager(request: Request, page: int, total: int) -> dict[str, Any]:
    pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
    params = {k: v for k, v in request.query_params.items() if k != "page"}

    def link(n: int) -> str:
        return "?" + urlencode({**params, "page": n})

    return {
        "page": page,
        "pages": pages,
        "total": total,
        "prev": link(page - 1) if page > 1 else None,
        "next": link(page + 1) if page < pages else None,
        "query": urlencode(params),
    }


def region_condition(officer: Officer, *columns: Any) -> Any:
    """SQL condition: any of ``columns`` (region codes) lies in the officer's scope."""
    if officer.role == NATION or officer.region is None:
        return True
    if officer.role == PROVINCE or officer.region.endswith("0000"):
        prefix = officer.region[:2]
        return or_(*(c.like(prefix + "%") for c in columns))
    return or_(*(c == officer.region for c in columns))


def settlement_columns(officer: Officer) -> tuple[Any, ...]:
    if officer.role == "insured_place":
        return (SettlementRow.insured_region,)
    if officer.role == "treatment_place":
        return (SettlementRow.treatment_region,)
    return (SettlementRow.insured_region, SettlementRow.treatment_region)


def settlement_visible(officer: Officer, row: SettlementRow) -> bool:
    if officer.role == "insured_place":
        return officer.covers(row.insured_region)
    if officer.role == "treatment_place":
        return officer.covers(row.treatment_region)
    return officer.covers_any(row.insured_region, row.treatment_region)


def may_see_identity(officer: Officer, insured_region: str) -> bool:
    """Full name and ID number only for the place of insurance (or province/nation above
    it); the place of treatment sees them masked."""
    return officer.role in {"insured_place", PROVINCE, NATION} and officer.covers(insured_region)


def filing_rules(session: Session, region: str, insutype: str, on: date) -> FilingRules:
    try:
        return policy_for(session, region, insutype, on).filing
    except Exception:  # reference data not loaded: the packaged policy book
        return load_policy_book().find(region, insutype, on).filing


def insutype_of(session: Session, psn_no: str) -> str:
    """The person's first insurance type (the filing rules depend on it)."""
    found = (
        session.execute(select(InsuranceRow.insutype).where(InsuranceRow.psn_no == psn_no))
        .scalars()
        .first()
    )
    return found or INSUTYPE_RESIDENT


def csv_response(name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return Response(
        content="\ufeff" + buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def xlsx_response(name: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Response:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    return Response(
        content=buf.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@dataclass(frozen=True)
class Pages:
    """What a page module needs from the console: the engine, the clock, the session,
    and the shared answers (sign-in redirect, 404, CSRF refusal, out-of-scope refusal)."""

    engine: Engine
    clock: Callable[[], datetime]
    session_of: Callable[[Request], SessionInfo | None]
    to_login: Callable[[Request], RedirectResponse]
    not_found: Callable[[SessionInfo, str, str], HTMLResponse]
    checked_form: Callable[[Request, SessionInfo], Awaitable[dict[str, str] | None]]
    csrf_refused: Callable[[SessionInfo | None], HTMLResponse]
    refused: Callable[[SessionInfo, str, str, str, str], HTMLResponse]


def build_router(engine: Engine, clock: Callable[[], datetime], settings: WebSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def session_of(request: Request) -> SessionInfo | None:
        return load_session(engine, request.cookies.get(SESSION_COOKIE), OFFICER, clock(), settings)

    def to_login(request: Request) -> RedirectResponse:
        return RedirectResponse("/login?" + urlencode({"next": request.url.path}), 303)

    def not_found(sess: SessionInfo, what: str, ident: str) -> HTMLResponse:
        assert sess.officer is not None
        record_now(
            engine,
            clock(),
            sess.officer,
            "view",
            what,
            ident,
            outcome="refused",
            detail="不存在或不在本人经办范围内",
        )
        return render(
            "error.html",
            404,
            me=sess.officer,
            csrf=sess.csrf,
            active="",
            title="未找到",
            message="未找到该对象，或不在您的经办范围内。",
        )

    async def checked_form(request: Request, sess: SessionInfo) -> dict[str, str] | None:
        form = await form_of(request)
        if not csrf_ok(sess.csrf, form.get("csrf_token")):
            record_now(
                engine,
                clock(),
                sess.officer,
                "post",
                "form",
                request.url.path,
                outcome="refused",
                detail="CSRF 校验失败",
            )
            return None
        return form

    def csrf_refused(sess: SessionInfo | None) -> HTMLResponse:
        return render(
            "error.html",
            403,
            me=sess.officer if sess else None,
            csrf=sess.csrf if sess else "",
            active="",
            title="请求被拒绝",
            message="表单校验失败（缺少或错误的 CSRF 令牌），请刷新页面后重试。",
        )

    def person_errors(
        sess: SessionInfo, psn_no: str, errors: dict[str, str], form: dict[str, str]
    ) -> HTMLResponse:
        """The person page again, with each error next to its field (HTTP 422)."""
        assert sess.officer is not None
        with unit_of_work(engine) as session:
            ctx = person_context(session, sess.officer, psn_no)
        assert ctx is not None
        return render(
            "person.html",
            422,
            me=sess.officer,
            csrf=sess.csrf,
            active="roaming",
            errors=errors,
            form=form,
            message="",
            **ctx,
        )

    def refused(sess: SessionInfo, action: str, what: str, ident: str, why: str) -> HTMLResponse:
        """An action outside the officer's role or region: logged, answered 403."""
        record_now(
            engine, clock(), sess.officer, action, what, ident, outcome="refused", detail=why
        )
        return render(
            "error.html",
            403,
            me=sess.officer,
            csrf=sess.csrf,
            active="roaming",
            title="无权操作",
            message=f"您的角色或经办地区{why.removeprefix('角色或地区')}。",
        )

    # --- sign-in ---------------------------------------------------------------------------

    @router.get("/login")
    def login_page(request: Request) -> Response:
        token = secrets.token_urlsafe(24)
        response = render(
            "login.html",
            csrf=token,
            next=request.query_params.get("next", "/"),
            errors={},
            username="",
        )
        _cookie(response, LOGIN_CSRF_COOKIE, token, settings, "/login")
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await form_of(request)
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not csrf_ok(expected, form.get("csrf_token")):
            record_now(
                engine,
                clock(),
                None,
                "login",
                "officer",
                form.get("username", "")[:40],
                outcome="refused",
                detail="CSRF 校验失败",
                actor="-",
            )
            return csrf_refused(None)
        username, password = form.get("username", ""), form.get("password", "")
        nxt = form.get("next", "/")
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        errors: dict[str, str] = {}
        if not username:
            errors["username"] = "请输入用户名"
        if not password:
            errors["password"] = "请输入密码"
        if not errors:
            try:
                officer = authenticate(engine, username, password, clock(), settings)
            except LoginError as exc:
                errors["password"] = str(exc)
        if errors:
            return render(
                "login.html", 200, csrf=expected, next=nxt, errors=errors, username=username
            )
        token, _ = open_session(engine, OFFICER, officer.username, clock(), settings)
        response = RedirectResponse(nxt, 303)
        _cookie(response, SESSION_COOKIE, token, settings, "/")
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        sess = session_of(request)
        if sess is None:
            return RedirectResponse("/login", 303)
        if await checked_form(request, sess) is None:
            return csrf_refused(sess)
        close_session(engine, request.cookies.get(SESSION_COOKIE))
        response = RedirectResponse("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # --- 跨省异地就医管理: persons ------------------------------------------------------------

    @router.get("/persons")
    def persons(request: Request) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        me = sess.officer
        q = request.query_params.get("q", "").strip()[:50]
        rows: list[PersonRow] = []
        total = 0
        page = page_of(request)
        if q:
            stmt = (
                select(PersonRow)
                .where(or_(PersonRow.certno == q, PersonRow.psn_no == q, PersonRow.name == q))
                .where(region_condition(me, PersonRow.insured_region))
                .order_by(PersonRow.psn_no)
            )
            with unit_of_work(engine) as session:
                rows, total = paginate(session, stmt, page)
        return render(
            "persons.html",
            me=me,
            csrf=sess.csrf,
            active="roaming",
            q=q,
            rows=rows,
            pager=pager(request, page, total),
            full={r.psn_no: may_see_identity(me, r.insured_region) for r in rows},
        )

    @router.get("/persons.{ext}")
    def persons_export(request: Request, ext: str) -> Response:
        """The search's persons, masked as on screen for a role that may not see them."""
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        me = sess.officer
        q = request.query_params.get("q", "").strip()[:50]
        if ext not in ("csv", "xlsx") or not q:
            return not_found(sess, "export", f"persons.{ext}")
        with unit_of_work(engine) as session:
            found = session.execute(
                select(PersonRow)
                .where(or_(PersonRow.certno == q, PersonRow.psn_no == q, PersonRow.name == q))
                .where(region_condition(me, PersonRow.insured_region))
                .order_by(PersonRow.psn_no)
                .limit(10_000)
            ).scalars()
            rows = []
            for r in found:
                full = may_see_identity(me, r.insured_region)
                rows.append(
                    [
                        r.psn_no,
                        r.name if full else fmt.mask_name(r.name),
                        r.certno if full else fmt.mask_certno(r.certno),
                        fmt.region(r.insured_region),
                    ]
                )
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("persons", ["人员编号", "姓名", "证件号码", "参保地"], rows)

    def person_context(session: Session, me: Officer, psn_no: str) -> dict[str, Any] | None:
        person = session.get(PersonRow, psn_no)
        if person is None:
            return None
        filings = list(
            session.execute(
                select(FilingRow).where(FilingRow.psn_no == psn_no).order_by(FilingRow.filed_at)
            ).scalars()
        )
        visible = me.covers(person.insured_region) or (
            me.role == "treatment_place" and any(me.covers(f.destination) for f in filings)
        )
        if not visible:
            return None
        insurances = list(
            session.execute(select(InsuranceRow).where(InsuranceRow.psn_no == psn_no)).scalars()
        )
        events = (
            list(
                session.execute(
                    select(FilingEventRow)
                    .where(FilingEventRow.filing_id.in_([f.filing_id for f in filings]))
                    .order_by(FilingEventRow.at)
                ).scalars()
            )
            if filings
            else []
        )
        settlements = list(
            session.execute(
                select(SettlementRow)
                .where(SettlementRow.psn_no == psn_no)
                .order_by(SettlementRow.setl_time.desc())
                .limit(PAGE_SIZE)
            ).scalars()
        )
        documents: dict[str, list[FilingDocumentRow]] = {}
        for d in session.execute(
            select(FilingDocumentRow)
            .where(FilingDocumentRow.filing_id.in_([f.filing_id for f in filings]))
            .order_by(FilingDocumentRow.document_id)
        ).scalars():
            documents.setdefault(d.filing_id, []).append(d)
        return {
            "person": person,
            "full": may_see_identity(me, person.insured_region),
            "insurances": insurances,
            "filings": filings,
            "documents": documents,
            "events": events,
            "settlements": [s for s in settlements if settlement_visible(me, s)],
            "may_file": me.role in WRITE_FILING_ROLES and me.covers(person.insured_region),
            "filing_types": [
                (t.value, fmt.FILING_TYPE_NAMES.get(t.value, t.value)) for t in FilingType
            ],
        }

    @router.get("/persons/{psn_no}")
    def person(request: Request, psn_no: str) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        with unit_of_work(engine) as session:
            ctx = person_context(session, sess.officer, psn_no)
        if ctx is None:
            return not_found(sess, "person", psn_no)
        return render(
            "person.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="roaming",
            errors={},
            form={},
            message=request.query_params.get("msg", ""),
            **ctx,
        )

    @router.get("/persons/{psn_no}/documents/{document_id}")
    def filing_document(request: Request, psn_no: str, document_id: int) -> Response:
        """A document (证明材料) sent with a filing, to whoever may see the person."""
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        with unit_of_work(engine) as session:
            ctx = person_context(session, sess.officer, psn_no)
            doc = session.get(FilingDocumentRow, document_id)
            found = (
                ctx is not None
                and doc is not None
                and any(f.filing_id == doc.filing_id for f in ctx["filings"])
            )
            if not found or doc is None:
                return not_found(sess, "document", f"{psn_no}/{document_id}")
            content, kind, name = doc.content, doc.content_type, doc.filename
        return Response(
            content,
            media_type=kind,
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    def validate_filing(form: dict[str, str], insured_region: str) -> dict[str, str]:
        errors: dict[str, str] = {}
        if form.get("filing_type", "") not in {t.value for t in FilingType}:
            errors["filing_type"] = "请选择备案类型"
        dest = form.get("destination", "")
        regions = load_regions()
        if not dest:
            errors["destination"] = "请填写就医地行政区划代码"
        elif not (len(dest) == 6 and dest.isdigit()) or dest not in regions:
            errors["destination"] = "就医地代码应为 6 位已知行政区划代码"
        elif dest[:4] == insured_region[:4]:
            errors["destination"] = "就医地不能与参保地相同"
        if parse_day(form.get("valid_from", "")) is None:
            errors["valid_from"] = "请填写开始日期（YYYY-MM-DD）"
        if form.get("channel", "counter") not in {c.value for c in FilingChannel}:
            errors["channel"] = "请选择办理渠道"
        return errors

    @router.post("/persons/{psn_no}/filings")
    async def create_filing(request: Request, psn_no: str) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        me = sess.officer
        form = await checked_form(request, sess)
        if form is None:
            return csrf_refused(sess)
        now = clock()
        with unit_of_work(engine) as session:
            ctx = person_context(session, me, psn_no)
        if ctx is None:
            return not_found(sess, "person", psn_no)
        person_row: PersonRow = ctx["person"]
        if not ctx["may_file"]:
            return refused(sess, "create", "filing", psn_no, "角色或地区无权为该参保人备案")
        errors = validate_filing(form, person_row.insured_region)
        if not errors:
            insutype = next((i.insutype for i in ctx["insurances"]), INSUTYPE_RESIDENT)
            try:
                with unit_of_work(engine) as session:
                    rules = filing_rules(
                        session,
                        person_row.insured_region,
                        insutype,
                        now.astimezone(fmt.CHINA_TZ).date(),
                    )
                    filing = filing_service.make_filing_in(
                        session,
                        rules,
                        FilingRequest(
                            filing_id=filing_service.new_filing_id(),
                            psn_no=psn_no,
                            insured_region=person_row.insured_region,
                            filing_type=FilingType(form["filing_type"]),
                            destination=form["destination"],
                            valid_from=parse_day(form["valid_from"]) or now.date(),
                            channel=FilingChannel(form.get("channel") or "counter"),
                            commitment_only=form.get("commitment_only") == "1",
                            reason=form.get("reason", "")[:200],
                        ),
                        now,
                    )
                    record(
                        session,
                        now,
                        me,
                        "create",
                        "filing",
                        filing.filing_id,
                        detail=f"为 {psn_no} 备案",
                        after=filing_to_record(filing),
                    )
            except FilingError as exc:
                errors["filing_type"] = fmt.filing_error(str(exc))
        if errors:
            return person_errors(sess, psn_no, errors, form)
        return RedirectResponse(f"/persons/{psn_no}?msg=备案已生效", 303)

    async def writable_filing(
        request: Request, filing_id: str, action: str, why: str
    ) -> tuple[SessionInfo, Officer, dict[str, str], Filing] | Response:
        """The signed-in officer, the CSRF-checked form and the filing they may write;
        otherwise the answer: sign-in, CSRF refusal, 404 outside the scope, 403 (logged)
        for a role or region that may see the filing but not write it."""
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        me = sess.officer
        form = await checked_form(request, sess)
        if form is None:
            return csrf_refused(sess)
        with unit_of_work(engine) as session:
            current = FilingRepository(session).get(filing_id)
        if current is None or not (
            me.covers(current.insured_region) or me.covers(current.destination)
        ):
            return not_found(sess, "filing", filing_id)
        if me.role not in WRITE_FILING_ROLES or not me.covers(current.insured_region):
            return refused(sess, action, "filing", filing_id, why)
        return sess, me, form, current

    @router.post("/filings/{filing_id}/cancel")
    async def cancel_filing(request: Request, filing_id: str) -> Response:
        got = await writable_filing(request, filing_id, "cancel", "角色或地区无权取消该备案")
        if isinstance(got, Response):
            return got
        sess, me, form, current = got
        now = clock()
        reason = form.get("reason", "")
        if not reason:
            return person_errors(
                sess, current.psn_no, {"cancel_" + filing_id: "请填写取消原因"}, {}
            )
        try:
            with unit_of_work(engine) as session:
                rules = filing_rules(
                    session,
                    current.insured_region,
                    insutype_of(session, current.psn_no),
                    now.astimezone(fmt.CHINA_TZ).date(),
                )
                cancelled = filing_service.cancel_filing_in(
                    session, rules, filing_id, now, reason[:200], FilingChannel.COUNTER
                )
                record(
                    session,
                    now,
                    me,
                    "cancel",
                    "filing",
                    filing_id,
                    detail=reason[:200],
                    before=filing_to_record(current),
                    after=filing_to_record(cancelled),
                )
        except FilingError as exc:
            return person_errors(
                sess,
                current.psn_no,
                {"cancel_" + filing_id: "无法取消：" + fmt.filing_error(str(exc))},
                {},
            )
        return RedirectResponse(f"/persons/{current.psn_no}?msg=备案已取消", 303)

    def validate_change(
        form: dict[str, str], current: Filing, rules: FilingRules, today: date
    ) -> tuple[dict[str, str], FilingChanges | None]:
        """The change request of the form, or the errors next to its fields (keys
        ``change_<field>``). An empty field leaves that part of the filing as it is."""
        errors: dict[str, str] = {}
        filing_type: FilingType | None = None
        raw_type = form.get("filing_type", "")
        if raw_type:
            if raw_type not in {t.value for t in FilingType}:
                errors["change_filing_type"] = "请选择备案类型"
            else:
                filing_type = FilingType(raw_type)
                if filing_type.long_term != current.long_term:
                    errors["change_filing_type"] = (
                        "长期备案与临时备案不能互相变更，请取消后重新备案"
                    )
        dest = form.get("destination", "")
        if dest:
            if not (len(dest) == 6 and dest.isdigit()) or dest not in load_regions():
                errors["change_destination"] = "就医地代码应为 6 位已知行政区划代码"
            elif dest[:4] == current.insured_region[:4]:
                errors["change_destination"] = "就医地不能与参保地相同"
        valid_from = parse_day(form.get("valid_from", ""))
        if form.get("valid_from") and valid_from is None:
            errors["change_valid_from"] = "开始日期格式应为 YYYY-MM-DD"
        if form.get("channel", "") not in {c.value for c in FilingChannel}:
            errors["change_channel"] = "请选择办理渠道"
        if not form.get("reason"):
            errors["change_reason"] = "请填写变更原因"
        if errors:
            return errors, None
        commitment = form.get("commitment_only", "")
        changes = FilingChanges(
            channel=FilingChannel(form["channel"]),
            destination=dest or None,
            filing_type=filing_type,
            valid_from=valid_from,
            commitment_only=None if commitment == "" else commitment == "1",
            reason=form.get("reason", "")[:200],
        )
        same = (
            (changes.filing_type or current.filing_type) == current.filing_type
            and (changes.destination or current.destination) == current.destination
            and (changes.valid_from or current.valid_from) == current.valid_from
            and changes.commitment_only in (None, current.commitment_only)
        )
        ends = filing_domain.lock_ends(rules, current)
        if same:
            errors["change"] = "变更内容与现备案相同，请至少修改一项"
        elif ends is not None and today < ends:
            errors["change"] = (
                f"长期备案自 {current.valid_from.isoformat()} 起 "
                f"{rules.change_lock_months} 个月内不得变更，{ends.isoformat()} 起方可变更"
            )
        return errors, (None if errors else changes)

    @router.post("/filings/{filing_id}/change")
    async def change_filing(request: Request, filing_id: str) -> Response:
        got = await writable_filing(request, filing_id, "change", "角色或地区无权变更该备案")
        if isinstance(got, Response):
            return got
        sess, me, form, current = got
        now = clock()
        shown = {**form, "change_id": filing_id}
        if not current.active:
            return person_errors(sess, current.psn_no, {"change": "该备案已取消，不能变更"}, shown)
        today = now.astimezone(fmt.CHINA_TZ).date()
        with unit_of_work(engine) as session:
            rules = filing_rules(
                session, current.insured_region, insutype_of(session, current.psn_no), today
            )
        errors, changes = validate_change(form, current, rules, today)
        if changes is not None:
            try:
                with unit_of_work(engine) as session:
                    changed = filing_service.change_filing_in(
                        session, rules, filing_id, changes, now
                    )
                    record(
                        session,
                        now,
                        me,
                        "change",
                        "filing",
                        filing_id,
                        detail=changes.reason,
                        before=filing_to_record(current),
                        after=filing_to_record(changed),
                    )
            except FilingError as exc:
                errors["change"] = fmt.filing_error(str(exc))
        if errors:
            return person_errors(sess, current.psn_no, errors, shown)
        return RedirectResponse(f"/persons/{current.psn_no}?msg=备案已变更", 303)

    # --- settlements ----------------------------------------------------------------------

    filters = (
        "certno",
        "psn_no",
        "setl_id",
        "mdtrt_id",
        "fixmedins_code",
        "start",
        "end",
        "status",
    )

    def settlement_query(me: Officer, request: Request) -> tuple[Select[Any], dict[str, str]]:
        f = {k: request.query_params.get(k, "").strip()[:50] for k in filters}
        stmt = select(SettlementRow).where(region_condition(me, *settlement_columns(me)))
        if f["certno"]:
            stmt = stmt.where(
                SettlementRow.psn_no.in_(
                    select(PersonRow.psn_no).where(PersonRow.certno == f["certno"])
                )
            )
        for key, column in (
            ("psn_no", SettlementRow.psn_no),
            ("setl_id", SettlementRow.setl_id),
            ("mdtrt_id", SettlementRow.mdtrt_id),
            ("fixmedins_code", SettlementRow.fixmedins_code),
            ("status", SettlementRow.status),
        ):
            if f[key]:
                stmt = stmt.where(column == f[key])
        start, end = parse_day(f["start"]), parse_day(f["end"])
        if start:
            stmt = stmt.where(
                SettlementRow.setl_time
                >= datetime.combine(start, datetime.min.time(), fmt.CHINA_TZ)
            )
        if end:
            stmt = stmt.where(
                SettlementRow.setl_time
                < datetime.combine(end + timedelta(days=1), datetime.min.time(), fmt.CHINA_TZ)
            )
        return stmt.order_by(SettlementRow.setl_time.desc(), SettlementRow.setl_id), f

    def settlement_errors(f: dict[str, str]) -> dict[str, str]:
        errors = {}
        for key in ("start", "end"):
            if f[key] and parse_day(f[key]) is None:
                errors[key] = "日期格式应为 YYYY-MM-DD"
        if f["status"] and f["status"] not in fmt.STATUS_NAMES:
            errors["status"] = "未知的结算状态"
        return errors

    @router.get("/settlements")
    def settlements(request: Request) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        stmt, f = settlement_query(sess.officer, request)
        errors = settlement_errors(f)
        searched = any(f.values())
        rows: list[SettlementRow] = []
        total = 0
        page = page_of(request)
        names: dict[str, str] = {}
        if searched and not errors:
            with unit_of_work(engine) as session:
                rows, total = paginate(session, stmt, page)
                codes = {r.fixmedins_code for r in rows}
                if codes:
                    names = {
                        c: n
                        for c, n in session.execute(
                            select(InstitutionRow.fixmedins_code, InstitutionRow.name).where(
                                InstitutionRow.fixmedins_code.in_(codes)
                            )
                        )
                    }
        return render(
            "settlements.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="roaming",
            f=f,
            errors=errors,
            rows=rows,
            names=names,
            searched=searched,
            pager=pager(request, page, total),
        )

    settlement_header = [
        "结算ID",
        "就诊ID",
        "人员编号",
        "就医类型",
        "结算时间",
        "定点机构",
        "参保地",
        "就医地",
        "医疗费用（元）",
        "基金支付（元）",
        "个人账户（元）",
        "个人现金（元）",
        "状态",
    ]

    def settlement_export_rows(rows: Sequence[SettlementRow]) -> list[list[Any]]:
        return [
            [
                r.setl_id,
                r.mdtrt_id,
                r.psn_no,
                fmt.KIND_NAMES.get(r.kind, r.kind),
                fmt.china_time(r.setl_time),
                r.fixmedins_code,
                fmt.region(r.insured_region),
                fmt.region(r.treatment_region),
                fmt.yuan_plain(r.medfee),
                fmt.yuan_plain(r.fund_total),
                fmt.yuan_plain(r.account),
                fmt.yuan_plain(r.cash),
                fmt.STATUS_NAMES.get(r.status, r.status),
            ]
            for r in rows
        ]

    @router.get("/settlements.{ext}")
    def settlements_export(request: Request, ext: str) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        if ext not in {"csv", "xlsx"}:
            return not_found(sess, "export", ext)
        stmt, f = settlement_query(sess.officer, request)
        if settlement_errors(f):
            return render(
                "error.html",
                400,
                me=sess.officer,
                csrf=sess.csrf,
                active="roaming",
                title="筛选条件有误",
                message="日期格式应为 YYYY-MM-DD。",
            )
        with unit_of_work(engine) as session:
            rows = list(session.execute(stmt.limit(100_000)).scalars())
        data = settlement_export_rows(rows)
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("settlements", settlement_header, data)

    @router.get("/settlements/{setl_id}")
    def settlement(request: Request, setl_id: str) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        me = sess.officer
        with unit_of_work(engine) as session:
            row = session.get(SettlementRow, setl_id)
            visible = row is not None and settlement_visible(me, row)
        if row is None or not visible:
            return not_found(sess, "settlement", setl_id)
        with unit_of_work(engine) as session:
            details = list(
                session.execute(
                    select(SettlementDetailRow)
                    .where(SettlementDetailRow.setl_id == setl_id)
                    .order_by(SettlementDetailRow.seq)
                ).scalars()
            )
            original_id = row.reverses_setl_id or row.setl_id
            chain = list(
                session.execute(
                    select(SettlementRow)
                    .where(
                        or_(
                            SettlementRow.setl_id == original_id,
                            SettlementRow.reverses_setl_id == original_id,
                        )
                    )
                    .order_by(SettlementRow.setl_time)
                ).scalars()
            )
            lines = list(
                session.execute(
                    select(FeeLineRow)
                    .where(FeeLineRow.setl_id == original_id)
                    .order_by(FeeLineRow.feedetl_sn)
                ).scalars()
            )
            person_row = session.get(PersonRow, row.psn_no)
            institution = session.get(InstitutionRow, row.fixmedins_code)
            item = session.get(ClearingItemRow, setl_id)
        return render(
            "settlement.html",
            me=me,
            csrf=sess.csrf,
            active="roaming",
            s=row,
            details=details,
            chain=chain,
            lines=lines,
            person=person_row,
            full=may_see_identity(me, row.insured_region),
            institution=institution,
            item=item,
            explanation=explain_settlement(row, lines),
        )

    # --- operations log -------------------------------------------------------------------

    def oplog_query(request: Request, me: Officer) -> tuple[dict[str, str], Select[Any]]:
        f = {
            k: request.query_params.get(k, "").strip()[:40]
            for k in ("actor", "action", "object_id", "start", "end")
        }
        stmt = select(OperationLogRow)
        if me.role != NATION:
            stmt = stmt.where(region_condition(me, OperationLogRow.region))
        for key, column in (
            ("actor", OperationLogRow.actor),
            ("action", OperationLogRow.action),
            ("object_id", OperationLogRow.object_id),
        ):
            if f[key]:
                stmt = stmt.where(column == f[key])
        start, end = parse_day(f["start"]), parse_day(f["end"])
        if start:
            stmt = stmt.where(
                OperationLogRow.at >= datetime.combine(start, datetime.min.time(), fmt.CHINA_TZ)
            )
        if end:
            stmt = stmt.where(
                OperationLogRow.at
                < datetime.combine(end + timedelta(days=1), datetime.min.time(), fmt.CHINA_TZ)
            )
        return f, stmt.order_by(OperationLogRow.log_id.desc())

    @router.get("/oplog")
    def oplog(request: Request) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        f, stmt = oplog_query(request, sess.officer)
        page = page_of(request)
        with unit_of_work(engine) as session:
            rows, total = paginate(session, stmt, page)
        return render(
            "oplog.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="oplog",
            f=f,
            rows=rows,
            pager=pager(request, page, total),
            actions=fmt.ACTION_NAMES,
        )

    @router.get("/oplog.{ext}")
    def oplog_export(request: Request, ext: str) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        if ext not in ("csv", "xlsx"):
            return not_found(sess, "export", f"oplog.{ext}")
        _f, stmt = oplog_query(request, sess.officer)
        with unit_of_work(engine) as session:
            rows = [
                [
                    fmt.china_time(r.at),
                    r.actor,
                    fmt.ROLE_NAMES.get(r.role, r.role),
                    fmt.ACTION_NAMES.get(r.action, r.action),
                    r.object_type,
                    r.object_id,
                    fmt.OUTCOME_NAMES.get(r.outcome, r.outcome),
                    r.detail,
                    fmt.changes_text(r.before, r.after),
                ]
                for r in session.execute(stmt.limit(100_000)).scalars()
            ]
        maker = csv_response if ext == "csv" else xlsx_response
        return maker("oplog", OPLOG_HEADER, rows)

    @router.get("/reports")
    def reports(request: Request) -> Response:
        sess = session_of(request)
        if sess is None or sess.officer is None:
            return to_login(request)
        start, end = period_of(request, clock)
        query = urlencode({"start": start.isoformat(), "end": end.isoformat()})
        lists = [
            ("结算明细", "/settlements", query),
            ("DRG 分组结果", "/payment/groups", query),
            ("按病组支付与项目费用", "/payment/results", query),
            ("质控未通过的结算清单", "/payment/failed", query),
            ("操作日志", "/oplog", query),
            ("监管案件", "/supervision/cases", ""),
            ("对账争议", "/clearing/disputes", ""),
            ("清算批次", "/clearing/runs", ""),
            ("预付金额度与使用", "/clearing/prepayment", ""),
            ("预付金补足跟踪", "/clearing/prepayment/topups", ""),
            ("医院回款", "/clearing/payments", ""),
        ]
        charts = [
            (title, f"/dashboard/{key}.csv?{query}") for key, (title, _h) in CHART_SPECS.items()
        ]
        return render(
            "reports.html",
            me=sess.officer,
            csrf=sess.csrf,
            active="reports",
            start=start,
            end=end,
            lists=lists,
            charts=charts,
        )

    pages = Pages(
        engine, clock, session_of, to_login, not_found, checked_form, csrf_refused, refused
    )
    install_dashboard(router, pages)
    install_clearing(router, pages)
    install_prepay(router, pages)
    install_payment(router, pages)
    install_supervision(router, pages)

    return router
