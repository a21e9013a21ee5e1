"""The agency console over HTTP: sign-in, CSRF, lock-out, session expiry, scope (404 for
another region's object), the settlement page with its explanation, the filings desk with
the operations log, exports and the offline API docs. Demo data are SYNTHETIC."""

from __future__ import annotations

import io
from datetime import timedelta

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from medroam.services.uow import unit_of_work
from medroam.store.tables import FilingRow
from tests.web.conftest import Console, csrf_of, post_login, refusals

pytestmark = pytest.mark.db


def test_pages_need_a_signed_in_officer(console: Console) -> None:
    with console.browser() as http:
        r = http.get("/settlements")
        assert r.status_code == 303
        assert r.headers["location"] == "/login?next=%2Fsettlements"
        login = http.get("/login")
        assert login.status_code == 200 and "经办人员登录" in login.text


def test_sign_in_sets_a_protected_cookie(console: Console) -> None:
    with console.browser() as http:
        r = post_login(http, "nation", "Demo-2026!")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("medroam_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # MEDROAM_COOKIE_SECURE not set
        home = http.get("/")
        assert "国家级演示经办" in home.text and "运行监测" in home.text


def test_a_form_without_its_csrf_token_is_refused_and_logged(console: Console) -> None:
    before = refusals(console, "CSRF 校验失败")
    with console.browser() as http:
        http.get("/login")
        r = http.post("/login", data={"username": "nation", "password": "Demo-2026!"})
        assert r.status_code == 403 and "CSRF" in r.text
        assert "medroam_session" not in r.headers.get("set-cookie", "")
    psn_no = console.person["psn_no"]
    with console.login("insured_place-110100") as http:
        with unit_of_work(console.engine) as session:
            filings = session.execute(select(func.count()).select_from(FilingRow)).scalar_one()
        r = http.post(
            f"/persons/{psn_no}/filings",
            data={"csrf_token": "forged", "filing_type": "TMP_OTHER", "destination": "440100"},
        )
        assert r.status_code == 403
        with unit_of_work(console.engine) as session:
            after = session.execute(select(func.count()).select_from(FilingRow)).scalar_one()
        assert after == filings  # nothing written
    assert refusals(console, "CSRF 校验失败") == before + 2


def test_repeated_failures_lock_the_account(console: Console) -> None:
    with console.browser() as http:
        for n in range(1, 5):
            r = post_login(http, "auditor-440000", "wrong-password")
            assert r.status_code == 200 and "用户名或密码错误" in r.text, n
        fifth = post_login(http, "auditor-440000", "wrong-password")
        assert "账户已锁定" in fifth.text
        right = post_login(http, "auditor-440000", "Demo-2026!")
        assert right.status_code == 200 and "账户已锁定" in right.text
        console.clock.offset = timedelta(minutes=16)  # lock-out is 15 minutes
        try:
            assert post_login(http, "auditor-440000", "Demo-2026!").status_code == 303
        finally:
            console.clock.offset = timedelta(0)


def test_a_session_expires_after_its_idle_time(console: Console) -> None:
    with console.login("province-110000") as http:
        assert http.get("/").status_code == 200
        console.clock.offset = timedelta(minutes=29)  # within 30 minutes: slides on
        try:
            assert http.get("/").status_code == 200
            console.clock.offset = timedelta(minutes=29 + 31)
            r = http.get("/")
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
        finally:
            console.clock.offset = timedelta(0)


def test_officer_finds_a_settlement_by_id_number_and_reads_its_explanation(
    console: Console,
) -> None:
    certno = console.person["certno"]
    with console.login("insured_place-110100") as http:
        found = http.get("/settlements", params={"certno": certno})
        assert found.status_code == 200 and console.setl_id in found.text
        page = http.get(f"/settlements/{console.setl_id}")
        assert page.status_code == 200
        text = page.text
        # 25.00 yuan of 甲类 outpatient care: all in policy, the 25.00 deductible of the
        # Beijing employee's outpatient pool absorbs it, so the fund pays 0.00 and the
        # personal account pays 25.00: 0.00 + 0.00 + 25.00 + 0.00 = 25.00.
        assert "每一分钱的说明" in text
        assert "= 25.00 元，与医疗费用总额一致" in text
        assert "110100 北京市" in text and "440100 广州市" in text
        assert "None" not in text and "amount_fen" not in text


def test_another_regions_settlement_answers_404_and_is_logged(console: Console) -> None:
    before = refusals(console, "不存在或不在本人经办范围内")
    for username in ("insured_place-440100", "treatment_place-110100", "province-440000"):
        with console.login(username) as http:
            ok = username == "province-440000"  # the place of treatment's province sees it
            r = http.get(f"/settlements/{console.setl_id}")
            assert r.status_code == (200 if ok else 404), username
            search = http.get("/settlements", params={"setl_id": console.setl_id})
            assert (f'href="/settlements/{console.setl_id}"' in search.text) == ok
    with console.login("treatment_place-440100") as http:
        assert http.get(f"/settlements/{console.setl_id}").status_code == 200
        assert http.get("/settlements/NOSUCH").status_code == 404
    assert refusals(console, "不存在或不在本人经办范围内") == before + 3


def file_to_guangzhou(http: httpx.Client, token: str, psn_no: str, today: str) -> httpx.Response:
    """A temporary filing (其他临时外出就医) to 广州 from ``today``, at the counter."""
    return http.post(
        f"/persons/{psn_no}/filings",
        data={
            "csrf_token": token,
            "filing_type": "TMP_OTHER",
            "destination": "440100",
            "valid_from": today,
            "channel": "counter",
        },
    )


def test_filing_desk_creates_and_cancels_with_history_and_log(console: Console) -> None:
    person = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "110100" and p["filing"] is None
    )
    psn_no = person["psn_no"]
    with console.login("insured_place-110100") as http:
        page = http.get(f"/persons/{psn_no}")
        token = csrf_of(page.text)
        bad = http.post(
            f"/persons/{psn_no}/filings",
            data={"csrf_token": token, "filing_type": "TMP_OTHER", "destination": "110100"},
        )
        assert bad.status_code == 422
        assert "就医地不能与参保地相同" in bad.text and "请填写开始日期" in bad.text
        today = (console.clock()).date().isoformat()
        made = file_to_guangzhou(http, token, psn_no, today)
        assert made.status_code == 303, made.text
        shown = http.get(made.headers["location"])
        assert "备案已生效" in shown.text and "其他临时外出就医" in shown.text
        with unit_of_work(console.engine) as session:
            filing = session.execute(
                select(FilingRow).where(FilingRow.psn_no == psn_no, FilingRow.status == "active")
            ).scalar_one()
        no_reason = http.post(
            f"/filings/{filing.filing_id}/cancel", data={"csrf_token": token, "reason": ""}
        )
        assert no_reason.status_code == 422 and "请填写取消原因" in no_reason.text
        cancelled = http.post(
            f"/filings/{filing.filing_id}/cancel",
            data={"csrf_token": token, "reason": "已回参保地居住"},
        )
        assert cancelled.status_code == 303, cancelled.text[-3000:]
        history = http.get(f"/persons/{psn_no}").text
        assert "已取消" in history and "备案历史" in history
        log = http.get("/oplog", params={"object_id": filing.filing_id}).text
        assert "新增" in log and "取消" in log and "status：有效" not in log
        assert "status：active → cancelled" in log
    with console.login("treatment_place-440100") as http:  # may see, may not file
        page = http.get(f"/persons/{psn_no}")
        assert page.status_code == 200 and "办理备案" not in page.text
        assert "*" in page.text  # masked identity for the place of treatment
        r = http.post(
            f"/persons/{psn_no}/filings",
            data={"csrf_token": csrf_of(page.text), "filing_type": "TMP_OTHER"},
        )
        assert r.status_code == 403


