"""Checks of the report page in headless Chromium, reusable against any deployment by base URL.

Drives Debian's Chromium through Playwright (`executable_path`, never a browser
download). `check_report_page` reads the values it asserts from the page's own JSON API,
so it can point at the dev doubles or at the real worker and Spark output alike.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package; .ci/run installs it
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed on exit."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def api(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(base_url + path, timeout=10) as resp:
        return json.load(resp)


class PageWatch:
    """Records dialogs (which must never open) and console errors (CSP violations show there)."""

    def __init__(self, page: Page) -> None:
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # A deliberate bad request (HTTP 400) is logged as a failed load; anything else counts.
        if message.type == "error" and "status of 400" not in message.text:
            self.console_errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def check_report_page(base_url: str, screenshot_dir: Path) -> dict[str, Any]:
    """Load the page, check it against the API, save screenshots; returns what the DOM showed.

    Checks: the verdict, the live and batch totals and the first top word match
    `/api/summary` and `/api/top`; the page is readable at phone width; searching for
    markup shows it back as text without running it; no dialog opens, no console error.
    """
    summary = api(base_url, "/api/summary")
    top = api(base_url, "/api/top")["rows"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = PageWatch(page)
        page.goto(base_url + "/", wait_until="networkidle")
        seen = {
            "verdict": page.get_attribute("#verdict", "data-state"),
            "live_messages": page.text_content("#live-messages"),
            "batch_messages": page.text_content("#batch-messages"),
            "first_top_word": page.text_content("#top-table tbody tr:first-child th"),
            "top_words": page.locator("#top-table tbody th").all_text_contents(),
        }
        page.screenshot(path=str(screenshot_dir / "report.png"), full_page=True)
        assert seen["verdict"] == summary["verdict"]["state"]
        if summary["live"]["totals"] is not None:
            assert seen["live_messages"] == f"{summary['live']['totals']['messages']:,}"
        if summary["batch"] is not None:
            assert seen["batch_messages"] == f"{summary['batch']['totals']['messages']:,}"
        if top:
            assert seen["first_top_word"] == top[0]["word"]

        hostile = "<img src=x onerror=alert(3)>"
        page.goto(f"{base_url}/?word={quote(hostile)}", wait_until="networkidle")
        assert page.input_value("#word") == hostile
        assert "Bad request" in (page.text_content("[role=alert]") or "")
        assert page.locator("img[src=x]").count() == 0

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone_watch = PageWatch(phone)
        phone.goto(base_url + "/", wait_until="networkidle")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        phone.screenshot(path=str(screenshot_dir / "report-phone.png"), full_page=True)
        assert overflow <= 0, f"page is {overflow}px wider than a phone screen"

        assert watch.dialogs == [] and phone_watch.dialogs == []
        errors = watch.console_errors + phone_watch.console_errors
        assert errors == [], errors
    return seen


def check_refresh_keeps_place(base_url: str) -> None:
    """After an auto-refresh the typed search text and the scroll position are unchanged."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 800, "height": 500})
        watch = PageWatch(page)
        page.goto(base_url + "/", wait_until="networkidle")
        page.fill("#word", "half-typed")
        page.evaluate("window.scrollTo(0, 400)")
        page.wait_for_selector("#refresh-status:has-text('Updated')", timeout=15_000)
        assert page.input_value("#word") == "half-typed"
        assert page.evaluate("window.scrollY") == 400
        assert page.locator("#verdict").count() == 1
        assert watch.console_errors == []
