"""The worker's HTTP views (docs/contracts.md section 3), correct with several workers.

Each worker serves `/_local/*`: one share (`streamapp.live.shares`) per table partition it
can read, as the partition's ready owner or from a local replica (a standby copy, or a
partition it is still taking over). A public view gathers `/_local/*` from every worker
the partition assignor knows (itself without a request), takes each partition's best
share and merges. An answer that used a replica says so in `"behind"`; a partition no
worker can read (starting, or no replica) is a 503, never a silent 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
from aiokafka.errors import IllegalStateError
from faust import web
from faust.types import TP

from streamapp.app import app, source_topic
from streamapp.contract import TOP_MAX, Source
from streamapp.live import counting
from streamapp.live.agents import PARTITIONS, current, top_table, tops, totals_table, word_table
from streamapp.live.shares import Picked, Share, pick
from streamapp.live.topn import TopN
from streamapp.metrics import setup_metrics
from streamapp.tokenize import words

log = logging.getLogger(__name__)

GATHER_TIMEOUT_S = 5.0
# The table partition whose rows hold the totals (and per-hour, per-source counts).
TOTALS_PARTITION = counting.partition_for(counting.TOTALS_KEY, PARTITIONS)

# faust's own metrics (events, commits, rebalances, table ops) and wordstream's
# counters (defined in streamapp.live.agents) share prometheus_client's default registry.
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


def _table_partitions(tps: Iterable[TP]) -> set[int]:
    topic = word_table.changelog_topic.get_topic_name()
    return {tp.partition for tp in tps if tp.topic == topic}


def _owned() -> set[int]:
    """Table partitions this worker serves as their ready owner."""
    return _table_partitions(app.assignor.assigned_actives()) if _ready() else set()


def _replicas(owned: set[int]) -> list[int]:
    """Table partitions this worker has a local copy of without being their ready owner:
    its standbys, and during a rebalance or recovery what it owned or is taking over."""
    assignor = app.assignor
    held = _table_partitions(assignor.assigned_actives() | assignor.assigned_standbys())
    return sorted(held - owned)


def _open_db(table: Any, partition: int) -> Any | None:
    """The RocksDB of `table`'s `partition` if faust has it open, else None.

    Only databases faust opened itself (to apply a standby's changelog, to recover, or
    as the owner) are read: opening one here could take a partition's lock from under
    faust, and an unopened one may be empty for want of data, not for want of words.
    """
    dbs: dict[int, Any] = table.data._dbs
    return dbs.get(partition)


def _read(table: Any, partition: int, key: str) -> Any:
    """`table[key]` from the local copy of `partition` (None if it has no such row)."""
    store = table.data
    raw = store._dbs[partition].get(store._encode_key(key))
    return None if raw is None else store._decode_value(raw)


def _persisted(table: Any, partition: int) -> int | None:
    """The last changelog offset the local copy of `table`'s `partition` applied."""
    return table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), partition))


def _behind(partition: int, tables: Iterable[Any]) -> int | None:
    """Changelog records of `partition` the local copies have not applied (None: unknown)."""
    assigned = app.consumer.assignment()
    total = 0
    for table in tables:
        tp = TP(table.changelog_topic.get_topic_name(), partition)
        try:
            highwater = app.consumer.highwater(tp) if tp in assigned else None
        except (AssertionError, IllegalStateError):
            # Revoked by a rebalance since `assigned` was read: aiokafka refuses.
            highwater = None
        if highwater is None:
            return None
        persisted = _persisted(table, partition)
        # The dev broker may report a highwater one below faust's own last offset.
        total += max(0, highwater - 1 - (-1 if persisted is None else persisted))
    return total


def _has_copy(partition: int, tables: Iterable[Any]) -> bool:
    """Whether every table in `tables` has a local copy of `partition` with something in it.

    A copy that applied no changelog record yet (faust opens an owner's database at
    assignment, before recovery) would read as zeros: it is no copy.
    """
    for table in tables:
        if _open_db(table, partition) is None:
            return False
        if _persisted(table, partition) is None:
            return False
    return True


def _applied(partition: int, tables: Iterable[Any]) -> int | None:
    """The changelog offsets the local copies of `partition` applied, summed (None if a
    copy applied nothing)."""
    offsets = [_persisted(table, partition) for table in tables]
    return None if None in offsets else sum(o for o in offsets if o is not None)


