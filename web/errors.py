"""The report's errors: one base, one subclass per source that can fail."""

from __future__ import annotations

from streamapp.errors import WordstreamError


class ReportError(WordstreamError):
    """Base error of the report's data access."""


class WorkerUnavailable(ReportError):
    """No worker in WORKER_URLS answered."""


class WorkerRefused(ReportError):
    """A worker answered with a 4xx error (e.g. a word it will not look up)."""


class HdfsUnavailable(ReportError):
    """WebHDFS did not answer, or a snapshot file could not be read."""
