"""A Spark standalone cluster from pyspark's own distribution: one master, N workers.

    python -m devstack.spark_cluster [--port 7077] [--webui-port 8080] [--workers 2]
                                     [--worker-cores 1] [--worker-memory 1g] [--dir var/spark]

pip's pyspark ships `bin/spark-class` and the jars but not `sbin/start-master.sh` or
`start-worker.sh`; those only run `spark-class` with the Master or Worker class in the
background (through `spark-daemon.sh`). Here each JVM is a foreground child started the
same way, with logs under `DIR/logs`, each worker's application files under
`DIR/work/worker-N`, and an executor Python (`DIR/executor-python/bin/python`) that has
what docs/batch.md says a cluster node needs (pyarrow) and not wordstream, so a job run
on it works only if it ships its code. Ctrl-C or SIGTERM stops the workers, then the master.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
import venv
from pathlib import Path
from types import FrameType
from typing import IO, Any

from devstack.ports import free_port
from devstack.service import Service
from streamapp.errors import WordstreamError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# The third-party packages an executor's Python needs besides what Spark itself puts on
# its path (pyspark.zip, py4j): the tokenizer UDF is an Arrow UDF (docs/batch.md).
EXECUTOR_PACKAGES = ("pyarrow",)
# Read by the master and the workers (`--properties-file`).
DAEMON_PROPERTIES = {
    # The master's REST submission server would take port 6066, which is also the
    # wordstream worker's HTTP port; jobs here are submitted by their drivers, not REST.
    "spark.master.rest.enabled": "false",
    # A taken port is an error, not a silent move to the next port: the URLs printed and
    # polled must be the ones the JVMs listen on.
    "spark.port.maxRetries": "0",
}
STOP_GRACE_S = 30.0


class SparkClusterError(WordstreamError):
    """The dev Spark cluster could not be started or has stopped."""


def spark_home() -> Path:
    """pyspark's distribution directory (bin/spark-class, jars/)."""
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    if not (home / "bin" / "spark-class").is_file():
        raise SparkClusterError(f"{home} has no bin/spark-class: is pyspark installed from pip?")
    return home


def executor_python(directory: Path) -> Path:
    """An interpreter that imports EXECUTOR_PACKAGES from this environment and nothing
    else of it (no wordstream, unlike the venv's own Python); its path."""
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(directory)
    python = directory / "bin" / "python"
    # Only the listed packages, linked into a directory a .pth names: a cluster node's
    # Python has them, and none of this venv's other packages (wordstream above all).
    deps = directory / "deps"
    deps.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for package in EXECUTOR_PACKAGES:
        (deps / package).symlink_to(site / package, target_is_directory=True)
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "wordstream-executor-deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    check = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.util as u, sys; "
            f"sys.exit(0 if all(u.find_spec(p) for p in {list(EXECUTOR_PACKAGES)!r}) "
            "and u.find_spec('streamapp') is None else 1)",
        ],
        cwd=directory,
    )
    if check.returncode != 0:
        raise SparkClusterError(
            f"{python} should import {', '.join(EXECUTOR_PACKAGES)} and not streamapp"
        )
    return python


