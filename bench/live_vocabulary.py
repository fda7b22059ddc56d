"""The live layer at a large vocabulary: memory, throughput, view and page latency.

    .venv/bin/python bench/live_vocabulary.py [--messages 100000] [--clients 10]
                                              [--poll-interval 0.1] [--steady-rate 250]
                                              [--steady-seconds 30]

Starts a dev broker, one worker (the full live layer) and the report app (gunicorn,
`web:create_app`, reading that worker) on free ports. Then, while `--clients` client
threads (in their own process) each poll the worker's `/top?n=10` and the report page
in turn, pausing `--poll-interval` s between rounds, and a probe sends one message with
a new word every 0.5 s and times how long until `/word/` shows it, it produces
`--messages` messages of a natural vocabulary (10 words from a 5,000-word Zipf
vocabulary) and then `--messages` messages of ten distinct random 8-letter words each,
timing each phase until every word is counted. Then, with the million words in the
tables, it sends `--steady-rate` messages/s of new distinct words for `--steady-seconds`
(below what the worker counts, as a live stream is): `visible_p95_s` is the probes' p95
of that phase; during the floods a probe waits behind the backlog, which measures the
backlog (printed as `flood probes`). The worker's RSS is sampled every second; `rss_mb`
is its peak; `loop lag` is the worker's `wordstream_loop_lag_seconds` (how long its
event loop ran one piece of work without a turn). Last line: JSON with
`distinct_words`, `rss_mb`, `distinct_msg_s`, `natural_msg_s`, `distinct_over_natural`,
`top_p95_ms`, `page_p95_ms`, `visible_p95_s`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from multiprocessing import Process, Queue
from multiprocessing.synchronize import Event as EventT
from pathlib import Path
from typing import Any

from live_common import ROOT, Worker, create_topic, produce_all, producer, ten_word_messages
from prometheus_client.parser import text_string_to_metric_families

from devstack.broker import Broker
from devstack.ports import free_port, wait_for_port


def distinct_messages(n: int, seed: int = 11) -> list[bytes]:
    """`n` messages of ten random 8-letter words (practically all distinct)."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase
    return [
        " ".join("".join(rng.choices(letters, k=8)) for _ in range(10)).encode() for _ in range(n)
    ]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else float("nan")


def _get(url: str) -> float:
    start = time.monotonic()
    with urllib.request.urlopen(url, timeout=30) as resp:
        resp.read()
    return time.monotonic() - start


