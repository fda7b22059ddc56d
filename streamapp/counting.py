"""The live layer's pure core: batch pre-aggregation and the idempotent apply rule.

No faust here. The agents in `streamapp.agents` feed batches of source records to
`aggregate` (one update per distinct word, one for the totals), pack the updates of
each table partition into one record, and the records' consumer folds them into table
rows with `apply_word`/`apply_totals`.

Idempotency (docs/live.md): an update lists the source *offsets* it counts, with a
count per offset (a word's occurrences in that message; for the totals, the message's
word count), in ascending order. A row keeps,
per source partition, the highest offset it has applied (its high-water mark); applying
an update counts only its entries above that mark. Because every sender recounts the
same offsets identically, a replay -- however the replayed batches are cut -- only
carries entries at or below the mark, and applying it is a no-op.
"""

from __future__ import annotations

import bisect
import heapq
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate, pairwise
from typing import Any

from streamapp.tokenize import words

HOUR_MS = 3_600_000
REJECTED = -1  # the word count a totals entry carries for a rejected (non-UTF-8) message
TOTALS_KEY = "totals"  # the one row of the totals table


@dataclass(frozen=True)
class Record:
    """One source message: its offset, Kafka timestamp (ms), raw value and raw key."""

    offset: int
    timestamp_ms: int
    value: bytes | None
    key: bytes | None = None


@dataclass
class Entries:
    """What one batch holds of one source partition, for one key: ascending offsets."""

    offsets: list[int] = field(default_factory=list)  # distinct source offsets
    hours: list[str] = field(default_factory=list)  # the hour of each offset's message
    # Per offset: the word's occurrences in that message; for the totals, the message's
    # word count, or REJECTED.
    counts: list[int] = field(default_factory=list)


@dataclass
class WordUpdate:
    """Occurrences of one word in one batch, per source partition."""

    word: str
    parts: dict[int, Entries] = field(default_factory=dict)


@dataclass
class TotalsUpdate:
    """One batch as seen by the totals: one entry per message, per source partition."""

    parts: dict[int, Entries] = field(default_factory=dict)


@dataclass
class Batch:
    """What a batch of source records turns into."""

    word_updates: list[WordUpdate]
    totals: TotalsUpdate
    rejected: list[tuple[int, Record]]  # (source partition, record)


@lru_cache(maxsize=4096)
def _hour_label(hour_index: int) -> str:
    return datetime.fromtimestamp(hour_index * 3600, UTC).strftime("%Y-%m-%dT%H:00:00Z")


