"""The report page (HTML): the whole report, and the fragment the page re-fetches to refresh."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from markupsafe import Markup

from web import report
from web.cache import TtlCache
from web.data import ReportData
from web.params import DEFAULT_TOP, BadParameter, parse_n, parse_word

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
    error, n, searched = None, DEFAULT_TOP, None
    try:
        n = parse_n(request.args.get("n"))
        raw = request.args.get("word", "")
        searched = parse_word(raw) if raw.strip() else None
    except BadParameter as exc:
        error = str(exc)
    data: ReportData = current_app.extensions["wordstream"]
    # Every reader (and every auto-refresh) shares the report for a given n: it is read
    # and rendered once per LIVE_CACHE_SECONDS, the age live data may have anyway.
    # Only the verdict, notices and a searched word are rendered per request.
    cache: TtlCache = current_app.extensions["wordstream.pages"]
    r, main = cache.get(str(n), lambda: _main(data, n))
    html = render_template(
        template,
        r=r,
        main=main,
        word=None if searched is None else report.word(data, searched),
        n=n,
        query=request.args.get("word", ""),
        param_error=error,
        refresh_seconds=current_app.config["REFRESH_SECONDS"],
    )
    return html, 400 if error else 200


def _main(data: ReportData, n: int) -> tuple[dict[str, Any], Markup]:
    """The report data and its main part, rendered (autoescaped) by `_main.html`."""
    r = report.page(data, n=n)
    # Markup only marks our own template's already-escaped output as HTML, so the
    # outer template does not escape it twice; no message text is ever marked safe.
    return r, Markup(render_template("_main.html", r=r, n=n))


@bp.get("/")
def index() -> tuple[str, int]:
    """The full page."""
    return _render("index.html")


@bp.get("/fragment")
def fragment() -> tuple[str, int]:
    """The report section alone, for the page's auto-refresh."""
    return _render("_report.html")
