"""The report's sources: the worker's views over HTTP, batch snapshots and the archive on HDFS.

Each only reads and hands plain data on, within bounded timeouts: worker calls after
`WORKER_TIMEOUT` seconds, HDFS calls after `HDFS_TIMEOUT`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from hdfs import HdfsError, InsecureClient

from streamapp.contract import HOUR_WORDS_DIR, SUMMARY_FILE, WORDS_DIR
from streamapp.snapshots import LastRun, SnapshotReader, SnapshotUnavailable, brief_http_error
from web.errors import HdfsUnavailable, ReportError, WorkerRefused, WorkerUnavailable
from web.reconcile import BatchCell, batch_cells

_Row = TypeVar("_Row")


@contextmanager
def _hdfs() -> Iterator[None]:
    """The shared snapshot reader's errors as the report's own, which its caches remember."""
    try:
        yield
    except SnapshotUnavailable as exc:
        raise HdfsUnavailable(str(exc)) from exc


def field_of(body: Any, name: str, view: str) -> Any:
    """`body[name]` of a worker answer; a WorkerUnavailable naming the view if it is not there."""
    if not isinstance(body, dict) or name not in body:
        raise WorkerUnavailable(f"the worker's {view} answer has no {name!r} (contract section 3)")
    return body[name]


def decodes(decode: Callable[[Any], _Row], body: Any, what: str, error: type[ReportError]) -> _Row:
    """`decode(body)` (a contract's cells); `error` naming `what` if it cannot be read."""
    try:
        return decode(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise error(f"{what} break the contract (docs/contracts.md): {exc!r:.120}") from None


def catching_up(behind: Any) -> str | None:
    """A sentence for a view's `"behind"` member (docs/contracts.md section 3), or None."""
    if not isinstance(behind, dict):
        return None
    offsets = behind.get("offsets")
    lag = "an unknown number of" if offsets is None else f"{offsets:,}"
    return (
        f"table partition(s) {behind.get('partitions')} read from standby copies, "
        f"{lag} changelog record(s) behind"
    )


class WorkerClient:
    """Reads the worker views (contract section 3) from the first worker that answers.

    Workers are tried in WORKER_URLS order, except that the last one that answered is
    tried first, so a dead first URL costs its timeout once rather than on every call.
    """

    def __init__(self, urls: list[str], timeout: float) -> None:
        if not urls:
            raise ReportError("WORKER_URLS is empty; set it to e.g. http://localhost:6066")
        self._urls = urls
        self._timeout = timeout
        self._preferred = 0
        self._session = requests.Session()
        # Worker views are internal endpoints: no proxy/netrc lookup from the environment
        # (which also costs a millisecond per call).
        self._session.trust_env = False

    def get(self, path: str) -> Any:
        """GET a view; WorkerUnavailable if none answers, WorkerRefused on a 4xx."""
        order = [self._preferred] + [i for i in range(len(self._urls)) if i != self._preferred]
        failures = []
        for i in order:
            url = self._urls[i] + path
            try:
                resp = self._session.get(url, timeout=self._timeout)
            except requests.RequestException as exc:
                failures.append(brief_http_error(exc))
                continue
            if resp.status_code >= 500:
                failures.append(f"{self._urls[i]}: HTTP {resp.status_code}")
                continue
            self._preferred = i
            try:
                body = resp.json()
            except ValueError:
                raise WorkerUnavailable(f"{url} answered something that is not JSON") from None
            if resp.status_code >= 400:
                raise WorkerRefused(str(body.get("error", f"HTTP {resp.status_code}")))
            return body
        raise WorkerUnavailable("; ".join(failures))


@dataclass
class Snapshot:
    """One complete batch run: its summary.json, and its every-word counts once loaded."""

    run_id: str
    path: str
    summary: dict[str, Any]
    # The summary's cells, decoded once; None for a run written before it had any.
    cells: list[BatchCell] | None = field(default=None, repr=False)
    _words: dict[str, int] | None = field(default=None, repr=False)
    # hour_words/ rows from an hour on: (that hour, {word: {hour: count}}), the last one read
    _hour_words: tuple[str, dict[str, dict[str, int]]] | None = field(default=None, repr=False)


class SnapshotSource:
    """The latest complete batch snapshot (contract section 2), read through SnapshotReader.

    `latest` is re-read at most every `check_seconds`; the run it points to is
    loaded only when it changes, and its `words/` part files only when a count
    outside the summary's top list is needed.
    """

    def __init__(self, reader: SnapshotReader, check_seconds: float) -> None:
        self._reader = reader
        self._check_seconds = check_seconds
        self._lock = threading.Lock()
        self._words_lock = threading.Lock()  # loading words/ must not block `latest()`
        self._checked_at = -float("inf")
        self._current: Snapshot | None = None
        self._error: HdfsUnavailable | None = None

    def latest(self) -> Snapshot | None:
        """The newest complete run, or None if no batch has completed yet."""
        with self._lock:
            if time.monotonic() - self._checked_at < self._check_seconds:
                if self._error is not None:
                    raise self._error
                return self._current
            try:
                with _hdfs():
                    self._current = self._refresh()
                self._error = None
            except HdfsUnavailable as exc:
                # Remembered like a result, so a down HDFS costs one timeout per period.
                self._error = exc
                raise
            finally:
                self._checked_at = time.monotonic()
            return self._current

    def _refresh(self) -> Snapshot | None:
        pointer = self._reader.latest()
        if pointer is None:
            return None
        current = self._current
        if current is not None and (current.run_id, current.path) == (
            pointer["run_id"],
            pointer["path"],
        ):
            return current
        run_dir = pointer["path"]
        summary_path = f"{run_dir}/{SUMMARY_FILE}"
        summary = self._reader.read_json(summary_path)
        if summary is None:
            raise HdfsUnavailable(f"{summary_path} is missing")
        cells = decodes(batch_cells, summary, f"{summary_path} cells", HdfsUnavailable)
        return Snapshot(pointer["run_id"], run_dir, summary, cells)

    def word_counts(self, snapshot: Snapshot) -> dict[str, int]:
        """Every word's batch count (the run's `words/` part files), loaded once per run."""
        with self._words_lock:
            if snapshot._words is None:
                snapshot._words = dict(
                    self._rows(
                        f"{snapshot.path}/{WORDS_DIR}", lambda r: (str(r["word"]), int(r["count"]))
                    )
                )
            return snapshot._words

    def hour_words_since(self, snapshot: Snapshot, since: str) -> dict[str, dict[str, int]]:
        """Per word, its per-hour batch counts from hour `since` on (the run's `hour_words/`).

        Read once per run and `since` (the time boundary, which moves only with a new run
        or a new source log); only the rows from `since` on are kept.
        """
        with self._words_lock:
            if snapshot._hour_words is None or snapshot._hour_words[0] != since:
                kept: dict[str, dict[str, int]] = {}
                rows = self._rows(
                    f"{snapshot.path}/{HOUR_WORDS_DIR}",
                    lambda r: (str(r["hour"]), str(r["word"]), int(r["count"])),
                )
                for hour, word, count in rows:
                    if hour >= since:
                        kept.setdefault(word, {})[hour] = count
                snapshot._hour_words = (since, kept)
            return snapshot._hour_words[1]

    def _rows(self, directory: str, pick: Callable[[dict[str, Any]], _Row]) -> Iterator[_Row]:
        with _hdfs():
            yield from self._reader.iter_rows(directory, pick)

    def last_run(self) -> LastRun | None:
        """The outcome of the most recent batch attempt (`last_run.json`), None if none."""
        with _hdfs():
            return self._reader.last_run()

    def ping(self) -> bool:
        """GETFILESTATUS of REPORT_ROOT: True if it exists, False if not (HDFS answered)."""
        with _hdfs():
            return self._reader.ping()


@dataclass(frozen=True)
class ArchivePartition:
    """What HDFS says about one partition of the archive (for the /metrics page)."""

    partition: int
    last_offset: int | None  # the last offset committed in the current generation
    last_commit_ms: int | None  # when its marker was last written
    files_by_date: dict[str, int]


class ArchiveReader:
    """Reads the archive's per-partition markers and recent file counts from WebHDFS.

    Markers are settled the way the sink settles them on start, without its roll-forward
    writes (`read_committed`). Files are counted for the
    `dates` most recent UTC dates of the newest generation: a bounded number of listings
    however long the archive's history.
    """

    def __init__(
        self, url: str, user: str, root: str, topic: str, timeout: float, dates: int = 7
    ) -> None:
        self._client = InsecureClient(url, user=user, timeout=timeout)
        self._root = root.rstrip("/")
        self._topic = topic
        self._dates = dates

    def _list(self, path: str) -> list[tuple[str, dict[str, Any]]]:
        """A directory's entries with their FileStatus; empty if it does not exist."""
        try:
            return list(self._client.list(path, status=True))
        except HdfsError as exc:
            if exc.exception == "FileNotFoundException":
                return []
            raise HdfsUnavailable(f"listing {path}: {exc}") from exc
        except requests.RequestException as exc:
            raise HdfsUnavailable(f"listing {path}: {brief_http_error(exc)}") from exc

    def _read(self, path: str) -> bytes | None:
        try:
            with self._client.read(path) as reader:
                data: bytes = reader.read()
                return data
        except HdfsError:
            return None
        except requests.RequestException as exc:
            raise HdfsUnavailable(f"reading {path}: {brief_http_error(exc)}") from exc

    def partitions(self) -> list[ArchivePartition]:
        """Every partition of the topic that has a marker, by partition."""
        from streamapp.archive.core import parse_data_file_path
        from streamapp.archive.store import read_committed

        files: dict[int, dict[str, int]] = {}
        gens = [n for n, _ in self._list(self._root) if n.startswith("gen=")]
        if gens:
            gen_dir = f"{self._root}/{max(gens, key=lambda n: int(n[4:]))}"
            dates = sorted(n for n, _ in self._list(gen_dir) if n.startswith("date="))
            for date_dir in dates[-self._dates :]:
                for name, _ in self._list(f"{gen_dir}/{date_dir}"):
                    f = parse_data_file_path(f"{gen_dir}/{date_dir}/{name}")
                    if f is not None and f.topic == self._topic:
                        per_date = files.setdefault(f.partition, {})
                        per_date[f.date] = per_date.get(f.date, 0) + 1
        found = []
        prefix = f"{self._topic}+"
        for name, _ in self._list(f"{self._root}/_markers"):
            if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
                continue
            partition = int(name[len(prefix) :])
            committed = read_committed(
                self._client, self._root, self._topic, partition, read=self._read
            )
            times = [
                int(st["modificationTime"])
                for _, st in self._list(f"{self._root}/_markers/{name}")
                if "modificationTime" in st
            ]
            found.append(
                ArchivePartition(
                    partition,
                    committed.last,
                    max(times, default=None),
                    files.get(partition, {}),
                )
            )
        return sorted(found, key=lambda p: p.partition)
