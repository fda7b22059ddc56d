"""The worker's HTTP views (docs/contracts.md section 3), correct with several workers.

Each worker serves `/_local/*`: what the live tables hold in the partitions it owns,
plus which partitions those are. A public view gathers `/_local/*` from every worker
the partition assignor knows (itself without a request), checks that together they
cover every table partition, and merges. A read during a rebalance, when some
partition has no owner yet, is a 503, never a silent 0.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any

import aiohttp
from faust import web

from streamapp import counting
from streamapp.agents import PARTITIONS, pending, tops, totals_table, word_table
from streamapp.app import app, source_topic
from streamapp.metrics import setup_metrics
from streamapp.tokenize import words
from streamapp.topn import TOP_MAX

GATHER_TIMEOUT_S = 5.0

# faust's own metrics (events, commits, rebalances, table ops) and wordstream's
# counters (defined in streamapp.agents) share prometheus_client's default registry.
setup_metrics(app, "/metrics")


class ViewError(Exception):
    """A request the views answer with a JSON error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _ready() -> bool:
    return (
        app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        and not app.rebalancing
        and bool(app.consumer.assignment())
    )


def _local_partitions() -> list[int]:
    """Table partitions this worker owns (actives of the word table's changelog)."""
    topic = word_table.changelog_topic.get_topic_name()
    return sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)


def _local_summary(n: int) -> dict[str, Any]:
    """What this worker holds: totals/hours (if it owns that row) and its local top `n`.

    The top comes from each owned partition's kept top words (`streamapp.topn`): O(n)
    per partition, whatever the vocabulary. A partition whose top is still being rebuilt
    is left out of `partitions` when `n` > 0, so the public view answers 503, not a guess.
    """
    if not _ready():
        return {"ready": False, "partitions": []}
    partitions = _local_partitions()
    top: list[tuple[str, int]] = []
    if n:
        complete = {p: t for p in partitions if (t := tops.complete(p)) is not None}
        partitions = sorted(complete)
        top = counting.top_n((wc for t in complete.values() for wc in t.top(n)), n)
    totals: list[int] | None = None
    hours: dict[str, list[int]] = {}
    sources: dict[str, list[int]] = {}
    cells: dict[str, dict[str, list[int]]] = {}
    # Rows the write-behind holds are newer than the table's (see streamapp.pending).
    totals_row = pending.totals()
    if totals_row is None:
        totals_row = next(iter(totals_table.values()), None)
    if totals_row is not None:
        totals, hours = totals_row["n"], totals_row["h"]
        sources, cells = totals_row.get("g", {}), totals_row.get("c", {})
    return {
        "ready": True,
        "partitions": partitions,
        "totals": totals,
        "hours": hours,
        "sources": sources,
        "cells": cells,
        "top": top,
    }


def _local_word(word: str) -> dict[str, Any]:
    if not _ready():
        return {"ready": False, "partitions": []}
    partitions = _local_partitions()
    count = 0
    hours: dict[str, int] = {}
    partition = counting.partition_for(word, PARTITIONS)
    if partition in partitions:
        row = pending.word(partition, word) or word_table.get(word)
        if row:
            count, hours = row["n"], row["h"]
    return {"ready": True, "partitions": partitions, "count": count, "hours": hours}


async def _gather(path: str, local: dict[str, Any]) -> list[dict[str, Any]]:
    """`local` plus every other worker's answer to `path`; 503 unless all partitions are owned."""
    me = str(app.conf.canonical_url).rstrip("/")
    others = [str(h).rstrip("/") for h in app.router.tables_metadata()]
    others = [h for h in others if h != me]
    answers = [local]
    if others:
        session = app.http_client
        timeout = aiohttp.ClientTimeout(total=GATHER_TIMEOUT_S)

        async def fetch(host: str) -> dict[str, Any]:
            try:
                async with session.get(f"{host}{path}", timeout=timeout) as resp:
                    resp.raise_for_status()
                    result: dict[str, Any] = await resp.json()
                    return result
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ViewError(503, f"worker {host} did not answer: {exc}") from None

        answers += await asyncio.gather(*(fetch(h) for h in others))
    # A worker that is starting or rebalancing answers "not ready" with no counts; two
    # workers may both claim a partition while they learn of a new assignment at
    # different moments. Either way the sum would not be the whole truth, once.
    ready = [a for a in answers if a.get("ready")]
    claims = Counter(p for a in ready for p in a["partitions"])
    twice = sorted(p for p, n in claims.items() if n > 1)
    if twice:
        raise ViewError(503, f"table partitions {twice} are claimed by two workers (rebalancing)")
    missing = sorted(set(range(PARTITIONS)) - set(claims))
    if missing:
        raise ViewError(
            503, f"table partitions {missing} have no ready owner yet (starting or rebalancing)"
        )
    return ready