def hour_of(timestamp_ms: int) -> str:
    """The UTC hour (contract format `YYYY-MM-DDTHH:00:00Z`) a Kafka timestamp falls in."""
    return _hour_label(timestamp_ms // HOUR_MS)


def decode(value: bytes | None) -> str | None:
    """The message text, or None if the value is not valid UTF-8 (a null value is empty)."""
    if value is None:
        return ""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def aggregate(batch: Mapping[int, Iterable[Record]]) -> Batch:
    """Pre-aggregate a batch (records per source partition) into one update per word."""
    by_word: dict[str, WordUpdate] = {}
    totals = TotalsUpdate()
    rejected: list[tuple[int, Record]] = []
    for partition, records in batch.items():
        seen = totals.parts[partition] = Entries()
        for record in sorted(records, key=lambda r: r.offset):
            text = decode(record.value)
            hour = hour_of(record.timestamp_ms)
            seen.offsets.append(record.offset)
            seen.hours.append(hour)
            if text is None:
                seen.counts.append(REJECTED)
                rejected.append((partition, record))
                continue
            found = words(text)
            seen.counts.append(len(found))
            for word, count in Counter(found).items():
                update = by_word.get(word)
                if update is None:
                    update = by_word[word] = WordUpdate(word)
                entries = update.parts.get(partition)
                if entries is None:
                    entries = update.parts[partition] = Entries()
                entries.offsets.append(record.offset)
                entries.hours.append(hour)
                entries.counts.append(count)
    return Batch(list(by_word.values()), totals, rejected)


def partition_for(key: str, partitions: int) -> int:
    """The table partition that owns `key` (stable across processes, unlike `hash`)."""
    return zlib.crc32(key.encode("utf-8")) % partitions


# --- wire format (JSON, compact: offsets delta-encoded, hours indexed, counts of 1 implied)


def _pack(entries: Entries) -> dict[str, Any]:
    offsets = entries.offsets
    hours = entries.hours
    # Most entries of a batch fall in one hour: check that before building an index.
    distinct = [hours[0]] if hours.count(hours[0]) == len(hours) else sorted(set(hours))
    packed: dict[str, Any] = {
        "o": [offsets[0], *(b - a for a, b in pairwise(offsets))] if len(offsets) > 1 else offsets,
        "h": distinct,
    }
    if len(distinct) > 1:
        index = {h: i for i, h in enumerate(distinct)}
        packed["i"] = [index[h] for h in entries.hours]
    if entries.counts.count(1) != len(entries.counts):
        packed["c"] = entries.counts
    return packed


def _unpack(packed: dict[str, Any]) -> Entries:
    offsets = list(accumulate(packed["o"]))
    distinct = packed["h"]
    hours = [distinct[i] for i in packed["i"]] if "i" in packed else distinct * len(offsets)
    return Entries(offsets, hours, packed.get("c") or [1] * len(offsets))


def _pack_parts(parts: Mapping[int, Entries]) -> dict[str, Any]:
    return {str(p): _pack(e) for p, e in parts.items() if e.offsets}


def _unpack_parts(packed: dict[str, Any]) -> dict[int, Entries]:
    return {int(p): _unpack(e) for p, e in packed.items()}


def encode_partition(words: Iterable[WordUpdate], totals: TotalsUpdate | None) -> bytes:
    """One record for one table partition: its words' updates (and the totals, if it owns them)."""
    packed: dict[str, Any] = {"w": {u.word: _pack_parts(u.parts) for u in words}}
    if totals is not None:
        packed["t"] = _pack_parts(totals.parts)
    return json.dumps(packed, ensure_ascii=False, separators=(",", ":")).encode()


def decode_partition(
    payload: bytes,
) -> tuple[dict[str, dict[int, Entries]], dict[int, Entries] | None]:
    """Inverse of `encode_partition`: entries per source partition, per word and totals."""
    packed = json.loads(payload)
    by_word = {word: _unpack_parts(parts) for word, parts in packed["w"].items()}
    totals = _unpack_parts(packed["t"]) if "t" in packed else None
    return by_word, totals


def split_by_partition(batch: Batch, partitions: int) -> dict[int, list[WordUpdate]]:
    """The batch's word updates grouped by the table partition that owns each word."""
    grouped: dict[int, list[WordUpdate]] = {}
    for update in batch.word_updates:
        grouped.setdefault(partition_for(update.word, partitions), []).append(update)
    return grouped


# --- the idempotent apply rule --------------------------------------------------------


def _new_entries(row: dict[str, Any], partition: int, offsets: list[int], idem: bool) -> int:
    """Index of the first entry above the row's high-water mark for this source partition."""
    marks = row["s"]
    key = str(partition)
    start = 0
    if idem and key in marks:
        start = bisect.bisect_right(offsets, marks[key])
    if offsets:
        marks[key] = max(marks.get(key, -1), offsets[-1])
    return start


@lru_cache(maxsize=1024)
def _cutoff(newest: str, retention_hours: int) -> str:
    newest_start = datetime.strptime(newest, "%Y-%m-%dT%H:00:00Z")
    return (newest_start - timedelta(hours=retention_hours)).strftime("%Y-%m-%dT%H:00:00Z")


def _prune_hours(hours: dict[str, Any], retention_hours: int) -> None:
    """Drop hours older than `retention_hours` before the newest hour held (event time)."""
    if len(hours) < 2:
        return
    cutoff = _cutoff(max(hours), retention_hours)
    for hour in [h for h in hours if h < cutoff]:
        del hours[hour]


def apply_word(
    row: dict[str, Any] | None,
    parts: Mapping[int, Entries],
    idempotent: bool,
    retention_hours: int,
) -> tuple[dict[str, Any], int, int]:
    """Fold a word's entries into its row; return the row, occurrences added and skipped.

    A row is `{"n": all-time count, "h": {hour: count}, "s": {source partition: mark}}`.
    """
    row = row if row is not None else {"n": 0, "h": {}, "s": {}}
    per_hour = row["h"]
    added = skipped = 0
    for partition, entries in parts.items():
        start = _new_entries(row, partition, entries.offsets, idempotent)
        skipped += sum(entries.counts[:start])
        for hour, count in zip(entries.hours[start:], entries.counts[start:], strict=True):
            per_hour[hour] = per_hour.get(hour, 0) + count
            added += count
    row["n"] += added
    _prune_hours(per_hour, retention_hours)
    return row, added, skipped


def apply_totals(
    row: dict[str, Any] | None,
    parts: Mapping[int, Entries],
    idempotent: bool,
    retention_hours: int,
) -> tuple[dict[str, Any], int, int]:
    """Fold a batch's message entries into the totals row; return it, entries added, skipped.

    The row is `{"n": [messages, words, rejected], "h": {hour: [messages, words]},
    "s": {source partition: mark}}`; rejected messages count only as rejected.
    """
    row = row if row is not None else {"n": [0, 0, 0], "h": {}, "s": {}}
    totals = row["n"]
    per_hour = row["h"]
    added = skipped = 0
    for partition, entries in parts.items():
        start = _new_entries(row, partition, entries.offsets, idempotent)
        skipped += start
        added += len(entries.offsets) - start
        for n_words, hour in zip(entries.counts[start:], entries.hours[start:], strict=True):
            if n_words == REJECTED:
                totals[2] += 1
                continue
            totals[0] += 1
            totals[1] += n_words
            slot = per_hour.setdefault(hour, [0, 0])
            slot[0] += 1
            slot[1] += n_words
    _prune_hours(per_hour, retention_hours)
    return row, added, skipped


# --- views: merging what each worker holds ---------------------------------------------


def top_n(counts: Iterable[tuple[str, int]], n: int) -> list[tuple[str, int]]:
    """The `n` most frequent words: count descending, then word ascending (the contract)."""
    return heapq.nsmallest(n, counts, key=lambda wc: (-wc[1], wc[0]))


def merge_hours(parts: Iterable[dict[str, Sequence[int]]]) -> list[dict[str, Any]]:
    """Sum per-hour `[messages, words]` maps into the contract's ascending hour list."""
    merged: dict[str, list[int]] = {}
    for part in parts:
        for hour, (messages, n_words) in part.items():
            slot = merged.setdefault(hour, [0, 0])
            slot[0] += messages
            slot[1] += n_words
    return [{"hour": h, "messages": m, "words": w} for h, (m, w) in sorted(merged.items())]
