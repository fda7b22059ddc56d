"""Three workers with churn (issue 20): a kill -9, a worker joining, a clean stop, all
while a producer runs. Live counts end equal to a recount, the archive holds every
message exactly once, and no view answered a silent partial count meanwhile."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from devstack.broker import Broker
from devstack.webhdfs import WebHdfsServer
from streamapp.live.counting import TOTALS_KEY, partition_for
from tests.archive.test_archive_sink import assert_exactly_once, wait_archived
from tests.fixtures.worker import LiveWorker, produce
from tests.streamapp.live.live_corpus import Corpus, make_corpus
from tests.streamapp.live.test_live_counts import assert_views_match

pytestmark = pytest.mark.integration

PARTITIONS = 6
ENV = {"TOPIC_PARTITIONS": str(PARTITIONS), "LIVE_PARTITIONS": str(PARTITIONS)}


@dataclass
class Watch:
    """What a reader saw while the workers churned."""

    answers: int = 0  # 200s checked
    refusals: int = 0  # anything else: 503, no connection, timeouts
    # Answers below the floor that said so: read from a copy still restoring, marked
    # behind on the partition holding the value.
    marked_low: int = 0
    wrong: list[str] = field(default_factory=list)


def answer(url: str) -> tuple[int, object]:
    """(HTTP status, JSON body), or (0, None) when the worker does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except OSError:
        return 0, None


def watch_views(
    workers: list[LiveWorker],
    floor: Corpus,
    ceiling: Corpus,
    words: list[str],
    stop: threading.Event,
) -> Watch:
    """Poll every worker's /totals and /word views until `stop`.

    Every count only grows, and `floor` was counted and written before the churn began:
    an answer below it is a partition left out (a silent partial count) unless it is
    marked behind on the partition holding the value (when the owner and its standby
    both go within seconds, the only copy left may still be restoring: docs/live.md,
    "Failover"). An answer above `ceiling` (everything sent) counted a partition twice.
    A refusal is a 503 or no answer; any other status is a bug.
    """
    seen = Watch()
    i = 0
    while not stop.is_set():
        worker = workers[i % len(workers)]
        word = words[i % len(words)]
        i += 1
        for path, low, high, key, partition in (
            (
                "/totals",
                floor.messages,
                ceiling.messages,
                "messages",
                partition_for(TOTALS_KEY, PARTITIONS),
            ),
            (
                "/word/" + urllib.parse.quote(word, safe=""),
                floor.counts[word],
                ceiling.counts[word],
                "count",
                partition_for(word, PARTITIONS),
            ),
        ):
            status, body = answer(worker.url + path)
            if status == 200 and isinstance(body, dict):
                seen.answers += 1
                behind = body.get("behind") or {}
                if body[key] < low and partition in behind.get("partitions", []):
                    if behind.get("offsets") == 0:
                        seen.wrong.append(f"{worker.url}{path}: {body}, low but 0 behind")
                    seen.marked_low += 1
                elif not low <= body[key] <= high:
                    seen.wrong.append(f"{worker.url}{path}: {body}, not in [{low}, {high}]")
            elif status in (0, 503):
                seen.refusals += 1
            else:
                seen.wrong.append(f"{worker.url}{path}: HTTP {status}")
        time.sleep(0.05)
    return seen


@pytest.mark.slow
def test_three_workers_with_churn_count_exactly_and_never_answer_partially(
    broker: Broker, webhdfs: WebHdfsServer, worker_factory: Callable[..., LiveWorker]
) -> None:
    first = worker_factory(partitions=PARTITIONS, env=ENV)
    group = dict(topic=first.topic, app_id=first.app_id, env=ENV, timeout=90)
    workers = [first, worker_factory(**group), worker_factory(**group)]
    for w in workers:
        w.wait_ready(90)
    now_ms = int(time.time() * 1000)
    base = make_corpus(3_000, seed=7, now_ms=now_ms, big=0, invalid=10)
    acked = produce(broker.bootstrap, first.topic, base.values, base.timestamps_ms)
    for w in workers:
        assert_views_match(w, base)
    time.sleep(3)  # the write-behind's tick writes every held row within ~1 s

    # Rare words too: a partition left out of an answer shows as a 0 for them.
    by_count = sorted(base.counts, key=lambda w: base.counts[w])
    sample = by_count[:15] + by_count[-15:]
    stop = threading.Event()
    watched: list[Watch] = []
    churn = make_corpus(40_000, seed=8, now_ms=now_ms, big=0, invalid=20)
    everything = Corpus()
    everything.extend(base)
    everything.extend(churn)
    # Every worker, the joining one once it is there (a dead one refuses: no answer).
    reader = threading.Thread(
        target=lambda: watched.append(watch_views(workers, base, everything, sample, stop))
    )
    reader.start()

    sent: list[set[tuple[int, int]]] = []
    producer = threading.Thread(
        target=lambda: sent.append(
            produce(broker.bootstrap, first.topic, churn.values, churn.timestamps_ms, rate=500)
        )
    )
    producer.start()
    try:
        time.sleep(5)
        workers[0].kill()
        time.sleep(5)
        joined = worker_factory(**group)
        workers.append(joined)
        assert producer.is_alive(), "the producer ended before the churn: send more slowly"
        workers[1].stop(timeout=60)  # a clean stop: drains, then leaves the group
        producer.join(180)
    finally:
        stop.set()
        reader.join(60)
        producer.join(180)
    assert sent, "the producer failed (see the test's output)"
    acked |= sent[0]

    for w in (workers[2], joined):
        # The survivors replay what the dead worker had not written: the wait allows for it.
        assert_views_match(w, everything)
    [seen] = watched
    assert not seen.wrong, seen.wrong[:5]
    assert seen.answers > 100, seen

    archived = wait_archived(webhdfs.url, len(acked), timeout=180)
    assert_exactly_once(archived, acked)
