"""`python -m devstack.run` (make run): an ordered stop with a grace period of our own."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from devstack.ports import free_port

# Takes argv[1] seconds to stop after SIGTERM, like a worker writing its last files;
# with a port in argv[2], listens on it after a second, like a dev service starting.
SLOW = """
import signal, socket, sys, time
def stop(signum, frame):
    print("stopping", flush=True)
    time.sleep(float(sys.argv[1]))
    print("finished", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
if len(sys.argv) > 2:
    time.sleep(1)
    server = socket.create_server(("127.0.0.1", int(sys.argv[2])))
print("up", flush=True)
while True:
    time.sleep(0.1)
"""


def _start(tmp_path: Path, slow_seconds: float, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "slow.py").write_text(SLOW)
    py = sys.executable
    (tmp_path / "Procfile").write_text(
        textwrap.dedent(
            f"""\
            fast: exec sleep 600
            slow: exec {py} -u slow.py {slow_seconds}
            svc: exec {py} -u slow.py 0
            """
        )
    )
    run = [py, "-m", "devstack.run", "-f", str(tmp_path / "Procfile"), "--last", "svc"]
    proc = subprocess.Popen(
        [*run, "--wait-for", "", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # Every process is up (both scripts said so) before the test signals the launcher.
    assert proc.stdout is not None
    lines: list[str] = []
    while sum("| up" in line for line in lines) < 2:
        line = proc.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    return proc


def _stop(proc: subprocess.Popen[str], *signals: signal.Signals) -> tuple[str, float]:
    """Send `signals` half a second apart; the launcher's output and its stop time."""
    start = time.monotonic()
    try:
        for i, sig in enumerate(signals):
            if i:
                time.sleep(0.5)
            proc.send_signal(sig)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:  # a second signal makes the launcher kill its children
            proc.send_signal(signal.SIGTERM)
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out, time.monotonic() - start


def _line_index(out: str, text: str) -> int:
    lines = out.splitlines()
    return next(i for i, line in enumerate(lines) if text in line)


def test_ctrl_c_lets_a_slow_process_finish_and_stops_the_services_last(tmp_path: Path) -> None:
    # honcho start would SIGKILL `slow` 5 s after `fast` exited.
    proc = _start(tmp_path, 6.5)
    out, took = _stop(proc, signal.SIGINT)
    assert proc.returncode == 130, out
    assert "slow.1 | finished" in out, out
    assert "sending SIGKILL" not in out, out
    assert _line_index(out, "slow.1 stopped (rc=0)") < _line_index(out, "sending SIGTERM to svc.1")
    assert "sending SIGTERM to svc.1" not in out.split("SIGINT received")[0]
    assert 6.5 <= took < 15


def test_a_second_ctrl_c_kills_at_once(tmp_path: Path) -> None:
    proc = _start(tmp_path, 20)
    out, took = _stop(proc, signal.SIGINT, signal.SIGINT)
    assert "killing every process now" in out, out
    assert "sending SIGKILL to slow.1" in out
    assert "slow.1 | finished" not in out
    assert took < 5


def test_the_grace_period_is_bounded(tmp_path: Path) -> None:
    proc = _start(tmp_path, 20, "--grace", "1.5")
    out, took = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, out
    assert "still running after 1.5 s (DEV_STOP_GRACE_SECONDS)" in out, out
    assert "sending SIGKILL to slow.1" in out
    assert took < 6


def test_an_unknown_process_name_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_text("web: sleep 1\n")
    out = subprocess.run(
        [sys.executable, "-m", "devstack.run", "-f", str(tmp_path / "Procfile"), "worker"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == f"run: no process worker in {tmp_path / 'Procfile'}"


def test_the_services_start_first_and_the_rest_once_their_ports_answer(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    port = free_port()
    py = sys.executable
    probe = f"import socket; socket.create_connection(('127.0.0.1', {port})); print('svc was up')"
    (tmp_path / "Procfile").write_text(
        f'app: exec {py} -c "{probe}"\nsvc: exec {py} -u slow.py 0 {port}\n'
    )
    run = [py, "-m", "devstack.run", "-f", str(tmp_path / "Procfile"), "--last", "svc"]
    out = subprocess.run(
        [*run, "--wait-for", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    # `app` exits at once, which stops the stack; it found the service listening.
    assert "app.1  | svc was up" in out, out
    assert _line_index(out, "svc.1 started") < _line_index(out, "app.1 started")


def test_ctrl_c_while_waiting_for_the_services_stops_them_and_starts_nothing_else(
    tmp_path: Path,
) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    py = sys.executable
    procfile = f"app: exec {py} -u slow.py 0\nsvc: exec {py} -u slow.py 0\n"
    (tmp_path / "Procfile").write_text(procfile)
    run = [py, "-m", "devstack.run", "-f", str(tmp_path / "Procfile"), "--last", "svc"]
    nobody = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen(
        [*run, "--wait-for", nobody, "--ready-timeout", "60"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    # The services' output shows while the launcher waits for them.
    assert proc.stdout is not None
    seen = []
    while "svc.1  | up" not in seen[-1:]:
        line = proc.stdout.readline()
        assert line, seen
        seen.append(line.split(" ", 1)[1].strip())
    out, took = _stop(proc, signal.SIGINT)
    assert proc.returncode == 130, out
    assert "sending SIGTERM to svc.1" in out, out
    assert "app.1" not in out, out
    assert took < 10
