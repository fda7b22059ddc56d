"""The report page (HTML): the whole report, and the fragment the page re-fetches to refresh."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from web import report
from web.data import ReportData
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
    return f"+{value:,}" if value > 0 else f"−{-value:,}" if value < 0 else "0"


def _render(template: str) -> tuple[str, int]:
    error, n, searched = None, 10, None
    try:
        n = parse_n(request.args.get("n"))
        raw = request.args.get("word", "")
        searched = parse_word(raw) if raw.strip() else None
    except BadParameter as exc:
        error = str(exc)
    data: ReportData = current_app.extensions["wordstream"]
    r = report.page(data, n=n, searched=searched)
    html = render_template(
        template,
        r=r,
        n=n,
        query=request.args.get("word", ""),
        param_error=error,
        refresh_seconds=current_app.config["REFRESH_SECONDS"],
    )
    return html, 400 if error else 200


@bp.get("/")
def index() -> tuple[str, int]:
    """The full page."""
    return _render("index.html")


@bp.get("/fragment")
def fragment() -> tuple[str, int]:
    """The report section alone, for the page's auto-refresh."""
    return _render("_report.html")