def test_exports_follow_the_filters(console: Console) -> None:
    with console.login("nation") as http:
        params = {"setl_id": console.setl_id}
        csv_text = http.get("/settlements.csv", params=params).content.decode("utf-8-sig")
        lines = csv_text.strip().splitlines()
        assert len(lines) == 2 and lines[0].startswith("结算ID,")
        assert console.setl_id in lines[1] and ",25.00," in lines[1]
        xlsx = http.get("/settlements.xlsx", params=params)
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0][0] == "结算ID" and rows[1][0] == console.setl_id and len(rows) == 2
        none = http.get("/settlements.csv", params={"setl_id": "NOSUCH"})
        assert len(none.content.decode("utf-8-sig").strip().splitlines()) == 1
        bad = http.get("/settlements", params={"start": "2026-13-01"})
        assert "日期格式应为 YYYY-MM-DD" in bad.text


def test_dashboard_charts_come_with_their_numbers(console: Console) -> None:
    with console.login("insured_place-110100") as http:
        page = http.get("/")
        assert (
            'id="table-kind"' in page.text and "/static/vendor/echarts/echarts.min.js" in page.text
        )
        rows = http.get("/dashboard/kind.csv").content.decode("utf-8-sig").splitlines()
        assert rows[0].startswith("就医类型,结算笔数")
        outpatient = next(r for r in rows if r.startswith("普通门诊"))
        assert outpatient.split(",")[1:4] == ["1", "25.00", "0.00"]
    with console.login("insured_place-440100") as http:  # not their person, not their hospital
        rows = http.get("/dashboard/kind.csv").content.decode("utf-8-sig").splitlines()
        assert rows == [rows[0]]