def _parse_n(query: Mapping[str, str], low: int = 1) -> int:
    raw = query.get("n", "10")
    try:
        n = int(raw)
    except ValueError:
        raise ViewError(400, f"n={raw!r} is not a whole number") from None
    if not low <= n <= TOP_MAX:
        raise ViewError(400, f"n={n} is out of range: use {low} <= n <= {TOP_MAX}")
    return n


def _error(view: web.View, exc: ViewError) -> web.Response:
    return view.json({"error": str(exc)}, status=exc.status)


@app.page("/_local/summary")
async def local_summary(self: web.View, request: web.Request) -> web.Response:
    """Internal: this worker's share (used by the public views of every worker)."""
    try:
        return self.json(_local_summary(_parse_n(request.query, low=0)))
    except ViewError as exc:
        return _error(self, exc)


@app.page("/_local/word/{word}")
async def local_word(self: web.View, request: web.Request, word: str) -> web.Response:
    """Internal: the count of an already normalised word, if this worker owns it."""
    return self.json(_local_word(word))


async def _summaries(n: int) -> list[dict[str, Any]]:
    return await _gather(f"/_local/summary?n={n}", _local_summary(n))


@app.page("/totals")
async def totals(self: web.View, request: web.Request) -> web.Response:
    """`{"messages", "words", "rejected"}` over every partition."""
    try:
        answers = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    messages = n_words = rejected = 0
    for answer in answers:
        if answer["totals"]:
            m, w, r = answer["totals"]
            messages, n_words, rejected = messages + m, n_words + w, rejected + r
    return self.json({"messages": messages, "words": n_words, "rejected": rejected})


@app.page("/top")
async def top(self: web.View, request: web.Request) -> web.Response:
    """The N most frequent words (`?n=`, 1-1000, default 10)."""
    try:
        n = _parse_n(request.query)
        answers = await _summaries(n)
    except ViewError as exc:
        return _error(self, exc)
    # Each word lives in one partition, so the global top N is within the local tops.
    merged = counting.top_n((tuple(wc) for a in answers for wc in a["top"]), n)
    return self.json({"top": [{"word": w, "count": c} for w, c in merged]})


@app.page("/word/{word}")
async def word_count(self: web.View, request: web.Request, word: str) -> web.Response:
    """The all-time count of one word (normalised with the tokenizer first).

    `?hours=1` adds `"hours": {hour: count}`, the word's per-hour counts the tables hold.
    """
    found = words(word)
    if len(found) != 1:
        return self.json({"error": f"{word!r} is not exactly one word"}, status=400)
    (normalised,) = found
    try:
        answers = await _gather(f"/_local/word/{normalised}", _local_word(normalised))
    except ViewError as exc:
        return _error(self, exc)
    body: dict[str, Any] = {"word": normalised, "count": sum(a["count"] for a in answers)}
    if request.query.get("hours") == "1":
        # One worker owns the word's row; the others answer an empty map.
        body["hours"] = dict(sorted(h for a in answers for h in a.get("hours", {}).items()))
    return self.json(body)


@app.page("/hours")
async def hours(self: web.View, request: web.Request) -> web.Response:
    """Per-hour messages and words, ascending, for every hour the tables still hold."""
    try:
        answers = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    return self.json({"hours": counting.merge_hours(a["hours"] for a in answers)})


@app.page("/sources")
async def sources(self: web.View, request: web.Request) -> web.Response:
    """What was counted per source log (`<gen>:<partition>`): all time, and per hour."""
    try:
        answers = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    # One worker owns the totals row; the others answer empty maps.
    per_source = {k: v for a in answers for k, v in a.get("sources", {}).items()}
    per_cell = [
        (hour, k, v)
        for a in answers
        for hour, row in a.get("cells", {}).items()
        for k, v in row.items()
    ]
    return self.json(
        {
            "sources": [
                {"source": k, "messages": m, "words": w, "rejected": r, "last_offset": last}
                for k, (m, w, r, last) in sorted(
                    per_source.items(), key=lambda kv: counting.Source.parse(kv[0])
                )
            ],
            "cells": [
                {"hour": h, "source": k, "messages": m, "words": w, "last_offset": last}
                for h, k, (m, w, last) in sorted(
                    per_cell, key=lambda c: (c[0], counting.Source.parse(c[1]))
                )
            ],
        }
    )


@app.page("/health")
async def health(self: web.View, request: web.Request) -> web.Response:
    """`{"status": "ok"|"starting", "assigned": [source partitions]}`."""
    assigned = sorted(
        tp.partition
        for tp in app.consumer.assignment()
        if tp.topic == source_topic.get_topic_name()
    )
    return self.json({"status": "ok" if _ready() else "starting", "assigned": assigned})
