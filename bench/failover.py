"""Failover: kill -9 one of two workers during a steady stream; how long the views go dark.

    .venv/bin/python bench/failover.py [--rate 500] [--before 15] [--after 30] [--clients 10]
                                       [--poll-s 0.5] [--session-timeout-s 6]

Starts a dev broker on a free port and two live workers of one group (archive excluded),
sends 10-word messages at `--rate`, and `--before` seconds in kills one worker with
SIGKILL. `--clients` reader threads poll the survivor's /totals and /top throughout,
each every `--poll-s` seconds.
Figures (issue #23):

- `views_unavailable_s`: the longest stretch after the kill with no 200 from the views;
- `visible_after_kill_s`: the longest produce -> visible latency of the messages sent
  after the kill (message i is visible once a 200 /totals counts more than i messages);
- `exact_after`: once the stream ends, /totals and /top equal a recount and are no
  longer marked behind.

Also prints how many 200 answers were marked `behind` (read from a standby), and when
the survivor removed the dead worker's member from the group (its log's warning;
`-` if it did not, e.g. the group noticed the death through the session timeout).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from live_common import Worker, create_topic, produce_paced, ten_word_messages

from devstack.broker import Broker
from devstack.ports import free_port
from streamapp.tokenize import words

EXACT_TIMEOUT_S = 120.0


def fetch(url: str) -> tuple[int, Any]:
    """(status, JSON body); status 0 when the worker did not answer at all."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None
    except (OSError, ValueError):
        return 0, None


def longest_gap(times: list[float], start: float, end: float) -> float:
    """Longest interval in [start, end] containing none of `times`."""
    points = [start, *sorted(t for t in times if start <= t <= end), end]
    return max(b - a for a, b in itertools.pairwise(points))


def member_removed_at(log: Path) -> float | None:
    """Wall-clock time of the worker's first "removed its member" warning, if any."""
    for line in log.read_text(errors="replace").splitlines():
        if "refuses connections: removed its member" in line:
            stamp = re.match(r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]", line)
            if stamp:
                return datetime.strptime(stamp[1], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--before", type=float, default=15.0)
    parser.add_argument("--after", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--poll-s", type=float, default=0.5, help="each client's poll interval")
    parser.add_argument(
        "--session-timeout-s", type=int, default=None, help="the workers' KAFKA_SESSION_TIMEOUT_S"
    )
    args = parser.parse_args(argv)
    n = int(args.rate * (args.before + args.after))
    values = ten_word_messages(n)
    recount = Counter(w for v in values for w in words(v.decode()))
    sent_at = [0.0] * n
    seen_at = [0.0] * n
    oks: list[float] = []  # when each 200 arrived
    behind = [0]
    seen = [0]  # messages /totals has counted so far (seen_at is set below it)
    seen_lock = threading.Lock()
    stop = threading.Event()
    with Broker(port=free_port()) as broker:
        topic = create_topic(broker.bootstrap)
        extra = {"APP_ID": f"bench_failover_{uuid.uuid4().hex[:8]}"}
        if args.session_timeout_s is not None:
            extra["KAFKA_SESSION_TIMEOUT_S"] = str(args.session_timeout_s)
        survivor = Worker("full", broker.bootstrap, topic, extra)
        victim = Worker("full", broker.bootstrap, topic, extra)
        try:
            for w in (survivor, victim):
                w.wait("/health", lambda a: a.get("status") == "ok", timeout=120)
            # Both own partitions and every view answers: the group has settled.
            survivor.wait("/totals", lambda a: "messages" in a, timeout=120)

            def read(path: str) -> None:
                while not stop.is_set():
                    status, body = fetch(survivor.url + path)
                    now = time.monotonic()
                    if status == 200:
                        oks.append(now)
                        behind[0] += bool(body.get("behind"))
                        count = body.get("messages")
                        if count is not None:
                            with seen_lock:
                                for i in range(seen[0], min(count, n)):
                                    seen_at[i] = now
                                seen[0] = max(seen[0], min(count, n))
                    time.sleep(args.poll_s)

            sender = threading.Thread(
                target=produce_paced, args=(broker.bootstrap, topic, values, args.rate, sent_at)
            )
            readers = [
                threading.Thread(target=read, args=("/totals" if i % 2 == 0 else "/top",))
                for i in range(args.clients)
            ]
            sender.start()
            for r in readers:
                r.start()
            time.sleep(args.before)
            victim.stop()  # SIGKILL of its process group
            killed_at = time.monotonic()
            killed_wall = time.time()
            sender.join()
            exact = False
            totals: Any = None
            deadline = time.monotonic() + EXACT_TIMEOUT_S
            while time.monotonic() < deadline and not exact:
                s1, totals = fetch(survivor.url + "/totals")
                s2, top = fetch(survivor.url + "/top?n=10")
                exact = (
                    s1 == s2 == 200
                    and totals["messages"] == n
                    and not totals.get("behind")
                    and not top.get("behind")
                    and all(recount[e["word"]] == e["count"] for e in top["top"])
                    and [e["count"] for e in top["top"]] == [c for _, c in recount.most_common(10)]
                )
                time.sleep(0.5)
            end = time.monotonic()
            if not exact:
                print(f"not exact after {EXACT_TIMEOUT_S:.0f} s: /totals {totals}, sent {n}")
            stop.set()
            for r in readers:
                r.join()
        finally:
            stop.set()
            survivor.stop()
            victim.stop()
    removed_wall = member_removed_at(Path(survivor.log.name))
    removed = "-" if removed_wall is None else f"{removed_wall - killed_wall:.2f}"
    unavailable = longest_gap(oks, killed_at, end)
    after = [i for i in range(n) if sent_at[i] >= killed_at]
    latencies = [seen_at[i] - sent_at[i] if seen_at[i] else float("inf") for i in after]
    visible = max(latencies) if latencies else 0.0
    print(
        f"{'messages':>9} {'rate/s':>7} {'dark s':>7} {'visible s':>10} {'behind':>7} "
        f"{'removed s':>10} exact"
    )
    print(
        f"{n:>9} {args.rate:>7.0f} {unavailable:>7.2f} {visible:>10.2f} {behind[0]:>7} "
        f"{removed:>10} {exact}"
    )
    print(
        json.dumps(
            {
                "views_unavailable_s": round(unavailable, 2),
                "visible_after_kill_s": round(visible, 2),
                "exact_after": exact,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
