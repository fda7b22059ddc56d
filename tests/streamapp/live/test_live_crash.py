"""Issue 9: kill -9 the worker mid-run; idempotent counts still equal the recount."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from pyspark.sql import SparkSession

from devstack.broker import Broker
from devstack.webhdfs import WebHdfsServer
from spark_jobs.options import JobOptions
from spark_jobs.wordcount import run
from tests.fixtures.webhdfs import read_all_lines
from tests.fixtures.worker import LiveWorker, produce
from tests.streamapp.live.live_corpus import Corpus, make_corpus
from tests.streamapp.live.test_live_counts import assert_views_match, wait_for_catch_up
from web import create_app

pytestmark = pytest.mark.integration

ARCHIVE, REJECTED, REPORTS = "/data/data_stream", "/data/data_stream_rejected", "/reports/ws"
ARCHIVE_TIMEOUT_S = 120
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


def straddling_midnight() -> int:
    """A `now_ms` for make_corpus whose five hours of event time contain a UTC midnight.

    Whatever the time of day the test runs: interleaved timestamps of two dates once
    made the archive commit one file per message (docs/archive.md, "Batches").
    """
    now = int(time.time() * 1000)
    return min(now, now - now % DAY_MS + 5 * HOUR_MS // 2)


def counted(worker: LiveWorker) -> int:
    """Messages the worker's /totals counts now (0 while it starts or rebalances)."""
    try:
        return int(worker.get("/totals", timeout=5).get("messages", 0))
    except OSError:
        return 0


def crash_and_recover(worker: LiveWorker, rng: random.Random, kills: int, total: int) -> None:
    """Kill -9 the worker mid-run `kills` times, restarting it each time.

    Each kill comes at a random instant after the restarted worker has counted more
    messages, and before it has counted them all: a replay is always under way.
    """
    for _ in range(kills):
        before = counted(worker)
        deadline = time.monotonic() + 60
        while counted(worker) <= before:
            assert time.monotonic() < deadline, (
                "the worker made no progress after a restart:\n" + worker.log_tail()
            )
            time.sleep(0.1)
        time.sleep(rng.uniform(0.0, 1.0))
        assert counted(worker) < total, "the run ended before the kill: send more slowly"
        worker.kill()
        worker.start()


def drift(worker: LiveWorker, corpus: Corpus) -> int:
    """Sum of absolute differences between the worker's counts and the recount."""
    totals, top = wait_for_catch_up(worker, corpus)
    got = {e["word"]: e["count"] for e in top}
    words = set(got) | set(corpus.counts)
    return abs(totals.get("messages", 0) - corpus.messages) + sum(
        abs(got.get(w, 0) - corpus.counts.get(w, 0)) for w in words
    )


def assert_batch_and_report_match(
    spark: SparkSession, webhdfs: WebHdfsServer, worker: LiveWorker, corpus: Corpus
) -> None:
    """After the crashes, the archive, a batch run over it and the report all agree."""
    deadline = time.monotonic() + ARCHIVE_TIMEOUT_S
    while (
        len(read_all_lines(webhdfs.url, ARCHIVE, missing_ok=True)) < corpus.messages
        or len(read_all_lines(webhdfs.url, REJECTED, missing_ok=True)) < corpus.rejected
    ):
        assert time.monotonic() < deadline, "the archive did not catch up"
        time.sleep(0.5)
    base = "webhdfs://" + urlsplit(webhdfs.url).netloc
    summary = run(
        spark,
        JobOptions(archive=base + ARCHIVE, rejected=base + REJECTED, report_root=base + REPORTS),
    )
    assert summary["totals"]["messages"] == corpus.messages
    assert summary["totals"]["rejected"] == corpus.rejected

    app = create_app(
        {
            "TESTING": True,
            "WORKER_URLS": worker.url,
            "HDFS_URL": webhdfs.url,
            "REPORT_ROOT": REPORTS,
        }
    )
    client = app.test_client()
    verdict = client.get("/api/summary").get_json()["verdict"]
    assert verdict["state"] == "match", verdict
    hours = client.get("/api/hours").get_json()["hours"]
    assert any(h["status"] == "match" for h in hours), hours


# The idempotent run is the five-kill bar. The plain run only has to show that a replay
# drifts; the static run restarts under the same WORKER_INSTANCE_ID, takes its
# partitions back without a rebalance, and must count just as exactly: one kill on a
# smaller run each keeps the suite within its time budget. The producer sends at `rate`
# so that the run lasts through every kill (a restart takes ~8-13 s: the group join,
# Python imports).
@pytest.mark.slow
@pytest.mark.parametrize(
    ("idempotent", "instance_id", "messages", "kills", "rate"),
    [
        (True, "", 100_000, 5, 2_000),
        (True, "worker-1", 20_000, 1, 2_000),
        (False, "", 20_000, 1, 2_000),
    ],
    ids=["idempotent", "idempotent-static-membership", "plain"],
)
def test_kill_9_during_a_run(
    broker: Broker,
    webhdfs: WebHdfsServer,
    spark: SparkSession,
    worker_factory: Callable[..., LiveWorker],
    idempotent: bool,
    instance_id: str,
    messages: int,
    kills: int,
    rate: int,
) -> None:
    # Archive files commit within a second, so the batch can follow right after.
    env = {
        "LIVE_IDEMPOTENT": "1" if idempotent else "0",
        "ARCHIVE_ROTATE_SECONDS": "1",
        "WORKER_INSTANCE_ID": instance_id,
    }
    if not idempotent:
        # A replay must be certain: rows written (and their events acked) quickly, offsets
        # committed only after the run. The archive agent used to hold the group's
        # commits back; the sink now has its own consumer, and the default commit
        # interval (2.8 s) sometimes had committed everything written before the kill.
        env |= {"LIVE_FLUSH_INTERVAL_MS": "200", "FAUST_BROKER_COMMIT_INTERVAL": "120"}
    worker = worker_factory(env=env)
    corpus = make_corpus(messages, seed=9, now_ms=straddling_midnight(), big=0, invalid=20)
    feeder = threading.Thread(
        target=produce,
        args=(broker.bootstrap, worker.topic, corpus.values, corpus.timestamps_ms, rate),
    )
    feeder.start()
    try:
        crash_and_recover(worker, random.Random(9), kills, corpus.messages)
    finally:
        feeder.join()
    if instance_id:
        # faust handed the id to the consumer: the broker names the member after it.
        assert f"with member_id {instance_id}-" in worker.log_path.read_text(errors="replace")
    if idempotent:
        assert_views_match(worker, corpus)
        assert_batch_and_report_match(spark, webhdfs, worker, corpus)
    else:
        # Without the marks, the events replayed after each kill are counted again.
        assert drift(worker, corpus) > 0
