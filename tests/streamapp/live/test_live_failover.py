"""Issue 23: kill -9 of workers mid-stream; the survivor's views answer from its standby
copies, marked behind, never a silent 0, and the counts end equal to a recount."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from devstack.broker import Broker
from tests.fixtures.worker import LiveWorker, produce
from tests.streamapp.live.live_corpus import make_corpus
from tests.streamapp.live.test_live_counts import assert_views_match

pytestmark = pytest.mark.integration

PROGRESS_TIMEOUT_S = 120.0


class Reader(threading.Thread):
    """Polls a worker's /totals and /top, keeping (time, path, status, body) of each answer."""

    def __init__(self, worker: LiveWorker) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.answers: list[tuple[float, str, int, Any]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for path in ("/totals", "/top?n=10"):
                status, body = 0, {}
                try:
                    with urllib.request.urlopen(self.worker.url + path, timeout=30) as resp:
                        status, body = resp.status, json.loads(resp.read())
                except urllib.error.HTTPError as exc:
                    status = exc.code
                except OSError:
                    pass
                self.answers.append((time.monotonic(), path, status, body))
            time.sleep(0.1)


def counted(worker: LiveWorker) -> int:
    """Messages the worker's /totals counts now (0 while it cannot answer)."""
    try:
        return int(worker.get("/totals", timeout=5).get("messages", 0))
    except OSError:
        return 0


def members_removed(worker: LiveWorker) -> float:
    """The worker's count of group members it removed (streamapp.live.peer_watch)."""
    for line in worker.text("/metrics").splitlines():
        if line.startswith("wordstream_live_members_removed_total "):
            return float(line.split()[1])
    return 0.0


# The survivor holds a standby copy of every partition it does not own (one standby
# each for two workers, two for three workers of which two die at once), so its views
# answer throughout: from the copies until the partitions have moved. Six partitions
# for three workers: faust's sticky assignor leaves a third worker of a four-partition
# group idle. (With one standby for three workers, a partition whose owner and standby
# both die has no copy left: the views answer 503 for it until it is recovered.)
@pytest.mark.parametrize(
    ("workers", "kills", "partitions", "standbys"),
    [(2, 1, 4, 1), (3, 2, 6, 2)],
    ids=["one-of-two", "two-of-three"],
)
def test_kill_9_during_a_stream_views_answer_exact_or_marked_behind(
    broker: Broker,
    worker_factory: Callable[..., LiveWorker],
    workers: int,
    kills: int,
    partitions: int,
    standbys: int,
) -> None:
    env = {
        "TOPIC_PARTITIONS": str(partitions),
        "LIVE_PARTITIONS": str(partitions),
        "LIVE_STANDBY_REPLICAS": str(standbys),
    }
    survivor = worker_factory(partitions=partitions, env=env)
    others = [
        worker_factory(topic=survivor.topic, app_id=survivor.app_id, partitions=partitions, env=env)
        for _ in range(workers - 1)
    ]
    survivor.wait_ready()
    # Every worker owns table partitions, and each keeps standbys of others'.
    deadline = time.monotonic() + PROGRESS_TIMEOUT_S
    while "messages" not in (answer := survivor.get("/totals")) or "behind" in answer:
        assert time.monotonic() < deadline, f"the group did not settle: {answer}"
        time.sleep(0.2)
    corpus = make_corpus(24_000, seed=23, now_ms=int(time.time() * 1000), big=0, invalid=10)
    feeder = threading.Thread(
        target=produce,
        args=(broker.bootstrap, survivor.topic, corpus.values, corpus.timestamps_ms, 1_000),
    )
    reader = Reader(survivor)
    feeder.start()
    reader.start()
    try:
        # Kill mid-stream, once the standbys have something to hold.
        while counted(survivor) < 3_000:
            assert time.monotonic() < deadline + PROGRESS_TIMEOUT_S, "no progress before the kill"
            time.sleep(0.1)
        killed_at = time.monotonic()
        for victim in others[:kills]:
            victim.kill()
        assert counted(survivor) < corpus.messages, "the run ended before the kill: send more"
    finally:
        feeder.join()
    assert_views_match(survivor, corpus)
    reader.done.set()
    reader.join()
    # The dead workers' ports refused the survivor's checks: it removed their members
    # from the group rather than wait for their sessions to time out (each at most once;
    # a member the first rebalance already dropped is not counted again).
    assert 1 <= members_removed(survivor) <= kills, survivor.text("/metrics")

    answered = [
        (p, body) for t, p, status, body in reader.answers if t > killed_at and status == 200
    ]
    behind = [body["behind"] for _, body in answered if "behind" in body]
    # The survivor answered for the dead workers' partitions from its standby copies,
    # saying which partitions and how far behind (not a 503 until they moved).
    assert behind, "no answer after the kill came from a standby"
    assert all(b["partitions"] and set(b["partitions"]) <= set(range(partitions)) for b in behind)
    assert all(b["offsets"] is None or b["offsets"] >= 0 for b in behind)
    # Never a silent 0, nor more than was sent.
    for path, body in answered:
        if path == "/totals":
            assert 0 < body["messages"] <= corpus.messages, body
        else:
            assert body["top"], body
            assert all(e["count"] <= corpus.counts[e["word"]] for e in body["top"]), body
