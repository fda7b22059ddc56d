"""The report: a Flask app comparing the worker's live counts with the latest batch snapshot."""

from __future__ import annotations

import dataclasses
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import NotFound

from streamapp.config import Settings

# Tuning knobs (seconds) that are not deployment settings; tests override them.
DEFAULTS: dict[str, Any] = {
    "WORKER_TIMEOUT": 2.0,  # per worker/clock HTTP call (the brief caps it at 2 s)
    "HDFS_TIMEOUT": 2.0,  # per WebHDFS call
    "BROKER_TIMEOUT": 1.0,  # the Kafka metadata request of the health check
    "LIVE_CACHE_SECONDS": 1.0,  # reuse a worker answer this long (many readers, one worker)
    "HEALTH_CACHE_SECONDS": 5.0,  # reuse health checks this long
    "BATCH_CHECK_SECONDS": 5.0,  # re-read the snapshot's `latest` pointer at most this often
    "ARCHIVE_METRICS_SECONDS": 30.0,  # re-read the archive's markers and listings for /metrics
    "REFRESH_SECONDS": 10,  # the page's auto-refresh period
}

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the report app from the environment (`Settings`), then `test_config` overrides.

    Keys of `test_config` named like a Settings field, upper-cased (WORKER_URLS, HDFS_URL),
    replace that setting; other keys (TESTING, the DEFAULTS above) go to the Flask config.
    """
    from web import api, metrics, page
    from web.cache import TtlCache
    from web.data import ReportData

    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    overrides = dict(test_config or {})
    names = {f.name for f in dataclasses.fields(Settings)}
    settings = dataclasses.replace(
        Settings.from_env(),
        **{k.lower(): overrides.pop(k) for k in list(overrides) if k.lower() in names},
    )
    app.config.from_mapping(overrides)
    app.config["SETTINGS"] = settings
    app.extensions["wordstream"] = ReportData(settings, app.config)
    app.extensions["wordstream.pages"] = TtlCache(float(app.config["LIVE_CACHE_SECONDS"]), 64)

    app.register_blueprint(page.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> Any:
        if request.path.startswith("/api/"):
            return {"error": f"no such API route: {request.path}"}, 404
        return exc

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers["Content-Security-Policy"] = _CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        if resp.mimetype in ("text/html", "application/json"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    return app
