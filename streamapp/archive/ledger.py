"""The sink's accounting: offsets archived, not yet committed to Kafka; bytes waiting for HDFS."""

from __future__ import annotations

from collections.abc import Container


class CommitLedger:
    """Offsets archived per partition, to commit to Kafka, and bytes sealed, not yet in HDFS."""

    def __init__(self) -> None:
        self.pending_bytes = 0  # sealed, not yet committed to HDFS: the flow control's count
        # Per partition: (generation, next offset) archived and not yet sent to Kafka.
        self.to_commit: dict[int, tuple[int, int]] = {}
        self.unsent: set[int] = set()

    def sealed(self, nbytes: int) -> None:
        """A batch of `nbytes` waits for HDFS."""
        self.pending_bytes += nbytes

    def released(self, nbytes: int) -> None:
        """A batch of `nbytes` no longer waits: HDFS took it, or it was dropped for a replay."""
        self.pending_bytes -= nbytes

    def done(self, partition: int, gen: int, last: int) -> None:
        """Offsets up to `last` of `partition` (generation `gen`) are archived."""
        current = self.to_commit.get(partition)
        # A newer generation restarts the offsets; within one they only move forward.
        if current is None or gen > current[0] or (gen == current[0] and last >= current[1]):
            self.to_commit[partition] = (gen, last + 1)
            self.unsent.add(partition)

    def take_unsent(self, owned: Container[int]) -> dict[int, int]:
        """The next offset of each `owned` partition archived since the last call.

        Those of partitions no longer owned are dropped: their next owner recovers from
        the HDFS markers.
        """
        offsets = {p: self.to_commit[p][1] for p in self.unsent if p in owned}
        self.unsent.clear()
        return offsets

    def forget_offsets(self) -> None:
        """Drop every partition's offsets (all were revoked)."""
        self.to_commit.clear()
        self.unsent.clear()
