"""A real Prometheus server scraping the worker and the web process with deploy/prometheus/.

Broker and WebHDFS from the fixtures, a real worker, the production Procfile's web
process (honcho, on $PORT), and Debian's `prometheus` binary on a free port with a
temporary config: the deploy scrape jobs pointed at those ports, the deploy rules with
their `for` durations shortened, 1 s scrape and evaluation intervals. The worker is
killed: WordstreamWorkerDown fires; it is back: the alert clears.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.ports import free_port
from devstack.webhdfs import WebHdfsServer
from tests.fixtures.worker import LiveWorker

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "prometheus"
BIN = Path(sys.executable).parent


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "prometheus is missing; .ci/run installs it (apt-get install -y prometheus)"
            )
        pytest.skip("prometheus is not installed here: apt-get install -y prometheus")
    return found


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(what: str, check: Callable[[], Any], timeout: float, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except requests.RequestException:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text(errors="replace")[-3000:] for p in logs if p.exists())
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.5)


@pytest.fixture
def worker(worker_factory: Callable[..., LiveWorker]) -> LiveWorker:
    """A real worker refreshing its lag gauges every second."""
    return worker_factory(env={"LAG_INTERVAL_S": "1"})


@pytest.fixture
def web(webhdfs: WebHdfsServer, worker: LiveWorker, tmp_path: Path) -> Iterator[str]:
    """The Procfile's web process on $PORT, reading the worker and WebHDFS."""
    port = free_port()
    env = {
        **worker.env,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PORT": str(port),
        "WORKER_URLS": worker.url,
    }
    log = tmp_path / "web.log"
    proc = _start([str(BIN / "honcho"), "start", "-f", "Procfile", "web"], env, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("the web process", lambda: requests.get(f"{url}/healthz", timeout=2).ok, 60, [log])
        yield url
    finally:
        _stop(proc)


@pytest.fixture
def prometheus(worker: LiveWorker, web: str, tmp_path: Path) -> Iterator[str]:
    """A Prometheus server scraping `worker` and `web` with the deploy config and rules."""
    binary = prometheus_binary()
    config = (DEPLOY / "prometheus.yml").read_text()
    config = config.replace("localhost:6066", f"127.0.0.1:{worker.port}")
    config = config.replace("localhost:5000", web.removeprefix("http://"))
    config = re.sub(r"(scrape|evaluation)_interval: \S+", r"\1_interval: 1s", config)
    (tmp_path / "prometheus.yml").write_text(config)
    rules = re.sub(r"\bfor: \S+", "for: 2s", (DEPLOY / "rules.yml").read_text())
    (tmp_path / "rules.yml").write_text(rules)
    port = free_port()
    log = tmp_path / "prometheus.log"
    proc = _start(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        dict(os.environ),
        log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus", lambda: requests.get(f"{url}/-/ready", timeout=2).ok, 60, [log])
        yield url
    finally:
        _stop(proc)


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    reply = requests.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=5).json()
    result: list[dict[str, Any]] = reply["data"]["result"]
    return result


def firing(prom: str, name: str) -> bool:
    alerts = requests.get(f"{prom}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
    return any(a["labels"]["alertname"] == name and a["state"] == "firing" for a in alerts)


def test_worker_down_alert_fires_and_clears(
    worker: LiveWorker, prometheus: str, tmp_path: Path
) -> None:
    logs = [tmp_path / "prometheus.log", worker.log_path]
    # Both scrape jobs are up, and the worker's lag gauges reach Prometheus for both groups.
    wait_for(
        "both targets up",
        lambda: len([r for r in query(prometheus, "up") if r["value"][1] == "1"]) == 2,
        60,
        logs,
    )
    wait_for(
        "lag of both groups in Prometheus",
        lambda: (
            {r["metric"]["role"] for r in query(prometheus, "wordstream_consumer_lag")}
            == {"live", "archive"}
        ),
        60,
        logs,
    )
    assert (
        query(prometheus, 'wordstream_reconcile_verdict{state="no batch yet"}')[0]["value"][1]
        == "1"
    )
    assert not firing(prometheus, "WordstreamWorkerDown")

    worker.kill()
    wait_for(
        "WordstreamWorkerDown to fire", lambda: firing(prometheus, "WordstreamWorkerDown"), 60, logs
    )

    worker.start()
    wait_for(
        "WordstreamWorkerDown to clear",
        lambda: not firing(prometheus, "WordstreamWorkerDown"),
        60,
        logs,
    )
