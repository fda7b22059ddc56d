"""`GET /metrics`: reconciliation, batch and archive health in Prometheus's text format.

Every value is computed from durable state when Prometheus scrapes (the report's
verdict, the batch's snapshot and last_run.json, the archive's markers and files in
HDFS), so each gunicorn worker answers the same and nothing is lost on a restart.
Metric names are documented in docs/operations.md; deploy/prometheus/rules.yml alerts
on them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, get_args

from flask import Blueprint, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from web import report
from web.data import ReportData
from web.errors import ReportError
from web.reconcile import VerdictState
from web.sources import ArchivePartition

bp = Blueprint("metrics", __name__)


def _gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _seconds(iso: Any) -> float | None:
    """Unix seconds of an ISO 8601 time (the snapshot's `...Z` form), None if unreadable."""
    try:
        return datetime.fromisoformat(str(iso)).timestamp()
    except ValueError:
        return None


def reconcile_metrics(summary: Mapping[str, Any]) -> list[Metric]:
    """The verdict (one series per state, 1 for the current one), drifting hours, gaps."""
    state = summary["verdict"]["state"]
    verdict = _gauge(
        "wordstream_reconcile_verdict", "1 for the report's current verdict", ["state"]
    )
    for s in get_args(VerdictState):
        verdict.add_metric([s], 1.0 if s == state else 0.0)
    hours = summary.get("hours") or []
    drifting = _gauge(
        "wordstream_reconcile_drifting_hours", "Fully covered hours where live and batch differ"
    )
    drifting.add_metric([], sum(1 for h in hours if h["status"] == "drift"))
    judged = _gauge("wordstream_reconcile_judged_hours", "Fully covered hours held by both sides")
    judged.add_metric([], sum(1 for h in hours if h["status"] in ("match", "drift")))
    gap = _gauge(
        "wordstream_reconcile_live_minus_batch",
        "All-time live minus batch count (messages, words, rejected)",
        ["total"],
    )
    unexplained = _gauge(
        "wordstream_reconcile_unexplained_gap",
        "Live minus batch not explained by hours the batch does not fully cover",
        ["total"],
    )
    for t in summary.get("totals") or []:
        gap.add_metric([t["name"]], t["diff"])
        unexplained.add_metric([t["name"]], t["diff"] - t["explained_by_uncovered_hours"])
    up = _gauge("wordstream_report_source_up", "1 if the report could read the source", ["source"])
    up.add_metric(["worker"], 0.0 if summary["live"]["error"] else 1.0)
    up.add_metric(["hdfs"], 0.0 if summary["batch_error"] else 1.0)
    return [verdict, drifting, judged, gap, unexplained, up]


def batch_metrics(
    info: Mapping[str, Any] | None, last_run: Mapping[str, Any] | None
) -> list[Metric]:
    """The latest successful run's finish time and duration, and the last attempt's state."""
    found: list[Metric] = []
    finished = _seconds(info.get("finished_at")) if info else None
    started = _seconds(info.get("started_at")) if info else None
    if finished is not None:
        at = _gauge(
            "wordstream_batch_last_success_timestamp_seconds",
            "When the latest successful batch run finished (Unix time)",
        )
        at.add_metric([], finished)
        found.append(at)
        if started is not None:
            took = _gauge(
                "wordstream_batch_last_success_duration_seconds",
                "How long the latest successful batch run took",
            )
            took.add_metric([], finished - started)
            found.append(took)
    if last_run is not None:
        state = _gauge(
            "wordstream_batch_last_run_state", "1 for the last batch attempt's state", ["state"]
        )
        for s in ("success", "running", "failed"):
            state.add_metric([s], 1.0 if last_run.get("state") == s else 0.0)
        found.append(state)
    return found


def archive_metrics(partitions: Iterable[ArchivePartition]) -> list[Metric]:
    """Per partition: last commit time, last archived offset, committed files per date."""
    commit = _gauge(
        "wordstream_archive_last_commit_timestamp_seconds",
        "When the archive last wrote the partition's marker (a commit), Unix time",
        ["partition"],
    )
    offset = _gauge(
        "wordstream_archive_committed_offset",
        "Last offset of the partition the archive has committed (current generation)",
        ["partition"],
    )
    files = _gauge(
        "wordstream_archive_committed_files",
        "Committed archive files per partition and UTC date (recent dates, current generation)",
        ["partition", "date"],
    )
    for p in partitions:
        if p.last_commit_ms is not None:
            commit.add_metric([str(p.partition)], p.last_commit_ms / 1000)
        if p.last_offset is not None:
            offset.add_metric([str(p.partition)], p.last_offset)
        for date, n in sorted(p.files_by_date.items()):
            files.add_metric([str(p.partition), date], n)
    return [commit, offset, files]


class _Families:
    """A collector of already computed families (one registry per scrape)."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition of the report's view of the pipeline."""
    data: ReportData = current_app.extensions["wordstream"]
    s = report.summary(data)
    families = reconcile_metrics(s) + batch_metrics(s["batch"], data.last_run_or_none())
    # HDFS down: no archive series; wordstream_report_source_up{source="hdfs"} says why.
    with contextlib.suppress(ReportError):
        families += archive_metrics(data.archive())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
