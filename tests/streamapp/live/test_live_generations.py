"""The live layer when a partition's log starts again (here: the dev broker restarted
empty). New messages count once; replays stay no-ops; a clean stop loses nothing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from confluent_kafka.admin import AdminClient

from devstack.broker import Broker
from tests.fixtures.worker import LiveWorker, create_topic, produce
from tests.streamapp.live.live_corpus import Corpus, make_corpus
from tests.streamapp.live.test_live_counts import assert_views_match

pytestmark = pytest.mark.integration


def restarts(worker: LiveWorker) -> float:
    """`wordstream_live_log_restarts_total` as the worker exports it."""
    m = re.search(r"^wordstream_live_log_restarts_total (\S+)$", worker.text("/metrics"), re.M)
    return float(m.group(1)) if m else 0.0


def wait_messages(worker: LiveWorker, n: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.get("/totals").get("messages") != n and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.mark.slow
def test_a_broker_that_restarts_empty_counts_the_new_log_once(
    worker_factory: Callable[..., LiveWorker],
    broker_factory: Callable[..., Broker],
    topic_name: str,
) -> None:
    private = broker_factory()
    create_topic(private.bootstrap, topic_name, 4)
    w = worker_factory(topic=topic_name, env={"KAFKA_BOOTSTRAP": private.bootstrap})
    now = int(time.time() * 1000)
    before = make_corpus(600, seed=1, now_ms=now, big=0, invalid=5)
    produce(private.bootstrap, topic_name, before.values, before.timestamps_ms)
    wait_messages(w, before.messages)
    assert w.get("/totals")["messages"] == before.messages
    w.stop()  # a clean stop, as Ctrl-C of `make run` does

    port = private.port
    private.stop()  # memory storage: topics, offsets and groups are gone
    restarted = broker_factory(port=port)
    create_topic(restarted.bootstrap, topic_name, 4)
    w.restart()
    after = make_corpus(150, seed=2, now_ms=now, big=0, invalid=2)
    produce(restarted.bootstrap, topic_name, after.values, after.timestamps_ms)
    everything = Corpus()
    everything.extend(before)
    everything.extend(after)
    # The new log's offsets start at 0, below every row's offset marks of the old one:
    # without generations they were skipped as replays.
    assert_views_match(w, everything)
    assert restarts(w) >= 1
    log = w.log_path.read_text(errors="replace")
    assert "offsets went back" in log and "counting generation 1" in log

    # A crash right after: the restarted worker replays from its committed offsets in
    # the new log, and those replays stay no-ops.
    w.kill()
    w.restart()
    more = make_corpus(50, seed=3, now_ms=now, big=0, invalid=0)
    produce(restarted.bootstrap, topic_name, more.values, more.timestamps_ms)
    everything.extend(more)
    assert_views_match(w, everything)


def test_a_topic_recreated_under_a_running_worker_counts_its_new_messages(
    worker_factory: Callable[..., LiveWorker], broker: Broker, topic_name: str
) -> None:
    create_topic(broker.bootstrap, topic_name, 4)
    w = worker_factory(topic=topic_name)
    now = int(time.time() * 1000)
    first = make_corpus(400, seed=4, now_ms=now, big=0, invalid=3)
    produce(broker.bootstrap, topic_name, first.values, first.timestamps_ms, round_robin=4)
    wait_messages(w, first.messages)

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_topics([topic_name])[topic_name].result(timeout=30)
    deadline = time.monotonic() + 30
    while topic_name in admin.list_topics(timeout=10).topics and time.monotonic() < deadline:
        time.sleep(0.2)
    create_topic(broker.bootstrap, topic_name, 4)
    # Fewer messages than before in every partition: the new log ends below the
    # consumer's position in the old one. (A new log that grows past that position
    # before the worker looks is read from there on: a limit, see docs/live.md.)
    second = make_corpus(100, seed=5, now_ms=now, big=0, invalid=1)
    produce(broker.bootstrap, topic_name, second.values, second.timestamps_ms, round_robin=4)
    everything = Corpus()
    everything.extend(first)
    everything.extend(second)
    assert_views_match(w, everything)
    assert restarts(w) >= 1
    assert "reading it from the start" in w.log_path.read_text(errors="replace")
