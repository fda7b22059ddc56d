"""`python -m devstack.spark_cluster`: a master and two workers until Ctrl-C, then none."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import psutil
import pytest

from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.timeout(900)
def test_dev_command_runs_master_and_two_workers_until_ctrl_c(tmp_path: Path) -> None:
    port, webui = free_port(), free_port()
    command = [sys.executable, "-m", "devstack.spark_cluster", "--port", str(port)]
    command += ["--webui-port", str(webui), "--dir", str(tmp_path / "spark")]
    with (tmp_path / "stderr").open("w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    jvms: list[psutil.Process] = []
    try:
        assert process.stdout is not None
        out = ""
        while "Ctrl-C stops it" not in out:
            line = process.stdout.readline()
            assert line, f"exited before it was ready: {(tmp_path / 'stderr').read_text()}"
            out += line
        assert f"master spark://127.0.0.1:{port}, web UI http://127.0.0.1:{webui}" in out

        with urllib.request.urlopen(f"http://127.0.0.1:{webui}/json/", timeout=10) as reply:
            state = json.load(reply)
        assert state["status"] == "ALIVE"
        assert [(w["state"], w["cores"], w["memory"]) for w in state["workers"]] == [
            ("ALIVE", 1, 1024),
            ("ALIVE", 1, 1024),
        ]
        jvms = psutil.Process(process.pid).children()
        assert sorted(
            next(a for a in p.cmdline() if a.startswith("org.apache.spark.deploy.")) for p in jvms
        ) == [
            "org.apache.spark.deploy.master.Master",
            "org.apache.spark.deploy.worker.Worker",
            "org.apache.spark.deploy.worker.Worker",
        ]

        # The executor Python it prints has pyarrow and not wordstream, as on a cluster node.
        match = re.search(r"PYSPARK_PYTHON=(\S+)", out)
        assert match
        probe = "import importlib.util as u; print(bool(u.find_spec('pyarrow')), "
        probe += "bool(u.find_spec('streamapp')))"
        found = subprocess.run(
            [match[1], "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
        )
        assert found.stdout.split() == ["True", "False"]

        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0
        assert process.stdout.read().strip().endswith("spark-cluster: stopped")
        assert [p.pid for p in jvms if p.is_running()] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for jvm in jvms:
            if jvm.is_running():
                jvm.kill()
