"""Standby copies that miss no changelog record: faust's table manager with a changelog
queue that keeps the standby partitions' records when flow control resumes.

faust delivers every changelog record it fetches through one queue, which its recovery
reads and applies (faust/tables/recovery.py, `_slurp_changelogs`). The queue is cleared
whenever flow control resumes. At the end of a rebalance faust seeks each standby
partition to where its copy stands, resumes those partitions, then completes the
recovery (table callbacks, a seek of the source partitions: several awaits) and only
then resumes flow control for the streams, which clears the queue. The standby records
fetched in between were dropped, and nothing fetched them again: faust's consumer had
already moved past them. The copy then went on from the next record, without the rows
those records held, and said it was complete. When its partition later moved to it,
the new owner counted from rows that were missing or old (an undercount), and a view
reading the copy answered 0 for such a word. faust-streaming issue #212 reported the
same loss for global tables.

Here a clear keeps the queued records of the current standby partitions, in order: they
are the records that were dropped. A clear that follows a revocation still drops
everything, because after the rebalance those partitions may belong to another worker
(and faust's recovery would apply a record of a partition it no longer tracks to
another table). docs/live.md, "Failover".
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from faust.tables.manager import TableManager as FaustTableManager
from faust.types import TP
from mode.utils.queues import ThrowableQueue


class ChangelogQueue(ThrowableQueue[Any]):
    """faust's changelog queue, except that a clear keeps the standby partitions' records
    (see the module docstring), unless a revocation came since the last clear."""

    def __init__(self, standbys: Callable[[], Collection[TP]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._standbys = standbys
        self._drop_all = False

    def drop_all_at_next_clear(self) -> None:
        """Partitions were revoked: the next clear drops every record."""
        self._drop_all = True

    def clear(self) -> None:
        if self._drop_all:
            self._drop_all = False
            super().clear()
            return
        standbys = self._standbys()
        queued = self._queue  # type: ignore[attr-defined]
        kept = [event for event in queued if event.message.tp in standbys]
        queued.clear()
        queued.extend(kept)
        self._errors.clear()
        # Puts waiting for room stay: in this state they can only hold newer records
        # of the same standby partitions (paused partitions deliver nothing).


class TableManager(FaustTableManager):
    """faust's table manager with a `ChangelogQueue` (set as the app's TableManager)."""

    @property
    def changelog_queue(self) -> ChangelogQueue:
        if self._changelog_queue is None:
            self._changelog_queue = ChangelogQueue(
                lambda: self.recovery.standby_tps,
                maxsize=self.app.conf.stream_buffer_maxsize,
                flow_control=self.app.flow_control,
                clear_on_resume=True,
            )
        return self._changelog_queue  # type: ignore[return-value]

    def on_partitions_revoked(self, revoked: set[TP]) -> None:
        super().on_partitions_revoked(revoked)
        # faust clears the queue later in the same revocation.
        self.changelog_queue.drop_all_at_next_clear()
