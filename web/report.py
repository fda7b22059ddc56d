"""Composes reads (`data`) with the pure verdicts (`reconcile`) into what the page and API show.

Every function returns JSON-ready plain data; a side that cannot be read becomes an
`error` string next to empty data, never an exception, so the page always renders.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from web.data import ReportData, ReportError, Snapshot
from web.reconcile import (
    compare_totals,
    covered_before,
    known_losses,
    reconcile_hours,
    top_rows,
    verdict,
)
from web.svg import architecture_diagram, words_per_hour_chart


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


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


def summary(data: ReportData) -> dict[str, Any]:
    """Verdict, live and batch totals, and the per-hour reconciliation."""
    live, batch = data.live(), data.batch()
    rows, totals, losses = [], [], []
    snap = batch.snapshot
    if live.totals is not None and live.hours is not None and snap is not None:
        rows = reconcile_hours(
            live.hours, snap.summary.get("hours", []), covered_before(snap.summary["coverage"])
        )
        totals = compare_totals(live.totals, snap.summary["totals"], rows)
        losses = known_losses(live.sources or [], snap.summary["coverage"].get("partitions", {}))
    result = verdict(
        worker_error=live.error,
        hdfs_error=batch.error,
        has_snapshot=snap is not None,
        rows=rows,
        totals=totals,
        losses=losses,
    )
    return {
        "verdict": result.as_dict(),
        "losses": [loss.as_dict() for loss in losses],
        "live": {"totals": live.totals, "error": live.error},
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
    return result


def health(data: ReportData) -> dict[str, dict[str, str]]:
    """Each component's state and a one-line detail."""
    return {name: h.as_dict() for name, h in data.health().items()}


def page(data: ReportData, *, n: int) -> dict[str, Any]:
    """Everything the page shows but a searched word."""
    result = summary(data)
    result["top"] = top(data, n)
    result["health"] = health(data)
    result["generated_at"] = datetime.now(tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lag = data.lag()
    behind = {r: lag.total(r) for r in ("live", "archive")} if lag.partitions else None
    result["diagram"] = architecture_diagram(result["health"], behind)
    result["chart"] = words_per_hour_chart(
        result["chart_hours"]["live"], result["chart_hours"]["batch"]
    )
    return result
