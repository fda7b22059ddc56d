"""Issue #13's day-two scenario against `make run`'s launcher: 200 messages, Ctrl-C,
`make run` again, 100 more, the batch job: live and batch both count 300.

The stack runs as `make run` runs it (`python -m devstack.run -f Procfile.dev`) on free
ports, with the default memory broker. The first run commits no archive file by age
or idleness, so only its clean stop commits them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port
from tests.fixtures.webhdfs import read_all_lines

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 180
ARCHIVE = "/data/data_stream"  # ARCHIVE_ROOT's default


class MakeRun:
    """`make run`'s launcher over Procfile.dev, started and stopped as a user does."""

    def __init__(self, tmp_path: Path) -> None:
        ports = {n: str(free_port()) for n in ("KAFKA", "HDFS", "WORKER", "WEB", "CLOCK")}
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['KAFKA']}",
            "HDFS_URL": f"http://127.0.0.1:{ports['HDFS']}",
            "WORKER_HOST": "127.0.0.1",
            "WORKER_PORT": ports["WORKER"],
            "WORKER_URLS": f"http://127.0.0.1:{ports['WORKER']}",
            "WEB_PORT": ports["WEB"],
            "CLOCK_PORT": ports["CLOCK"],
            "DEV_HDFS_ROOT": str(tmp_path / "hdfs"),
            "STATE_DIR": str(tmp_path / "state"),
            "APP_ID": f"e2e_{uuid.uuid4().hex[:8]}",
        }
        self.worker = f"http://127.0.0.1:{ports['WORKER']}"
        self.web = f"http://127.0.0.1:{ports['WEB']}"
        self.tmp_path = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def log(self) -> Path:
        return self.tmp_path / f"run{self.runs}.log"

    def wordstream(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "wordstream"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def start(self, **env: str) -> None:
        self.runs += 1
        with open(self.log(), "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "devstack.run", "-f", str(REPO / "Procfile.dev")],
                cwd=REPO,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.wordstream("status", "--json").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stack not up:\n{self.tail()}")
            time.sleep(1)
        # The archive sink joins its own consumer group after the worker is ready; a
        # message produced and stopped before it has a partition was never consumed by
        # it, and a memory-only broker then forgets it (the user's Ctrl-C comes about a
        # minute later). Wait until it resumed every partition.
        while len(set(re.findall(r"archive: partition (\d+) resumes", self._run_log()))) < 4:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the archive sink did not start:\n{self.tail()}")
            time.sleep(0.5)

    def _run_log(self) -> str:
        return self.log().read_text(errors="replace")

    def ctrl_c(self) -> str:
        """SIGINT to the launcher, as Ctrl-C in its terminal; its whole log once it exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(150)
        assert self.proc.returncode == 130, self.tail()
        self.proc = None
        return self.log().read_text(errors="replace")

    def stop(self) -> None:
        """Stop a launcher still running: it stops its children (each in its own session,
        out of reach of a signal to the launcher's group); a second signal kills them."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for wait in (150, 30):
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
        self.proc.kill()
        self.proc.wait()

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.log().read_text(errors="replace").splitlines()[-lines:])

    def produce(self, first: int, count: int) -> None:
        lines = "".join(f"restart scenario message {i}\n" for i in range(first, first + count))
        assert self.wordstream("topics", "create").returncode == 0
        out = self.wordstream("produce", "-", stdin=lines)
        assert out.returncode == 0 and f"{count} delivered, 0 failed" in out.stdout, out

    def live_messages_reach(self, expected: int, timeout: float = 120) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            totals: dict[str, int] = requests.get(f"{self.worker}/totals", timeout=10).json()
            if totals["messages"] >= expected or time.monotonic() > deadline:
                return totals
            time.sleep(1)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    stack = MakeRun(tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.mark.slow
def test_ctrl_c_and_make_run_again_lose_and_double_nothing(make_run: MakeRun) -> None:
    # Only the first run's clean stop commits its archive files.
    make_run.start(ARCHIVE_IDLE_COMMIT_SECONDS="3600", ARCHIVE_ROTATE_SECONDS="3600")
    make_run.produce(0, 200)
    assert make_run.live_messages_reach(200)["messages"] == 200
    first = make_run.ctrl_c()
    assert "sending SIGKILL" not in first, first[-4000:]
    assert first.index("worker.1 stopped") < first.index("sending SIGTERM to broker.1")

    make_run.start()  # the memory broker starts empty: offsets begin at 0 again
    make_run.produce(200, 100)
    assert make_run.live_messages_reach(300)["messages"] == 300
    # Every message archived once: the first run's files were committed by its clean
    # stop, the second run's by rotation or the idle commit.
    deadline = time.monotonic() + 120
    while len(archived := read_all_lines(make_run.env["HDFS_URL"], ARCHIVE, True)) < 300:
        assert time.monotonic() < deadline, f"{len(archived)} archived"
        time.sleep(1)
    values = sorted(json.loads(line)["value"] for line in archived)
    assert values == sorted(f"restart scenario message {i}" for i in range(300))
    batch = make_run.wordstream("batch", "run")
    assert batch.returncode == 0, f"{batch.stdout}\n{batch.stderr}"

    summary = requests.get(f"{make_run.web}/api/summary", timeout=30).json()
    assert summary["live"]["totals"]["messages"] == 300, summary
    assert summary["batch"]["totals"]["messages"] == 300, summary
    assert summary["batch"]["totals"]["words"] == 300 * 4, summary
    assert summary["verdict"]["state"] == "match", summary["verdict"]
    assert summary["losses"] == [], summary["losses"]
