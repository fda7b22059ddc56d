"""Pure reconciliation of live counts (worker views) against a batch snapshot.

An hour is *fully covered* by a snapshot when it ended at or before the start of the
hour holding the snapshot's `coverage.last_timestamp_ms`: every message of such an
hour had been archived when the batch ran, so live and batch must agree on it. The
hour holding the last timestamp (and any later one) may still have been receiving
messages, so it is shown but never judged. Only hours the live tables still hold can
be compared; older ones have expired from the worker and are listed as such.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

HourStatus = Literal["match", "drift", "expired", "not covered"]
TotalStatus = Literal["match", "ahead", "drift"]
VerdictState = Literal["match", "drift", "no batch yet", "worker down", "hdfs down"]

_HOUR_MS = 3_600_000


def hour_of(timestamp_ms: int) -> str:
    """The contract's hour string (`YYYY-MM-DDTHH:00:00Z`) holding a Kafka timestamp."""
    start = timestamp_ms - timestamp_ms % _HOUR_MS
    return datetime.fromtimestamp(start / 1000, tz=UTC).strftime("%Y-%m-%dT%H:00:00Z")


def covered_before(coverage: Mapping[str, Any]) -> str | None:
    """The first hour *not* fully covered by a snapshot; None when it covered nothing."""
    last = coverage.get("last_timestamp_ms")
    return None if last is None else hour_of(int(last))


