"""A large distinct vocabulary: exact top words without scans, counting while views poll."""

from __future__ import annotations

import asyncio
import random
import shutil
import string
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import rocksdict
from aiokafka import AIOKafkaConsumer, TopicPartition

from devstack.broker import Broker
from streamapp.transport import fetched_ends
from tests.fixtures.worker import LiveWorker, produce
from tests.streamapp.live.test_live_counts import metric

pytestmark = pytest.mark.integration

CATCH_UP_TIMEOUT_S = 180.0


def vocabulary_corpus(n: int, seed: int) -> list[bytes]:
    """`n` messages: 8 random 7-letter words (nearly all distinct) and 2 of 300 common
    words drawn Zipf-like, so the top has a long tail and ties."""
    rng = random.Random(seed)
    common = [f"c{i:03d}" for i in range(300)]
    weights = [1.0 / (i + 1) for i in range(len(common))]
    return [
        " ".join(
            ["".join(rng.choices(string.ascii_lowercase, k=7)) for _ in range(8)]
            + rng.choices(common, weights, k=2)
        ).encode()
        for _ in range(n)
    ]


def recount_top(values: list[bytes], n: int) -> list[dict[str, object]]:
    counts = Counter(w for v in values for w in v.decode().split())
    ordered = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:n]
    return [{"word": w, "count": c} for w, c in ordered]


def test_top_words_of_a_large_vocabulary_equal_a_recount_and_survive_a_restart(
    broker: Broker, worker_factory: Callable[..., LiveWorker]
) -> None:
    # A small row cache, so that rows leave memory and are read back from RocksDB: the
    # path a vocabulary far larger than memory takes.
    worker = worker_factory(env={"LIVE_ROW_CACHE_ROWS": "2000"})
    values = vocabulary_corpus(3000, seed=5)
    polled: list[tuple[float, int]] = []  # (time, messages counted) seen while polling
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            assert "top" in worker.get("/top?n=10")
            polled.append((time.monotonic(), worker.get("/totals").get("messages", 0)))

    pollers = [threading.Thread(target=poll, daemon=True) for _ in range(3)]
    for t in pollers:
        t.start()
    produce(broker.bootstrap, worker.topic, values)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    want = recount_top(values, 1000)
    top: list[object] = []
    while time.monotonic() < deadline:
        totals = worker.get("/totals")
        if totals.get("messages") == len(values):
            top = worker.get("/top?n=1000")["top"]
            if top == want:
                break
        time.sleep(0.5)
    stop.set()
    for t in pollers:
        t.join(30)
    assert top == want
    assert worker.get("/top?n=10")["top"] == want[:10]
    # Counting went on while the views were polled: the polls saw the count rise.
    seen = sorted({m for _, m in polled})
    assert len(polled) > 20 and len(seen) > 3, seen

    # After a restart the kept top comes back (its stored row, then the replay of the
    # updates not yet written) and goes on growing exactly.
    worker.stop()
    worker.restart()
    more = vocabulary_corpus(500, seed=6)
    produce(broker.bootstrap, worker.topic, more)
    want = recount_top(values + more, 1000)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline and worker.get("/top?n=1000")["top"] != want:
        time.sleep(0.5)
    assert worker.get("/top?n=1000")["top"] == want


OFFSET_KEY = b"__faust\0offset__"  # faust's key of a table partition's changelog offset


def stored_word_rows(state_dir: str) -> dict[int, tuple[int | None, dict[str, int]]]:
    """Per live-words partition in a stopped worker's RocksDB: the persisted changelog
    offset and each word's count."""
    found: dict[int, tuple[int | None, dict[str, int]]] = {}
    for path in Path(state_dir).rglob("live-words-*.db"):
        partition = int(path.name.removesuffix(".db").rsplit("-", 1)[1])
        db = rocksdict.Rdict(
            str(path),
            options=rocksdict.Options(raw_mode=True),
            access_type=rocksdict.AccessType.read_only(),
        )
        try:
            offset = db.get(OFFSET_KEY)
            counts = {
                orjson.loads(k): orjson.loads(v)["n"] for k, v in db.items() if k != OFFSET_KEY
            }
        finally:
            db.close()
        found[partition] = (None if offset is None else int(offset), counts)
    return found


