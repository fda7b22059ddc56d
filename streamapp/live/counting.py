"""The live layer's pure core: batch pre-aggregation and the idempotent apply rule.

No faust here. The agents in `streamapp.live.agents` feed batches of source records to
`aggregate` (per source partition: each word's occurrences, each message's word count),
pack them with `encode_partitions` into one record per table partition (one update per
distinct word, one for the totals), and the records' consumer folds them into table
rows with `apply_word`/`apply_totals`.

Idempotency (docs/live.md): an update lists the source *offsets* it counts, with a
count per offset (a word's occurrences in that message; for the totals, the message's
word count), in ascending order. A row keeps, per source (generation and partition,
`Source.key`), the highest offset it has applied (its high-water mark); applying an
update counts only its entries above that mark. Because every sender recounts the
same offsets identically, a replay -- however the replayed batches are cut -- only
carries entries at or below the mark, and applying it is a no-op. When a partition's
log starts again (`streamapp.live.lineage`), its offsets start again in a new generation,
under marks of their own.
"""

from __future__ import annotations

import bisect
import heapq
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from itertools import accumulate, pairwise
from typing import Any

import orjson

from streamapp.contract import HOUR_FORMAT, Source, hour_of, hour_start
from streamapp.tokenize import words

REJECTED = -1  # the word count a totals entry carries for a rejected (non-UTF-8) message
TOTALS_KEY = "totals"  # the one row of the totals table


@dataclass(frozen=True)
class SourceRecord:
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
class Slice:
    """What one batch holds of one source partition."""

    # word -> the offsets of its occurrences, ascending; an offset repeats as often as
    # the word does in that message. Plain lists: this is the per-occurrence hot path.
    words: dict[str, list[int]] = field(default_factory=dict)
    # One entry per message (for the totals): its hour, and word count or REJECTED.
    messages: Entries = field(default_factory=Entries)


@dataclass
class BatchCounts:
    """What a batch of source records turns into."""

    slices: dict[Source, Slice]
    rejected: list[tuple[Source, SourceRecord]]


def decode(value: bytes | None) -> str | None:
    """The message text, or None if the value is not valid UTF-8 (a null value is empty)."""
    if value is None:
        return ""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def aggregate(batch: Mapping[Source, Iterable[SourceRecord]]) -> BatchCounts:
    """Pre-aggregate a batch (records per source): per source, each word's occurrences
    and each message's word count."""
    slices: dict[Source, Slice] = {}
    rejected: list[tuple[Source, SourceRecord]] = []
    for source, records in batch.items():
        part = slices[source] = Slice()
        seen, by_word = part.messages, part.words
        for record in sorted(records, key=lambda r: r.offset):
            offset = record.offset
            text = decode(record.value)
            seen.offsets.append(offset)
            seen.hours.append(hour_of(record.timestamp_ms))
            if text is None:
                seen.counts.append(REJECTED)
                rejected.append((source, record))
                continue
            found = words(text)
            seen.counts.append(len(found))
            for word in found:
                offsets = by_word.get(word)
                if offsets is None:
                    by_word[word] = [offset]
                else:
                    offsets.append(offset)
    return BatchCounts(slices, rejected)


def word_entries(offsets: list[int], hour_at: Mapping[int, str]) -> Entries:
    """A word's entries in one slice from its occurrence offsets (repeats are counts)."""
    distinct: list[int] = []
    counts: list[int] = []
    for offset in offsets:
        if distinct and distinct[-1] == offset:
            counts[-1] += 1
        else:
            distinct.append(offset)
            counts.append(1)
    return Entries(distinct, [hour_at[o] for o in distinct], counts)


@lru_cache(maxsize=1 << 16)
def partition_for(key: str, partitions: int) -> int:
    """The table partition that owns `key` (stable across processes, unlike `hash`)."""
    return zlib.crc32(key.encode("utf-8")) % partitions