def _poll(
    top_url: str, page_url: str, clients: int, interval: float, stop: EventT, out: Queue
) -> None:
    """Client loops (one thread each): `/top?n=10`, then the page, every `interval` s."""
    results: dict[str, list[float]] = {"top": [], "page": [], "errors": []}
    lock = threading.Lock()

    def loop() -> None:
        while not stop.is_set():
            for name, url in (("top", top_url), ("page", page_url)):
                try:
                    took = _get(url)
                except OSError:
                    with lock:
                        results["errors"].append(1.0)
                    continue
                with lock:
                    results[name].append(took)
            stop.wait(interval)

    threads = [threading.Thread(target=loop) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put(results)


class Probe(threading.Thread):
    """Every 0.5 s: a message with a new word; how long until the worker's /word shows it."""

    def __init__(self, bootstrap: str, topic: str, worker: Worker) -> None:
        super().__init__(daemon=True)
        self.producer = producer(bootstrap)
        self.topic, self.worker = topic, worker
        self.sent = 0
        self.phase = "flood"  # set by the caller: each probe is filed under its phase
        self.visible: dict[str, list[float]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            word = f"probe{self.sent}x"
            phase = self.phase
            start = time.monotonic()
            self.producer.produce(self.topic, word.encode())
            self.producer.flush(10)
            self.sent += 1
            while not self.stop.is_set():
                try:
                    if self.worker.get(f"/word/{word}").get("count", 0) >= 1:
                        self.visible.setdefault(phase, []).append(time.monotonic() - start)
                        break
                except OSError:
                    pass
                time.sleep(0.01)


# How often the benchmark reads the worker's /metrics to see whether a phase is counted:
# each read renders every metric family on the worker's event loop (tens of ms), load
# the measured views would otherwise share; a phase lasts tens of seconds.
PROGRESS_POLL_S = 0.5


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def count_phase(
    broker: Broker, topic: str, worker: Worker, values: list[bytes], before: float, probe: Probe
) -> tuple[float, float]:
    """Produce `values`; seconds until all their words are counted; applied entries after."""
    words = sum(len(v.split()) for v in values)
    probes_before = probe.sent  # already in `before`
    start = time.monotonic()
    produce_all(broker.bootstrap, topic, values)
    while True:
        applied = worker.metric("wordstream_live_entries_applied_total")
        if applied >= before + words + probe.sent - probes_before:
            return time.monotonic() - start, applied
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {worker.log.name}")
        time.sleep(PROGRESS_POLL_S)


def steady_phase(
    broker: Broker,
    topic: str,
    worker: Worker,
    rate: int,
    seconds: float,
    before: float,
    probe: Probe,
) -> None:
    """`rate` messages/s of new distinct words for `seconds`, then wait until counted."""
    values = distinct_messages(int(rate * seconds), seed=12)
    p = producer(broker.bootstrap)
    probes_before = probe.sent
    probe.phase = "steady"
    start = time.monotonic()
    for i, value in enumerate(values):
        # Paced by the clock (not by sleeps), so a slow round does not lower the rate.
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        p.produce(topic, value)
        p.poll(0)
    p.flush(60)
    probe.stop.set()
    words = sum(len(v.split()) for v in values)
    while worker.metric("wordstream_live_entries_applied_total") < (
        before + words + probe.sent - probes_before
    ):
        if worker.proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {worker.log.name}")
        time.sleep(PROGRESS_POLL_S)


def loop_lag(worker: Worker) -> str:
    """The worker's event-loop lag histogram as 'share of turns above each bound'."""
    with urllib.request.urlopen(worker.url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    buckets = {
        sample.labels["le"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "wordstream_loop_lag_seconds_bucket"
    }
    total = buckets.get("+Inf", 0.0)
    if not total:
        return "no samples"
    return ", ".join(
        f"> {le} s: {(total - n) / total:.1%}" for le, n in buckets.items() if le != "+Inf"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=10)
    # Each client pauses between rounds: a closed loop with no pause keeps the worker's
    # event loop busy answering by construction, whatever the views cost.
    parser.add_argument("--poll-interval", type=float, default=0.1)
    parser.add_argument("--steady-rate", type=int, default=250)
    parser.add_argument("--steady-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    # A plain kill still stops the worker, the web app and the broker (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    n = args.messages
    natural, distinct = ten_word_messages(n), distinct_messages(n)
    distinct_words = len({w for v in distinct for w in v.split()})
    with Broker(port=free_port()) as broker:
        topic = create_topic(broker.bootstrap)
        worker = Worker("full", broker.bootstrap, topic)
        web_port = free_port()
        web_log = open(Path(tempfile.mkdtemp(prefix="live-vocab-web-")) / "web.log", "wb")  # noqa: SIM115
        web = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "-b",
                f"127.0.0.1:{web_port}",
                "-w",
                "2",
                "--threads",
                "8",
                "web:create_app()",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "WORKER_URLS": worker.url,
                # No archive here: the page's batch half reports it unreachable at once.
                "HDFS_URL": f"http://127.0.0.1:{free_port()}",
            },
            stdout=web_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        stop = threading.Event()
        peak = [0.0]

        def sample() -> None:
            while not stop.wait(1.0):
                peak[0] = max(peak[0], rss_mb(worker.proc.pid))

        poll_stop: Any = None
        pollers: Process | None = None
        try:
            worker.wait("/health", lambda a: a.get("status") == "ok")
            wait_for_port("127.0.0.1", web_port, timeout=30)
            threading.Thread(target=sample, daemon=True).start()
            from multiprocessing import Event

            poll_stop, results = Event(), Queue()
            pollers = Process(
                target=_poll,
                args=(
                    f"{worker.url}/top?n=10",
                    f"http://127.0.0.1:{web_port}/",
                    args.clients,
                    args.poll_interval,
                    poll_stop,
                    results,
                ),
            )
            pollers.start()
            probe = Probe(broker.bootstrap, topic, worker)
            probe.start()
            natural_s, applied = count_phase(broker, topic, worker, natural, 0.0, probe)
            print(f"natural: {n} messages in {natural_s:.1f} s", flush=True)
            distinct_s, applied = count_phase(broker, topic, worker, distinct, applied, probe)
            print(f"distinct: {n} messages in {distinct_s:.1f} s", flush=True)
            steady_phase(
                broker,
                topic,
                worker,
                args.steady_rate,
                args.steady_seconds,
                applied,
                probe,
            )
            peak[0] = max(peak[0], rss_mb(worker.proc.pid))
            poll_stop.set()
            lag = loop_lag(worker)
            polled = results.get(timeout=120)
            pollers.join(60)
            top = worker.get("/top?n=3")
        finally:
            stop.set()
            if poll_stop is not None:
                poll_stop.set()
            if pollers is not None and pollers.is_alive():
                pollers.terminate()
            if web.poll() is None:
                os.killpg(web.pid, signal.SIGTERM)
                web.wait(30)
            web_log.close()
            worker.stop()
    print(f"top 3 at the end: {top}")
    flood, steady = probe.visible.get("flood", []), probe.visible.get("steady", [])
    print(
        f"polls: {len(polled['top'])} /top, {len(polled['page'])} page, "
        f"{len(polled['errors'])} errors; flood probes: {len(flood)}, p95 {p95(flood):.1f} s; "
        f"steady probes: {len(steady)} at {args.steady_rate} msg/s"
    )
    print(f"loop lag: {lag}")
    natural_rate, distinct_rate = n / natural_s, n / distinct_s
    print(
        json.dumps(
            {
                "distinct_words": distinct_words,
                "rss_mb": round(peak[0]),
                "distinct_msg_s": round(distinct_rate),
                "natural_msg_s": round(natural_rate),
                "distinct_over_natural": round(distinct_rate / natural_rate, 3),
                "top_p95_ms": round(p95(polled["top"]) * 1000, 1),
                "page_p95_ms": round(p95(polled["page"]) * 1000, 1),
                "visible_p95_s": round(p95(steady), 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
