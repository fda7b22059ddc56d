"""Telling a replay from a log that started again: one detector for both layers.

Kafka offsets of a partition only grow, until the log itself is replaced: the topic is
deleted and created again, or the memory-only dev broker restarts empty. Offsets then
start again at 0, and messages at offsets a consumer has already seen are *new*. A
consumer also sees old offsets again for an ordinary reason, a replay from its last
committed offset after a restart or a seek. Both layers must tell the two apart the same
way, so that a message's *generation* (the number of times its partition's log started
again before it) is the same in the archive's paths and in the live layer's offset marks.

The evidence, as the archive sink has always used it:
- the broker's high watermark: if the log now ends at or below the last offset taken,
  the old log is gone;
- otherwise the message at the last offset taken: the same fingerprint means a replay,
  another one means a new log. Messages below it wait (are *held*) for that verdict.

Pure: no I/O. Callers give each message an opaque item and a way to fingerprint it;
the fingerprint is computed only when a verdict needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Seen:
    """What a layer durably knows of one partition: generation, last offset, its fingerprint."""

    gen: int = 0
    last: int | None = None
    fingerprint: str | None = None


@dataclass
class Outcome(Generic[T]):
    """What one offered message settled, in order: replays, then (after a regression,
    in the new generation) the messages taken as new."""

    replayed: list[T] = field(default_factory=list)
    regressed: bool = False
    taken: list[T] = field(default_factory=list)


class Lineage(Generic[T]):
    """One partition's offsets as a sequence of generations."""

    def __init__(self, seen: Seen, fingerprint_of: Callable[[T], str]) -> None:
        self.gen = seen.gen
        self.last = seen.last  # newest offset taken
        self._fingerprint = seen.fingerprint
        self._last_item: T | None = None  # fingerprinted only when a verdict needs it
        self._fingerprint_of = fingerprint_of
        self.held: list[tuple[int, T]] = []  # offsets below `last`, awaiting a verdict

    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the message at `last`."""
        if self._last_item is not None:
            self._fingerprint = self._fingerprint_of(self._last_item)
            self._last_item = None
        return self._fingerprint

    def seen(self) -> Seen:
        """The state to store durably (with everything taken so far)."""
        return Seen(self.gen, self.last, self.fingerprint)

    def offer(self, offset: int, item: T, highwater: int | None) -> Outcome[T]:
        """Take one message (offsets ascending, except after a seek or a new log).

        `highwater` is the log's end offset as the broker last reported it, or None if
        unknown; it is only evidence for an offset at or below `last`.
        """
        out: Outcome[T] = Outcome()
        last = self.last
        if self.held:
            assert last is not None
            if offset < last:
                self.held.append((offset, item))
            elif offset == last and self._fingerprint_of(item) != self.fingerprint:
                self._regress(out, [*self.held, (offset, item)])
            elif offset == last:
                out.replayed = [*(i for _, i in self.held), item]
                self.held = []
            else:
                # The log skipped the last offset taken (compaction): a replay.
                out.replayed = [i for _, i in self.held]
                self.held = []
                self._take(out, offset, item)
            return out
        if last is None or offset > last:
            self._take(out, offset, item)
        elif highwater is not None and highwater <= last:
            self._regress(out, [(offset, item)])
        elif offset == last:
            if self._fingerprint_of(item) == self.fingerprint:
                out.replayed.append(item)
            else:
                self._regress(out, [(offset, item)])
        else:
            self.held.append((offset, item))
        return out

    def settle(self, highwater: int | None) -> Outcome[T]:
        """Decide held messages on a high watermark learned later (no message arrived).

        A log that ends at or below the last offset taken is a new one: what is held is
        new, in the next generation. Otherwise nothing changes.
        """
        out: Outcome[T] = Outcome()
        if self.held and highwater is not None and self.last is not None and highwater <= self.last:
            self._regress(out, self.held)
        return out

    def _take(self, out: Outcome[T], offset: int, item: T) -> None:
        out.taken.append(item)
        self.last = offset
        self._last_item = item

    def _regress(self, out: Outcome[T], messages: list[tuple[int, T]]) -> None:
        """A new log: every held message and `messages` are new, in the next generation."""
        self.gen += 1
        self.last = None
        self._fingerprint = None
        self._last_item = None
        self.held = []
        out.regressed = True
        for offset, item in messages:
            self._take(out, offset, item)
