"""Live worker latency: from produce to visible in /totals, at a steady 1,000 msg/s.

    .venv/bin/python bench/live_latency.py [--rate 1000] [--seconds 20]

Starts a dev broker on a free port and wordstream's live worker (archive excluded),
sends 10-word messages at `--rate` while polling /totals every 20 ms. Message i is
visible once /totals counts more than i messages (so a message overtaken by later ones
on another partition counts as seen when they are: the figure is per count, as a
reader of /totals sees it). Prints p50/p95/max, then one JSON line with `p50_s`, `p95_s`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from live_common import Worker, create_topic, produce_paced, ten_word_messages

from devstack.broker import Broker
from devstack.ports import free_port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    n = int(args.rate * args.seconds)
    values = ten_word_messages(n)
    sent_at: list[float] = [0.0] * n
    seen_at: list[float] = [0.0] * n
    with Broker(port=free_port()) as broker:
        topic = create_topic(broker.bootstrap)
        worker = Worker("full", broker.bootstrap, topic)
        try:
            worker.wait("/health", lambda a: a.get("status") == "ok")

            sender = threading.Thread(
                target=produce_paced, args=(broker.bootstrap, topic, values, args.rate, sent_at)
            )
            sender.start()
            seen = 0
            deadline = time.monotonic() + args.seconds + 60
            while seen < n and time.monotonic() < deadline:
                count = worker.get("/totals").get("messages", 0)
                now = time.monotonic()
                for i in range(seen, min(count, n)):
                    seen_at[i] = now
                seen = max(seen, min(count, n))
                time.sleep(0.02)
            sender.join()
        finally:
            worker.stop()
    if seen < n:
        raise SystemExit(f"only {seen} of {n} messages became visible")
    # Skip the first second: the worker's first fetch of a new topic is a one-off.
    skip = int(args.rate)
    latencies = sorted(s - t for s, t in zip(seen_at[skip:], sent_at[skip:], strict=True))
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"{'messages':>9} {'rate/s':>7} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    print(f"{n:>9} {args.rate:>7.0f} {p50:>7.3f} {p95:>7.3f} {latencies[-1]:>7.3f}")
    print(json.dumps({"p50_s": round(p50, 3), "p95_s": round(p95, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