def _replica_share(partition: int, tables: list[Any], data: dict[str, Any]) -> Share:
    return Share(
        partition=partition,
        replica=True,
        behind=_behind(partition, tables),
        applied=_applied(partition, tables),
        data=data,
    )


def _local_summary(n: int) -> list[Share]:
    """This worker's shares: the totals row (in TOTALS_PARTITION's share) and top `n`.

    An owned partition's top comes from its kept top words (`streamapp.live.topn`), O(n)
    whatever the vocabulary; one whose top is still being rebuilt is left out when
    `n` > 0, so the view answers from elsewhere or 503, not a guess.
    """
    owned = _owned()
    shares: list[Share] = []
    for p in sorted(owned):
        data: dict[str, Any] = {}
        if n:
            top = tops.complete(p)
            if top is None:
                continue
            data["top"] = top.top(n)
        if p == TOTALS_PARTITION:
            data["totals"] = current.totals()
        shares.append(Share(partition=p, replica=False, behind=0, applied=None, data=data))
    for p in _replicas(owned):
        tables = [word_table, top_table] if n else [word_table]
        if p == TOTALS_PARTITION:
            tables.append(totals_table)
        if not _has_copy(p, tables):
            continue
        data = {}
        if n:
            row = _read(top_table, p, str(p))
            kept = None if row is None else TopN.decode(row)
            if kept is None:
                continue
            data["top"] = kept.top(n)
        if p == TOTALS_PARTITION:
            data["totals"] = _read(totals_table, p, counting.TOTALS_KEY)
        shares.append(_replica_share(p, tables, data))
    return shares


def _local_word(word: str) -> list[Share]:
    """The share of the partition that owns `word` (an already normalised word), if any."""
    partition = counting.partition_for(word, PARTITIONS)
    owned = _owned()
    if partition in owned:
        row = current.word(partition, word)
        data = {"count": row["n"], "hours": row["h"]} if row else {"count": 0, "hours": {}}
        return [Share(partition=partition, replica=False, behind=0, applied=None, data=data)]
    if partition in _replicas(owned) and _has_copy(partition, [word_table]):
        row = _read(word_table, partition, word)
        data = {"count": row["n"], "hours": row["h"]} if row else {"count": 0, "hours": {}}
        return [_replica_share(partition, [word_table], data)]
    return []


async def _gather(path: str, local: list[Share], partitions: Iterable[int] = ()) -> Picked:
    """Each table partition's best share from `local` and every other worker's answer to
    `path` (`partitions`: those the view needs, default all); 503 if one has none.

    A worker that does not answer (dead, or hung past GATHER_TIMEOUT_S) is left out:
    the replicas of its partitions answer for it.
    """
    me = str(app.conf.canonical_url).rstrip("/")
    others = [str(h).rstrip("/") for h in app.router.tables_metadata()]
    others = [h for h in others if h != me]
    failures: list[str] = []
    answers = [local]
    if others:
        session = app.http_client
        timeout = aiohttp.ClientTimeout(total=GATHER_TIMEOUT_S)

        async def fetch(host: str) -> list[Share]:
            try:
                async with session.get(f"{host}{path}", timeout=timeout) as resp:
                    resp.raise_for_status()
                    result: dict[str, Any] = await resp.json()
                    found: list[Share] = result.get("shares", [])
                    return found
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(f"worker {host} did not answer: {exc}")
                return []
            except RuntimeError:
                # A clean stop closes faust's HTTP client while the web server still
                # answers: a refusal, not a server error.
                if not session.closed:
                    raise
                raise ViewError(503, "this worker is stopping") from None

        answers += await asyncio.gather(*(fetch(h) for h in others))
    picked = pick(answers, partitions or range(PARTITIONS))
    if picked.twice:
        raise ViewError(
            503, f"table partitions {picked.twice} are claimed by two workers (rebalancing)"
        )
    if picked.missing:
        reasons = "; ".join(failures) or "starting or rebalancing"
        raise ViewError(
            503, f"table partitions {picked.missing} have no ready owner or replica ({reasons})"
        )
    return picked


