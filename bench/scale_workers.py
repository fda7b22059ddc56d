"""Live throughput with one and with two workers of one app (issue 20's scaling figure).

    .venv/bin/python bench/scale_workers.py [--messages 100000] [--repeat 3]

Starts a dev broker on a free port. Each run pre-produces the same `--messages`
10-word messages to a fresh 4-partition topic, then starts one or two full live workers
(`bench/live_apps.py`, mode `full`: no archive agent) of a fresh app. The rate is
measured only while the group is settled: from the moment every worker is ready with
its share of the partitions (messages counted by then are left out) until /totals
counts every message and every word occurrence is in its row. One- and two-worker runs
are interleaved `--repeat` times; the medians are compared. Prints every run, then one
JSON line: `one_worker_msg_s`, `two_workers_msg_s`, `scaling`, and the machine's core
count (the broker and the workers share them).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid

from live_common import Worker, create_topic, produce_all, ten_word_messages

from devstack.broker import Broker
from devstack.ports import free_port

PARTITIONS = 4


def run(broker: Broker, workers: int, values: list[bytes]) -> float:
    """Messages per second counted by `workers` workers sharing one app."""
    topic = create_topic(broker.bootstrap, PARTITIONS)
    produce_all(broker.bootstrap, topic, values)
    n = len(values)
    app_id = f"bench_scale_{uuid.uuid4().hex[:8]}"
    started = [Worker("full", broker.bootstrap, topic, app_id=app_id) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while True:
            health = [w.wait("/health", lambda a: a.get("status") == "ok") for w in started]
            mine = [h.get("assigned", []) for h in health]
            if sorted(p for m in mine for p in m) == list(range(PARTITIONS)) and all(mine):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the group did not settle: {health}")
            time.sleep(0.1)
        start = time.monotonic()
        first = started[0]
        counted = first.wait("/totals", lambda a: "messages" in a, timeout=60)["messages"]
        if counted > n // 2:
            raise RuntimeError(f"{counted} of {n} counted before the group settled: send more")
        first.wait("/totals", lambda a: a.get("messages", 0) >= n, timeout=900)
        # /totals lives in one table partition; the word rows elsewhere may trail it.
        while sum(w.metric("wordstream_live_entries_applied_total") for w in started) < 10 * n:
            time.sleep(0.02)
        return (n - counted) / (time.monotonic() - start)
    finally:
        for w in started:
            w.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    values = ten_word_messages(args.messages)
    runs: dict[int, list[float]] = {1: [], 2: []}
    with Broker(port=free_port()) as broker:
        for _ in range(args.repeat):
            for k in (1, 2):
                runs[k].append(run(broker, k, values))
            print("runs so far (msg/s):", {k: [round(r) for r in v] for k, v in runs.items()})
    one, two = statistics.median(runs[1]), statistics.median(runs[2])
    print(
        json.dumps(
            {
                "one_worker_msg_s": round(one),
                "two_workers_msg_s": round(two),
                "scaling": round(two / one, 3),
                "messages": args.messages,
                "cores": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
