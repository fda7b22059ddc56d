"""Report latency under load: p50/p95 of the page and the JSON API.

Self-contained: starts the dev WebHDFS server and a worker-views server on free
loopback ports, writes a batch snapshot with 100,000 distinct words, serves the
report with gunicorn (gthread, 2 workers x 8 threads), then runs 50 concurrent client
threads (spread over 5 processes), each making 40 requests back to back: page loads,
word searches and API calls. Prints a table and, as the last line, JSON with
page_p50_ms, page_p95_ms, api_p95_ms, errors.

    .venv/bin/python bench/web_latency.py [--clients 50] [--requests-per-client 40]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import Process, Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from urllib.parse import quote

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the snapshot writer and worker double live with the tests

from devstack.ports import free_port, wait_for_port  # noqa: E402
from devstack.report_doubles import Message, publish_batch, serve_live  # noqa: E402
from devstack.webhdfs import WebHdfsServer  # noqa: E402

REPORT_ROOT = "/reports/wordstream"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DISTINCT = 100_000


def make_messages(rng: random.Random) -> list[Message]:
    """2,000 messages over ~33 hours: every one of 100,000 words once, plus a common core."""
    vocab = [f"w{i:06d}" for i in range(DISTINCT)]
    common = vocab[:500]
    return [
        {
            "timestamp": T0 + i * 60_000,
            "value": " ".join(vocab[i * 50 : (i + 1) * 50] + rng.choices(common, k=20)),
        }
        for i in range(DISTINCT // 50)
    ]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_clients(
    host: str, port: int, ids: range, per_client: int, start_at: float
) -> tuple[dict[str, list[float]], int]:
    """Client threads `ids` run their requests from `start_at` (epoch s); latencies (ms), errors."""
    latencies: dict[str, list[float]] = {}
    errors = 0
    lock = threading.Lock()

    def client(k: int) -> None:
        nonlocal errors
        rng = random.Random(k)
        # http.client, not requests: the load generator must stay far lighter than the
        # server it measures (requests costs ~1 ms of CPU per call under one GIL).
        conn = http.client.HTTPConnection(host, port, timeout=30)
        time.sleep(max(0.0, start_at - time.time()))
        for _ in range(per_client):
            roll = rng.random()
            word = f"w{rng.randrange(DISTINCT):06d}"
            if roll < 0.45:
                kind, path = "page /", "/"
            elif roll < 0.55:
                kind, path = "page ?word=", f"/?word={quote(word)}"
            elif roll < 0.70:
                kind, path = "api summary", "/api/summary"
            elif roll < 0.80:
                kind, path = "api top?n=50", "/api/top?n=50"
            elif roll < 0.90:
                kind, path = "api word", f"/api/word/{word}"
            else:
                kind, path = "api hours", "/api/hours"
            t = time.perf_counter()
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                ok = False
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                latencies.setdefault(kind, []).append(elapsed)
                errors += 0 if ok else 1

    threads = [threading.Thread(target=client, args=(k,)) for k in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def serve_sources(urls: Queue[tuple[str, str]], stop: Event, tmp: str) -> None:
    """Child process: WebHDFS with the snapshot, and the worker views, until `stop` is set."""
    messages = make_messages(random.Random(7))
    with WebHdfsServer(Path(tmp), port=0) as hdfs:
        t = time.perf_counter()
        publish_batch(hdfs.url, REPORT_ROOT, messages)
        print(
            f"snapshot: {len(messages):,} messages, {DISTINCT:,} distinct words "
            f"written in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
        live = serve_live(messages)
        urls.put((hdfs.url, live.url))
        stop.wait()
        live.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests-per-client", type=int, default=40)
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--client-processes", type=int, default=5)
    args = parser.parse_args(argv)

    # The data sources run in their own process, as the worker and HDFS do in production,
    # so the 50 client threads here do not compete with them for one interpreter lock.
    urls: Queue[tuple[str, str]] = Queue()
    stop = multiprocessing.Event()
    with tempfile.TemporaryDirectory() as tmp:
        sources = Process(target=serve_sources, args=(urls, stop, tmp), daemon=True)
        sources.start()
        server = None
        try:
            hdfs_url, worker_url = urls.get(timeout=120)
            port = free_port()
            env = dict(
                os.environ,
                WORKER_URLS=worker_url,
                HDFS_URL=hdfs_url,
                REPORT_ROOT=REPORT_ROOT,
                KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",  # no broker: its box shows down
                CLOCK_PORT=str(free_port()),
            )
            cmd = [
                sys.executable,
                "-m",
                "gunicorn",
                "-k",
                "gthread",
                "-w",
                str(args.gunicorn_workers),
                "--threads",
                str(args.threads),
                "-b",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "web:create_app()",
            ]
            server = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
            if not wait_for_port("127.0.0.1", port, 30):
                raise SystemExit("gunicorn did not start within 30 s")
            base = f"http://127.0.0.1:{port}"
            # Warm every worker: the page, and the full word list (a word outside the top).
            for path in ["/", "/api/word/w099999", "/api/summary", "/api/top?n=50"] * 8:
                requests.get(base + path, timeout=30)
            # The client threads are spread over a few processes so that their own
            # interpreter lock does not add waiting time to what they measure.
            procs = min(args.client_processes, args.clients)
            start_at = time.time() + 1.0
            with ProcessPoolExecutor(procs) as pool:
                parts = [
                    pool.submit(
                        run_clients,
                        "127.0.0.1",
                        port,
                        range(i, args.clients, procs),
                        args.requests_per_client,
                        start_at,
                    )
                    for i in range(procs)
                ]
                latencies: dict[str, list[float]] = {}
                errors = 0
                for part in parts:
                    lat, err = part.result()
                    errors += err
                    for kind, values in lat.items():
                        latencies.setdefault(kind, []).extend(values)
            wall = time.time() - start_at
        finally:
            if server is not None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            stop.set()
            sources.join(timeout=30)

    total = sum(len(v) for v in latencies.values())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (shared; absolute times are noisy)")
    print(
        f"{args.clients} clients x {args.requests_per_client} requests = {total} "
        f"in {wall:.1f} s ({total / wall:.0f} req/s), gunicorn gthread "
        f"{args.gunicorn_workers} workers x {args.threads} threads"
    )
    print(f"{'requests':<14}{'count':>7}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    groups = {
        **{k: latencies[k] for k in sorted(latencies)},
        "page (all)": [v for k, vs in latencies.items() if k.startswith("page") for v in vs],
        "api (all)": [v for k, vs in latencies.items() if k.startswith("api") for v in vs],
    }
    figures = {}
    for kind, values in groups.items():
        p50, p95 = statistics.median(values), percentile(values, 95)
        figures[kind] = (p50, p95)
        print(f"{kind:<14}{len(values):>7}{p50:>9.1f}{p95:>9.1f}{max(values):>9.1f}")
    print(f"errors: {errors}")
    print(
        json.dumps(
            {
                "page_p50_ms": round(figures["page (all)"][0], 1),
                "page_p95_ms": round(figures["page (all)"][1], 1),
                "api_p95_ms": round(figures["api (all)"][1], 1),
                "errors": errors,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
