"""`python -m devstack.webhdfs`: one line when up, clean stop on signals, clear port clash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hdfs import InsecureClient

from devstack.ports import free_port

pytestmark = pytest.mark.integration


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devstack.webhdfs", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serves_with_defaults_from_settings_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    root = tmp_path / "served"
    env = {"HDFS_URL": f"http://127.0.0.1:{port}", "DEV_HDFS_ROOT": str(root)}
    proc = _start(env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line and str(root) in line
        InsecureClient(f"http://127.0.0.1:{port}").write("/hello.txt", data="hi")
        assert (root / "hello.txt").read_text() == "hi"

        clash = _start(env)
        _, err = clash.communicate(timeout=30)
        assert clash.returncode == 1
        assert len(err.strip().splitlines()) == 1
        assert "--port" in err and "HDFS_URL" in err

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        # quiet: no request logs, only the stop line (no client was left to drain)
        assert out == "webhdfs: stopping (0 client connection(s) open)\n" and err == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_verbose_logs_requests_and_sigint_stops(tmp_path: Path) -> None:
    port = free_port()
    proc = _start({}, "--root", str(tmp_path), "--port", str(port), "--verbose")
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        InsecureClient(f"http://127.0.0.1:{port}").makedirs("/d")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "op=MKDIRS" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
