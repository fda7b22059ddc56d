"""`wordstream status` against the real dev broker and WebHDFS server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hdfs import InsecureClient

from devstack.broker import Broker
from devstack.ports import free_port
from devstack.webhdfs import WebHdfsServer
from streamapp.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def nothing_else_running(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point every component at a free port, where nothing answers."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", f"127.0.0.1:{free_port()}")
    monkeypatch.setenv("HDFS_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WORKER_URLS", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("WEB_PORT", str(free_port()))
    monkeypatch.setenv("CLOCK_PORT", str(free_port()))


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["status", "--json", *args])
    report = json.loads(capsys.readouterr().out)
    return code, {c["name"]: c for c in report["components"]}


@pytest.mark.usefixtures("nothing_else_running")
def test_broker_up_then_down_after_it_stops(
    broker_factory: Callable[..., Broker], capsys: pytest.CaptureFixture[str]
) -> None:
    b = broker_factory()
    code, checks = _status(capsys, "--bootstrap", b.bootstrap)
    assert checks["broker"]["state"] == "up"
    assert checks["broker"]["address"] == b.bootstrap
    assert checks["worker"]["state"] == "down"
    assert code == 1  # the rest is down

    b.stop()
    code, checks = _status(capsys, "--bootstrap", b.bootstrap)
    assert checks["broker"]["state"] == "down"
    assert code == 1


def test_hdfs_and_last_batch_run(
    webhdfs: WebHdfsServer,
    monkeypatch: pytest.MonkeyPatch,
    nothing_else_running: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HDFS_URL", webhdfs.url)
    monkeypatch.setenv("REPORT_ROOT", "/reports/ws")
    _, checks = _status(capsys)
    assert checks["hdfs"]["state"] == "up"
    assert (checks["batch"]["state"], checks["batch"]["ok"]) == ("never run", True)

    client = InsecureClient(webhdfs.url)
    run = {"run_id": "20260101T020000Z", "started_at": "2026-01-01T02:00:00Z", "error": None}
    client.write(
        "/reports/ws/last_run.json",
        json.dumps({**run, "state": "failed", "finished_at": "2026-01-01T02:05:00Z", "error": "x"}),
        overwrite=True,
    )
    _, checks = _status(capsys)
    assert (checks["batch"]["state"], checks["batch"]["ok"]) == ("failed", False)
    assert "2026-01-01T02:05:00Z" in checks["batch"]["detail"]

    client.write(
        "/reports/ws/last_run.json",
        json.dumps({**run, "state": "success", "finished_at": "2026-01-01T02:06:00Z"}),
        overwrite=True,
    )
    _, checks = _status(capsys)
    assert (checks["batch"]["state"], checks["batch"]["ok"]) == ("success", True)


@pytest.mark.usefixtures("nothing_else_running")
def test_table_output_lists_every_component(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--bootstrap", f"127.0.0.1:{free_port()}"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split()[0] for line in lines] == [
        "COMPONENT",
        "broker",
        "hdfs",
        "worker",
        "web",
        "clock",
        "batch",
    ]


def test_clock_is_probed_at_clock_url(
    monkeypatch: pytest.MonkeyPatch,
    nothing_else_running: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CLOCK_URL", url + "/")
    _, checks = _status(capsys)
    assert (checks["clock"]["address"], checks["clock"]["state"]) == (url, "down")
