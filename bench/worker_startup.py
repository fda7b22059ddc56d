"""Worker startup: seconds from `faust worker` spawned to `/health` ok, cold and after kill -9.

    .venv/bin/python bench/worker_startup.py [--runs 5]

Starts the dev broker and a dev WebHDFS server on free ports and a 4-partition topic
holding a few messages, then, `--runs` times each, with dynamic group membership
(the default) and with static membership (`WORKER_INSTANCE_ID` set):

- cold: a worker of the real app (`faust -A streamapp.app worker`, archive sink
  included) with a new APP_ID and an empty STATE_DIR, i.e. a new consumer group and
  new tables;
- restart: the same worker killed with SIGKILL and started again with the same
  APP_ID, STATE_DIR (and instance id), as after a crash: its dead member is still in
  the group until its session times out.

Ready means `/health` answers `"status": "ok"`: table recovery complete, partitions
assigned, no rebalance under way. The archive sink (its own consumer group) is timed
separately, until it logged that it resumed every partition. Prints a table (median
and max of each), then one JSON line with the medians: `cold_ready_s`,
`restart_ready_s` (dynamic), `static_cold_ready_s`, `static_restart_ready_s`, and the
same with `_archive_s` instead of `_ready_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from live_common import FAUST, ROOT, create_topic, produce_all, ten_word_messages

from devstack.broker import Broker
from devstack.ports import free_port
from devstack.webhdfs import WebHdfsServer
from devstack.worker_env import worker_env

TIMEOUT_S = 120.0
PARTITIONS = 4
RESUMED = re.compile(rb"archive: partition (\d+) resumes")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as resp:
            return bool(json.loads(resp.read()).get("status") == "ok")
    except (OSError, ValueError):
        return False


def start_and_time(
    env: dict[str, str], log: Path, partitions: int
) -> tuple[subprocess.Popen[bytes], float, float]:
    """Spawn the worker; return it, the seconds until `/health` said ok and the seconds
    until its archive sink resumed every partition (its `resumes` log line)."""
    url = f"http://127.0.0.1:{env['WORKER_PORT']}"
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        start = time.monotonic()
        proc = subprocess.Popen(
            [FAUST, "-A", "streamapp.app", "worker", "-l", "info"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    ready = archiving = None
    while ready is None or archiving is None:
        if proc.poll() is not None or time.monotonic() - start > TIMEOUT_S:
            kill(proc)
            raise SystemExit(f"the worker did not get ready; see {log}")
        if ready is None and healthy(url):
            ready = time.monotonic() - start
        if archiving is None:
            with open(log, "rb") as f:
                f.seek(offset)
                resumed = set(RESUMED.findall(f.read()))
            if len(resumed) == partitions:
                archiving = time.monotonic() - start
        time.sleep(0.05)
    return proc, ready, archiving


def kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        work = Path(tmp)
        (work / "hdfs").mkdir()
        with (
            Broker(port=free_port(), log_path=work / "tansu.log") as broker,
            WebHdfsServer(work / "hdfs", port=0) as hdfs,
        ):
            topic = create_topic(broker.bootstrap, PARTITIONS)
            produce_all(broker.bootstrap, topic, ten_word_messages(1000))
            # Interleaved, so that a slow spell of the shared machine hits both modes.
            for run in range(args.runs):
                for mode in ("dynamic", "static"):
                    app_id = f"startup_{uuid.uuid4().hex[:8]}"
                    instance_id = "worker-1" if mode == "static" else ""
                    env = worker_env(
                        broker.bootstrap,
                        topic,
                        app_id,
                        str(work / app_id),
                        hdfs_url=hdfs.url,
                        extra={"WORKER_INSTANCE_ID": instance_id},
                    )
                    log = work / f"{app_id}.log"
                    for start in ("cold", "restart"):
                        proc, ready, archiving = start_and_time(env, log, PARTITIONS)
                        kill(proc)
                        figures.setdefault(f"{mode} {start}", []).append(ready)
                        figures.setdefault(f"{mode} {start}, archive", []).append(archiving)
                print(
                    f"run {run + 1}: "
                    + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in figures.items())
                )
    print(f"{'membership, start':<28} {'median s':>9} {'max s':>7}")
    for name, values in figures.items():
        print(f"{name:<28} {statistics.median(values):>9.2f} {max(values):>7.2f}")
    keys = {
        "dynamic cold": "cold_ready_s",
        "dynamic restart": "restart_ready_s",
        "static cold": "static_cold_ready_s",
        "static restart": "static_restart_ready_s",
        "dynamic cold, archive": "cold_archive_s",
        "dynamic restart, archive": "restart_archive_s",
        "static cold, archive": "static_cold_archive_s",
        "static restart, archive": "static_restart_archive_s",
    }
    print(json.dumps({keys[k]: round(statistics.median(v), 2) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
