"""The JSON API: everything the page shows, under /api."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException

from web import report
from web.data import ReportData
from web.params import BadParameter, parse_n, parse_word

bp = Blueprint("api", __name__, url_prefix="/api")


def _data() -> ReportData:
    data: ReportData = current_app.extensions["wordstream"]
    return data


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter) -> tuple[dict[str, str], int]:
    return {"error": str(exc)}, 400


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[dict[str, str], int]:
    return {"error": exc.description or exc.name}, exc.code or 500


@bp.get("/summary")
def summary() -> dict[str, Any]:
    """Overall verdict, totals comparison and batch run."""
    s = report.summary(_data())
    del s["chart_hours"], s["hours"]
    return s


@bp.get("/live")
def live() -> tuple[dict[str, Any], int]:
    """Live totals and per-hour series; 503 when no worker answers."""
    lv = _data().live()
    if lv.error is not None:
        return {"error": lv.error}, 503
    return {"totals": lv.totals, "hours": lv.hours}, 200


@bp.get("/batch")
def batch() -> tuple[dict[str, Any], int]:
    """The latest run, its coverage and totals (null before any run); 503 if HDFS is down."""
    b = _data().batch()
    if b.error is not None:
        return {"error": b.error}, 503
    info = report.batch_info(b.snapshot)
    if b.snapshot is not None and info is not None:
        info["hours"] = b.snapshot.summary.get("hours", [])
    return {"snapshot": info}, 200


@bp.get("/hours")
def hours() -> dict[str, Any]:
    """The per-hour reconciliation (empty unless both sides answered) and the verdict."""
    s = report.summary(_data())
    return {
        "verdict": s["verdict"],
        "per_cell": s["per_cell"],
        "judged_before": s["judged_before"],
        "hours": s["hours"],
        "totals": s["totals"],
    }


@bp.get("/drift")
def drift() -> dict[str, Any]:
    """Each drifting (hour, partition) cell located, and each late cell (pending)."""
    return report.drift(_data())


@bp.get("/counts")
def counts() -> dict[str, Any]:
    """Best-known counts: exact batch numbers before the time boundary, live from it on.

    `n` (default 10) sizes the top list; `word` adds one word's count.
    """
    raw = request.args.get("word")
    word = None if raw is None or not raw.strip() else parse_word(raw)
    return report.counts(_data(), n=parse_n(request.args.get("n")), word=word)


@bp.get("/top")
def top() -> dict[str, Any]:
    """Top words side by side; `n` from 1 to 1,000 (default 10)."""
    return report.top(_data(), parse_n(request.args.get("n")))


@bp.get("/word/<path:word>")
def word(word: str) -> dict[str, Any]:
    """One word's live and batch counts; the word is normalised, anything else is a 400."""
    return report.word(_data(), parse_word(word))


@bp.get("/health")
def health() -> dict[str, Any]:
    """Every component's health."""
    return report.health(_data())
