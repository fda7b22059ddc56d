"""The exact top words of one table partition, kept as counts grow: no scan of the rows.

Pure: no faust here. All-time counts only grow, so a partition's top `size` words (by
count descending, then word ascending: the contract's order) change only when a word's
count rises: a word already in the top moves up; a word outside enters when it now
beats the last of a full top, which it pushes out. A pushed-out word can only come back
through a later rise of its own count, which is offered again. So offering every new
count keeps the top exact, and a view reads it in O(what it shows) instead of reading
every word row.

`offer` keeps the higher of two counts for a word, so it also merges a scan of the
stored rows (a rebuild) with updates that arrive while the scan runs: an older count
read from the table never replaces a newer one. See docs/live.md, "Top words".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypedDict

from sortedcontainers import SortedList

from streamapp.contract import TOP_MAX

FORMAT = 1  # the stored row's format version


class TopRow(TypedDict):
    """A partition's top as stored in the `live-top` table: format version and entries."""

    v: int
    top: list[tuple[str, int]]  # (word, count), best first


class TopN:
    """The `size` words with the highest counts among those offered, exactly."""

    def __init__(self, size: int = TOP_MAX, entries: Iterable[tuple[str, int]] = ()) -> None:
        self.size = size
        self._counts: dict[str, int] = {}
        # (-count, word): ascending order is the contract's order, so the last is the
        # entry a better newcomer pushes out.
        self._order: SortedList = SortedList()
        self.changed = False  # set by an offer that changed the top; cleared by the caller
        for word, count in entries:
            self.offer(word, count)

    def __len__(self) -> int:
        return len(self._counts)

    def offer(self, word: str, count: int) -> None:
        """`word` now has (at least) `count`; keep it if it belongs in the top."""
        old = self._counts.get(word)
        if old is not None:
            if count <= old:
                return
            self._order.remove((-old, word))
        elif len(self._counts) >= self.size:
            last = self._order[-1]
            # Most offers in a large vocabulary: a rare word, below the last entry.
            if (-count, word) >= last:
                return
            self._order.pop()
            del self._counts[last[1]]
        self._counts[word] = count
        self._order.add((-count, word))
        self.changed = True

    def top(self, n: int) -> list[tuple[str, int]]:
        """The best `n` (word, count), best first."""
        return [(word, -negative) for negative, word in self._order[:n]]

    def encode(self) -> TopRow:
        """The stored form (see `TopRow`)."""
        return {"v": FORMAT, "top": self.top(self.size)}

    @classmethod
    def decode(cls, row: TopRow, size: int = TOP_MAX) -> TopN | None:
        """Inverse of `encode`; None for another format version (rebuild from the rows)."""
        if row.get("v") != FORMAT:
            return None
        return cls(size, ((word, count) for word, count in row["top"]))