@dataclass(frozen=True)
class HourRow:
    """One hour of the reconciliation; a count is None where that side has no data."""

    hour: str
    status: HourStatus
    live_messages: int | None
    batch_messages: int | None
    live_words: int | None
    batch_words: int | None

    @property
    def messages_diff(self) -> int | None:
        """Live minus batch messages (batch missing counts as 0 for a live hour)."""
        return _diff(self.live_messages, self.batch_messages)

    @property
    def words_diff(self) -> int | None:
        """Live minus batch words."""
        return _diff(self.live_words, self.batch_words)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, differences included."""
        return {
            "hour": self.hour,
            "status": self.status,
            "live_messages": self.live_messages,
            "batch_messages": self.batch_messages,
            "messages_diff": self.messages_diff,
            "live_words": self.live_words,
            "batch_words": self.batch_words,
            "words_diff": self.words_diff,
        }


def _diff(live: int | None, batch: int | None) -> int | None:
    if live is None:
        return None
    return live - (batch or 0)


def reconcile_hours(
    live_hours: Iterable[Mapping[str, Any]],
    batch_hours: Iterable[Mapping[str, Any]],
    cutoff: str | None,
) -> list[HourRow]:
    """Join live and batch per-hour totals, ascending, judging hours before `cutoff`.

    `cutoff` is `covered_before(coverage)`. A fully covered hour the live tables hold
    is "match" or "drift" (an hour missing from the batch counts as 0 there); one they
    no longer hold is "expired"; hours at or after the cutoff are "not covered".
    """
    live = {h["hour"]: h for h in live_hours}
    batch = {h["hour"]: h for h in batch_hours}
    rows = []
    for hour in sorted(live.keys() | batch.keys()):
        lv, bt = live.get(hour), batch.get(hour)
        status: HourStatus
        if cutoff is None or hour >= cutoff:
            status = "not covered"
        elif lv is None:
            status = "expired"
        elif bt is not None and (lv["messages"], lv["words"]) == (bt["messages"], bt["words"]):
            status = "match"
        else:
            status = "drift"
        rows.append(
            HourRow(
                hour=hour,
                status=status,
                live_messages=None if lv is None else int(lv["messages"]),
                batch_messages=None if bt is None else int(bt["messages"]),
                live_words=None if lv is None else int(lv["words"]),
                batch_words=None if bt is None else int(bt["words"]),
            )
        )
    return rows


@dataclass(frozen=True)
class TotalRow:
    """One all-time total, live vs batch, with how much of the gap later hours explain."""

    name: str
    live: int
    batch: int
    explained: int  # live minus batch over the hours the snapshot does not fully cover
    status: TotalStatus

    @property
    def diff(self) -> int:
        """Live minus batch."""
        return self.live - self.batch

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "live": self.live,
            "batch": self.batch,
            "diff": self.diff,
            "explained_by_uncovered_hours": self.explained,
            "status": self.status,
        }


def compare_totals(
    live: Mapping[str, Any], batch: Mapping[str, Any], rows: Sequence[HourRow]
) -> list[TotalRow]:
    """Compare all-time messages, words and rejected counts.

    Live keeps counting after the batch ran, so a gap is not drift when it equals the
    live-minus-batch difference of the hours the snapshot does not fully cover: then
    live is just "ahead" by what arrived after the run. Any other gap is drift. Rejected
    messages have no per-hour series: live above batch is "ahead", below is drift.
    """
    uncovered = [r for r in rows if r.status == "not covered"]
    result = []
    for name, per_hour in (("messages", "messages_diff"), ("words", "words_diff")):
        explained = sum(getattr(r, per_hour) or 0 for r in uncovered)
        lv, bt = int(live[name]), int(batch[name])
        status: TotalStatus
        if lv == bt:
            status = "match"
        elif lv - bt == explained and explained > 0:
            status = "ahead"
        else:
            status = "drift"
        result.append(TotalRow(name, lv, bt, explained, status))
    lv, bt = int(live["rejected"]), int(batch["rejected"])
    rejected: TotalStatus = "match" if lv == bt else "ahead" if lv > bt else "drift"
    result.append(TotalRow("rejected", lv, bt, max(lv - bt, 0), rejected))
    return result


@dataclass(frozen=True)
class Loss:
    """Messages of a closed log that live counted and the archive never got."""

    source: str  # `<gen>:<partition>`
    live_last_offset: int
    archived_last_offset: int | None  # None: nothing of this log in the snapshot

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "source": self.source,
            "live_last_offset": self.live_last_offset,
            "archived_last_offset": self.archived_last_offset,
        }

    def describe(self) -> str:
        """One line for the page."""
        gen, _, partition = self.source.partition(":")
        first = 0 if self.archived_last_offset is None else self.archived_last_offset + 1
        return (
            f"partition {partition}, generation {gen}: offsets {first}-{self.live_last_offset} "
            "were counted live but never archived, and that log is gone"
        )


def _split(source: str) -> tuple[int, int]:
    gen, _, partition = source.partition(":")
    return int(gen), int(partition)


def known_losses(
    live_sources: Sequence[Mapping[str, Any]], covered: Mapping[str, int]
) -> list[Loss]:
    """Logs the batch knows are closed (it covered a newer generation of the partition)
    where live counted offsets beyond what the archive holds.

    Such messages can never reach the archive: their log was replaced (broker restarted
    empty, topic recreated) before they were archived. Totals may still look equal, e.g.
    when as many new messages are pending for the next run, so this is judged per log.
    """
    newest: dict[int, int] = {}
    for source in covered:
        gen, partition = _split(source)
        newest[partition] = max(gen, newest.get(partition, gen))
    losses = []
    for entry in live_sources:
        source = str(entry["source"])
        gen, partition = _split(source)
        if newest.get(partition, -1) <= gen:
            continue  # the log may still be archived: the batch saw nothing newer
        archived = covered.get(source)
        live_last = int(entry["last_offset"])
        if live_last > (-1 if archived is None else int(archived)):
            losses.append(Loss(source, live_last, None if archived is None else int(archived)))
    return losses


@dataclass(frozen=True)
class Verdict:
    """The one-line answer at the top of the page."""

    state: VerdictState
    message: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"state": self.state, "message": self.message}


def verdict(
    *,
    worker_error: str | None,
    hdfs_error: str | None,
    has_snapshot: bool,
    rows: Sequence[HourRow],
    totals: Sequence[TotalRow],
    losses: Sequence[Loss] = (),
) -> Verdict:
    """Overall verdict: a missing side first, then a known loss or drift anywhere, else match."""
    if worker_error is not None:
        return Verdict("worker down", f"No worker answered: {worker_error}")
    if hdfs_error is not None:
        return Verdict("hdfs down", f"Cannot read the batch snapshot: {hdfs_error}")
    if not has_snapshot:
        return Verdict("no batch yet", "No batch run has completed yet; live totals only.")
    drifting = [r.hour for r in rows if r.status == "drift"]
    bad_totals = [t.name for t in totals if t.status == "drift"]
    if drifting or bad_totals or losses:
        parts = [f"known loss: {loss.describe()}" for loss in losses]
        if drifting:
            parts.append(f"{len(drifting)} fully covered hour(s) differ")
        if bad_totals:
            parts.append("totals differ: " + ", ".join(bad_totals))
        return Verdict("drift", "; ".join(parts) + ".")
    judged = sum(1 for r in rows if r.status == "match")
    ahead = next((t for t in totals if t.name == "messages" and t.status == "ahead"), None)
    message = f"All {judged} fully covered hour(s) the worker still holds agree."
    if judged == 0:
        message = "No fully covered hour is held by the worker yet; totals agree."
    if ahead is not None:
        message += f" Live is ahead by {ahead.diff:,} message(s) that arrived after the run."
    return Verdict("match", message)


@dataclass(frozen=True)
class WordRow:
    """One word in the side-by-side top list; None where that side has no count."""

    word: str
    live: int | None
    batch: int | None

    @property
    def diff(self) -> int | None:
        """Live minus batch, when both are known."""
        return None if self.live is None or self.batch is None else self.live - self.batch

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"word": self.word, "live": self.live, "batch": self.batch, "diff": self.diff}


def top_rows(
    live_top: Iterable[Mapping[str, Any]],
    batch_top: Iterable[Mapping[str, Any]],
    live_counts: Mapping[str, int],
    batch_counts: Mapping[str, int],
    n: int,
) -> list[WordRow]:
    """The union of both top-`n` lists, ordered by the larger count, then the word.

    `live_counts`/`batch_counts` supply the other side's count of a word that made
    only one list (looked up by the caller); a word absent there stays None.
    """
    live = {e["word"]: int(e["count"]) for e in list(live_top)[:n]}
    batch = {e["word"]: int(e["count"]) for e in list(batch_top)[:n]}
    rows = [
        WordRow(
            word,
            live.get(word, live_counts.get(word)),
            batch.get(word, batch_counts.get(word)),
        )
        for word in live.keys() | batch.keys()
    ]
    rows.sort(key=lambda r: (-max(r.live or 0, r.batch or 0), r.word))
    return rows
