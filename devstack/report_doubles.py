"""Doubles of the report's two data sources, for its tests and benchmark.

- `serve_live(messages)` answers the worker views (contracts section 3) for a list of
  messages with a stdlib HTTP server: a double of pure data, standing in for the faust
  worker in unit-level tests of the page.
- `publish_batch(hdfs_url, report_root, messages)` writes a snapshot in the contract
  format (section 2) into a real WebHDFS server, standing in for a Spark run; a real
  batch run (archive the same messages, run `spark_jobs`) can replace it unchanged.

Both count messages with the project's tokenizer; a message is a dict with
`timestamp` (ms) and either `value` (text) or `value_b64` (rejected, non-UTF-8 bytes),
and optionally its source log `gen`, `partition` (default 0) and `offset` (default: the
next offset of its log in list order, see `numbered`). Both sides keep per (hour,
source log) cells computed from the same messages.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from hdfs import InsecureClient

from streamapp.tokenize import words

Message = dict[str, Any]


def numbered(messages: list[Message]) -> list[Message]:
    """Copies of `messages` with `gen`, `partition` and `offset` filled in.

    A message without an offset takes the next one of its log (`gen:partition`) in list
    order, so a list and any list extending it number their common prefix alike.
    """
    after: dict[tuple[int, int], int] = {}
    result = []
    for m in messages:
        log = (int(m.get("gen", 0)), int(m.get("partition", 0)))
        offset = int(m["offset"]) if "offset" in m else after.get(log, -1) + 1
        after[log] = max(offset, after.get(log, -1))
        result.append({**m, "gen": log[0], "partition": log[1], "offset": offset})
    return result


def source_of(m: Message) -> str:
    """A numbered message's source log, `<gen>:<partition>` as in the contracts."""
    return f"{m['gen']}:{m['partition']}"


