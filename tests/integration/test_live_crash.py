"""Issue 9: kill -9 the worker mid-run; idempotent counts still equal the recount."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from devstack.broker import Broker
from tests.fixtures.worker import LiveWorker, produce
from tests.integration.live_corpus import Corpus, make_corpus
from tests.integration.test_live_counts import assert_views_match, wait_for_catch_up

pytestmark = pytest.mark.integration


def crash_and_recover(worker: LiveWorker, rng: random.Random, kills: int) -> None:
    """Kill -9 the worker at random moments while it works, restarting it each time."""
    for _ in range(kills):
        time.sleep(rng.uniform(0.5, 3.0))
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


# The plain run only has to show that a replay drifts: one kill on a smaller run keeps
# the pair within the test budget.
@pytest.mark.parametrize(
    ("idempotent", "messages", "kills"),
    [(True, 20_000, 3), (False, 10_000, 1)],
    ids=["idempotent", "plain"],
)
def test_kill_9_during_a_run(
    broker: Broker,
    worker_factory: Callable[..., LiveWorker],
    idempotent: bool,
    messages: int,
    kills: int,
) -> None:
    worker = worker_factory(env={"LIVE_IDEMPOTENT": "1" if idempotent else "0"})
    corpus = make_corpus(messages, seed=9, now_ms=int(time.time() * 1000), big=0, invalid=20)
    produce(broker.bootstrap, worker.topic, corpus.values, corpus.timestamps_ms)
    crash_and_recover(worker, random.Random(9), kills)
    if idempotent:
        assert_views_match(worker, corpus)
    else:
        # Without the marks, the events replayed after each kill are counted again.
        assert drift(worker, corpus) > 0
