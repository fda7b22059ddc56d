"""Unit tests of the live layer's pure core: pre-aggregation and the idempotent apply rule."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streamapp.contract import HOUR_MS, Source, hour_of
from streamapp.live import counting
from streamapp.live.counting import SourceRecord
from streamapp.tokenize import words

HOUR = HOUR_MS
T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z


def apply_batch(rows: dict[str, Any], batch: counting.BatchCounts, idempotent: bool = True) -> None:
    """What the agents do, on plain dicts (word rows, "" the totals row), over the wire."""
    for partition, payload in counting.encode_partitions(batch, 4).items():
        update = counting.decode_partition(payload)
        labels = update.labels
        for word, spans in update.words.items():
            assert counting.partition_for(word, 4) == partition
            rows[word], _, _ = counting.apply_word(
                rows.get(word), spans, labels, idempotent, 10_000
            )
        if update.totals is not None:
            assert partition == counting.partition_for(counting.TOTALS_KEY, 4)
            rows[""], _, _ = counting.apply_totals(
                rows.get(""), update.totals, labels, idempotent, 10_000
            )


def aggregate(records: Mapping[int, Iterable[SourceRecord]], gen: int = 0) -> counting.BatchCounts:
    """`counting.aggregate` of records per source partition, all in generation `gen`."""
    return counting.aggregate({Source(gen, p): r for p, r in records.items()})


def S(partition: int, gen: int = 0) -> Source:
    return Source(gen, partition)


def word_counts(rows: dict[str, Any]) -> dict[str, int]:
    return {w: row["n"] for w, row in rows.items() if w and row["n"]}


def test_aggregate_keeps_each_words_occurrences_per_source_partition() -> None:
    records = {
        0: [
            SourceRecord(5, T0, "Été, ÉTÉ et e\u0301te\u0301 !".encode()),
            SourceRecord(6, T0, b""),
        ],
        1: [SourceRecord(2, T0 + HOUR, "été 😀 مرحبا".encode()), SourceRecord(3, T0, b"\xff\xfe")],
    }
    batch = aggregate(records)
    assert sorted(batch.slices[S(0)].words) == ["et", "été"]
    assert batch.slices[S(0)].words["été"] == [5, 5, 5]  # three occurrences in message 5
    assert batch.slices[S(1)].words == {"été": [2], "مرحبا": [2]}
    assert batch.slices[S(1)].messages.offsets[0] == 2
    assert batch.slices[S(1)].messages.hours[0] == hour_of(T0 + HOUR)
    assert batch.slices[S(0)].messages.counts == [4, 0]  # the empty message counts, with 0 words
    assert batch.slices[S(1)].messages.counts == [2, counting.REJECTED]
    assert batch.rejected == [(S(1), records[1][1])]


def test_aggregate_sorts_each_partition_by_offset() -> None:
    batch = aggregate({0: [SourceRecord(9, T0, b"b a"), SourceRecord(4, T0, b"a")]})
    assert batch.slices[S(0)].words["a"] == [4, 9]
    assert batch.slices[S(0)].messages.offsets == [4, 9]


def test_encode_sends_one_record_per_owning_partition_and_always_the_totals() -> None:
    batch = aggregate({0: [SourceRecord(i, T0, f"w{i}".encode()) for i in range(40)]})
    payloads = counting.encode_partitions(batch, 4)
    owners = {counting.partition_for(f"w{i}", 4) for i in range(40)}
    assert set(payloads) == owners | {counting.partition_for(counting.TOTALS_KEY, 4)}
    empty = counting.encode_partitions(aggregate({0: [SourceRecord(0, T0, b"")]}), 4)
    assert list(empty) == [counting.partition_for(counting.TOTALS_KEY, 4)]


def test_decode_rejects_invalid_utf8_and_keeps_valid_text() -> None:
    assert counting.decode("naïve 😀".encode()) == "naïve 😀"
    assert counting.decode(b"") == ""
    assert counting.decode(None) == ""  # a null value is an empty message
    for bad in (b"\xff", b"caf\xe9", b"\xc3(", b"\xed\xa0\x80", b"ok \xf0\x9f\x98"):
        assert counting.decode(bad) is None


def test_wire_format_round_trips_several_hours_and_counts() -> None:
    a, b, c = (hour_of(T0 + h * HOUR) for h in (0, 1, 2))
    records = {
        3: [
            SourceRecord(7, T0 + 2 * HOUR, b"x"),
            SourceRecord(9, T0 + HOUR, b"x x x x x"),
            SourceRecord(10, T0, b"x"),
            SourceRecord(400, T0 + HOUR, b"x x"),
        ],
        0: [SourceRecord(1, T0, b"x")],
        2: [SourceRecord(4, T0, b""), SourceRecord(5, T0, b"\xff")],
    }
    payloads = counting.encode_partitions(aggregate(records), 4)
    update = counting.decode_partition(payloads[counting.partition_for("x", 4)])
    totals = counting.decode_partition(
        payloads[counting.partition_for(counting.TOTALS_KEY, 4)]
    ).totals
    x, labels = update.words["x"], update.labels
    assert counting.span_entries(x["0:3"], labels) == counting.Entries(
        [7, 9, 10, 400], [c, b, a, b], [1, 5, 1, 2]
    )
    assert counting.span_entries(x["0:0"], labels) == counting.Entries([1], [a], [1])
    assert x["0:3"][:2] == [7, 400]  # lowest and highest offset
    assert totals is not None
    assert counting.span_entries(totals["0:2"], labels) == counting.Entries(
        [4, 5], [a, a], [0, counting.REJECTED]
    )
    # The summary alone (what the receiver reads) per hour: [index, entries, count, rejected].
    assert [[labels[i], *rest] for i, *rest in x["0:3"][2]] == [
        [a, 1, 1, 0],
        [b, 2, 7, 0],
        [c, 1, 1, 0],
    ]
    assert totals["0:2"][2] == [[labels.index(a), 2, 0, 1]]


def test_a_replay_straddling_the_mark_counts_only_the_new_offsets() -> None:
    rows: dict[str, Any] = {}
    log = [SourceRecord(i, T0 + (i // 3) * HOUR, b"a a b" if i % 2 else b"a") for i in range(8)]
    apply_batch(rows, aggregate({0: log[:4]}))
    apply_batch(rows, aggregate({0: log[2:8]}))  # offsets 2-3 again, 4-7 new
    assert rows["a"]["n"] == 12 and rows["b"]["n"] == 4
    assert rows[""]["n"] == [8, 16, 0]
    assert sum(rows["a"]["h"].values()) == 12


def test_replayed_batch_is_a_no_op_and_new_entries_count_once() -> None:
    rows: dict[str, Any] = {}
    log = [SourceRecord(i, T0, f"w{i % 3} common".encode()) for i in range(10)]
    apply_batch(rows, aggregate({0: log[:6]}))
    # A replay from offset 2, cut differently: offsets 2-5 were applied, 6-9 are new.
    apply_batch(rows, aggregate({0: log[2:8]}))
    apply_batch(rows, aggregate({0: log[8:]}))
    apply_batch(rows, aggregate({0: log[4:10]}))
    expected = Counter(w for r in log for w in words(r.value.decode()))  # type: ignore[union-attr]
    assert word_counts(rows) == dict(expected)
    assert rows[""]["n"] == [10, 20, 0]


def test_without_idempotency_a_replay_double_counts() -> None:
    rows: dict[str, Any] = {}
    log = [SourceRecord(i, T0, b"a") for i in range(4)]
    apply_batch(rows, aggregate({0: log}), idempotent=False)
    apply_batch(rows, aggregate({0: log[2:]}), idempotent=False)
    assert rows["a"]["n"] == 6


def test_source_partitions_have_independent_marks() -> None:
    rows: dict[str, Any] = {}
    apply_batch(rows, aggregate({0: [SourceRecord(50, T0, b"a")]}))
    apply_batch(rows, aggregate({1: [SourceRecord(3, T0, b"a")]}))
    assert rows["a"]["n"] == 2
    assert rows["a"]["s"] == {"0:0": 50, "0:1": 3}


def test_totals_count_rejected_apart_and_per_hour() -> None:
    rows: dict[str, Any] = {}
    apply_batch(
        rows,
        aggregate(
            {
                0: [
                    SourceRecord(0, T0, b"a b"),
                    SourceRecord(1, T0 + HOUR, b"c"),
                    SourceRecord(2, T0, b"\xff"),
                ]
            }
        ),
    )
    assert rows[""]["n"] == [2, 3, 1]
    assert rows[""]["h"] == {hour_of(T0): [1, 2], hour_of(T0 + HOUR): [1, 1]}


def test_per_hour_counts_expire_after_the_retention() -> None:
    batch = aggregate({0: [SourceRecord(i, T0 + h * HOUR, b"w") for i, h in enumerate((0, 1, 5))]})
    payload = counting.encode_partitions(batch, 4)[counting.partition_for("w", 4)]
    update = counting.decode_partition(payload)
    row, added, _ = counting.apply_word(
        None, update.words["w"], update.labels, True, retention_hours=4
    )
    assert added == 3 and row["n"] == 3  # the all-time count keeps everything
    assert sorted(row["h"]) == [hour_of(T0 + HOUR), hour_of(T0 + 5 * HOUR)]


def test_top_n_orders_by_count_then_word() -> None:
    counts = [("b", 2), ("a", 2), ("c", 5), ("d", 1)]
    assert counting.top_n(counts, 3) == [("c", 5), ("a", 2), ("b", 2)]


def test_merge_hours_sums_and_sorts() -> None:
    merged = counting.merge_hours([{"h2": [1, 2]}, {"h1": [3, 4], "h2": [10, 20]}])
    assert merged == [
        {"hour": "h1", "messages": 3, "words": 4},
        {"hour": "h2", "messages": 11, "words": 22},
    ]


def test_partition_for_is_stable_and_in_range() -> None:
    assert counting.partition_for("été", 4) == counting.partition_for("été", 4)
    assert {counting.partition_for(f"w{i}", 4) for i in range(100)} == {0, 1, 2, 3}


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_any_sequence_of_replays_counts_each_message_once(data: st.DataObject) -> None:
    """Runs restart at or before the point the previous one reached (a replay from the
    last committed offset) and cut their batches at their own random offsets."""
    text = st.lists(st.sampled_from(["a", "b", "é", "😀", "", "\udcff"]), max_size=4)
    logs: list[list[SourceRecord]] = []
    for p in range(2):
        texts = data.draw(st.lists(text.map(" ".join), max_size=30), label=f"log{p}")
        logs.append(
            [
                SourceRecord(i, T0 + i * 600_000, t.encode("utf-8", "surrogatepass"))
                for i, t in enumerate(texts)
            ]
        )
    rows: dict[str, Any] = {}
    reached = [0, 0]
    for _ in range(data.draw(st.integers(1, 4), label="runs")):
        for p, log in enumerate(logs):
            start = data.draw(st.integers(0, reached[p]), label="restart at")
            stop = data.draw(st.integers(start, len(log)), label="stop at")
            cuts = sorted(data.draw(st.lists(st.integers(start, stop), max_size=4), label="cuts"))
            bounds = [start, *cuts, stop]
            for lo, hi in pairwise(bounds):
                if hi > lo:
                    apply_batch(rows, aggregate({p: log[lo:hi]}))
            reached[p] = max(reached[p], stop)
    for p, log in enumerate(logs):  # catch up from a last restart point
        start = data.draw(st.integers(0, reached[p]), label="final restart")
        if len(log) > start:
            apply_batch(rows, aggregate({p: log[start:]}))
    decoded = [counting.decode(r.value) for log in logs for r in log]
    valid = [text for text in decoded if text is not None]
    expected = Counter(w for text in valid for w in words(text))
    assert word_counts(rows) == dict(expected)
    n_rejected = len(decoded) - len(valid)
    if any(logs):
        assert rows[""]["n"] == [len(valid), sum(expected.values()), n_rejected]
    # Per hour, too: messages and words in the totals row, each word's own hours.
    per_hour: dict[str, list[int]] = {}
    word_hours: Counter[tuple[str, str]] = Counter()
    for log in logs:
        for r in log:
            text = counting.decode(r.value)
            if text is None:
                continue
            hour = hour_of(r.timestamp_ms)
            slot = per_hour.setdefault(hour, [0, 0])
            slot[0] += 1
            slot[1] += len(words(text))
            word_hours.update((w, hour) for w in words(text))
    assert rows.get("", {"h": {}})["h"] == per_hour
    held = Counter({(w, h): c for w, row in rows.items() if w for h, c in row["h"].items() if c})
    assert held == word_hours


def test_a_tick_decodes_to_an_update_that_changes_nothing() -> None:
    update = counting.decode_partition(counting.TICK)
    assert update.words == {} and update.totals is None


def test_a_source_key_parses_back() -> None:
    assert Source.parse(Source(3, 12).key) == Source(3, 12)
