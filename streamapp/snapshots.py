"""The batch's REPORT_ROOT read over WebHDFS (docs/contracts.md section 2): the one reader.

The Spark job writes it (`spark_jobs.snapshot.SnapshotWriter`); `wordstream status`,
`wordstream batch status` and the report read `last_run.json`, `latest` and a run's
files here, with the same answers for a missing, unreadable or failed run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypedDict, TypeVar, cast
from urllib.parse import urlsplit

import requests
from hdfs import HdfsError, InsecureClient

from streamapp.config import Settings
from streamapp.contract import LAST_RUN_FILE, LATEST_FILE
from streamapp.errors import WordstreamError

_Row = TypeVar("_Row")
_Doc = TypeVar("_Doc")
# requests' timeout: seconds for connecting and for each read, or one figure for both.
Timeout = float | tuple[float, float] | None


class SnapshotUnavailable(WordstreamError):
    """WebHDFS did not answer, or a file under REPORT_ROOT could not be read."""


class LastRun(TypedDict):
    """last_run.json: the outcome of the latest batch attempt."""

    run_id: str
    state: str  # running, success or failed
    started_at: str
    finished_at: str | None
    error: str | None


class LatestPointer(TypedDict):
    """`latest`: the newest complete run."""

    run_id: str
    path: str  # the run directory's path on HDFS, no trailing slash


def decode_last_run(document: Any) -> LastRun:
    """A parsed last_run.json; ValueError if it is not an attempt's record."""
    if not isinstance(document, dict) or not isinstance(document.get("state"), str):
        raise ValueError(f"not a batch attempt's record: {document!r:.100}")
    return cast(LastRun, document)


def decode_latest(document: Any) -> LatestPointer:
    """A parsed `latest` pointer; ValueError if it lacks run_id/path."""
    if not isinstance(document, dict) or not {"run_id", "path"} <= document.keys():
        raise ValueError(f"lacks run_id/path: {document!r:.100}")
    # The path part only, should a writer ever record a full hdfs:// URI.
    path = urlsplit(str(document["path"])).path.rstrip("/")
    return {"run_id": str(document["run_id"]), "path": path}


def brief_http_error(exc: requests.RequestException) -> str:
    """One short line for a failed HTTP call (requests' own messages run to paragraphs)."""
    target = exc.request.url.split("?")[0] if exc.request is not None and exc.request.url else ""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "no answer"
    if not isinstance(exc, requests.ConnectionError | requests.Timeout):
        kind = type(exc).__name__
    return f"{kind} from {target}" if target else kind


class SnapshotReader:
    """REPORT_ROOT on WebHDFS: each call bounded by `timeout`, each failure SnapshotUnavailable."""

    def __init__(self, url: str, user: str, root: str, timeout: Timeout) -> None:
        self._client = InsecureClient(url, user=user, timeout=timeout)
        self.root = root.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings, timeout: Timeout) -> SnapshotReader:
        """The reader of REPORT_ROOT at HDFS_URL, as HDFS_USER."""
        return cls(settings.hdfs_url, settings.hdfs_user_name, settings.report_root, timeout)

    def read_json(self, path: str) -> Any:
        """A JSON file's content, None if it does not exist."""
        try:
            with self._client.read(path, encoding="utf-8") as reader:
                return json.loads(reader.read())
        except HdfsError as exc:
            if exc.exception == "FileNotFoundException":
                return None
            raise SnapshotUnavailable(f"reading {path}: {exc}") from exc
        except requests.RequestException as exc:
            raise SnapshotUnavailable(f"reading {path}: {brief_http_error(exc)}") from exc
        except ValueError as exc:
            raise SnapshotUnavailable(f"{path} is not JSON: {exc}") from exc

    def last_run(self) -> LastRun | None:
        """The latest attempt's record, None if no batch has run yet."""
        return self._read_decoded(LAST_RUN_FILE, decode_last_run)

    def latest(self) -> LatestPointer | None:
        """The newest complete run's pointer, None if no run has completed yet."""
        return self._read_decoded(LATEST_FILE, decode_latest)

    def _read_decoded(self, name: str, decode: Callable[[Any], _Doc]) -> _Doc | None:
        path = f"{self.root}/{name}"
        document = self.read_json(path)
        if document is None:
            return None
        try:
            return decode(document)
        except ValueError as exc:
            raise SnapshotUnavailable(f"{path}: {exc}") from None

    def iter_rows(self, directory: str, pick: Callable[[dict[str, Any]], _Row]) -> Iterator[_Row]:
        """`pick` of each JSON line of a directory's part files (`_`/`.` names skipped)."""
        try:
            parts = sorted(p for p in self._client.list(directory) if not p.startswith(("_", ".")))
            for part in parts:
                with self._client.read(f"{directory}/{part}", encoding="utf-8") as reader:
                    for line in reader:
                        if line.strip():
                            yield pick(json.loads(line))
        except requests.RequestException as exc:
            raise SnapshotUnavailable(f"reading {directory}: {brief_http_error(exc)}") from exc
        except (HdfsError, ValueError, KeyError, TypeError) as exc:
            raise SnapshotUnavailable(f"reading {directory}: {exc!r}") from exc

    def ping(self) -> bool:
        """GETFILESTATUS of REPORT_ROOT: True if it exists, False if not (HDFS answered)."""
        try:
            return self._client.status(self.root, strict=False) is not None
        except requests.RequestException as exc:
            raise SnapshotUnavailable(brief_http_error(exc)) from exc
        except HdfsError as exc:
            raise SnapshotUnavailable(str(exc)) from exc
