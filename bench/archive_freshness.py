"""Benchmark: how long a message takes to be committed in HDFS, and how many files it costs.

    .venv/bin/python bench/archive_freshness.py [--trickle-seconds 60] [--full-messages 50000]

Starts the dev broker and a devstack WebHDFS server on free ports (temporary dirs) and a
real worker (`faust -A streamapp.app worker`) with the default archive settings, then:

1. trickle: produces 10 messages/s for `--trickle-seconds` to a 4-partition topic;
2. full speed: produces `--full-messages` messages as fast as the client can;
3. compaction: the bench's date is treated as closed and `Compactor` (what
   `wordstream archive compact` runs) merges its files, while the worker keeps running.

A watcher lists the archive every 0.2 s; a message's latency is from its record timestamp
(set by the producer when it sends) to the moment its file is first seen committed.
Files per partition per hour are the trickle's committed files, per partition, scaled to
an hour; after compaction, the files each partition has left for the bench's date.
Prints a table, then one JSON line with trickle_p95_s, full_speed_p95_s,
files_per_partition_hour, after_compaction_files_per_partition_day.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from hdfs import InsecureClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.broker import Broker  # noqa: E402
from devstack.ports import free_port  # noqa: E402
from devstack.webhdfs import WebHdfsServer  # noqa: E402
from devstack.worker_env import worker_env  # noqa: E402
from streamapp.archive.store import Compactor, committed_files  # noqa: E402
from streamapp.config import Settings  # noqa: E402

PARTITIONS = 4
ROOT = "/data/data_stream"
REJECTED = "/data/data_stream_rejected"
TRICKLE_RATE = 10.0


class Watcher(threading.Thread):
    """Lists the archive every 0.2 s; records when each file (and each message) appeared."""

    def __init__(self, url: str) -> None:
        super().__init__(name="watcher", daemon=True)
        self.client = InsecureClient(url)
        self.seen: dict[str, float] = {}  # path -> time first seen
        self.latency: dict[tuple[int, int], float] = {}  # (partition, offset) -> seconds
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                self.scan()
            except Exception as exc:  # a file compacted away mid-scan, or the server gone
                print(f"watcher: {type(exc).__name__}: {exc}", file=sys.stderr)
            self.halt.wait(0.2)

    def scan(self) -> None:
        for path, _f in committed_files(self.client, ROOT):
            if path in self.seen:
                continue
            now = self.seen[path] = time.time()
            with self.client.read(path) as reader:
                for line in reader.read().splitlines():
                    obj = json.loads(line)
                    key = (obj["partition"], obj["offset"])
                    self.latency.setdefault(key, now - obj["timestamp"] / 1000)

    def wait_for(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.latency) < n:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(self.latency)} of {n} messages archived in time")
            time.sleep(0.2)


def message(i: int) -> bytes:
    return f"message {i}: the quick brown fox jumps over the lazy dog".encode()


def produce(bootstrap: str, topic: str, start: int, n: int, rate: float | None) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5 if rate else 50})
    began = time.monotonic()
    for i in range(start, start + n):
        while True:
            try:
                producer.produce(topic, message(i), key=b"%d" % i)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        if rate is not None:
            time.sleep(max(0.0, began + (i - start + 1) / rate - time.monotonic()))
    if producer.flush(120) != 0:
        raise SystemExit("the broker did not take every message")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trickle-seconds", type=float, default=60.0)
    parser.add_argument("--full-messages", type=int, default=50_000)
    args = parser.parse_args(argv)
    trickle_n = int(args.trickle_seconds * TRICKLE_RATE)
    with tempfile.TemporaryDirectory(prefix="freshness-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "hdfs").mkdir()
        with (
            Broker(port=free_port(), log_path=workdir / "tansu.log") as broker,
            WebHdfsServer(workdir / "hdfs", port=0) as hdfs,
        ):
            topic = f"bench_{uuid.uuid4().hex[:8]}"
            admin = AdminClient({"bootstrap.servers": broker.bootstrap})
            admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
            env = worker_env(
                broker.bootstrap, topic, f"bench_{uuid.uuid4().hex[:8]}",
                str(workdir / "state"), hdfs_url=hdfs.url,
            )  # fmt: skip
            with open(workdir / "worker.log", "wb") as log:
                proc = subprocess.Popen(
                    [str(Path(sys.executable).with_name("faust")), "-A", "streamapp.app",
                     "worker", "-l", "info"],
                    env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                )  # fmt: skip
            watcher = Watcher(hdfs.url)
            watcher.start()
            try:
                # The sink must own its partitions before the clock starts.
                log_path = workdir / "worker.log"
                deadline = time.monotonic() + 60
                while log_path.read_text(errors="replace").count("archive: partition") < 4:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit(f"the worker did not start; see {log_path}")
                    time.sleep(0.2)
                began = time.monotonic()
                produce(broker.bootstrap, topic, 0, trickle_n, TRICKLE_RATE)
                trickle_s = time.monotonic() - began
                watcher.wait_for(trickle_n, 60)
                trickle = list(watcher.latency.values())
                trickle_files = len(watcher.seen)
                produce(broker.bootstrap, topic, trickle_n, args.full_messages, None)
                total = trickle_n + args.full_messages
                watcher.wait_for(total, 300)
                full = list(watcher.latency.values())[trickle_n:]
                files_before = len(watcher.seen)
                watcher.halt.set()
                watcher.join()
                s = Settings()
                compactor = Compactor(
                    ROOT, REJECTED, topic, lambda: InsecureClient(hdfs.url),
                    s.archive_compact_target_bytes, s.archive_compact_grace_seconds,
                )  # fmt: skip
                # The bench's date, closed by fiat: compaction runs beside the live sink.
                compactor.run(int(time.time() * 1000) + 10 * 86_400_000)
                client = InsecureClient(hdfs.url)
                after = list(committed_files(client, ROOT))
                seen: Counter[tuple[int, int]] = Counter()
                for path, f in after:
                    with client.read(path) as reader:
                        for line in reader.read().splitlines():
                            seen[(f.partition, json.loads(line)["offset"])] += 1
                if len(seen) != total or max(seen.values()) != 1:
                    raise SystemExit("after compaction the archive does not hold each message once")
            finally:
                proc.kill()
                proc.wait()
    dates = {f.date for _, f in after}
    per_part_day = len(after) / PARTITIONS / max(len(dates), 1)
    fph = trickle_files / PARTITIONS / (trickle_s / 3600)
    result = {
        "trickle_p50_s": round(pct(trickle, 50), 2),
        "trickle_p95_s": round(pct(trickle, 95), 2),
        "full_speed_p50_s": round(pct(full, 50), 2),
        "full_speed_p95_s": round(pct(full, 95), 2),
        "files_per_partition_hour": round(fph, 1),
        "after_compaction_files_per_partition_day": round(per_part_day, 2),
    }
    rows = [
        (f"trickle {TRICKLE_RATE:.0f} msg/s, {trickle_n} messages: latency p50 / p95 (s)",
         f"{result['trickle_p50_s']} / {result['trickle_p95_s']}"),
        (f"full speed, {args.full_messages} messages: latency p50 / p95 (s)",
         f"{result['full_speed_p50_s']} / {result['full_speed_p95_s']}"),
        ("files committed during the trickle (4 partitions)", f"{trickle_files}"),
        ("files per partition per hour at the trickle", f"{fph:,.1f}"),
        ("files committed in all (before compaction)", f"{files_before}"),
        ("files per partition for the date after compaction", f"{per_part_day:.2f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    print(f"archive freshness, {PARTITIONS} partitions, default archive settings")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>14}")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "trickle_p95_s",
                    "full_speed_p95_s",
                    "files_per_partition_hour",
                    "after_compaction_files_per_partition_day",
                )
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
