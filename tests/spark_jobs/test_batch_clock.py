"""The clock process for real: /health per contract section 4, POST /run runs the job."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from hdfs import InsecureClient

from devstack.ports import free_port, wait_for_port
from devstack.webhdfs import WebHdfsServer
from tests.spark_jobs.archive_format import Message
from tests.spark_jobs.batch_support import read_json, recount, write_archive

pytestmark = pytest.mark.integration

T0 = 1_767_225_600_000


@pytest.mark.slow
def test_clock_serves_health_and_runs_the_job_on_demand(
    webhdfs: WebHdfsServer, tmp_path: Path
) -> None:
    client = InsecureClient(webhdfs.url)
    messages = [Message(0, i % 2, i // 2, T0 + i * 1000, f"clock run {i} Été") for i in range(20)]
    write_archive(client, "/data/data_stream", messages)
    port = free_port()
    env = {
        **os.environ,
        "HDFS_URL": webhdfs.url,
        "BATCH_FS": "",
        "ARCHIVE_ROOT": "/data/data_stream",
        "REJECTED_ROOT": "/data/data_stream_rejected",
        "REPORT_ROOT": "/reports/wordstream",
        "CLOCK_PORT": str(port),
        "BATCH_CRON": "*/5 * * * *",
        "BATCH_TZ": "Europe/Paris",
        "SPARK_MASTER": "local[2]",
        "SPARK_SHUFFLE_PARTITIONS": "2",
    }
    log_path = tmp_path / "clock.log"
    with log_path.open("w") as log:
        clock = subprocess.Popen(
            [sys.executable, "-m", "spark_jobs.clock"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).parents[2],
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_port("127.0.0.1", port, 30), log_path.read_text()
        health = requests.get(f"{base}/health", timeout=5).json()
        assert set(health) == {"status", "cron", "timezone", "next_run", "running"}
        assert (health["status"], health["cron"], health["timezone"], health["running"]) == (
            "ok",
            "*/5 * * * *",
            "Europe/Paris",
            False,
        )
        next_run = datetime.strptime(health["next_run"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(minutes=5)
        assert next_run.minute % 5 == 0 and next_run.second == 0

        assert requests.post(f"{base}/run", timeout=5).status_code == 202
        second = requests.post(f"{base}/run", timeout=5)
        assert second.status_code == 409 and "already" in second.json()["error"]
        assert requests.get(f"{base}/health", timeout=5).json()["running"] is True

        deadline = time.monotonic() + 180
        while requests.get(f"{base}/health", timeout=5).json()["running"]:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)

        last = read_json(client, "/reports/wordstream/last_run.json")
        assert last["state"] == "success", log_path.read_text()
        latest = read_json(client, "/reports/wordstream/latest")
        summary = read_json(client, f"{latest['path']}/summary.json")
        expected = recount(messages)
        assert summary["totals"]["messages"] == expected.messages
        assert summary["totals"]["words"] == sum(expected.words.values())
        assert "on-demand run succeeded" in log_path.read_text()
    finally:
        clock.terminate()
        clock.wait(60)