class SparkCluster(Service):
    """A master and `workers` workers, each a `spark-class` JVM in a process group of its
    own (its executors and their Python workers join it), on 127.0.0.1 by default.

    Port 0 means a free port picked at start. `stop()` stops every JVM it started,
    executors included, whatever state they are in.
    """

    def __init__(
        self,
        directory: Path,
        *,
        workers: int = 2,
        host: str = "127.0.0.1",
        port: int = 0,
        webui_port: int = 0,
        worker_cores: int = 1,
        worker_memory: str = "1g",
        ready_timeout: float = 300.0,
    ) -> None:
        self.directory = directory.resolve()
        self.workers = workers
        self.host = host
        self.port = port
        self.webui_port = webui_port
        self.worker_cores = worker_cores
        self.worker_memory = worker_memory
        self.ready_timeout = ready_timeout
        self.processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._logs: list[IO[bytes]] = []

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.port}"

    @property
    def webui_url(self) -> str:
        return f"http://{self.host}:{self.webui_port}"

    def worker_dir(self, n: int) -> Path:
        """Worker n's work directory (1-based): its applications' executor files and logs."""
        return self.directory / "work" / f"worker-{n}"

    def log_path(self, name: str) -> Path:
        return self.directory / "logs" / f"{name}.log"

    def state(self) -> dict[str, Any]:
        """The master's view: its web UI's JSON (workers, active and completed apps)."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as reply:
            state: dict[str, Any] = json.load(reply)
        return state

    def start(self) -> SparkCluster:
        """Start the master and the workers; return once every worker is ALIVE."""
        home = spark_home()
        if self.port == 0:
            self.port = free_port(self.host)
        if self.webui_port == 0:
            self.webui_port = free_port(self.host)
        (self.directory / "logs").mkdir(parents=True, exist_ok=True)
        properties = self.directory / "spark-daemons.conf"
        properties.write_text(
            "".join(f"{k} {v}\n" for k, v in DAEMON_PROPERTIES.items()), encoding="utf-8"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        # Executors must import only what a job ships (and Spark's own pyspark.zip).
        env["SPARK_HOME"] = str(home)
        # Spark binds to the address the host name resolves to unless told; the UIs and
        # RPC endpoints should be on `host`, like the URLs printed.
        env["SPARK_LOCAL_IP"] = self.host
        spark_class = str(home / "bin" / "spark-class")
        common = ["--host", self.host, "--properties-file", str(properties)]
        try:
            self._launch(
                "master",
                [
                    spark_class,
                    MASTER_CLASS,
                    *common,
                    "--port",
                    str(self.port),
                    "--webui-port",
                    str(self.webui_port),
                ],
                env,
            )
            for n in range(1, self.workers + 1):
                self.worker_dir(n).mkdir(parents=True, exist_ok=True)
                worker_ui = str(free_port(self.host))
                self._launch(
                    f"worker-{n}",
                    [
                        spark_class,
                        WORKER_CLASS,
                        *common,
                        "--webui-port",
                        worker_ui,
                        "--cores",
                        str(self.worker_cores),
                        "--memory",
                        self.worker_memory,
                        "--work-dir",
                        str(self.worker_dir(n)),
                        self.master_url,
                    ],
                    env,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = self.log_path(name).open("ab")
        self._logs.append(log)
        # spark-class execs the JVM, so the child's pid is the JVM's; a group of its own
        # lets stop() reach the executors it forks, and keeps a terminal's Ctrl-C for us.
        process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, process_group=0
        )
        self.processes.append((name, process))

    def exited(self) -> list[str]:
        """The JVMs that are no longer running, as `name (exit code)`."""
        return [f"{n} (exit {p.returncode})" for n, p in self.processes if p.poll() is not None]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        seen = "no answer"
        while time.monotonic() < deadline:
            dead = self.exited()
            if dead:
                name = dead[0].split()[0]
                raise SparkClusterError(
                    f"{', '.join(dead)} exited while starting; last lines of "
                    f"{self.log_path(name)}:\n{self._tail(name)}"
                )
            try:
                state = self.state()
            except (OSError, ValueError) as exc:
                seen = f"no answer from {self.webui_url}/json/ ({exc})"
            else:
                alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
                if state.get("status") == "ALIVE" and len(alive) >= self.workers:
                    return
                seen = f"master {state.get('status')}, {len(alive)} of {self.workers} workers"
            time.sleep(0.5)
        raise SparkClusterError(
            f"the cluster was not ready within {self.ready_timeout:.0f} s: {seen}; "
            f"logs in {self.directory / 'logs'}"
        )

    def _tail(self, name: str, lines: int = 15) -> str:
        text = self.log_path(name).read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the workers, then the master; SIGKILL each group after STOP_GRACE_S."""
        # Workers first: a worker that loses its master keeps retrying to reach it.
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(STOP_GRACE_S)
            # Whatever is left of the group (the JVM, executors, Python workers) goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.spark_cluster",
        description="Run a Spark standalone cluster (master + workers) until Ctrl-C.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7077, help="master port (0: a free one)")
    parser.add_argument(
        "--webui-port", type=int, default=8080, help="master web UI port (0: a free one)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-cores", type=int, default=1)
    parser.add_argument("--worker-memory", default="1g")
    parser.add_argument("--dir", default="var/spark", help="logs, work dirs, executor Python")
    args = parser.parse_args(argv)

    directory = Path(args.dir)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    cluster = SparkCluster(
        directory,
        workers=args.workers,
        host=args.host,
        port=args.port,
        webui_port=args.webui_port,
        worker_cores=args.worker_cores,
        worker_memory=args.worker_memory,
    )
    try:
        python = executor_python(directory.resolve() / "executor-python")
        print(f"spark-cluster: starting a master and {args.workers} workers", flush=True)
        cluster.start()
    except (SparkClusterError, OSError, subprocess.CalledProcessError) as exc:
        print(f"spark-cluster: error: {exc}", file=sys.stderr)
        return 1
    try:
        print(
            f"spark-cluster: master {cluster.master_url}, web UI {cluster.webui_url}, "
            f"{args.workers} workers ({args.worker_cores} core(s), {args.worker_memory} each); "
            f"logs in {cluster.directory / 'logs'}\n"
            "spark-cluster: run the batch job on it with\n"
            f"  SPARK_MASTER={cluster.master_url} PYSPARK_PYTHON={python} wordstream batch run\n"
            "spark-cluster: Ctrl-C stops it",
            flush=True,
        )
        while not stop.wait(1.0):
            dead = cluster.exited()
            if dead:
                print(f"spark-cluster: error: {', '.join(dead)} stopped", file=sys.stderr)
                return 1
    finally:
        cluster.stop()
        print("spark-cluster: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
