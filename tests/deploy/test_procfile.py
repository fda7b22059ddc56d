"""The production Procfile follows platform conventions: the web process binds $PORT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devstack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
HONCHO = str(Path(sys.executable).with_name("honcho"))


def wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> int:
    """The HTTP status of `url` once it answers; fails if the process exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "honcho exited before the web process answered"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s")


def test_web_binds_port_when_the_platform_sets_it(tmp_path: Path) -> None:
    port, web_port = free_port(), free_port()
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "PORT": str(port),
        "WEB_PORT": str(web_port),  # PORT wins over it
        "WORKER_URLS": nowhere,
        "HDFS_URL": nowhere,
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
    }
    with open(tmp_path / "honcho.log", "wb") as log:
        proc = subprocess.Popen(
            [HONCHO, "start", "-f", "Procfile", "web"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/healthz", proc) == 200
        # The report page itself renders (with notices: nothing else is running).
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as resp:
            assert resp.status == 200
            assert b"wordstream" in resp.read().lower()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=2)
            raise AssertionError("the web process also listens on WEB_PORT")
        except OSError:
            pass
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
