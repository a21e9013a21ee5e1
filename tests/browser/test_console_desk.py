"""The filings desk's change form and the 预付金 / 医院回款 pages in a real browser
(chromium), offline, with screenshots."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Outside
from tests.browser.test_console_browser import sign_in
from tests.web.conftest import Console

pytestmark = pytest.mark.db
Session = tuple[Page, Outside, Callable[[str], None]]


def test_officer_changes_a_filing(console: Console, desk: Session) -> None:
    """File to 广州, then change it to 上海 by phone: the empty reason is refused next to
    its field, the history shows both versions with their channels."""
    page, _outside, shot = desk
    person = [
        p
        for p in console.fixtures["persons"]
        if p["insuplc_admdvs"] == "110100" and p["filing"] is None
    ][-1]
    sign_in(page, console, "insured_place-110100")
    page.goto(console.base_url + f"/persons/{person['psn_no']}")
    page.select_option("#filing_type", "TMP_OTHER")
    page.fill("#destination", "440100")
    page.fill("#valid_from", console.clock().date().isoformat())
    page.click("#filing-form button[type=submit]")
    expect(page.locator("#notice")).to_have_text("备案已生效")
    change = page.locator("details.change-filing").first
    change.locator("summary").click()
    change.locator("input[name=destination]").fill("310100")
    change.locator("select[name=channel]").select_option("phone")
    change.locator("button[type=submit]").click()
    expect(page.locator("#change-reason-error")).to_have_text("请填写变更原因")
    shot("change-errors")
    change = page.locator("details.change-filing").first
    expect(change.locator("input[name=destination]")).to_have_value("310100")
    change.locator("input[name=reason]").fill("改往上海就医")
    change.locator("button[type=submit]").click()
    expect(page.locator("#notice")).to_have_text("备案已变更")
    expect(page.locator("#filing-history")).to_contain_text("电话")
    expect(page.locator("#filing-history")).to_contain_text("310100 上海市")
    expect(page.locator("#filings")).to_contain_text("310100 上海市")
    shot("changed")


def test_prepayment_and_hospital_payment_pages(console: Console, desk: Session) -> None:
    page, _outside, shot = desk
    sign_in(page, console, "nation")
    page.goto(console.base_url + "/clearing")
    page.click("#link-prepayment")
    expect(page.locator("h1")).to_have_text("预付金额度、使用与补足")
    shot("prepayment")
    page.fill("#quota-filters input[name=month]", "2026-13")
    page.click("#quota-filters button[type=submit]")
    expect(page.locator("#month-error")).to_have_text("月份格式应为 YYYY-MM")
    shot("prepayment-errors")
    page.goto(console.base_url + "/clearing")
    page.click("#link-payments")
    expect(page.locator("h1")).to_contain_text("医院回款")
    expect(page.locator("#payments-total")).to_contain_text("应付合计")
    shot("payments")