def test_api_docs_and_assets_are_served_locally(console: Console) -> None:
    with console.browser() as http:
        docs = http.get("/api/v1/docs")
        assert docs.status_code == 200
        assert '"/static/vendor/swagger-ui/swagger-ui-bundle.js"' in docs.text
        assert "cdn" not in docs.text and "https://" not in docs.text
        for path in (
            "/static/vendor/swagger-ui/swagger-ui-bundle.js",
            "/static/vendor/swagger-ui/swagger-ui.css",
            "/static/vendor/echarts/echarts.min.js",
            "/static/css/console.css",
        ):
            assert http.get(path).status_code == 200, path
        assert http.get("/api/v1/openapi.json").json()["info"]["title"] == "medroam agency API"


def test_payment_page_lists_drg_results_with_exports(console: Console) -> None:
    with console.login("province-440000") as http:
        page = http.get("/payment")
        assert page.status_code == 200 and "按 DRG 组" in page.text
        assert "质控未通过的结算清单" in page.text
        rows = http.get("/payment/groups.csv").content.decode("utf-8-sig").splitlines()
        assert rows[0] == "DRG 组,ADRG,MDC,病例数,医疗费用合计（元）,例均费用（元）"
        assert 'id="results"' in page.text and "按病组支付与项目费用" in page.text
        results = http.get("/payment/results.csv").content.decode("utf-8-sig").splitlines()
        assert results[0].startswith("定点医药机构,DRG 组,病例数,权重（RW）")
        bad = http.get("/payment", params={"start": "2026-02-30"})
        assert "日期格式应为 YYYY-MM-DD" in bad.text
        assert http.get("/payment/other.csv").status_code == 404


def test_report_centre_links_every_export_with_the_period(console: Console) -> None:
    year = f"{console.clock():%Y}"
    period = f"start={year}-01-01&amp;end={year}-12-31"
    with console.login("nation") as http:
        page = http.get("/reports", params={"start": f"{year}-01-01", "end": f"{year}-12-31"})
        assert page.status_code == 200
        for href in (
            f"/settlements.csv?{period}",
            f"/settlements.xlsx?{period}",
            f"/payment/groups.xlsx?{period}",
            f"/dashboard/kind.csv?{period}",
        ):
            assert href in page.text, href
        csv_rows = http.get(f"/settlements.csv?start={year}-01-01&end={year}-12-31").text
        assert console.setl_id in csv_rows
        supervision = http.get("/supervision")
        assert "监管案件" in supervision.text and "/supervision/cases.csv" in supervision.text