def changelog_ends(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The end offset of each partition of `topic` (read past the dev broker's short
    ListOffsets answer, as the worker's recovery does)."""

    async def ends() -> dict[int, int]:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        listed = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await listed.start()
        try:
            reported = await listed.end_offsets(tps)
        finally:
            await listed.stop()
        found = await fetched_ends(lambda: AIOKafkaConsumer(bootstrap_servers=bootstrap), reported)
        return {tp.partition: end for tp, end in found.items()}

    return asyncio.run(ends())


def wait_until_written(worker: LiveWorker, values: list[bytes]) -> None:
    """Wait until every message is counted and the held rows are written and committed."""
    want = recount_top(values, 1000)
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while worker.get("/top?n=1000")["top"] != want or worker.get("/totals").get("messages") != len(
        values
    ):
        assert time.monotonic() < deadline, "not caught up"
        time.sleep(0.5)
    # Then no more flushes (held rows go out within LIVE_FLUSH_INTERVAL_MS), and a
    # commit (KAFKA_COMMIT_INTERVAL_MS) of the acked updates.
    written = -1.0
    while (now := metric(worker, "wordstream_live_rows_written_total")) != written:
        assert time.monotonic() < deadline, "rows still being written"
        written = now
        time.sleep(1.5)
    time.sleep(1.5)


def assert_counts(worker: LiveWorker, values: list[bytes]) -> None:
    """Once the worker shows every message: its top and 200 words' counts are the recount."""
    counts = Counter(w for v in values for w in v.decode().split())
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while worker.get("/totals").get("messages") != len(values) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert worker.get("/totals")["messages"] == len(values)
    assert worker.get("/top?n=1000")["top"] == recount_top(values, 1000)
    for word in random.Random(1).sample(sorted(counts), 200):
        answer = worker.get("/word/" + urllib.parse.quote(word))
        assert answer == {"word": word, "count": counts[word]}


def test_bulk_written_rows_recover_from_the_changelog_and_the_kept_store(
    broker: Broker, worker_factory: Callable[..., LiveWorker]
) -> None:
    # ~16,000 distinct words in 2,000 messages: flushes of thousands of rows, written in
    # bulk (streamapp.live.tablewrite), none of them through faust's Table.__setitem__.
    worker = worker_factory(env={"LIVE_FLUSH_INTERVAL_MS": "500"})
    changelog = f"{worker.app_id}-live-words-changelog"
    values = vocabulary_corpus(2000, seed=7)
    produce(broker.bootstrap, worker.topic, values)
    wait_until_written(worker, values)
    worker.kill()

    # The local store holds every row, and each partition's persisted changelog offset
    # is its changelog's last record: a restart reads nothing again, misses nothing.
    stored = stored_word_rows(worker.env["STATE_DIR"])
    ends = changelog_ends(broker.bootstrap, changelog, 4)
    assert {p: offset for p, (offset, _) in stored.items()} == {p: e - 1 for p, e in ends.items()}
    counts = Counter(w for v in values for w in v.decode().split())
    assert {w: n for _, rows in stored.values() for w, n in rows.items()} == dict(counts)

    # Restarted on the kept store: the counts, with nothing applied again (no update
    # was left unacked), then more messages counted exactly on top of them.
    worker.start()
    assert_counts(worker, values)
    more = vocabulary_corpus(500, seed=8)
    produce(broker.bootstrap, worker.topic, more)
    wait_until_written(worker, values + more)
    assert metric(worker, "wordstream_live_entries_applied_total") == sum(
        len(v.split()) for v in more
    )
    worker.kill()

    # Restarted without its state: everything comes back from the changelog alone.
    shutil.rmtree(worker.env["STATE_DIR"])
    worker.start()
    assert_counts(worker, values + more)
    assert metric(worker, "wordstream_live_entries_applied_total") == 0
