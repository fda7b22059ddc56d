"""A pytest run ended by SIGTERM still stops the processes its fixtures started
(tests/fixtures/sigterm.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

INNER = """
import subprocess, time
import pytest

@pytest.fixture
def child(tmp_path):
    proc = subprocess.Popen(["sleep", "300"])
    (tmp_path.parent / "child.pid").write_text(str(proc.pid))
    yield proc
    proc.kill()
    proc.wait()

def test_waits(child):
    time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for our purpose
        return stat.read().split()[2] != "Z"


def test_sigterm_tears_the_fixtures_down(tmp_path: Path) -> None:
    test_file = tmp_path / "tests" / "test_inner.py"
    test_file.parent.mkdir()
    test_file.write_text(INNER)
    base = tmp_path / "base"
    (tmp_path / "tests" / "conftest.py").write_text('pytest_plugins = ["tests.fixtures.sigterm"]\n')
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--basetemp={base}",
            str(test_file),
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    pid_file = base / "child.pid"
    child = None
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        child = int(pid_file.read_text())
        run.send_signal(signal.SIGTERM)
        run.wait(timeout=60)
        deadline = time.monotonic() + 10
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(child)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        if child is not None and _alive(child):
            os.kill(child, signal.SIGKILL)
