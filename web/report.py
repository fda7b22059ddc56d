"""Composes reads (`data`) with the pure verdicts (`reconcile`) into what the page and API show.

Every function returns JSON-ready plain data; a side that cannot be read becomes an
`error` string next to empty data, never an exception, so the page always renders.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from web.data import Live, ReportData
from web.errors import ReportError
from web.reconcile import (
    ALL_HOURS,
    Drift,
    HourRow,
    Known,
    compare_totals,
    covered_before,
    hours_from_cells,
    judged_before,
    known_count,
    known_hours,
    known_losses,
    known_totals,
    locate_drift,
    reconcile_cells,
    reconcile_hours,
    time_boundary,
    top_rows,
    verdict,
)
from web.sources import Snapshot
from web.svg import architecture_diagram, words_per_hour_chart


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _label(hour: str | None) -> str | None:
    """An hour cutoff for JSON: a closed log's (every hour judged) reads "closed"."""
    return "closed" if hour == ALL_HOURS else hour


def batch_info(snapshot: Snapshot | None) -> dict[str, Any] | None:
    """The snapshot's run, what it covered and its totals."""
    if snapshot is None:
        return None
    s = snapshot.summary
    coverage = s.get("coverage", {})
    return {
        "run_id": snapshot.run_id,
        "path": snapshot.path,
        "started_at": s.get("started_at"),
        "finished_at": s.get("finished_at"),
        "spark_version": s.get("spark_version"),
        "input_files": s.get("input_files"),
        "coverage": {
            "partitions": coverage.get("partitions", {}),
            "first_timestamp": _iso(coverage.get("first_timestamp_ms")),
            "last_timestamp": _iso(coverage.get("last_timestamp_ms")),
            "fully_covered_before": covered_before(coverage),
        },
        "totals": s.get("totals", {}),
    }


@dataclass(frozen=True)
class Reconciliation:
    """Live against one snapshot: per-hour rows (with their cells when the snapshot has
    cells), the drifting cells located, and the time boundary of the best-known counts."""

    rows: list[HourRow]
    drift: list[Drift]
    boundary: str | None
    judged_before: dict[str, str]  # per source log; empty for a snapshot without cells
    per_cell: bool  # False: an older snapshot, judged by its last timestamp only


def time_boundary_of(live: Live, snap: Snapshot | None) -> str | None:
    """The time boundary of the best-known counts (None: no snapshot, every count is live)."""
    if snap is None:
        return None
    coverage = snap.summary.get("coverage", {})
    batch = snap.cells
    if batch is None:
        return covered_before(coverage)
    lv = live.cells or []
    return time_boundary(judged_before(batch, coverage.get("partitions", {}), lv))


def reconcile(live: Live, snap: Snapshot) -> Reconciliation:
    """Reconcile what the worker said with a snapshot (pure; live may be down: no rows)."""
    covered = snap.summary.get("coverage", {})
    partitions = covered.get("partitions", {})
    batch = snap.cells
    if batch is None:
        cutoff = covered_before(covered)
        rows = []
        if live.hours is not None:
            rows = reconcile_hours(live.hours, snap.summary.get("hours", []), cutoff)
        return Reconciliation(rows, [], cutoff, {}, per_cell=False)
    lv = live.cells or []
    cutoffs = judged_before(batch, partitions, lv)
    rows, drift = [], []
    if live.hours is not None:
        horizon = min((h["hour"] for h in live.hours), default=None)
        cells = reconcile_cells(lv, batch, partitions, horizon)
        rows = hours_from_cells(live.hours, snap.summary.get("hours", []), cells)
        drift = locate_drift(cells, batch, partitions)
    return Reconciliation(rows, drift, time_boundary(cutoffs), cutoffs, per_cell=True)


def _cell_dicts(rows: list[HourRow], status: str) -> list[dict[str, Any]]:
    return [c.as_dict() for r in rows for c in r.cells if c.status == status]


