"""The console and the self-service pages in a real browser (chromium), offline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Outside
from tests.web.conftest import PASSWORD, Console

pytestmark = pytest.mark.db
Session = tuple[Page, Outside, Callable[[str], None]]


def sign_in(page: Page, console: Console, username: str, password: str = PASSWORD) -> None:
    page.goto(console.base_url + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_officer_finds_a_settlement_by_id_number_and_reads_its_explanation(
    console: Console, desk: Session
) -> None:
    page, _outside, shot = desk
    page.goto(console.base_url + "/")
    expect(page.locator("h1")).to_have_text("经办人员登录")
    shot("login")
    sign_in(page, console, "insured_place-110100")
    expect(page.locator("h1")).to_have_text("运行监测")
    page.wait_for_selector(".chart svg")  # ECharts drew from the bundled file
    shot("dashboard")
    page.click("text=跨省异地就医管理")
    shot("persons")
    page.goto(console.base_url + "/settlements")
    page.fill("#certno", console.person["certno"])
    page.click("form.filters button[type=submit]")
    page.click(f"text={console.setl_id}")
    expect(page.locator("#explanation")).to_contain_text("与医疗费用总额一致")
    shot("settlement")
    page.click(f"a[href='/persons/{console.person['psn_no']}']")
    expect(page.locator("h1")).to_contain_text(console.person["psn_no"])
    shot("person")
    for path, name in (
        ("/clearing", "clearing"),
        ("/payment", "payment"),
        ("/supervision", "supervision"),
        ("/reports", "reports"),
        ("/oplog", "oplog"),
    ):
        page.goto(console.base_url + path)
        shot(name)
    expect(page.locator("#oplog")).to_contain_text("登录")
    page.goto(console.base_url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title")  # rendered from the bundled Swagger UI
    shot("api-docs")


def test_officer_files_and_cancels_a_filing(console: Console, desk: Session) -> None:
    page, _outside, shot = desk
    person = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "110100"
        and p["filing"] is None
        and p["psn_no"] != console.person["psn_no"]
    )
    sign_in(page, console, "insured_place-110100")
    page.goto(console.base_url + f"/persons/{person['psn_no']}")
    page.click("#filing-form button[type=submit]")  # empty form: errors next to the fields
    expect(page.locator("#filing_type-error")).to_have_text("请选择备案类型")
    expect(page.locator("#destination-error")).to_have_text("请填写就医地行政区划代码")
    shot("filing-errors")
    page.select_option("#filing_type", "TMP_OTHER")
    page.fill("#destination", "440100")
    page.fill("#valid_from", console.clock().date().isoformat())
    page.click("#filing-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("备案已生效")
    shot("filed")
    page.locator("#filings input[name=reason]").first.fill("行程取消")
    page.locator("#filings button.danger").first.click()
    expect(page.locator("#notice")).to_have_text("备案已取消")
    expect(page.locator("#filings")).to_contain_text("已取消")
    shot("cancelled")


def test_clearing_run_confirmed_and_statement_downloaded(console: Console, desk: Session) -> None:
    page, _outside, shot = desk
    now = console.clock()
    period = f"{now:%Y-%m}"
    console.clock.offset = (now.replace(day=28) + timedelta(days=4)).replace(day=3) - now
    try:
        sign_in(page, console, "treatment_place-440100")
        page.goto(console.base_url + "/clearing")
        page.fill("#propose-period", period)
        page.click("#propose-form button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("已上报")
        page.context.clear_cookies()
        sign_in(page, console, "insured_place-110100")
        page.goto(console.base_url + "/clearing")
        page.click("#confirm-form button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("已确认")
        page.context.clear_cookies()
        sign_in(page, console, "nation")
        page.goto(console.base_url + "/clearing")
        page.fill("#run-period", period)
        page.click("#run-form button[type=submit]")
        expect(page.locator("#notice")).to_contain_text("核对一致")
        shot("clearing-run")
        page.locator("a.statement-link").first.click()
        expect(page.locator(".sign")).to_contain_text("单位（盖章）")
        shot("statement")
        page.emulate_media(media="print")
        expect(page.locator("nav.menu")).to_be_hidden()  # print CSS hides the chrome
        shot("statement-print")
        page.emulate_media(media="screen")
        with page.expect_download() as info:
            page.click("#download-csv")
        path = info.value.path()
        text = path.read_text(encoding="utf-8-sig")
        assert text.splitlines()[0] == "部分,项目,数值"
    finally:
        console.clock.offset = timedelta(0)


def test_insured_files_from_a_phone(console: Console, phone: Session) -> None:
    page, _outside, shot = phone
    person = next(
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "440100" and p["filing"] is None
    )
    page.goto(console.base_url + "/self/")
    shot("signin")
    page.fill("#certno", person["certno"])
    page.click("text=获取验证码")
    page.fill("#code", console.fixtures["self_service"]["codes"][person["certno"]])
    page.click("form[action='/self/login'] button")
    expect(page.locator("#no-filing")).to_be_visible()
    shot("home")
    page.select_option("#filing_type", "TMP_OTHER")
    page.fill("#destination", "110100")
    page.click("#submit-filing")  # commitment not ticked: refused next to the box
    expect(page.locator("#commitment-error")).to_contain_text("个人承诺书")
    page.check("#commitment")
    page.click("#submit-filing")
    expect(page.locator("#notice")).to_have_text("备案成功，即时生效")
    expect(page.locator("#valid-filing")).to_contain_text("110100 北京市")
    shot("filed")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    for path, name in (
        ("/self/institutions?region=110100&service=inpatient", "institutions"),
        ("/self/settlements", "settlements"),
        ("/self/cash", "cash"),
    ):
        page.goto(console.base_url + path)
        shot(name)


def test_refusals_in_the_browser(console: Console, desk: Session) -> None:
    page, _outside, shot = desk
    sign_in(page, console, "insured_place-440100")
    response = page.goto(console.base_url + f"/settlements/{console.setl_id}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("未找到")
    shot("cross-region-404")
    page.goto(console.base_url + "/clearing")
    page.evaluate("document.querySelector('#dispute-form input[name=csrf_token]').value='x'")
    page.click("#dispute-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("请求被拒绝")
    shot("csrf-refused")
