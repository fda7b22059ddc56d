"""The incremental top words (`streamapp.live.topn`) against a full sort of every count."""

from __future__ import annotations

from collections import Counter

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streamapp.live import counting
from streamapp.live.topn import TopN

SIZE = 5  # small, so that words keep entering and leaving the top
PARTITIONS = 3
WORDS = [f"w{i:02d}" for i in range(40)]


def full_sort(counts: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))[:n]


def owner(word: str) -> int:
    return counting.partition_for(word, PARTITIONS)


# An update: a word's count rises; "flush": a partition's top is written (its stored
# row); "restart": every in-memory top is lost (a crash, or a rebalance moving every
# partition); "rebuild": a partition without a stored row is rebuilt from its rows.
updates = st.tuples(st.just("update"), st.sampled_from(WORDS), st.integers(1, 3))
flushes = st.tuples(st.just("flush"), st.integers(0, PARTITIONS - 1), st.just(0))
restarts = st.tuples(st.just("restart"), st.just(""), st.just(0))
rebuilds = st.tuples(st.just("rebuild"), st.integers(0, PARTITIONS - 1), st.integers(0, 40))
ops = st.lists(st.one_of(updates, updates, updates, flushes, restarts, rebuilds), max_size=300)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_the_kept_top_equals_a_full_sort_under_updates_restarts_and_rebuilds(
    steps: list[tuple[str, str | int, int]],
) -> None:
    rows: Counter[str] = Counter()  # every word's count, as the table holds it
    stored: dict[int, bytes] = {}  # each partition's written top row
    live: dict[int, TopN] = {}
    # Words changed since their partition's top was written: a restart replays them,
    # and a replay offers each row's count again (streamapp.live.agents._apply_update).
    replay: dict[int, set[str]] = {p: set() for p in range(PARTITIONS)}

    def top_of(partition: int) -> TopN:
        if partition not in live:
            row = stored.get(partition)
            top = TopN.decode(orjson.loads(row), SIZE) if row is not None else None
            if top is None:  # nothing stored: rebuild from the rows in one go
                top = TopN(SIZE, ((w, c) for w, c in rows.items() if owner(w) == partition))
            for word in replay[partition]:
                top.offer(word, rows[word])
            live[partition] = top
        return live[partition]

    for op, arg, k in steps:
        if op == "update":
            assert isinstance(arg, str)
            rows[arg] += k
            replay[owner(arg)].add(arg)
            top_of(owner(arg)).offer(arg, rows[arg])
        elif op == "flush":
            assert isinstance(arg, int)
            stored[arg] = orjson.dumps(top_of(arg).encode())
            replay[arg].clear()
        elif op == "restart":
            live.clear()
        else:
            # A rebuild reads rows one by one while updates keep arriving: the rows it
            # reads late may be older than what was offered meanwhile.
            assert isinstance(arg, int)
            snapshot = [(w, c) for w, c in rows.items() if owner(w) == arg]
            top = live[arg] = TopN(SIZE)
            for i, (word, count) in enumerate(snapshot):
                if i == k % (len(snapshot) + 1):  # an update lands mid-scan
                    for late in WORDS[:3]:
                        if owner(late) == arg:
                            rows[late] += 2
                            replay[arg].add(late)
                            top.offer(late, rows[late])
                top.offer(word, count)
        for partition in range(PARTITIONS):
            mine = Counter({w: c for w, c in rows.items() if owner(w) == partition})
            assert top_of(partition).top(SIZE) == full_sort(mine, SIZE)
        merged = counting.top_n((wc for p in range(PARTITIONS) for wc in live[p].top(SIZE)), SIZE)
        assert merged == full_sort(rows, SIZE)


def test_a_rare_word_does_not_enter_a_full_top_and_a_rising_one_does() -> None:
    top = TopN(2, [("a", 5), ("b", 3)])
    top.changed = False
    top.offer("c", 3)  # ties with the last, but "b" < "c": stays out
    assert top.top(2) == [("a", 5), ("b", 3)] and not top.changed
    top.offer("c", 4)
    assert top.top(2) == [("a", 5), ("c", 4)] and top.changed
    top.offer("a", 2)  # an older count never lowers a kept one
    assert top.top(1) == [("a", 5)]
    top.offer("b", 4)  # ties with the last, and "b" < "c": pushes it out
    assert top.top(2) == [("a", 5), ("b", 4)]


def test_a_stored_top_of_another_format_asks_for_a_rebuild() -> None:
    assert TopN.decode({"v": 99, "top": []}) is None  # type: ignore[typeddict-item]
    row = TopN(3, [("x", 1)]).encode()
    restored = TopN.decode(orjson.loads(orjson.dumps(row)), 3)
    assert restored is not None and restored.top(3) == [("x", 1)]