# --- wire format ------------------------------------------------------------------
#
# One JSON record per table partition: {"H": [hour labels], "w": {word: {source key:
# span}}, "t": {source key: span}} (the totals only in the partition
# that owns them). A span is [lo, hi, summary, detail]: the lowest and highest source
# offset it counts, per hour [hour index, entries, count, rejected], and the per-offset
# entries as a string "offset deltas|counts|hour indexes" (counts omitted when all 1,
# hour indexes when all entries share the first hour). The receiver needs only the
# summary unless a replay straddles a row's mark, so it decodes a few numbers per word
# and batch rather than a number per occurrence.

Summary = list[list[int]]  # [[hour index, entries, count, rejected], ...]


# [lo, hi, summary, detail] as decoded; or, in a batch within one hour, a bare offset
# for a key's one entry there with a count of 1 (most spans: a rare word).
Span = list[Any] | int
ONE_ENTRY: Summary = [[0, 1, 1, 0]]  # the summary of a bare-offset span
Spans = dict[str, Span]  # per source key (`Source.key`; before generations: the partition)


@dataclass
class Update:
    """A decoded update record: hour labels, spans per word, and the totals' spans."""

    labels: list[str]  # the hours the summaries and details index
    words: dict[str, Spans]
    totals: Spans | None


def span_entries(span: Span, labels: list[str]) -> Entries:
    """A span's per-offset entries (parsed on demand: only a straddled mark needs them)."""
    if isinstance(span, int):
        return Entries([span], [labels[0]], [1])
    deltas, counts, index = span[3].split("|")
    offsets = list(accumulate(map(int, deltas.split(","))))
    if index:
        hours = [labels[int(i)] for i in index.split(",")]
    else:
        hours = [labels[span[2][0][0]]] * len(offsets)
    n = len(offsets)
    return Entries(offsets, hours, [int(c) for c in counts.split(",")] if counts else [1] * n)


def summarize(entries: Entries, index: Mapping[str, int]) -> Summary:
    """Per hour (by `index`): [hour index, entries, count of valid entries, rejected]."""
    hours, counts = entries.hours, entries.counts
    if hours.count(hours[0]) == len(hours):
        rejected = counts.count(REJECTED)
        return [[index[hours[0]], len(counts), sum(counts) + rejected, rejected]]
    by_hour: dict[str, list[int]] = {}
    for hour, count in zip(hours, counts, strict=True):
        slot = by_hour.setdefault(hour, [index[hour], 0, 0, 0])
        slot[1] += 1
        if count == REJECTED:
            slot[3] += 1
        else:
            slot[2] += count
    return sorted(by_hour.values())


def _pack_one_hour(offsets: list[int]) -> Span:
    """`_pack` of a word's occurrence offsets when the whole batch falls in one hour."""
    lo, hi = offsets[0], offsets[-1]
    n = len(offsets)
    if n == 1:  # most spans: a rare word, once in the batch; see `ONE_ENTRY`
        return lo
    if len(set(offsets)) == n:  # no message repeats the word: every count is 1
        deltas = [b - a for a, b in pairwise(offsets)]
        return [lo, hi, [[0, n, n, 0]], f"{lo},{','.join(map(str, deltas))}||"]
    # Repeats: the general form, with every entry in the one hour (label index 0).
    return _pack(word_entries(offsets, dict.fromkeys(offsets, "")), {"": 0})


def _pack(entries: Entries, index: dict[str, int]) -> list[Any]:
    offsets, counts, hours = entries.offsets, entries.counts, entries.hours
    summary = summarize(entries, index)
    deltas = [offsets[0], *(b - a for a, b in pairwise(offsets))] if len(offsets) > 1 else offsets
    detail = "|".join(
        (
            ",".join(map(str, deltas)),
            "" if counts.count(1) == len(counts) else ",".join(map(str, counts)),
            "" if len(summary) == 1 else ",".join(str(index[h]) for h in hours),
        )
    )
    return [offsets[0], offsets[-1], summary, detail]


