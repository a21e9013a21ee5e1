"""The console's protections in a real browser (chromium), offline: lock-out after
repeated failures, a session that expires, a tampered CSRF token, another region's
object. The server's clock is moved, not the browser's. Demo data are SYNTHETIC."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Outside
from tests.browser.test_console_browser import sign_in
from tests.web.conftest import Console

pytestmark = pytest.mark.db
Session = tuple[Page, Outside, Callable[[str], None]]


def test_five_failures_lock_the_account_for_fifteen_minutes(
    console: Console, desk: Session
) -> None:
    """Four wrong passwords say so next to the password field; the fifth locks the
    account, and then even the right password is refused until 15 minutes have passed."""
    page, _outside, shot = desk
    user = "auditor-110000"
    for _ in range(4):
        sign_in(page, console, user, "wrong-password")
        expect(page.locator("#password-error")).to_have_text("用户名或密码错误")
    sign_in(page, console, user, "wrong-password")
    expect(page.locator("#password-error")).to_contain_text("账户已锁定")
    sign_in(page, console, user)
    expect(page.locator("#password-error")).to_contain_text("账户已锁定")
    shot("locked")
    console.clock.offset = timedelta(minutes=16)
    try:
        sign_in(page, console, user)
        expect(page.locator("h1")).to_have_text("运行监测")
    finally:
        console.clock.offset = timedelta(0)


def test_an_idle_session_expires_and_sends_the_officer_to_sign_in(
    console: Console, desk: Session
) -> None:
    page, _outside, shot = desk
    sign_in(page, console, "treatment_place-110100")
    expect(page.locator("h1")).to_have_text("运行监测")
    console.clock.offset = timedelta(minutes=31)  # idle longer than 30 minutes
    try:
        page.goto(console.base_url + "/settlements")
        expect(page.locator("h1")).to_have_text("经办人员登录")
        shot("expired")
        # signing in again returns to the page that was asked for
        page.fill("#username", "treatment_place-110100")
        page.fill("#password", "Demo-2026!")
        page.click("button[type=submit]")
        expect(page.locator("h1")).to_contain_text("结算查询")
    finally:
        console.clock.offset = timedelta(0)


def test_a_tampered_csrf_token_is_refused(console: Console, desk: Session) -> None:
    page, _outside, shot = desk
    sign_in(page, console, "treatment_place-440100")
    page.goto(console.base_url + "/supervision")
    page.eval_on_selector(
        "form[action='/supervision/cases'] input[name=csrf_token]", "e => e.value = 'forged'"
    )
    page.fill("#open-setl-id", console.setl_id)
    page.click("form[action='/supervision/cases'] button[type=submit]")
    expect(page.locator("h1")).to_have_text("请求被拒绝")
    expect(page.locator(".card")).to_contain_text("CSRF")
    shot("csrf-refused")


def test_another_regions_settlement_is_not_found(console: Console, desk: Session) -> None:
    """The settlement is of a 北京 person treated in 广州: 广州's 参保地 officer
    gets the same 404 page as for a settlement that does not exist."""
    page, _outside, shot = desk
    sign_in(page, console, "insured_place-440100")
    response = page.goto(console.base_url + f"/settlements/{console.setl_id}")
    assert response is not None and response.status == 404
    expect(page.locator("h1")).to_have_text("未找到")
    shot("not-found")
    missing = page.goto(console.base_url + "/settlements/NOSUCH")
    assert missing is not None and missing.status == 404