def summary(data: ReportData) -> dict[str, Any]:
    """Verdict, live and batch totals, and the per-hour reconciliation."""
    live, batch = data.live(), data.batch()
    rows: list[HourRow] = []
    totals, losses, drift = [], [], []
    boundary: str | None = None
    cutoffs: dict[str, str] = {}
    per_cell: bool | None = None
    snap = batch.snapshot
    if snap is not None:
        rec = reconcile(live, snap)
        boundary, cutoffs, per_cell = rec.boundary, rec.judged_before, rec.per_cell
        if live.totals is not None and live.hours is not None:
            rows, drift = rec.rows, rec.drift
            totals = compare_totals(live.totals, snap.summary["totals"], rows)
            losses = known_losses(
                live.sources or [], snap.summary["coverage"].get("partitions", {})
            )
    result = verdict(
        worker_error=live.error,
        hdfs_error=batch.error,
        has_snapshot=snap is not None,
        rows=rows,
        totals=totals,
        losses=losses,
        catching_up=live.catching_up,
    )
    return {
        "verdict": result.as_dict(),
        "per_cell": per_cell,
        "boundary": _label(boundary),
        "judged_before": {k: _label(v) for k, v in cutoffs.items()},
        "drift": [d.as_dict() | {"describe": d.describe()} for d in drift],
        "late": _cell_dicts(rows, "late"),
        "losses": [loss.as_dict() for loss in losses],
        "live": {"totals": live.totals, "error": live.error, "catching_up": live.catching_up},
        "batch": batch_info(snap),
        "batch_error": batch.error,
        "totals": [t.as_dict() for t in totals],
        "hours": [r.as_dict() for r in rows],
        "chart_hours": {
            "live": live.hours,
            "batch": None if snap is None else snap.summary.get("hours", []),
        },
    }


def top(data: ReportData, n: int) -> dict[str, Any]:
    """The top-n words of both sides, each with the other side's count and the difference."""
    live_error = batch_error = None
    live_top: list[dict[str, Any]] = []
    try:
        live_top = data.live_top(n)
    except ReportError as exc:
        live_error = str(exc)
    batch = data.batch()
    snap, batch_error = batch.snapshot, batch.error
    batch_top = [] if snap is None else snap.summary.get("top", [])[:n]
    live_words = {e["word"] for e in live_top}
    batch_words = {e["word"] for e in batch_top}
    live_counts: dict[str, int] = {}
    batch_counts: dict[str, int] = {}
    try:
        if live_error is None and batch_words - live_words:
            live_counts = data.live_words(sorted(batch_words - live_words))
        if snap is not None and live_words - batch_words:
            batch_counts = data.batch_counts(snap, sorted(live_words - batch_words))
    except ReportError as exc:
        batch_error = batch_error or str(exc)
    rows = top_rows(live_top, batch_top, live_counts, batch_counts, n)
    return {
        "n": n,
        "rows": [r.as_dict() for r in rows],
        "live_error": live_error,
        "batch_error": batch_error,
        "has_batch": snap is not None,
    }


def word(data: ReportData, normalised: str) -> dict[str, Any]:
    """One word's live and batch counts."""
    result: dict[str, Any] = {"word": normalised, "live": None, "batch": None}
    result["live_error"] = result["batch_error"] = None
    try:
        result["live"] = data.live_word(normalised)
    except ReportError as exc:
        result["live_error"] = str(exc)
    batch = data.batch()
    result["batch_error"] = batch.error
    if batch.snapshot is not None:
        try:
            result["batch"] = data.batch_counts(batch.snapshot, [normalised])[normalised]
        except ReportError as exc:
            result["batch_error"] = str(exc)
    if result["live"] is not None and result["batch"] is not None:
        result["diff"] = result["live"] - result["batch"]
    else:
        result["diff"] = None
    known = counts(data, word=normalised)
    result["best_known"] = known["word"] | {"boundary": known["boundary"]}
    return result


def drift(data: ReportData) -> dict[str, Any]:
    """Each drifting cell located (partition, hour, both sides, which is short, the
    batch's offsets, nearby archive gaps) and each late cell (pending the next run)."""
    s = summary(data)
    return {
        "verdict": s["verdict"],
        "per_cell": s["per_cell"],
        "drift": s["drift"],
        "late": s["late"],
        "losses": s["losses"],
    }