def encode_partitions(batch: BatchCounts, partitions: int) -> dict[int, bytes]:
    """One record per table partition: the updates of the words it owns, and the totals
    in the partition that owns `TOTALS_KEY` (which always gets a record)."""
    labels = sorted({h for part in batch.slices.values() for h in part.messages.hours})
    index = {h: i for i, h in enumerate(labels)}
    one_hour = len(labels) == 1
    by_table: dict[int, dict[str, dict[str, Any]]] = {}
    for source, part in batch.slices.items():
        key = source.key
        # Each offset's hour, needed only when the batch spans several hours.
        hour_at = (
            {} if one_hour else dict(zip(part.messages.offsets, part.messages.hours, strict=True))
        )
        for word, offsets in part.words.items():
            table = by_table.get(t := partition_for(word, partitions))
            if table is None:
                table = by_table[t] = {}
            spans = table.get(word)
            if spans is None:
                spans = table[word] = {}
            if one_hour:
                spans[key] = _pack_one_hour(offsets)
            else:
                spans[key] = _pack(word_entries(offsets, hour_at), index)
    totals = {
        source.key: _pack(part.messages, index)
        for source, part in batch.slices.items()
        if part.messages.offsets
    }
    totals_partition = partition_for(TOTALS_KEY, partitions)
    out: dict[int, bytes] = {}
    for table_partition in by_table.keys() | {totals_partition}:
        packed: dict[str, Any] = {"H": labels, "w": by_table.get(table_partition, {})}
        if table_partition == totals_partition:
            packed["t"] = totals
        out[table_partition] = orjson.dumps(packed)
    return out


# An update record that changes nothing. The write-behind writes a partition's held rows
# only while a record of that partition is current (faust writes a table key to the
# changelog partition of the current event), so a partition that went quiet gets one
# of these to take its turn (docs/live.md, "Write-behind").
TICK = orjson.dumps({"H": [], "w": {}})


def decode_partition(payload: bytes) -> Update:
    """Inverse of `encode_partitions` for one record."""
    packed = orjson.loads(payload)
    return Update(packed["H"], packed["w"], packed.get("t"))


# --- the idempotent apply rule --------------------------------------------------------


def _unseen(
    row: dict[str, Any], key: str, span: Span, labels: list[str], idem: bool
) -> tuple[Summary, int]:
    """What of `span` is above the row's mark for source partition `key`: its summary,
    and the number of entries skipped; then raise the mark to the span's last offset."""
    if isinstance(span, int):
        lo = hi = span
        summary = ONE_ENTRY
    else:
        lo, hi, summary, _ = span
    marks = row["s"]
    mark = marks.get(key)
    if mark is None:
        # Rows written before generations keyed their marks by the bare partition:
        # those marks are generation 0's.
        gen, _, partition = key.partition(":")
        mark = marks.pop(partition, -1) if gen == "0" else -1
        marks[key] = mark
    if hi > mark:
        marks[key] = hi
    if not idem or lo > mark:
        return summary, 0
    if hi <= mark:
        return [], sum(s[1] for s in summary)
    # A replay cut differently from the first pass: only here are offsets needed.
    entries = span_entries(span, labels)
    start = bisect.bisect_right(entries.offsets, mark)
    rest = Entries(entries.offsets[start:], entries.hours[start:], entries.counts[start:])
    return summarize(rest, {label: i for i, label in enumerate(labels)}), start


@lru_cache(maxsize=1024)
def _cutoff(newest: str, retention_hours: int) -> str:
    return (hour_start(newest) - timedelta(hours=retention_hours)).strftime(HOUR_FORMAT)


def _prune_hours(hours: dict[str, Any], retention_hours: int) -> None:
    """Drop hours older than `retention_hours` before the newest hour held (event time)."""
    if len(hours) < 2:
        return
    cutoff = _cutoff(max(hours), retention_hours)
    for hour in [h for h in hours if h < cutoff]:
        del hours[hour]


