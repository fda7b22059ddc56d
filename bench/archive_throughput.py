"""Benchmark: the archive sink vs the lab's one-HDFS-write-per-message consumer.

    .venv/bin/python bench/archive_throughput.py [--messages 200000] [--lab-messages 1500]

Starts the dev broker and a devstack WebHDFS server on free ports (temporary dirs),
produces `--messages` messages to a fresh 4-partition topic, then:

1. sink: starts a real worker (`faust -A streamapp.app worker`: the archive sink's own
   consumer thread and the live counting agents, which drain the same backlog at the
   same time) and times the archive from its first committed file until every message
   is in a committed file (the messages are in Kafka beforehand, so this is the rate
   at which the worker drains and archives a backlog). Files rotate every 5,000
   records so that they are committed all along the drain, not all at its end;
2. sink core: the same commit path (PartitionLog + ArchiveStore over WebHDFS) fed in
   process, without Kafka or the worker, to show where the worker's time goes;
3. lab: one `client.write()` per message, as the classic lab consumer does.

Files per partition per hour are computed with the default rotation settings for a
steady input at the measured sink rate (records, bytes and age bounds).
Prints a table, then one JSON line with sink_msg_s, per_message_msg_s,
files_per_partition_hour.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
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
from streamapp.archive.core import (  # noqa: E402
    Committed,
    PartitionLog,
    RotationPolicy,
    encode_record,
)
from streamapp.archive.store import ArchiveStore, CommitProgress, committed_files  # noqa: E402
from streamapp.config import Settings  # noqa: E402

PARTITIONS = 4
ROOT = "/data/data_stream"
REJECTED = "/data/data_stream_rejected"


def message(i: int) -> bytes:
    return f"message {i}: the quick brown fox jumps over the lazy dog, héllo wörld".encode()


def produce(bootstrap: str, topic: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for i in range(n):
        while True:
            try:
                producer.produce(topic, message(i), key=b"%d" % i)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120) != 0:
        raise SystemExit("the broker did not take every message")


def archived_count(client: InsecureClient) -> tuple[int, int]:
    """(messages, files) in committed files, counted from the offset ranges in names."""
    messages = files = 0
    for _path, f in committed_files(client, ROOT):
        messages += f.last - f.first + 1  # dense offsets: no rejected messages here
        files += 1
    return messages, files


def bench_sink(broker: Broker, hdfs: WebHdfsServer, n: int, workdir: Path) -> dict[str, float]:
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    produce(broker.bootstrap, topic, n)
    env = worker_env(
        broker.bootstrap,
        topic,
        f"bench_{uuid.uuid4().hex[:8]}",
        str(workdir / "state"),
        hdfs_url=hdfs.url,
        # Rotate by records well below the backlog, so the timed window (first committed
        # file to the last) spans the whole drain, and by age quickly, so the end of the
        # run is not spent waiting for the last partial files to age out.
        extra={"ARCHIVE_ROTATE_RECORDS": "5000", "ARCHIVE_ROTATE_SECONDS": "1"},
    )
    client = InsecureClient(hdfs.url)
    with open(workdir / "worker.log", "wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("faust")), "-A", "streamapp.app", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        first: tuple[float, int] | None = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done, files = archived_count(client)
            now = time.monotonic()
            if done and first is None:
                first = (now, done)
            if done >= n:
                break
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited with {proc.returncode}; see {log.name}")
            time.sleep(0.25)
        else:
            raise SystemExit(f"the worker archived only {done} of {n} messages in 600 s")
    finally:
        proc.kill()
        proc.wait()
    assert first is not None
    return {"msg_s": (n - first[1]) / max(now - first[0], 1e-9), "files": files}


def bench_sink_core(hdfs: WebHdfsServer, n: int) -> float:
    """The sink's encode/rotate/commit path without faust, one partition's worth per log."""
    store = ArchiveStore(hdfs.url, "bench", "/core/ok", "/core/bad")
    policy = RotationPolicy(max_records=25_000, max_bytes=64 << 20, max_seconds=10**9)
    logs = [
        PartitionLog[None]("core", p, Committed(0, None, None, -1), policy)
        for p in range(PARTITIONS)
    ]
    committed = [Committed(0, None, None, -1)] * PARTITIONS
    ts = int(time.time() * 1000)
    start = time.perf_counter()
    for i in range(n):
        p = i % PARTITIONS
        step = logs[p].offer(encode_record(p, i // PARTITIONS, ts, None, message(i)), None, 0, None)
        for batch in step.sealed:
            committed[p] = store.commit(committed[p], batch, CommitProgress(), lambda: False)
    for p, plog in enumerate(logs):
        if (rest := plog.seal()) is not None:
            committed[p] = store.commit(committed[p], rest, CommitProgress(), lambda: False)
    return n / (time.perf_counter() - start)


def bench_lab(hdfs: WebHdfsServer, n: int) -> float:
    """The lab's consumer: one HDFS file write per message."""
    client = InsecureClient(hdfs.url, user="bench")
    start = time.perf_counter()
    for i in range(n):
        client.write(f"/lab/data_stream/msg_{i:09d}.txt", data=message(i), overwrite=True)
    return n / (time.perf_counter() - start)


def files_per_partition_hour(rate_per_partition: float, line_bytes: int) -> float:
    """Files one partition commits per hour at a steady input rate, default rotation."""
    s = Settings()
    seconds_per_file = min(
        float(s.archive_rotate_seconds),
        s.archive_rotate_records / rate_per_partition,
        s.archive_rotate_bytes / (rate_per_partition * line_bytes),
    )
    return 3600 / seconds_per_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--lab-messages", type=int, default=1_500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "hdfs").mkdir()
        with (
            Broker(port=free_port(), log_path=workdir / "tansu.log") as broker,
            WebHdfsServer(workdir / "hdfs", port=0) as hdfs,
        ):
            lab = bench_lab(hdfs, args.lab_messages)
            core = bench_sink_core(hdfs, args.messages)
            sink = bench_sink(broker, hdfs, args.messages, workdir)
    line = len(encode_record(0, 10**6, 1_764_028_800_000, b"123456", message(123_456)).line)
    fph = files_per_partition_hour(sink["msg_s"] / PARTITIONS, line)
    idle = files_per_partition_hour(1e-9, line)
    rows = [
        ("sink in the worker (msg/s)", f"{sink['msg_s']:,.0f}"),
        ("sink core + WebHDFS, no Kafka (msg/s)", f"{core:,.0f}"),
        ("lab: one HDFS write per message (msg/s)", f"{lab:,.0f}"),
        ("ratio sink / lab", f"{sink['msg_s'] / lab:,.1f}x"),
        ("ratio sink core / lab", f"{core / lab:,.1f}x"),
        ("files committed in the worker run (4 partitions)", f"{sink['files']:.0f}"),
        ("files/partition/hour at the sink rate, defaults", f"{fph:,.1f}"),
        ("files/partition/hour at a trickle (age bound)", f"{idle:,.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"archive throughput, {args.messages:,} messages, {PARTITIONS} partitions")
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>12}")
    print(
        json.dumps(
            {
                "sink_msg_s": round(sink["msg_s"], 1),
                "per_message_msg_s": round(lab, 1),
                "files_per_partition_hour": round(fph, 1),
                "sink_core_msg_s": round(core, 1),
                "ratio": round(sink["msg_s"] / lab, 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
