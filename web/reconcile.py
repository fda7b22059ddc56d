"""Pure reconciliation of live counts (worker views) against a batch snapshot.

Both sides keep per (hour, source log) *cells* (`<gen>:<partition>`, contracts
sections 2 and 3). A cell is judged only when the batch fully covered that hour for
that log: hours before the hour of the log's newest batch cell (every hour of a log
the batch knows is closed, because it saw a newer generation of the partition). A
live cell that counted an offset above the batch's last offset of the log holds
messages the batch could not have seen: `late`, pending the next run. A cell older
than what the live tables still hold is `expired`. Every other difference is `drift`.

A snapshot without cells (written before they existed) falls back to one rule for all
partitions: an hour is fully covered when it ended at or before the start of the hour
holding `coverage.last_timestamp_ms`.

Best-known counts serve one number per question, lambda style: the batch's exact
counts for the hours before the *time boundary* (the first hour some log is not fully
covered), the live counts from it on.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from streamapp.contract import Source, hour_of

HourStatus = Literal["match", "drift", "late", "expired", "not covered"]
CellStatus = HourStatus
Provenance = Literal["exact", "live", "batch"]
Short = Literal["live", "batch"]
TotalStatus = Literal["match", "ahead", "drift"]
VerdictState = Literal["match", "drift", "no batch yet", "catching up", "worker down", "hdfs down"]

# The cutoff of a closed log: every hour of it is judged (sorts after any hour).
ALL_HOURS = "9999-12-31T23:00:00Z"
# An hour row's status from its cells' statuses: the first one present wins.
_HOUR_PRECEDENCE: tuple[HourStatus, ...] = ("drift", "late", "not covered", "match", "expired")


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
    cells: tuple[CellRow, ...] = field(default=(), compare=False)

    @property
    def messages_diff(self) -> int | None:
        """Live minus batch messages (batch missing counts as 0 for a live hour)."""
        return _diff(self.live_messages, self.batch_messages)

    @property
    def words_diff(self) -> int | None:
        """Live minus batch words."""
        return _diff(self.live_words, self.batch_words)

    def pending(self, kind: Literal["messages", "words"]) -> int:
        """Live minus batch over the parts of this hour not judged yet (not covered, late)."""
        if self.cells:
            waiting = [c for c in self.cells if c.status in ("not covered", "late")]
            return sum(getattr(c, f"{kind}_diff") for c in waiting)
        if self.status == "not covered":
            return getattr(self, f"{kind}_diff") or 0
        return 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, differences and per-source cells included."""
        return {
            "hour": self.hour,
            "status": self.status,
            "live_messages": self.live_messages,
            "batch_messages": self.batch_messages,
            "messages_diff": self.messages_diff,
            "live_words": self.live_words,
            "batch_words": self.batch_words,
            "words_diff": self.words_diff,
            "cells": [c.as_dict() for c in self.cells],
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


# --- per (hour, source log) cells --------------------------------------------------


@dataclass(frozen=True)
class BatchCell:
    """What the batch counted in one hour of one source log (contract section 2)."""

    hour: str
    source: str  # `<gen>:<partition>`
    messages: int
    words: int
    first_offset: int
    last_offset: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BatchCell:
        """Decode one entry of the snapshot's `cells`."""
        return cls(
            str(d["hour"]),
            _checked(d["partition"]),
            int(d["messages"]),
            int(d["words"]),
            int(d["first_offset"]),
            int(d["last_offset"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "messages": self.messages,
            "words": self.words,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
        }


@dataclass(frozen=True)
class LiveCell:
    """What live counted in one hour of one source log (contract section 3, `/sources`)."""

    hour: str
    source: str
    messages: int
    words: int
    last_offset: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LiveCell:
        """Decode one entry of the worker's `/sources` `cells`."""
        return cls(
            str(d["hour"]),
            _checked(d["source"]),
            int(d["messages"]),
            int(d["words"]),
            int(d["last_offset"]),
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"messages": self.messages, "words": self.words, "last_offset": self.last_offset}


def batch_cells(summary: Mapping[str, Any]) -> list[BatchCell] | None:
    """The snapshot's cells; None for a snapshot written before it had any."""
    cells = summary.get("cells")
    return None if cells is None else [BatchCell.from_dict(c) for c in cells]


def live_cells(cells: Iterable[Mapping[str, Any]]) -> list[LiveCell]:
    """The worker's cells, decoded."""
    return [LiveCell.from_dict(c) for c in cells]


def _newest_generations(covered: Iterable[str]) -> dict[int, int]:
    newest: dict[int, int] = {}
    for source in covered:
        gen, partition = Source.parse(source)
        newest[partition] = max(gen, newest.get(partition, gen))
    return newest


def _closed(source: str, newest: Mapping[int, int]) -> bool:
    """A log the batch knows is closed: it covered a newer generation of the partition."""
    gen, partition = Source.parse(source)
    return newest.get(partition, -1) > gen


def judged_before(
    batch: Iterable[BatchCell], covered: Mapping[str, int], live: Iterable[LiveCell] = ()
) -> dict[str, str]:
    """Per source log either side counted, the first hour the batch did not fully cover.

    For a log the batch has cells of, that is the hour of its newest cell: the archive
    may still have been receiving that hour's messages at run time, earlier hours were
    complete (offsets and timestamps advance together; a later message into an earlier
    hour is caught as `late`). A closed log is covered whole (`ALL_HOURS`). A log only
    live counted is covered from nowhere: its oldest live hour.
    """
    newest = _newest_generations(covered)
    cutoff: dict[str, str] = {}
    for b in batch:
        cutoff[b.source] = max(b.hour, cutoff.get(b.source, b.hour))
    only_live: dict[str, str] = {}
    for lv in live:
        if lv.source not in cutoff:
            only_live[lv.source] = min(lv.hour, only_live.get(lv.source, lv.hour))
    cutoff.update(only_live)
    return {s: ALL_HOURS if _closed(s, newest) else h for s, h in cutoff.items()}


def time_boundary(cutoffs: Mapping[str, str]) -> str | None:
    """The first hour not fully covered for every log; None when there are no cells at all.

    `ALL_HOURS` when every log is closed: then every count is exact.
    """
    return min(cutoffs.values(), default=None)


@dataclass(frozen=True)
class CellRow:
    """One (hour, source log) of the reconciliation; a side is None where it has no cell."""

    hour: str
    source: str
    status: CellStatus
    live: LiveCell | None
    batch: BatchCell | None
    covered_last_offset: int | None  # the batch's last offset of this log (coverage)

    @property
    def messages_diff(self) -> int:
        """Live minus batch messages (a missing cell counts as 0)."""
        return (self.live.messages if self.live else 0) - (self.batch.messages if self.batch else 0)

    @property
    def words_diff(self) -> int:
        """Live minus batch words."""
        return (self.live.words if self.live else 0) - (self.batch.words if self.batch else 0)

    @property
    def short(self) -> Short | None:
        """The side that counted less (by messages, then words); None when equal."""
        diff = self.messages_diff or self.words_diff
        return None if diff == 0 else "batch" if diff > 0 else "live"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        gen, partition = Source.parse(self.source)
        return {
            "hour": self.hour,
            "source": self.source,
            "generation": gen,
            "partition": partition,
            "status": self.status,
            "live": None if self.live is None else self.live.as_dict(),
            "batch": None if self.batch is None else self.batch.as_dict(),
            "covered_last_offset": self.covered_last_offset,
            "messages_diff": self.messages_diff,
            "words_diff": self.words_diff,
            "short": self.short,
        }


def reconcile_cells(
    live: Iterable[LiveCell],
    batch: Iterable[BatchCell],
    covered: Mapping[str, int],
    horizon: str | None,
) -> list[CellRow]:
    """Judge every (hour, source log) either side counted, ascending by hour then source.

    `covered` is the snapshot's `coverage.partitions`; `horizon` the oldest hour the live
    tables still hold (None: they hold none), so a batch cell before it is `expired`.
    """
    lv_by = {(c.hour, c.source): c for c in live}
    bt_by = {(c.hour, c.source): c for c in batch}
    cutoffs = judged_before(bt_by.values(), covered, lv_by.values())
    rows = []
    keys = sorted(lv_by.keys() | bt_by.keys(), key=lambda k: (k[0], Source.parse(k[1])))
    for hour, source in keys:
        lv, bt = lv_by.get((hour, source)), bt_by.get((hour, source))
        archived = covered.get(source)
        status: CellStatus
        if hour >= cutoffs[source]:
            status = "not covered"
        elif (
            lv is not None
            and cutoffs[source] != ALL_HOURS
            and lv.last_offset > (-1 if archived is None else int(archived))
        ):
            status = "late"  # live counted an offset the batch could not have read yet
        elif lv is None and (horizon is None or hour < horizon):
            status = "expired"
        elif (
            lv is not None and bt is not None and (lv.messages, lv.words) == (bt.messages, bt.words)
        ):
            status = "match"
        else:
            status = "drift"
        rows.append(
            CellRow(hour, source, status, lv, bt, None if archived is None else int(archived))
        )
    return rows


def hours_from_cells(
    live_hours: Iterable[Mapping[str, Any]] | None,
    batch_hours: Iterable[Mapping[str, Any]],
    cells: Sequence[CellRow],
) -> list[HourRow]:
    """Per-hour rows whose status derives from their cells: drift if any cell drifts,
    else late, else not covered, else match, else expired.

    The numbers are each side's per-hour totals (`/hours`, the snapshot's `hours`).
    """
    live = {h["hour"]: h for h in live_hours or []}
    batch = {h["hour"]: h for h in batch_hours}
    by_hour: dict[str, list[CellRow]] = {}
    for c in cells:
        by_hour.setdefault(c.hour, []).append(c)
    rows = []
    for hour in sorted(live.keys() | batch.keys() | by_hour.keys()):
        lv, bt, mine = live.get(hour), batch.get(hour), by_hour.get(hour, [])
        present = {c.status for c in mine}
        status: HourStatus = next((s for s in _HOUR_PRECEDENCE if s in present), "not covered")
        rows.append(
            HourRow(
                hour=hour,
                status=status,
                live_messages=None if lv is None else int(lv["messages"]),
                batch_messages=None if bt is None else int(bt["messages"]),
                live_words=None if lv is None else int(lv["words"]),
                batch_words=None if bt is None else int(bt["words"]),
                cells=tuple(mine),
            )
        )
    return rows


def archive_gaps(
    batch: Iterable[BatchCell], covered: Mapping[str, int]
) -> dict[str, list[tuple[int, int]]]:
    """Per source log, the offset ranges no batch cell spans, up to the batch's last offset.

    From the log's first counted offset on: offsets in such a range are missing from
    the archive (a lost file) or hold rejected (non-UTF-8) messages, which have no cells.
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for b in batch:
        spans.setdefault(b.source, []).append((b.first_offset, b.last_offset))
    gaps: dict[str, list[tuple[int, int]]] = {}
    for source, ranges in spans.items():
        ranges.sort()
        reached = ranges[0][0] - 1
        holes = []
        for first, last in ranges:
            if first > reached + 1:
                holes.append((reached + 1, first - 1))
            reached = max(reached, last)
        end = covered.get(source)
        if end is not None and int(end) > reached:
            holes.append((reached + 1, int(end)))
        gaps[source] = holes
    return gaps


@dataclass(frozen=True)
class Drift:
    """A drifting cell located in the archive: which side is short, where the batch's
    offsets are, and which gaps in the archive's offsets of that log lie near it."""

    cell: CellRow
    gaps: tuple[tuple[int, int], ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        d = self.cell.as_dict()
        d["archive_gaps"] = [list(g) for g in self.gaps]
        return d

    def describe(self) -> str:
        """One line for the page."""
        c = self.cell
        gen, partition = Source.parse(c.source)
        where = f"partition {partition} (generation {gen}), hour {c.hour[:13].replace('T', ' ')}:00"
        short = c.short or "neither"
        text = (
            f"{where}: {short} side short by {abs(c.messages_diff):,} message(s), "
            f"{abs(c.words_diff):,} word(s)"
        )
        if c.batch is not None:
            text += (
                f"; the batch counted offsets {c.batch.first_offset}-{c.batch.last_offset} there"
            )
        else:
            text += "; the batch has no message of that hour"
        if self.gaps:
            text += "; offsets missing from the archive nearby: " + ", ".join(
                f"{a}-{b}" for a, b in self.gaps
            )
        return text


def locate_drift(
    cells: Sequence[CellRow], batch: Iterable[BatchCell], covered: Mapping[str, int]
) -> list[Drift]:
    """Every drifting cell with the archive gaps of its log that lie between the batch's
    cells of that log in the neighbouring hours (where its missing offsets can be)."""
    own = list(batch)
    gaps = archive_gaps(own, covered)
    by_source: dict[str, list[BatchCell]] = {}
    for b in own:
        by_source.setdefault(b.source, []).append(b)
    result = []
    for c in cells:
        if c.status != "drift":
            continue
        neighbours = by_source.get(c.source, [])
        low = max((b.last_offset for b in neighbours if b.hour < c.hour), default=-1)
        high = min((b.first_offset for b in neighbours if b.hour > c.hour), default=None)
        near = tuple(
            g for g in gaps.get(c.source, []) if g[1] > low and (high is None or g[0] < high)
        )
        result.append(Drift(c, near))
    return result


# --- best-known counts ------------------------------------------------------------


@dataclass(frozen=True)
class Known:
    """A best-known count, split by provenance.

    `exact`: the batch, hours before the time boundary; `live`: the live tables, hours
    from the boundary on; `batch`: the batch, hours from the boundary on that the live
    tables no longer hold (it may lack messages archived after the run).
    """

    exact: int = 0
    live: int = 0
    batch: int = 0

    @property
    def count(self) -> int:
        """The best-known number."""
        return self.exact + self.live + self.batch

    def as_dict(self) -> dict[str, int]:
        """JSON-ready form."""
        return {"count": self.count, "exact": self.exact, "live": self.live, "batch": self.batch}


def provenance(hour: str, boundary: str | None, live_held: Container[str]) -> Provenance:
    """Where the best-known number of an hour comes from."""
    if boundary is not None and hour < boundary:
        return "exact"
    return "live" if hour in live_held else "batch"


def known_count(
    batch_total: int,
    batch_by_hour: Mapping[str, int],
    live_by_hour: Mapping[str, int],
    live_held: Container[str],
    boundary: str | None,
) -> Known:
    """One best-known count from both sides' per-hour numbers.

    `batch_total` is the batch's all-time count; `batch_by_hour` needs only the hours
    from the boundary on (the exact part is the total minus those). An hour the live
    tables hold (`live_held`, i.e. in `/hours`) takes live's number, 0 if absent.
    """
    if boundary is None:  # nothing is covered: every hour is served as one after a boundary
        after, exact = dict(batch_by_hour), 0
    else:
        after = {h: n for h, n in batch_by_hour.items() if h >= boundary}
        exact = batch_total - sum(after.values())
    live = sum(
        n for h, n in live_by_hour.items() if h in live_held and (boundary is None or h >= boundary)
    )
    batch = sum(n for h, n in after.items() if h not in live_held)
    return Known(exact, live, batch)


@dataclass(frozen=True)
class KnownHour:
    """One hour of the best-known per-hour series."""

    hour: str
    messages: int
    words: int
    provenance: Provenance

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "hour": self.hour,
            "messages": self.messages,
            "words": self.words,
            "provenance": self.provenance,
        }


def known_hours(
    live_hours: Iterable[Mapping[str, Any]] | None,
    batch_hours: Iterable[Mapping[str, Any]],
    boundary: str | None,
) -> list[KnownHour]:
    """The best-known per-hour series, ascending: batch before the boundary, live from it on
    (the batch's number where the live tables no longer hold the hour, or live is down)."""
    live = {h["hour"]: h for h in live_hours or []}
    batch = {h["hour"]: h for h in batch_hours}
    rows = []
    for hour in sorted(live.keys() | batch.keys()):
        source = provenance(hour, boundary, live)
        side = batch if source != "live" else live
        if hour not in side:
            continue  # an exact hour only live counted: the batch, complete there, has none
        row = side[hour]
        rows.append(KnownHour(hour, int(row["messages"]), int(row["words"]), source))
    return rows


def known_totals(hours: Iterable[KnownHour]) -> dict[str, Known]:
    """Best-known all-time messages and words: the sum of the best-known hours."""
    parts: dict[str, dict[str, int]] = {"messages": {}, "words": {}}
    for h in hours:
        for name in parts:
            parts[name][h.provenance] = parts[name].get(h.provenance, 0) + getattr(h, name)
    return {name: Known(**p) for name, p in parts.items()}


@dataclass(frozen=True)
class TotalRow:
    """One all-time total, live vs batch, with how much of the gap later hours explain."""

    name: str
    live: int
    batch: int
    explained: int  # live minus batch over what the snapshot does not cover (not judged)
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
    live-minus-batch difference of what the snapshot does not cover (hours or cells not
    covered, late cells: `HourRow.pending`): then
    live is just "ahead" by what arrived after the run. Any other gap is drift. Rejected
    messages have no per-hour series: live above batch is "ahead", below is drift.
    """
    result = []
    for name in ("messages", "words"):
        explained = sum(r.pending(name) for r in rows)
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


def _checked(source: object) -> str:
    """A source log key as the contracts write it (`<gen>:<partition>`); ValueError if not."""
    text = str(source)
    gen, sep, partition = text.partition(":")
    if not (sep and all(p.isascii() and p.isdigit() for p in (gen, partition))):
        raise ValueError(f"not a <gen>:<partition> source: {text[:40]!r}")
    return text


def known_losses(
    live_sources: Sequence[Mapping[str, Any]], covered: Mapping[str, int]
) -> list[Loss]:
    """Logs the batch knows are closed (it covered a newer generation of the partition)
    where live counted offsets beyond what the archive holds.

    Such messages can never reach the archive: their log was replaced (broker restarted
    empty, topic recreated) before they were archived. Totals may still look equal, e.g.
    when as many new messages are pending for the next run, so this is judged per log.
    """
    newest = _newest_generations(covered)
    losses = []
    for entry in live_sources:
        source = str(entry["source"])
        if not _closed(source, newest):
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
    catching_up: str | None = None,
) -> Verdict:
    """Overall verdict: a missing side first, then a known loss or drift anywhere, else match.

    `catching_up` (why, when the worker answered from standby copies of some partitions
    during a failover) comes before drift: such numbers may be behind, not wrong.
    """
    if worker_error is not None:
        return Verdict("worker down", f"No worker answered: {worker_error}")
    if hdfs_error is not None:
        return Verdict("hdfs down", f"Cannot read the batch snapshot: {hdfs_error}")
    if not has_snapshot:
        return Verdict("no batch yet", "No batch run has completed yet; live totals only.")
    if catching_up is not None:
        return Verdict("catching up", f"Not judged while the worker catches up: {catching_up}")
    drifting = [r.hour for r in rows if r.status == "drift"]
    bad_totals = [t.name for t in totals if t.status == "drift"]
    if drifting or bad_totals or losses:
        parts = [f"known loss: {loss.describe()}" for loss in losses]
        if drifting:
            where = sorted(
                {Source.parse(c.source)[1] for r in rows for c in r.cells if c.status == "drift"}
            )
            named = f" (partition(s) {', '.join(map(str, where))})" if where else ""
            parts.append(f"{len(drifting)} fully covered hour(s) differ{named}")
        if bad_totals:
            parts.append("totals differ: " + ", ".join(bad_totals))
        return Verdict("drift", "; ".join(parts) + ".")
    ahead = next((t for t in totals if t.name == "messages" and t.status == "ahead"), None)
    if any(r.cells for r in rows):
        judged = sum(1 for r in rows for c in r.cells if c.status == "match")
        message = f"All {judged} judged (hour, partition) cell(s) the worker still holds agree."
    else:
        judged = sum(1 for r in rows if r.status == "match")
        message = f"All {judged} fully covered hour(s) the worker still holds agree."
    if judged == 0:
        message = "Nothing fully covered is held by the worker yet; totals agree."
    if ahead is not None:
        message += f" Live is ahead by {ahead.diff:,} message(s) that arrived after the run."
    late = sum(1 for r in rows for c in r.cells if c.status == "late")
    if late:
        message += f" {late} cell(s) hold late messages the next run will count (pending)."
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