def _answer(view: web.View, body: dict[str, Any], picked: Picked) -> web.Response:
    """`body`, with `"behind"` when some partitions were read from replicas."""
    behind = picked.behind()
    if behind is not None:
        body["behind"] = behind
    return view.json(body)


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
    """Internal: this worker's shares (used by the public views of every worker)."""
    try:
        return self.json({"shares": _local_summary(_parse_n(request.query, low=0))})
    except ViewError as exc:
        return _error(self, exc)


@app.page("/_local/word/{word}")
async def local_word(self: web.View, request: web.Request, word: str) -> web.Response:
    """Internal: the share holding an already normalised word, if this worker has one."""
    return self.json({"shares": _local_word(word)})


async def _summaries(n: int) -> Picked:
    return await _gather(f"/_local/summary?n={n}", _local_summary(n))


def _totals_row(picked: Picked) -> dict[str, Any]:
    """The totals row of the chosen TOTALS_PARTITION share ({} before anything counted)."""
    row: dict[str, Any] | None = picked.shares[TOTALS_PARTITION]["data"].get("totals")
    return row or {}


@app.page("/totals")
async def totals(self: web.View, request: web.Request) -> web.Response:
    """`{"messages", "words", "rejected"}` over every partition (`"behind"`: see module doc)."""
    try:
        picked = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    messages, n_words, rejected = _totals_row(picked).get("n") or (0, 0, 0)
    return _answer(self, {"messages": messages, "words": n_words, "rejected": rejected}, picked)


@app.page("/top")
async def top(self: web.View, request: web.Request) -> web.Response:
    """The N most frequent words (`?n=`, 1-1000, default 10)."""
    try:
        n = _parse_n(request.query)
        picked = await _summaries(n)
    except ViewError as exc:
        return _error(self, exc)
    # Each word lives in one partition, so the global top N is within the local tops.
    merged = counting.top_n(
        (tuple(wc) for s in picked.shares.values() for wc in s["data"]["top"]), n
    )
    return _answer(self, {"top": [{"word": w, "count": c} for w, c in merged]}, picked)


@app.page("/word/{word}")
async def word_count(self: web.View, request: web.Request, word: str) -> web.Response:
    """The all-time count of one word (normalised with the tokenizer first).

    `?hours=1` adds `"hours": {hour: count}`, the word's per-hour counts the tables hold.
    """
    found = words(word)
    if len(found) != 1:
        return self.json({"error": f"{word!r} is not exactly one word"}, status=400)
    (normalised,) = found
    partition = counting.partition_for(normalised, PARTITIONS)
    try:
        picked = await _gather(f"/_local/word/{normalised}", _local_word(normalised), [partition])
    except ViewError as exc:
        return _error(self, exc)
    data = picked.shares[partition]["data"]
    body: dict[str, Any] = {"word": normalised, "count": data["count"]}
    if request.query.get("hours") == "1":
        body["hours"] = dict(sorted(data["hours"].items()))
    return _answer(self, body, picked)


@app.page("/hours")
async def hours(self: web.View, request: web.Request) -> web.Response:
    """Per-hour messages and words, ascending, for every hour the tables still hold."""
    try:
        picked = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    return _answer(
        self, {"hours": counting.merge_hours([_totals_row(picked).get("h", {})])}, picked
    )


@app.page("/sources")
async def sources(self: web.View, request: web.Request) -> web.Response:
    """What was counted per source log (`<gen>:<partition>`): all time, and per hour."""
    try:
        picked = await _summaries(0)
    except ViewError as exc:
        return _error(self, exc)
    row = _totals_row(picked)
    per_source: dict[str, list[int]] = row.get("g", {})
    per_cell = [(h, k, v) for h, cell in row.get("c", {}).items() for k, v in cell.items()]
    return _answer(
        self,
        {
            "sources": [
                {"source": k, "messages": m, "words": w, "rejected": r, "last_offset": last}
                for k, (m, w, r, last) in sorted(
                    per_source.items(), key=lambda kv: Source.parse(kv[0])
                )
            ],
            "cells": [
                {"hour": h, "source": k, "messages": m, "words": w, "last_offset": last}
                for h, k, (m, w, last) in sorted(per_cell, key=lambda c: (c[0], Source.parse(c[1])))
            ],
        },
        picked,
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