def _hour(ms: int) -> str:
    return datetime.fromtimestamp(ms // 3_600_000 * 3600, tz=UTC).strftime("%Y-%m-%dT%H:00:00Z")


@dataclass
class Counts:
    """What both layers compute from the same messages."""

    messages: int = 0
    words: int = 0
    rejected: int = 0
    per_word: Counter[str] = field(default_factory=Counter)
    hours: dict[str, list[int]] = field(default_factory=dict)  # hour -> [messages, words]
    hour_words: Counter[tuple[str, str]] = field(default_factory=Counter)
    # `<gen>:<partition>` -> [messages, words, rejected, last offset], as the worker's /sources
    sources: dict[str, list[int]] = field(default_factory=dict)
    # (hour, `<gen>:<partition>`) -> [messages, words, first offset, last offset] of valid ones
    cells: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # `<gen>:<partition>` -> last offset, valid or rejected (the snapshot's coverage)
    covered: dict[str, int] = field(default_factory=dict)
    by_word: dict[str, dict[str, int]] = field(default_factory=dict)  # word -> hour -> count

    def top(self, n: int) -> list[dict[str, Any]]:
        ranked = sorted(self.per_word.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [{"word": w, "count": c} for w, c in ranked]

    def hour_list(self) -> list[dict[str, Any]]:
        return [{"hour": h, "messages": m, "words": w} for h, (m, w) in sorted(self.hours.items())]

    def cell_keys(self) -> list[tuple[str, str]]:
        """Cells ascending by hour, then generation and partition (the contracts' order)."""
        return sorted(self.cells, key=lambda k: (k[0], *map(int, k[1].split(":"))))

    def live_cells(self) -> list[dict[str, Any]]:
        """The worker's `/sources` cells."""
        return [
            {"hour": h, "source": s, "messages": m, "words": w, "last_offset": last}
            for (h, s) in self.cell_keys()
            for m, w, _, last in [self.cells[h, s]]
        ]

    def batch_cells(self) -> list[dict[str, Any]]:
        """The snapshot's `cells`."""
        return [
            {
                "hour": h,
                "partition": s,
                "messages": m,
                "words": w,
                "first_offset": first,
                "last_offset": last,
            }
            for (h, s) in self.cell_keys()
            for m, w, first, last in [self.cells[h, s]]
        ]

    def word_hours(self, word: str) -> dict[str, int]:
        """One word's per-hour counts (as the worker's `/word/{w}?hours=1`)."""
        return dict(sorted(self.by_word.get(word, {}).items()))


def count(messages: list[Message]) -> Counts:
    c = Counts()
    for m in numbered(messages):
        key = source_of(m)
        source = c.sources.setdefault(key, [0, 0, 0, -1])
        source[3] = max(source[3], m["offset"])
        c.covered[key] = max(m["offset"], c.covered.get(key, -1))
        if "value" not in m:
            c.rejected += 1
            source[2] += 1
            continue
        ws = words(m["value"])
        source[0] += 1
        source[1] += len(ws)
        hour = _hour(m["timestamp"])
        cell = c.cells.setdefault((hour, key), [0, 0, m["offset"], m["offset"]])
        cell[0] += 1
        cell[1] += len(ws)
        cell[2] = min(cell[2], m["offset"])
        cell[3] = max(cell[3], m["offset"])
        c.messages += 1
        c.words += len(ws)
        c.per_word.update(ws)
        c.hour_words.update((hour, w) for w in ws)
        for w in ws:
            seen = c.by_word.setdefault(w, {})
            seen[hour] = seen.get(hour, 0) + 1
        per_hour = c.hours.setdefault(hour, [0, 0])
        per_hour[0] += 1
        per_hour[1] += len(ws)
    return c


class _Server(ThreadingHTTPServer):
    # The stdlib default backlog of 5 drops bursts of connections (clients then retry
    # after a 1 s SYN timeout); real worker web servers listen with a deep backlog.
    request_queue_size = 128
    daemon_threads = True


class LiveServer:
    """A worker-views server on a free loopback port; `url` is its base URL."""

    def __init__(
        self, messages: list[Message], status: str = "ok", answers: dict[str, Any] | None = None
    ) -> None:
        self.counts = count(messages)
        health, fixed, server = status, answers or {}, self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like a real worker's web server

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url, counts = urlsplit(self.path), server.counts
                if url.path in fixed:  # a scripted answer, e.g. a hostile word
                    return self._send(200, fixed[url.path])
                if url.path == "/totals":
                    return self._send(
                        200,
                        {
                            "messages": counts.messages,
                            "words": counts.words,
                            "rejected": counts.rejected,
                        },
                    )
                if url.path == "/top":
                    n = int(parse_qs(url.query).get("n", ["10"])[0])
                    if not 1 <= n <= 1000:
                        return self._send(400, {"error": "n out of range"})
                    return self._send(200, {"top": counts.top(n)})
                if url.path == "/hours":
                    return self._send(200, {"hours": counts.hour_list()})
                if url.path == "/sources":
                    listed = [
                        {"source": k, "messages": m, "words": w, "rejected": r, "last_offset": o}
                        for k, (m, w, r, o) in sorted(counts.sources.items())
                    ]
                    return self._send(200, {"sources": listed, "cells": counts.live_cells()})
                if url.path == "/health":
                    return self._send(200, {"status": health, "assigned": [0, 1]})
                if url.path.startswith("/word/"):
                    ws = words(unquote(url.path[len("/word/") :]))
                    if len(ws) != 1:
                        return self._send(400, {"error": "not exactly one word"})
                    body = {"word": ws[0], "count": counts.per_word[ws[0]]}
                    if parse_qs(url.query).get("hours") == ["1"]:
                        body["hours"] = counts.word_hours(ws[0])
                    return self._send(200, body)
                return self._send(404, {"error": "no such view"})

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def feed(self, messages: list[Message]) -> None:
        """From now on answer for `messages` (e.g. the old ones plus newly arrived)."""
        self.counts = count(messages)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def serve_live(
    messages: list[Message], status: str = "ok", answers: dict[str, Any] | None = None
) -> LiveServer:
    """Start answering the worker views for `messages`; call `.stop()` when done.

    `answers` maps a view path (e.g. "/top") to a fixed JSON body served instead.
    """
    return LiveServer(messages, status, answers)


def publish_batch(
    hdfs_url: str,
    report_root: str,
    messages: list[Message],
    *,
    run_id: str = "20260101T020000Z",
    corrupt: int = 0,
    part_size: int = 50_000,
    cells: bool = True,
    hour_words: bool = True,
) -> str:
    """Write one complete snapshot run of `messages` and point `latest` at it; returns its path.

    `cells=False` writes a snapshot as runs did before they had per-partition cells;
    `hour_words=False` leaves out the `hour_words/` part files.
    """
    client = InsecureClient(hdfs_url)
    c = count(messages)
    stamps = [m["timestamp"] for m in messages]
    run = f"{report_root}/runs/{run_id}"
    started = (
        f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}Z"
    )
    summary = {
        "run_id": run_id,
        "started_at": started,
        "finished_at": started,
        "spark_version": "test-helper",
        "archive": "/data/data_stream",
        "input_files": 1,
        "coverage": {
            "partitions": dict(sorted(c.covered.items())),
            "first_timestamp_ms": min(stamps) if stamps else None,
            "last_timestamp_ms": max(stamps) if stamps else None,
        },
        "totals": {
            "messages": c.messages,
            "words": c.words,
            "distinct_words": len(c.per_word),
            "rejected": c.rejected,
            "corrupt": corrupt,
        },
        "hours": c.hour_list(),
        "top": c.top(1000),
    }
    if cells:
        summary["cells"] = c.batch_cells()
    # Bytes, not str: the hdfs package uploads a str with `encoding` one character per chunk.
    client.write(f"{run}/summary.json", json.dumps(summary).encode(), overwrite=True)
    ranked = c.top(len(c.per_word))
    for i in range(0, max(len(ranked), 1), part_size):
        lines = "".join(json.dumps(e) + "\n" for e in ranked[i : i + part_size])
        client.write(f"{run}/words/part-{i // part_size:05d}.json", lines.encode(), overwrite=True)
    hour_lines = "".join(
        json.dumps({"hour": h, "word": w, "count": n}) + "\n"
        for (h, w), n in sorted(c.hour_words.items())
    )
    if hour_words:
        client.write(f"{run}/hour_words/part-00000.json", hour_lines.encode(), overwrite=True)
    client.write(f"{run}/_SUCCESS", "", overwrite=True)
    write_json(
        client,
        f"{report_root}/last_run.json",
        {
            "run_id": run_id,
            "state": "success",
            "started_at": started,
            "finished_at": started,
            "error": None,
        },
    )
    write_json(client, f"{report_root}/latest", {"run_id": run_id, "path": run})
    return run


def write_json(client: InsecureClient, path: str, body: dict[str, Any]) -> None:
    """Replace a small JSON file: write a temporary name, then rename it into place."""
    tmp = path.rsplit("/", 1)[0] + "/_tmp." + path.rsplit("/", 1)[1]
    client.write(tmp, json.dumps(body).encode(), overwrite=True)
    client.delete(path)
    client.rename(tmp, path)


def publish_batch_with_spark(
    spark: Any, hdfs_url: str, report_root: str, messages: list[Message]
) -> str:
    """The real thing: archive `messages` (contract section 1) and run the Spark job over them.

    Same data in, same place out as `publish_batch`; returns the run's path.
    """
    from spark_jobs.options import JobOptions
    from spark_jobs.wordcount import run
    from tests.spark_jobs.archive_format import Message as Archived
    from tests.spark_jobs.batch_support import write_archive

    client = InsecureClient(hdfs_url)
    archived = [
        Archived(
            gen=m["gen"],
            partition=m["partition"],
            offset=m["offset"],
            timestamp=m["timestamp"],
            value=m["value"] if "value" in m else base64.b64decode(m["value_b64"]),
        )
        for m in numbered(messages)
    ]
    write_archive(client, "/data/data_stream", [a for a in archived if isinstance(a.value, str)])
    write_archive(
        client, "/data/data_stream_rejected", [a for a in archived if isinstance(a.value, bytes)]
    )
    base = "webhdfs://" + urlsplit(hdfs_url).netloc
    # A few messages: one shuffle partition spares dozens of tiny tasks (restored after).
    before = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "1")
    try:
        summary = run(
            spark,
            JobOptions(
                archive=base + "/data/data_stream",
                rejected=base + "/data/data_stream_rejected",
                report_root=base + report_root,
            ),
        )
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    return f"{report_root}/runs/{summary['run_id']}"
