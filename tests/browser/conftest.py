"""Playwright for Python driving Debian's chromium (/usr/bin/chromium; never a downloaded
browser) against the console over a seeded SYNTHETIC demo database.

Every test gets a fresh browser context that records each request whose host is not
127.0.0.1 (the pages must work offline) and a ``shot(name)`` that saves a screenshot into
``var/screenshots/`` (git-ignored)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.web.conftest import console  # noqa: F401  (the seeded server, re-used here)

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():  # pragma: no cover - .ci/run installs it
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Outside:
    """Requests that left 127.0.0.1 (should stay empty)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def see(self, url: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1":
            return
        self.urls.append(url)


def _open(
    browser: Browser, request: pytest.FixtureRequest, **context_args: object
) -> Iterator[tuple[Page, Outside, Callable[[str], None]]]:
    context = browser.new_context(locale="zh-CN", accept_downloads=True, **context_args)  # type: ignore[arg-type]
    outside = Outside()
    context.on("request", lambda r: outside.see(r.url))
    page = context.new_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = request.node.name

    def shot(name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{prefix}-{name}.png"), full_page=True)

    try:
        yield page, outside, shot
    finally:
        context.close()
    assert outside.urls == [], f"requests left 127.0.0.1: {outside.urls[:5]}"


@pytest.fixture
def desk(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[tuple[Page, Outside, Callable[[str], None]]]:
    """A desktop browser page (1366×900)."""
    yield from _open(browser, request, viewport={"width": 1366, "height": 900})


@pytest.fixture
def phone(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[tuple[Page, Outside, Callable[[str], None]]]:
    """A phone-sized page (390×844, touch, mobile)."""
    yield from _open(
        browser,
        request,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
