"""Write-behind for the live tables: rows change in memory, reach the table once per flush.

Pure: no faust here. Writing a faust table row costs a RocksDB put, a JSON encode and a
changelog record, and a busy word changes in every batch; written through, those writes
were most of the worker's time. So `apply_updates` folds each update into the in-memory
row of its table partition and holds the update event unacked; every `interval_s` (or
`max_rows` changed rows) it writes each changed row once and only then acks the events.

Why a crash loses nothing: faust commits an update's offset only once it is acked, so
everything not yet written to the table is replayed after a restart, and the idempotent
rule (`streamapp.live.counting`) makes the part that did reach the table a no-op. The same
holds when partitions move to another worker: `drop` forgets the unwritten rows and
their events, and the new owner replays them. See docs/live.md, "Write-behind".
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class Unwritten(Generic[T]):
    """One table partition's rows changed since its last flush, and the events behind them."""

    since: float  # monotonic time of the first change
    words: dict[str, Row] = field(default_factory=dict)
    totals: Row | None = None
    events: list[T] = field(default_factory=list)


class WriteBehind(Generic[T]):
    """Changed rows per table partition, flushed by age or by count."""

    def __init__(self, interval_s: float, max_rows: int, max_clean: int = 100_000) -> None:
        self.interval_s = interval_s
        self.max_rows = max_rows
        self.max_clean = max_clean
        self._held: dict[int, Unwritten[T]] = {}
        # Incremented by `drop`: a flush that spans event-loop turns stops when it changes.
        self.generation = 0
        # Rows as last written (a word lives in one partition, so words are unique keys):
        # the next change of a word starts from here instead of a RocksDB read and a JSON
        # decode. At most `max_clean` rows, least recently written out first, so memory
        # stays flat however large the vocabulary; a row pushed out costs one read later.
        self._clean: OrderedDict[str, Row] = OrderedDict()

    def partition(self, partition: int, now: float) -> Unwritten[T]:
        """The held state of `partition`, started at `now` if nothing is held."""
        held = self._held.get(partition)
        if held is None:
            held = self._held[partition] = Unwritten(since=now)
        return held

    def due(self, partition: int, now: float) -> bool:
        """True when `partition`'s rows should be written now."""
        held = self._held.get(partition)
        if held is None:
            return False
        return now - held.since >= self.interval_s or len(held.words) >= self.max_rows

    def holds(self, partition: int) -> bool:
        """True when `partition` has unwritten rows or unacked events."""
        return partition in self._held

    def overdue(self, now: float) -> list[int]:
        """The partitions whose rows should have been written by `now`."""
        return [p for p in self._held if self.due(p, now)]

    def take(self, partition: int) -> Unwritten[T] | None:
        """Remove and return what `partition` holds (to write it and ack its events).

        The rows stay known as written, for `take_written`.
        """
        held = self._held.pop(partition, None)
        if held is not None:
            clean = self._clean
            clean.update(held.words)  # held words left `clean`: they go in last
            for _ in range(len(clean) - self.max_clean):
                clean.popitem(last=False)
        return held

    def take_written(self, word: str) -> Row | None:
        """The row of `word` as this worker last wrote it, if still known; the caller
        changes it, so it leaves the clean rows (it is held again from then on)."""
        return self._clean.pop(word, None)

    def clean_rows(self) -> int:
        """How many written rows are kept in memory (at most `max_clean`)."""
        return len(self._clean)

    def drop(self) -> int:
        """Forget every unwritten row and event (partitions revoked); return rows dropped.

        Rows written before are forgotten too: the partition may come back after
        another worker changed them.
        """
        dropped = sum(len(h.words) + (h.totals is not None) for h in self._held.values())
        self.generation += 1
        self._held.clear()
        self._clean.clear()
        return dropped

    def word(self, partition: int, word: str) -> Row | None:
        """The newest row of `word` this worker knows (held, or being written), if any.

        A flush writes its rows over several event-loop turns (see agents._flush); until
        then the table may hold an older row, so the rows it took are looked up too.
        """
        held = self._held.get(partition)
        row = None if held is None else held.words.get(word)
        return row if row is not None else self._clean.get(word)

    def totals(self) -> Row | None:
        """The unwritten totals row, if any partition holds one."""
        for held in self._held.values():
            if held.totals is not None:
                return held.totals
        return None
