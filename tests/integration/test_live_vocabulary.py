"""A large distinct vocabulary: exact top words without scans, counting while views poll."""

from __future__ import annotations

import random
import string
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from devstack.broker import Broker
from tests.fixtures.worker import LiveWorker, produce

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
    # Small in-memory limits, so that rows leave memory and flushes wait for the
    # changelog: the paths a vocabulary far larger than memory takes.
    worker = worker_factory(env={"LIVE_ROW_CACHE_ROWS": "2000", "LIVE_CHANGELOG_BACKLOG": "500"})
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
