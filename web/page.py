"""The report page (HTML): the whole report, and the fragment the page re-fetches to refresh."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from web import report
from web.data import ReportData, TtlCache
from web.params import BadParameter, parse_n, parse_word

bp = Blueprint("page", __name__)


@bp.app_template_filter("num")
def num(value: int | None) -> str:
    """A count with thousands separators; an em dash where there is none."""
    return "—" if value is None else f"{value:,}"


@bp.app_template_filter("signed")
def signed(value: int | None) -> str:
    """A difference with its sign (true minus sign); an em dash where there is none."""
    if value is None:
        return "—"
    return f"+{value:,}" if value > 0 else f"\u2212{-value:,}" if value < 0 else "0"


def _render(template: str) -> tuple[str, int]:
    error, n, searched = None, 10, None
    try:
        n = parse_n(request.args.get("n"))
        raw = request.args.get("word", "")
        searched = parse_word(raw) if raw.strip() else None
    except BadParameter as exc:
        error = str(exc)
    if error is None and searched is None:
        # Every reader's auto-refresh asks for the same page: render it once per
        # LIVE_CACHE_SECONDS (the age live data may have anyway), not once per reader.
        cache: TtlCache = current_app.extensions["wordstream.pages"]
        return cache.get(f"{template}|{n}", lambda: _html(template, n, "", None, None)), 200
    return _html(template, n, request.args.get("word", ""), searched, error), 400 if error else 200


def _html(template: str, n: int, query: str, searched: str | None, error: str | None) -> str:
    data: ReportData = current_app.extensions["wordstream"]
    r = report.page(data, n=n, searched=searched)
    return render_template(
        template,
        r=r,
        n=n,
        query=query,
        param_error=error,
        refresh_seconds=current_app.config["REFRESH_SECONDS"],
    )


@bp.get("/")
def index() -> tuple[str, int]:
    """The full page."""
    return _render("index.html")


@bp.get("/fragment")
def fragment() -> tuple[str, int]:
    """The report section alone, for the page's auto-refresh."""
    return _render("_report.html")