def test_operations_log_and_person_search_export_with_their_filters(console: Console) -> None:
    """The operations log exports what its filters select (CSV and XLSX, China time);
    a person search exports only persons insured in the officer's scope."""
    with console.login("insured_place-110100") as http:
        log = http.get("/oplog.csv", params={"action": "login"}).content.decode("utf-8-sig")
        lines = log.splitlines()
        assert lines[0].startswith("时间（北京时间）,操作人,角色,操作")
        assert len(lines) > 1 and all(",登录," in line for line in lines[1:])
        xlsx = http.get("/oplog.xlsx", params={"action": "login"})
        assert xlsx.content[:2] == b"PK"
        own = http.get("/persons.csv", params={"q": console.person["psn_no"]})
        assert console.person["certno"] in own.content.decode("utf-8-sig")  # 参保地: in full
    with console.login("treatment_place-440100") as http:
        # the search reads persons insured in the officer's scope: 北京's person is not
        # 广州's to list, so the export is its header alone
        other = http.get("/persons.csv", params={"q": console.person["psn_no"]})
        text = other.content.decode("utf-8-sig")
        assert text.splitlines() == ["人员编号,姓名,证件号码,参保地"]
        assert http.get("/persons.csv").status_code == 404  # no search, nothing to export


def test_filing_desk_changes_a_filing_with_history_channel_and_log(console: Console) -> None:
    """A temporary filing to 广州 (440100) becomes one to 上海 (310100), made by phone:
    a new version in the history with its channel, the log with before/after; bad or empty
    changes answer 422 with the error next to the field; the place of treatment is
    refused (403, logged), and once the filing names 上海 it no longer sees it (404)."""
    person = [
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "110100" and p["filing"] is None
    ][1]
    psn_no = person["psn_no"]
    with console.login("insured_place-110100") as http:
        token = csrf_of(http.get(f"/persons/{psn_no}").text)
        today = console.clock().date().isoformat()
        made = file_to_guangzhou(http, token, psn_no, today)
        assert made.status_code == 303, made.text
        with unit_of_work(console.engine) as session:
            filing_id = session.execute(
                select(FilingRow.filing_id).where(
                    FilingRow.psn_no == psn_no, FilingRow.status == "active"
                )
            ).scalar_one()
        url = f"/filings/{filing_id}/change"
        bad = http.post(
            url,
            data={"csrf_token": token, "destination": "11010X", "channel": "phone"},
        )
        assert bad.status_code == 422
        assert "就医地代码应为 6 位已知行政区划代码" in bad.text and "请填写变更原因" in bad.text
        assert 'id="change-destination-error"' in bad.text
        same = http.post(
            url,
            data={"csrf_token": token, "destination": "440100", "channel": "phone", "reason": "x"},
        )
        assert same.status_code == 422 and "变更内容与现备案相同" in same.text
        to_long = http.post(
            url,
            data={
                "csrf_token": token,
                "filing_type": "LT_RETIRED",
                "channel": "phone",
                "reason": "x",
            },
        )
        assert to_long.status_code == 422 and "长期备案与临时备案不能互相变更" in to_long.text
        with unit_of_work(console.engine) as session:
            assert session.get(FilingRow, filing_id).version == 1  # type: ignore[union-attr]
        with console.login("treatment_place-440100") as other:  # sees it, may not change it
            other_token = csrf_of(other.get(f"/persons/{psn_no}").text)
            before = refusals(console, "角色或地区无权变更该备案")
            r = other.post(url, data={"csrf_token": other_token, "channel": "phone", "reason": "x"})
            assert r.status_code == 403
            assert refusals(console, "角色或地区无权变更该备案") == before + 1
        done = http.post(
            url,
            data={
                "csrf_token": token,
                "destination": "310100",
                "channel": "phone",
                "reason": "改往上海就医",
            },
        )
        assert done.status_code == 303, done.text[-2000:]
        page = http.get(done.headers["location"]).text
        assert "备案已变更" in page
        history = page[page.index('id="filing-history"') :]
        assert "变更" in history and "电话" in history and "改往上海就医" in history
        assert "310100 上海市" in history and "440100 广州市" in history
        with unit_of_work(console.engine) as session:
            row = session.get(FilingRow, filing_id)
            assert row is not None and row.version == 2 and row.destination == "310100"
        log = http.get("/oplog", params={"object_id": filing_id, "action": "change"}).text
        assert "destination：440100 → 310100" in log
    with console.login("treatment_place-440100") as http:  # no longer its filing: 404
        assert http.post(url, data={"csrf_token": csrf_of(http.get("/").text)}).status_code == 404
