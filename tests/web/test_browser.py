"""The page in headless Chromium, served from a real WebHDFS snapshot and a worker-views server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from devstack.report_doubles import LiveServer
from devstack.webhdfs import WebHdfsServer
from tests.web.browser import CHROMIUM, check_refresh_keeps_place, check_report_page
from tests.web.conftest import HOSTILE, later_messages, sample_messages

pytestmark = pytest.mark.integration

if not Path(CHROMIUM).exists():
    pytest.fail(
        f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium", pytrace=False
    )


@pytest.fixture
def base_url(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> Iterator[str]:
    """The app on a real loopback HTTP server; a worker answering a hostile top word."""
    messages = sample_messages() + later_messages()
    live = live_factory(messages)
    app = make_app(live.url, published.url, REFRESH_SECONDS=1)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_report_page_in_chromium(base_url: str, tmp_path: Path) -> None:
    seen = check_report_page(base_url, tmp_path)
    assert seen["verdict"] == "match"
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_hostile_worker_answer_shows_as_text(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
    tmp_path: Path,
) -> None:
    live = live_factory(
        sample_messages(), answers={"/top": {"top": [{"word": HOSTILE, "count": 99}]}}
    )
    app = make_app(live.url, published.url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        seen = check_report_page(f"http://127.0.0.1:{server.server_port}", tmp_path)
    finally:
        server.shutdown()
        thread.join(timeout=5)
    assert seen["first_top_word"] == HOSTILE


def test_auto_refresh_keeps_the_readers_place(base_url: str) -> None:
    check_refresh_keeps_place(base_url)
