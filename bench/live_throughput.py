"""Live worker throughput: wordstream's batched design vs faust's ceiling and its example.

    .venv/bin/python bench/live_throughput.py [--messages 30000] [--per-word-messages 3000]
                                              [--repeat 3]

Starts a dev broker on a free port; for each design starts a worker on a fresh topic,
waits until it is ready, produces 10-word messages as fast as possible and times
until every message is counted. The fast designs run `--repeat` times, interleaved (a
run's rate swings by 10-20% on a shared 2-core machine), and report the median; the
per-word design, 50x slower, runs once. Prints every run, a table, then one JSON line
with `full_msg_s`, `bare_msg_s`, `per_word_msg_s`, `full_nonidempotent_msg_s`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from live_common import Worker, create_topic, produce_all, ten_word_messages

from devstack.broker import Broker
from devstack.ports import free_port


def run(
    broker: Broker,
    mode: str,
    n: int,
    done: Callable[[Any], bool],
    path: str,
    ready: str,
    extra: dict[str, str] | None = None,
) -> float:
    """Messages per second for one design: produce `n` messages, wait for `done`."""
    topic = create_topic(broker.bootstrap)
    worker = Worker(mode, broker.bootstrap, topic, extra)
    try:
        worker.wait(ready, lambda a: "error" not in a and a.get("status", "ok") == "ok")
        values = ten_word_messages(n)
        start = time.monotonic()
        produce_all(broker.bootstrap, topic, values)
        worker.wait(path, done, timeout=600)
        if mode == "full":
            # /totals lives in one table partition; the other partitions' word rows can
            # trail it by a moment. Done means every word occurrence is in its row.
            while worker.metric("wordstream_live_entries_applied_total") < 10 * n:
                time.sleep(0.02)
        return n / (time.monotonic() - start)
    finally:
        worker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--per-word-messages", type=int, default=3_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    n, n_slow = args.messages, args.per_word_messages
    runs: dict[str, list[float]] = {"bare": [], "full": [], "full_noidem": []}
    with Broker(port=free_port()) as broker:
        for _ in range(args.repeat):
            runs["bare"].append(
                run(broker, "bare", n, lambda a: a["messages"] >= n, "/count", "/count")
            )
            for name, extra in (("full", None), ("full_noidem", {"LIVE_IDEMPOTENT": "0"})):
                runs[name].append(
                    run(
                        broker,
                        "full",
                        n,
                        lambda a: a.get("messages", 0) >= n,
                        "/totals",
                        "/health",
                        extra,
                    )
                )
            print("runs so far (msg/s):", {k: [round(r) for r in v] for k, v in runs.items()})
        per_word = run(
            broker, "per_word", n_slow, lambda a: a["messages"] >= n_slow, "/count", "/count"
        )
    bare, full, full_noidem = (statistics.median(runs[k]) for k in ("bare", "full", "full_noidem"))
    print(f"{'design':<44} {'messages':>9} {'msg/s':>9} {'vs bare':>8}")
    for name, count, rate in (
        ("bare agent (iterate only: the ceiling)", n, bare),
        ("wordstream live layer (batched, idempotent)", n, full),
        ("wordstream live layer, LIVE_IDEMPOTENT=0", n, full_noidem),
        ("faust word_count example (send per word)", n_slow, per_word),
    ):
        print(f"{name:<44} {count:>9} {rate:>9.0f} {rate / bare:>8.0%}")
    print(f"full / per-word: {full / per_word:.1f}x; idempotency cost: {full / full_noidem:.2f}")
    print(
        json.dumps(
            {
                "full_msg_s": round(full),
                "bare_msg_s": round(bare),
                "per_word_msg_s": round(per_word),
                "full_nonidempotent_msg_s": round(full_noidem),
                "full_over_bare": round(full / bare, 3),
                "full_over_per_word": round(full / per_word, 1),
                "idempotent_over_nonidempotent": round(full / full_noidem, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
