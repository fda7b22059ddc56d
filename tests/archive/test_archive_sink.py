"""The archive sink in a real worker, against the dev broker and the dev WebHDFS server.

Every test reads every committed file back and compares the (partition, offset) pairs
with what the broker acknowledged to the producer: exactly once, nothing missing.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from hdfs import InsecureClient

from devstack.broker import Broker
from devstack.webhdfs import WebHdfsServer
from streamapp.archive.store import committed_files
from tests.fixtures.worker import LiveWorker, create_topic

pytestmark = pytest.mark.integration

ARCHIVE_ROOT = "/data/data_stream"
REJECTED_ROOT = "/data/data_stream_rejected"
# Small files so that commits (and crashes between their steps) happen often. The age
# bound is out of reach: a partition's last records are committed by the idle commit.
SINK_ENV = {
    "ARCHIVE_ROTATE_SECONDS": "600",
    "ARCHIVE_IDLE_COMMIT_SECONDS": "1",
    "ARCHIVE_ROTATE_RECORDS": "4000",
}
Identity = tuple[int, int, int]  # (gen, partition, offset)


def make_values(n: int, start: int = 0) -> list[bytes]:
    """n message values; every 50th is not valid UTF-8 (it goes to the rejected root)."""
    return [
        b"\xff\xfe raw %d" % i if i % 50 == 0 else f"message {i} héllo wörld".encode()
        for i in range(start, start + n)
    ]


def produce(bootstrap: str, topic: str, values: Iterable[bytes], pace: float = 0.0) -> set:
    """Send values; return the (partition, offset) the broker acknowledged for each."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    acked: set[tuple[int, int]] = set()
    failed: list[str] = []

    def report(err: Any, msg: Any) -> None:
        if err is None:
            acked.add((msg.partition(), msg.offset()))
        else:
            failed.append(str(err))

    for i, value in enumerate(values):
        while True:
            try:
                producer.produce(topic, value=value, key=b"k%d" % i, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        if pace and i % 500 == 499:
            producer.poll(0)
            time.sleep(pace)
    assert producer.flush(60) == 0, "the broker did not take every message"
    assert not failed, failed[:3]
    return acked


def read_archive(url: str) -> Counter[Identity]:
    """(gen, partition, offset) of every line of every committed file, both roots."""
    client = InsecureClient(url)
    seen: Counter[Identity] = Counter()
    for root, field in ((ARCHIVE_ROOT, "value"), (REJECTED_ROOT, "value_b64")):
        for path, f in committed_files(client, root):
            with client.read(path) as reader:
                lines = reader.read().splitlines()
            for line in lines:
                obj = json.loads(line)
                assert field in obj, (path, obj)
                assert obj["partition"] == f.partition and f.first <= obj["offset"] <= f.last
                seen[(f.gen, obj["partition"], obj["offset"])] += 1
    return seen


def wait_archived(url: str, expected: int, timeout: float) -> Counter[Identity]:
    """Poll the archive until it holds `expected` lines (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        seen = read_archive(url)
        if sum(seen.values()) >= expected or time.monotonic() > deadline:
            return seen
        time.sleep(1.0)


def assert_exactly_once(seen: Counter[Identity], produced: set[tuple[int, int]]) -> None:
    dups = {k: v for k, v in seen.items() if v > 1}
    assert not dups, f"{len(dups)} messages archived more than once, e.g. {list(dups)[:5]}"
    got = {(p, o) for _, p, o in seen}
    assert got == produced, (
        f"missing {len(produced - got)} (e.g. {sorted(produced - got)[:5]}), "
        f"unexpected {len(got - produced)}"
    )


def test_50k_messages_archived_exactly_once(
    worker_factory: Callable[..., LiveWorker], webhdfs: WebHdfsServer, broker: Broker
) -> None:
    w = worker_factory(env=SINK_ENV)
    produced = produce(broker.bootstrap, w.topic, make_values(50_000))
    seen = wait_archived(webhdfs.url, len(produced), timeout=120)
    assert_exactly_once(seen, produced)
    assert {gen for gen, _, _ in seen} == {0}


@pytest.mark.slow
def test_kill_9_at_random_moments_still_exactly_once(
    worker_factory: Callable[..., LiveWorker], webhdfs: WebHdfsServer, broker: Broker
) -> None:
    total, kills = 100_000, 5
    w = worker_factory(env=SINK_ENV)
    produced: set[tuple[int, int]] = set()
    feeder = threading.Thread(
        target=lambda: produced.update(
            produce(broker.bootstrap, w.topic, make_values(total), pace=0.05)
        )
    )
    feeder.start()
    rng = random.Random()
    try:
        for _ in range(kills):
            # Kill while the sink is mid-work: after some progress, at a random instant.
            before = sum(read_archive(webhdfs.url).values())
            deadline = time.monotonic() + 30
            while sum(read_archive(webhdfs.url).values()) == before < total:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            time.sleep(rng.uniform(0.0, 1.5))
            w.kill()
            w.start()
    finally:
        feeder.join()
    seen = wait_archived(webhdfs.url, len(produced), timeout=120)
    assert_exactly_once(seen, produced)
    assert {gen for gen, _, _ in seen} == {0}, "a crash must not look like a regression"


@pytest.mark.slow
@pytest.mark.parametrize("max_pending", [None, 100_000], ids=["default-memory", "paused"])
def test_hdfs_down_for_20s_then_back_catches_up_exactly_once(
    worker_factory: Callable[..., LiveWorker],
    webhdfs: WebHdfsServer,
    broker: Broker,
    max_pending: int | None,
) -> None:
    # With a small memory bound the outage outlasts it: the sink must pause, then resume.
    bound = {} if max_pending is None else {"ARCHIVE_MAX_PENDING_BYTES": str(max_pending)}
    w = worker_factory(env={**SINK_ENV, **bound})
    first = produce(broker.bootstrap, w.topic, make_values(10_000))
    wait_archived(webhdfs.url, 1, timeout=60)
    webhdfs.stop()
    try:
        second = produce(broker.bootstrap, w.topic, make_values(10_000, start=10_000))
        time.sleep(20)
    finally:
        webhdfs.start()  # same port and root
    seen = wait_archived(webhdfs.url, len(first | second), timeout=90)
    assert_exactly_once(seen, first | second)
    log = w.log_path.read_text(errors="replace")
    assert log.count("archive: HDFS unavailable") == 1, "one line per outage, not per retry"
    assert log.count("archive: HDFS available again") == 1
    if max_pending is not None:
        assert "archive: partitions paused" in log.split("archive: HDFS available again")[0]
        assert "archive: partitions resumed" in log


def test_broker_restart_keeps_both_generations(
    worker_factory: Callable[..., LiveWorker],
    webhdfs: WebHdfsServer,
    broker_factory: Callable[..., Broker],
    tmp_path: Path,
) -> None:
    private = broker_factory()
    topic = f"t_{uuid.uuid4().hex[:12]}"
    create_topic(private.bootstrap, topic, 4)
    w = worker_factory(topic=topic, env={**SINK_ENV, "KAFKA_BOOTSTRAP": private.bootstrap})
    before = produce(private.bootstrap, topic, make_values(8_000))
    old = wait_archived(webhdfs.url, len(before), timeout=150)
    assert_exactly_once(old, before)

    port = private.port
    private.stop()  # memory storage: the topic, its offsets and the group are gone
    restarted = broker_factory(port=port)
    create_topic(restarted.bootstrap, topic, 4)
    after = produce(restarted.bootstrap, topic, make_values(3_000, start=8_000))

    seen = wait_archived(webhdfs.url, len(before) + len(after), timeout=180)
    # Nothing archived before the restart was lost or overwritten...
    assert all(seen[k] == 1 for k in old), "generation 0 changed"
    # ...and the new messages are all there, once, in a newer generation.
    new = Counter({k: v for k, v in seen.items() if k not in old})
    assert {gen for gen, _, _ in new} == {1}
    assert_exactly_once(new, after)
    assert w.proc is not None and w.proc.poll() is None


def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offset of each partition (partitions without one left out)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(partitions)], 10)
    finally:
        consumer.close()
    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}


def wait_consumed(w: LiveWorker, n: int, timeout: float = 60) -> None:
    """Wait until the sink owns every partition and the worker counted `n` messages."""
    deadline = time.monotonic() + timeout
    while (
        w.log_path.read_text(errors="replace").count("archive: partition") < 4
        or sum(w.get("/totals").get(k, 0) for k in ("messages", "rejected")) < n
    ):
        assert time.monotonic() < deadline, "the worker did not consume the messages"
        time.sleep(0.3)
    time.sleep(2.0)  # the sink's own consumer fetches alongside the live agents


# Nothing commits on its own: only the stop can have archived these messages.
HOLD_ENV = {"ARCHIVE_ROTATE_SECONDS": "3600", "ARCHIVE_IDLE_COMMIT_SECONDS": "3600"}


def test_sigterm_commits_open_files_and_their_offsets_before_exit(
    worker_factory: Callable[..., LiveWorker], webhdfs: WebHdfsServer, broker: Broker
) -> None:
    w = worker_factory(env=HOLD_ENV)
    produced = produce(broker.bootstrap, w.topic, make_values(40))
    wait_consumed(w, len(produced))
    assert sum(read_archive(webhdfs.url).values()) == 0, "committed before the stop"
    w.stop(timeout=60)
    assert w.proc is not None and w.proc.returncode == 0, w.log_path.read_text()[-2000:]
    assert_exactly_once(read_archive(webhdfs.url), produced)
    offsets = committed_offsets(broker.bootstrap, f"{w.app_id}-archive", w.topic, 4)
    ends: dict[int, int] = {}
    for p, o in produced:
        ends[p] = max(ends.get(p, 0), o + 1)
    assert offsets == ends
    assert "archive: stopping with every message taken archived" in w.log_path.read_text()


def test_sigterm_with_hdfs_down_leaves_everything_in_kafka_then_archives_it_once(
    worker_factory: Callable[..., LiveWorker], webhdfs: WebHdfsServer, broker: Broker
) -> None:
    w = worker_factory(env={**HOLD_ENV, "ARCHIVE_STOP_WAIT_SECONDS": "3"})
    produced = produce(broker.bootstrap, w.topic, make_values(40))
    wait_consumed(w, len(produced))
    webhdfs.stop()
    try:
        started = time.monotonic()
        w.stop(timeout=60)
        assert time.monotonic() - started < 30, "the stop wait must bound the shutdown"
    finally:
        webhdfs.start()
    log_text = w.log_path.read_text(errors="replace")
    assert log_text.count("not archived: HDFS did not take them") == 1
    assert committed_offsets(broker.bootstrap, f"{w.app_id}-archive", w.topic, 4) == {}
    assert sum(read_archive(webhdfs.url).values()) == 0
    w.env = {**w.env, "ARCHIVE_IDLE_COMMIT_SECONDS": "1"}
    w.start()
    assert_exactly_once(wait_archived(webhdfs.url, len(produced), timeout=60), produced)
