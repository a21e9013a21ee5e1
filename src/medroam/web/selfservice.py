"""个人服务 (/self/): the insured person's mobile-first pages.

Sign-in with the ID number and a one-time code (the demo prints the code in the server
log; for the persons of a demo-seeded region the code is derived from the person number
and listed in demo-fixtures.json — SYNTHETIC data only). Then the five jobs: check the
insurance and any valid filing, file or cancel a filing, find networked institutions,
see one's own settlements with the explanation of every fen, and what to do after paying
cash."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Engine, select

from medroam.domain.codes import INSUTYPE_RESIDENT, FilingType
from medroam.domain.filing import FilingChannel, FilingError, FilingRequest
from medroam.refdata.regions import load_regions
from medroam.services import filings as filing_service
from medroam.services.officers import demo_code
from medroam.services.uow import unit_of_work
from medroam.store.console_tables import SelfCodeRow
from medroam.store.filing_document_tables import FilingDocumentRow
from medroam.store.filings import FilingRepository, filing_to_record
from medroam.store.tables import (
    DemoSeedRegionRow,
    FeeLineRow,
    FilingRow,
    InstitutionRow,
    InsuranceRow,
    PersonRow,
    SettlementRow,
)
from medroam.web import fmt
from medroam.web.explain import explain_settlement
from medroam.web.security import (
    INSURED,
    WebSettings,
    close_session,
    csrf_ok,
    load_session,
    open_session,
    record,
    sha256,
)
from medroam.web.uploads import MAX_BODY, check_uploads, parse_multipart

log = logging.getLogger("medroam.web.self")

SELF_COOKIE = "medroam_self"
PRE_COOKIE = "medroam_self_pre"
MAX_CODE_ATTEMPTS = 5
SERVICES = {
    "inpatient": "住院",
    "outpatient": "普通门诊",
    "chronic": "门诊慢特病（二级及以上联网医院）",
    "pharmacy": "药店购药",
}
SELF_FILING_TYPES = ("LT_RETIRED", "LT_RESIDENT", "LT_WORKER", "TMP_OTHER")


def valid_filings(filings: Sequence[FilingRow], today: date) -> list[FilingRow]:
    """The filings in force today (active, inside their period)."""
    return [
        f
        for f in filings
        if f.status == "active"
        and f.valid_from <= today
        and (f.valid_to is None or today <= f.valid_to)
    ]


@cache
def destination_choices() -> tuple[tuple[str, str], ...]:
    """Every province and pooling region as (code, name) for the destination field's
    suggestions, so a person may type 广州 instead of 440100."""
    table = load_regions()
    return tuple(
        (r.code, r.name)
        for r in sorted(
            (*table.provinces(), *table.pooling_regions()), key=lambda region: region.code
        )
    )


def build_self_router(
    engine: Engine, clock: Callable[[], datetime], settings: WebSettings
) -> APIRouter:
    from medroam.web.console import _cookie, env, form_of, parse_day

    router = APIRouter(prefix="/self", include_in_schema=False)

    def render(name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template("self/" + name).render(**ctx), status_code=status)

    def who(request: Request) -> tuple[str, str] | None:
        sess = load_session(engine, request.cookies.get(SELF_COOKIE), INSURED, clock(), settings)
        return None if sess is None else (sess.subject, sess.csrf)

    def sign_in_page(status: int = 200, **ctx: Any) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        ctx.setdefault("errors", {})
        response = render("signin.html", status, csrf=token, **ctx)
        _cookie(response, PRE_COOKIE, token, settings, "/self")
        return response

    async def pre_form(request: Request) -> dict[str, str] | None:
        form = await form_of(request)
        if not csrf_ok(request.cookies.get(PRE_COOKIE, ""), form.get("csrf_token")):
            log.warning("refused self-service form without CSRF token")
            return None
        return form

    def refused() -> HTMLResponse:
        return render(
            "message.html", 403, title="请求被拒绝", text="表单已过期，请返回重新操作。", me=None
        )

    @router.get("/")
    def home(request: Request) -> Response:
        me = who(request)
        if me is None:
            return sign_in_page()
        psn_no, csrf = me
        today = clock().astimezone(fmt.CHINA_TZ).date()
        with unit_of_work(engine) as session:
            person = session.get(PersonRow, psn_no)
            insurances = list(
                session.execute(select(InsuranceRow).where(InsuranceRow.psn_no == psn_no)).scalars()
            )
            filings = list(
                session.execute(
                    select(FilingRow)
                    .where(FilingRow.psn_no == psn_no)
                    .order_by(FilingRow.filed_at.desc())
                ).scalars()
            )
        return render(
            "home.html",
            me=person,
            csrf=csrf,
            insurances=insurances,
            filings=filings,
            valid=valid_filings(filings, today),
            regions=destination_choices(),
            message=request.query_params.get("msg", ""),
            errors={},
            form={},
            filing_types=[(t, fmt.FILING_TYPE_NAMES[t]) for t in SELF_FILING_TYPES],
            today=today,
        )

    @router.post("/code")
    async def send_code(request: Request) -> Response:
        form = await pre_form(request)
        if form is None:
            return refused()
        certno = form.get("certno", "").upper()
        if not (len(certno) == 18 and certno[:17].isdigit()):
            return sign_in_page(422, certno=certno, errors={"certno": "请输入 18 位居民身份证号码"})
        now = clock()
        with unit_of_work(engine) as session:
            person = session.execute(
                select(PersonRow).where(PersonRow.certno == certno)
            ).scalar_one_or_none()
            if person is not None:
                demo = session.get(DemoSeedRegionRow, person.insured_region) is not None
                code = demo_code(person.psn_no) if demo else f"{secrets.randbelow(10**6):06d}"
                row = session.get(SelfCodeRow, person.psn_no)
                if row is None:
                    row = SelfCodeRow(
                        psn_no=person.psn_no, code_hash="", attempts=0, expires_at=now
                    )
                    session.add(row)
                row.code_hash = sha256(person.psn_no + ":" + code)
                row.expires_at = now + timedelta(minutes=settings.code_minutes)
                row.attempts = 0
                log.warning(
                    "SYNTHETIC demo one-time code for %s: %s (valid %d minutes)",
                    fmt.mask_certno(certno),
                    code,
                    settings.code_minutes,
                )
        return sign_in_page(certno=certno, sent=True)

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await pre_form(request)
        if form is None:
            return refused()
        certno, code = form.get("certno", "").upper(), form.get("code", "")
        now = clock()
        error = "验证码错误或已过期，请重新获取"
        psn_no = None
        with unit_of_work(engine) as session:
            person = session.execute(
                select(PersonRow).where(PersonRow.certno == certno)
            ).scalar_one_or_none()
            row = None if person is None else session.get(SelfCodeRow, person.psn_no)
            if person is not None and row is not None and row.expires_at > now:
                row.attempts += 1
                if row.attempts > MAX_CODE_ATTEMPTS:
                    error = "尝试次数过多，请重新获取验证码"
                elif secrets.compare_digest(row.code_hash, sha256(person.psn_no + ":" + code)):
                    psn_no = person.psn_no
                    session.delete(row)
        if psn_no is None:
            return sign_in_page(422, certno=certno, sent=True, errors={"code": error})
        token, _ = open_session(engine, INSURED, psn_no, now, settings)
        response = RedirectResponse("/self/", 303)
        _cookie(response, SELF_COOKIE, token, settings, "/self")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        me = who(request)
        form = await form_of(request)
        if me is not None and csrf_ok(me[1], form.get("csrf_token")):
            close_session(engine, request.cookies.get(SELF_COOKIE))
        response = RedirectResponse("/self/", 303)
        response.delete_cookie(SELF_COOKIE, path="/self")
        return response

    async def checked(request: Request) -> tuple[str, dict[str, str]] | Response:
        me = who(request)
        if me is None:
            return RedirectResponse("/self/", 303)
        form = await form_of(request)
        if not csrf_ok(me[1], form.get("csrf_token")):
            log.warning("refused self-service form of %s: CSRF token missing or wrong", me[0])
            return refused()
        return me[0], form

    @router.post("/filings")
    async def file(request: Request) -> Response:
        me = who(request)
        if me is None:
            return RedirectResponse("/self/", 303)
        content_type = request.headers.get("content-type", "")
        files: list[tuple[str, bytes]] = []
        if content_type.startswith("multipart/form-data"):
            body = await request.body()
            if len(body) > MAX_BODY:
                return refused()
            form, files = parse_multipart(body, content_type)
        else:
            form = await form_of(request)
        if not csrf_ok(me[1], form.get("csrf_token")):
            log.warning("refused self-service form of %s: CSRF token missing or wrong", me[0])
            return refused()
        psn_no = me[0]
        documents, problem = check_uploads(files)
        now = clock()
        today = now.astimezone(fmt.CHINA_TZ).date()
        errors: dict[str, str] = {}
        with unit_of_work(engine) as session:
            person = session.get(PersonRow, psn_no)
            insutype = (
                session.execute(select(InsuranceRow.insutype).where(InsuranceRow.psn_no == psn_no))
                .scalars()
                .first()
            ) or INSUTYPE_RESIDENT
        assert person is not None
        if form.get("filing_type") not in SELF_FILING_TYPES:
            errors["filing_type"] = "请选择备案类型"
        dest = form.get("destination", "")
        if dest not in load_regions() or len(dest) != 6:
            errors["destination"] = "请选择就医地"
        elif dest[:4] == person.insured_region[:4]:
            errors["destination"] = "就医地不能与参保地相同"
        start = parse_day(form.get("valid_from", "")) or today
        if form.get("valid_from") and parse_day(form["valid_from"]) is None:
            errors["valid_from"] = "开始日期格式应为 YYYY-MM-DD"
        elif start < today:
            errors["valid_from"] = "开始日期不能早于今天"
        if problem:
            errors["documents"] = problem
        elif form.get("commitment") != "1" and not documents:
            errors["commitment"] = "请上传证明材料，或阅读并勾选个人承诺书"
        if not errors:
            from medroam.web.console import filing_rules

            try:
                with unit_of_work(engine) as session:
                    filing = filing_service.make_filing_in(
                        session,
                        filing_rules(session, person.insured_region, insutype, today),
                        FilingRequest(
                            filing_id=filing_service.new_filing_id(),
                            psn_no=psn_no,
                            insured_region=person.insured_region,
                            filing_type=FilingType(form["filing_type"]),
                            destination=dest,
                            valid_from=start,
                            channel=FilingChannel.NATIONAL_APP,
                            commitment_only=not documents,
                        ),
                        now,
                    )
                    for doc in documents:
                        session.add(
                            FilingDocumentRow(
                                filing_id=filing.filing_id,
                                filename=doc.filename,
                                content_type=doc.content_type,
                                size=len(doc.content),
                                sha256=hashlib.sha256(doc.content).hexdigest(),
                                content=doc.content,
                                uploaded_at=now,
                            )
                        )
                    record(
                        session,
                        now,
                        None,
                        "create",
                        "filing",
                        filing.filing_id,
                        detail=f"参保人自助备案（证明材料 {len(documents)} 份）"
                        if documents
                        else "参保人自助备案（个人承诺书）",
                        after=filing_to_record(filing),
                        actor=psn_no,
                    )
            except FilingError as exc:
                errors["filing_type"] = fmt.filing_error(str(exc))
        if errors:
            return self_home_with_errors(request, psn_no, errors, form)
        return RedirectResponse("/self/?msg=备案成功，即时生效", 303)

    def self_home_with_errors(
        request: Request, psn_no: str, errors: dict[str, str], form: dict[str, str]
    ) -> Response:
        me = who(request)
        assert me is not None
        today = clock().astimezone(fmt.CHINA_TZ).date()
        with unit_of_work(engine) as session:
            person = session.get(PersonRow, psn_no)
            insurances = list(
                session.execute(select(InsuranceRow).where(InsuranceRow.psn_no == psn_no)).scalars()
            )
            filings = list(
                session.execute(select(FilingRow).where(FilingRow.psn_no == psn_no)).scalars()
            )
        return render(
            "home.html",
            422,
            me=person,
            csrf=me[1],
            insurances=insurances,
            filings=filings,
            valid=valid_filings(filings, today),
            regions=destination_choices(),
            message="",
            errors=errors,
            form=form,
            filing_types=[(t, fmt.FILING_TYPE_NAMES[t]) for t in SELF_FILING_TYPES],
            today=today,
        )

    @router.post("/filings/{filing_id}/cancel")
    async def cancel(request: Request, filing_id: str) -> Response:
        got = await checked(request)
        if isinstance(got, Response):
            return got
        psn_no, form = got
        now = clock()
        with unit_of_work(engine) as session:
            current = FilingRepository(session).get(filing_id)
        if current is None or current.psn_no != psn_no:
            return render("message.html", 404, title="未找到", text="未找到该备案。", me=None)
        try:
            with unit_of_work(engine) as session:
                from medroam.web.console import filing_rules

                insutype = (
                    session.execute(
                        select(InsuranceRow.insutype).where(InsuranceRow.psn_no == psn_no)
                    )
                    .scalars()
                    .first()
                ) or INSUTYPE_RESIDENT
                rules = filing_rules(
                    session, current.insured_region, insutype, now.astimezone(fmt.CHINA_TZ).date()
                )
                done = filing_service.cancel_filing_in(
                    session, rules, filing_id, now, "参保人自助取消", FilingChannel.NATIONAL_APP
                )
                record(
                    session,
                    now,
                    None,
                    "cancel",
                    "filing",
                    filing_id,
                    detail="参保人自助取消",
                    before=filing_to_record(current),
                    after=filing_to_record(done),
                    actor=psn_no,
                )
        except FilingError as exc:
            return self_home_with_errors(
                request,
                psn_no,
                {"cancel_" + filing_id: "暂不能取消：" + fmt.filing_error(str(exc))},
                form,
            )
        return RedirectResponse("/self/?msg=备案已取消", 303)

    @router.get("/institutions")
    def institutions(request: Request) -> Response:
        me = who(request)
        if me is None:
            return RedirectResponse("/self/", 303)
        region = request.query_params.get("region", "").strip()[:6]
        service = request.query_params.get("service", "inpatient")
        errors: dict[str, str] = {}
        rows: list[InstitutionRow] = []
        if service not in SERVICES:
            errors["service"] = "请选择就医服务类型"
        elif region:
            if region not in load_regions():
                errors["region"] = "请输入 6 位地区代码，如 440100"
            else:
                stmt = select(InstitutionRow).where(
                    InstitutionRow.networked.is_(True), InstitutionRow.active.is_(True)
                )
                stmt = (
                    stmt.where(InstitutionRow.region.like(region[:2] + "%"))
                    if region.endswith("0000")
                    else stmt.where(InstitutionRow.region == region)
                )
                if service == "pharmacy":
                    stmt = stmt.where(InstitutionRow.kind == "pharmacy")
                elif service == "chronic":
                    stmt = stmt.where(
                        InstitutionRow.kind == "hospital", InstitutionRow.level.in_(("2", "3"))
                    )
                elif service == "outpatient":
                    stmt = stmt.where(InstitutionRow.kind.in_(("hospital", "clinic")))
                else:
                    stmt = stmt.where(InstitutionRow.kind == "hospital")
                with unit_of_work(engine) as session:
                    rows = list(
                        session.execute(
                            stmt.order_by(InstitutionRow.level.desc(), InstitutionRow.name).limit(
                                50
                            )
                        ).scalars()
                    )
        return render(
            "institutions.html",
            me=True,
            csrf=me[1],
            region=region,
            service=service,
            services=SERVICES,
            regions=destination_choices(),
            rows=rows,
            errors=errors,
        )

    @router.get("/settlements")
    def settlements(request: Request) -> Response:
        me = who(request)
        if me is None:
            return RedirectResponse("/self/", 303)
        with unit_of_work(engine) as session:
            rows = list(
                session.execute(
                    select(SettlementRow)
                    .where(SettlementRow.psn_no == me[0])
                    .order_by(SettlementRow.setl_time.desc())
                    .limit(50)
                ).scalars()
            )
            names = {
                c: n
                for c, n in session.execute(
                    select(InstitutionRow.fixmedins_code, InstitutionRow.name).where(
                        InstitutionRow.fixmedins_code.in_({r.fixmedins_code for r in rows})
                    )
                )
            }
        return render("settlements.html", me=True, csrf=me[1], rows=rows, names=names)

    @router.get("/settlements/{setl_id}")
    def settlement(request: Request, setl_id: str) -> Response:
        me = who(request)
        if me is None:
            return RedirectResponse("/self/", 303)
        with unit_of_work(engine) as session:
            row = session.get(SettlementRow, setl_id)
            if row is None or row.psn_no != me[0]:
                row = None
                lines: list[FeeLineRow] = []
            else:
                lines = list(
                    session.execute(
                        select(FeeLineRow)
                        .where(FeeLineRow.setl_id == (row.reverses_setl_id or row.setl_id))
                        .order_by(FeeLineRow.feedetl_sn)
                    ).scalars()
                )
                inst = session.get(InstitutionRow, row.fixmedins_code)
        if row is None:
            return render(
                "message.html", 404, title="未找到", text="未找到该结算记录。", me=True, csrf=me[1]
            )
        return render(
            "settlement.html",
            me=True,
            csrf=me[1],
            s=row,
            institution=inst,
            explanation=explain_settlement(row, lines),
        )

    @router.get("/cash")
    def cash(request: Request) -> Response:
        me = who(request)
        return render("cash.html", me=me is not None, csrf=me[1] if me else "")

    return router