def apply_word(
    row: dict[str, Any] | None,
    spans: Mapping[str, Span],
    labels: list[str],
    idempotent: bool,
    retention_hours: int,
) -> tuple[dict[str, Any], int, int]:
    """Fold a word's spans into its row; return the row, occurrences added and entries skipped.

    A row is `{"n": all-time count, "h": {hour: count}, "s": {source partition: mark}}`.
    """
    row = row if row is not None else {"n": 0, "h": {}, "s": {}}
    per_hour = row["h"]
    added = skipped = 0
    new_hour = False
    for key, span in spans.items():
        summary, n_skipped = _unseen(row, key, span, labels, idempotent)
        skipped += n_skipped
        for hour_index, _, count, _ in summary:
            hour = labels[hour_index]
            if hour in per_hour:
                per_hour[hour] += count
            else:
                per_hour[hour] = count
                new_hour = True
            added += count
    row["n"] += added
    if new_hour:  # hours only age out when a newer one arrives
        _prune_hours(per_hour, retention_hours)
    return row, added, skipped


def _last_offsets(span: Span, labels: list[str], summary: Summary) -> dict[int, int]:
    """Per hour index of `summary`, the highest offset of `span` in that hour."""
    if isinstance(span, int):
        return {summary[0][0]: span}
    if len(summary) == 1:
        return {summary[0][0]: span[1]}
    index = {label: i for i, label in enumerate(labels)}
    entries = span_entries(span, labels)
    last: dict[int, int] = {}
    for offset, hour in zip(entries.offsets, entries.hours, strict=True):
        last[index[hour]] = offset  # ascending offsets: the last one seen is the highest
    return last


def apply_totals(
    row: dict[str, Any] | None,
    spans: Mapping[str, Span],
    labels: list[str],
    idempotent: bool,
    retention_hours: int,
) -> tuple[dict[str, Any], int, int]:
    """Fold a batch's message spans into the totals row; return it, entries added, skipped.

    The row is `{"n": [messages, words, rejected], "h": {hour: [messages, words]},
    "s": {source key: mark}, "g": {source key: [messages, words, rejected, last offset]},
    "c": {hour: {source key: [messages, words, last offset]}}}`: all-time totals, per
    hour, and the same per source (all time, and per hour: the cells the report
    reconciles with the batch's). Rejected messages count only as rejected.
    """
    row = row if row is not None else {"n": [0, 0, 0], "h": {}, "s": {}}
    totals = row["n"]
    per_hour = row["h"]
    per_source = row.setdefault("g", {})
    cells = row.setdefault("c", {})
    added = skipped = 0
    new_hour = False
    for key, span in spans.items():
        summary, n_skipped = _unseen(row, key, span, labels, idempotent)
        skipped += n_skipped
        if not summary:
            continue
        last_at = _last_offsets(span, labels, summary)
        source = per_source.get(key)
        if source is None:
            source = per_source[key] = [0, 0, 0, -1]
        for hour_index, entries, n_words, rejected in summary:
            added += entries
            totals[0] += entries - rejected
            totals[1] += n_words
            totals[2] += rejected
            source[0] += entries - rejected
            source[1] += n_words
            source[2] += rejected
            source[3] = max(source[3], last_at[hour_index])
            if entries == rejected:
                continue
            hour = labels[hour_index]
            slot = per_hour.get(hour)
            if slot is None:
                slot = per_hour[hour] = [0, 0]
                new_hour = True
            slot[0] += entries - rejected
            slot[1] += n_words
            cell = cells.setdefault(hour, {}).get(key)
            if cell is None:
                cell = cells[hour][key] = [0, 0, -1]
            cell[0] += entries - rejected
            cell[1] += n_words
            cell[2] = max(cell[2], last_at[hour_index])
    if new_hour:
        _prune_hours(per_hour, retention_hours)
        for hour in [h for h in cells if h not in per_hour]:
            del cells[hour]
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