def _known_words(
    data: ReportData, live: Live, snap: Snapshot | None, boundary: str | None, words: list[str]
) -> tuple[dict[str, Known | None], str | None, str | None]:
    """Best-known counts of some words, with the live and batch errors met on the way.

    Live down: the batch's counts (exact before the boundary, `batch` after). The batch's
    word files unreadable (e.g. a run without `hour_words/`): live's all-time counts,
    tagged `live`. Both: None.
    """
    live_error = live.error
    batch_error = None
    live_held = {h["hour"] for h in live.hours or []}
    per_hour: dict[str, dict[str, int]] = {}
    if live_error is None:
        try:
            per_hour = data.live_words_hours(words)
        except ReportError as exc:
            live_error = str(exc)
    if live_error is not None:
        live_held = set()  # every hour from the boundary on falls back to the batch
    totals: dict[str, int] = {}
    after: dict[str, dict[str, int]] = {}
    if snap is not None:
        try:
            totals = data.batch_counts(snap, words)
            if boundary is not None and boundary != ALL_HOURS:
                kept_since = snap.summary.get("hour_words_since", boundary)
                if kept_since is None or boundary < kept_since:
                    # The run kept per-hour word counts from a later hour only: the
                    # batch's share after the boundary is unknown, so no split is exact.
                    raise ReportError(
                        f"the batch run kept per-hour word counts from {kept_since} on, "
                        f"not from the time boundary {boundary}; the next run will"
                    )
                after = data.batch_hour_words(snap, boundary)
        except ReportError as exc:
            batch_error = str(exc)
    if batch_error is None:
        return (
            {
                w: known_count(
                    totals.get(w, 0), after.get(w, {}), per_hour.get(w, {}), live_held, boundary
                )
                for w in words
            },
            live_error,
            None,
        )
    if live_error is None:
        try:
            every = data.live_words(words)
            return (
                {w: Known(live=every[w]) if w in every else None for w in words},
                None,
                batch_error,
            )
        except ReportError as exc:
            live_error = str(exc)
    return dict.fromkeys(words), live_error, batch_error


_UNKNOWN: dict[str, Any] = {"count": None, "exact": None, "live": None, "batch": None}


def counts(data: ReportData, *, n: int = 0, word: str | None = None) -> dict[str, Any]:
    """Best-known counts: the batch's exact numbers before the time boundary, live from it on.

    Totals and every hour always; the top `n` words when n > 0 (ranked among the union of
    both sides' top-n lists); one already normalised `word` when given.
    """
    live, batch = data.live(), data.batch()
    snap = batch.snapshot
    boundary = time_boundary_of(live, snap)
    batch_hours = [] if snap is None else snap.summary.get("hours", [])
    hours = known_hours(None if live.error else live.hours, batch_hours, boundary)
    result: dict[str, Any] = {
        "boundary": _label(boundary),
        "totals": {k: v.as_dict() for k, v in known_totals(hours).items()},
        "hours": [h.as_dict() for h in hours],
        "live_error": live.error,
        "batch_error": batch.error,
    }
    words: list[str] = []
    if n > 0:
        result["top"] = []
        candidates = [e["word"] for e in ([] if snap is None else snap.summary.get("top", []))[:n]]
        if live.error is None:
            try:
                candidates += [e["word"] for e in data.live_top(n)]
            except ReportError as exc:
                result["live_error"] = str(exc)
        words = sorted(set(candidates))
    if word is not None and word not in words:
        words.append(word)
    if words:
        known, live_error, batch_error = _known_words(data, live, snap, boundary, words)
        result["live_error"] = result["live_error"] or live_error
        result["batch_error"] = result["batch_error"] or batch_error
        if n > 0:
            found = {w: k for w, k in known.items() if k is not None and w in candidates}
            ranked = sorted(found, key=lambda w: (-found[w].count, w))
            result["top"] = [{"word": w} | found[w].as_dict() for w in ranked[:n]]
        if word is not None:
            k = known[word]
            result["word"] = {"word": word} | (_UNKNOWN if k is None else k.as_dict())
    return result


def health(data: ReportData) -> dict[str, dict[str, str]]:
    """Each component's state and a one-line detail."""
    return {name: h.as_dict() for name, h in data.health().items()}


def page(data: ReportData, *, n: int) -> dict[str, Any]:
    """Everything the page shows but a searched word."""
    result = summary(data)
    result["top"] = top(data, n)
    result["known"] = counts(data)
    result["health"] = health(data)
    result["generated_at"] = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lag = data.lag()
    behind = {r: lag.total(r) for r in ("live", "archive")} if lag.partitions else None
    result["diagram"] = architecture_diagram(result["health"], behind)
    result["chart"] = words_per_hour_chart(
        result["chart_hours"]["live"], result["chart_hours"]["batch"]
    )
    return result
