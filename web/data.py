"""The report's one data-access module: worker views over HTTP, batch snapshots from HDFS.

Everything here only reads, caches and hands plain data to the pure modules
(`reconcile`, `svg`). Network reads are bounded: worker calls time out after
`WORKER_TIMEOUT` seconds, HDFS calls after `HDFS_TIMEOUT`, the broker metadata
request after `BROKER_TIMEOUT`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import requests
from hdfs import HdfsError, InsecureClient

from streamapp.config import Settings, kafka_client_config
from streamapp.errors import WordstreamError
from streamapp.health import (
    BATCH_HEALTH,
    Health,
    batch_state,
    clock_state,
    http_json,
    worker_state,
)
from streamapp.lag import PartitionLag
from streamapp.snapshots import (
    LastRun,
    SnapshotReader,
    SnapshotUnavailable,
    brief_http_error,
)
from web.reconcile import BatchCell, LiveCell, batch_cells, live_cells

_Row = TypeVar("_Row")

# A producer counts as active while the live message total grew within this window.
PRODUCER_ACTIVE_SECONDS = 300.0


class ReportError(WordstreamError):
    """Base error of the report's data access."""


class WorkerUnavailable(ReportError):
    """No worker in WORKER_URLS answered."""


class WorkerRefused(ReportError):
    """A worker answered with a 4xx error (e.g. a word it will not look up)."""


class HdfsUnavailable(ReportError):
    """WebHDFS did not answer, or a snapshot file could not be read."""


@contextmanager
def _hdfs() -> Iterator[None]:
    """The shared snapshot reader's errors as the report's own, which its caches remember."""
    try:
        yield
    except SnapshotUnavailable as exc:
        raise HdfsUnavailable(str(exc)) from exc


def _field(body: Any, name: str, view: str) -> Any:
    """`body[name]` of a worker answer; a WorkerUnavailable naming the view if it is not there."""
    if not isinstance(body, dict) or name not in body:
        raise WorkerUnavailable(f"the worker's {view} answer has no {name!r} (contract section 3)")
    return body[name]


def _decodes(decode: Callable[[Any], _Row], body: Any, what: str, error: type[ReportError]) -> _Row:
    """`decode(body)` (a contract's cells); `error` naming `what` if it cannot be read."""
    try:
        return decode(body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise error(f"{what} break the contract (docs/contracts.md): {exc!r:.120}") from None


def _word_path(word: str) -> str:
    return "/word/" + quote(word, safe="") + "?hours=1"


def _minutes(iso: Any) -> str:
    """An ISO time shortened to `YYYY-MM-DD HH:MM` for a diagram box."""
    text = str(iso)
    return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" else text


class TtlCache:
    """Thread-safe memo of recent results (errors included) for `ttl` seconds.

    An expired entry is refreshed by one caller (in the background when an executor
    is given) while concurrent callers keep getting the stale one, so a slow source
    (a dead broker's metadata timeout) does not stall every request meanwhile. Only
    the very first read of a key waits, and concurrent first readers share it.
    """

    def __init__(self, ttl: float, max_items: int = 4096, executor: Executor | None = None) -> None:
        self._ttl = ttl
        self._max_items = max_items
        self._executor = executor
        self._lock = threading.Lock()
        self._items: dict[str, tuple[float, Any, Exception | None]] = {}
        self._refreshing: dict[str, threading.Lock] = {}

    def _lookup(self, key: str) -> tuple[tuple[float, Any, Exception | None] | None, bool]:
        with self._lock:
            hit = self._items.get(key)
        return hit, hit is not None and time.monotonic() - hit[0] < self._ttl

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        hit, fresh = self._lookup(key)
        if not fresh:
            with self._lock:
                refresh = self._refreshing.setdefault(key, threading.Lock())
            if hit is None:
                with refresh:
                    hit, fresh = self._lookup(key)  # another first reader may have filled it
                    if not fresh:
                        hit = self._compute(key, compute)
            elif refresh.acquire(blocking=False):
                if self._executor is not None:
                    self._executor.submit(self._refresh, key, compute, refresh)
                else:
                    self._refresh(key, compute, refresh)
                    hit, _ = self._lookup(key)
        assert hit is not None  # computed above, or a stale entry being refreshed
        if hit[2] is not None:
            raise hit[2]
        return hit[1]

    def _refresh(self, key: str, compute: Callable[[], Any], lock: threading.Lock) -> None:
        try:
            self._compute(key, compute)
        finally:
            lock.release()

    def _compute(self, key: str, compute: Callable[[], Any]) -> tuple[float, Any, Exception | None]:
        try:
            hit: tuple[float, Any, Exception | None] = (time.monotonic(), compute(), None)
        except ReportError as exc:
            hit = (time.monotonic(), None, exc)
        if self._ttl > 0:
            with self._lock:
                if len(self._items) >= self._max_items:  # bounded: keys come from user input
                    self._items.clear()
                    self._refreshing.clear()
                self._items[key] = hit
        return hit


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
        summary = self._reader.read_json(f"{run_dir}/summary.json")
        if summary is None:
            raise HdfsUnavailable(f"{run_dir}/summary.json is missing")
        cells = _decodes(batch_cells, summary, f"{run_dir}/summary.json cells", HdfsUnavailable)
        return Snapshot(pointer["run_id"], run_dir, summary, cells)

    def word_counts(self, snapshot: Snapshot) -> dict[str, int]:
        """Every word's batch count (the run's `words/` part files), loaded once per run."""
        with self._words_lock:
            if snapshot._words is None:
                snapshot._words = dict(
                    self._rows(
                        snapshot.path + "/words", lambda r: (str(r["word"]), int(r["count"]))
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
                    snapshot.path + "/hour_words",
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
class LagState:
    """Lag per partition of both consumer groups, or why it could not be read."""

    partitions: list[PartitionLag]
    error: str | None

    def total(self, role: str) -> int:
        """One group's lag over all partitions."""
        return sum(p.lag for p in self.partitions if p.role == role)


@dataclass(frozen=True)
class Live:
    """What the worker said (all None with `error` set when no worker answered)."""

    totals: dict[str, int] | None
    hours: list[dict[str, Any]] | None
    error: str | None
    # Per source log (`<gen>:<partition>`): what was counted, up to which offset.
    sources: list[dict[str, Any]] | None = None
    # The same per (hour, source log) cell, for every hour the live tables hold.
    cells: list[LiveCell] | None = None

    @property
    def catching_up(self) -> str | None:
        """Why the numbers may be behind (a worker failing over), or None."""
        return catching_up((self.totals or {}).get("behind"))


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


@dataclass(frozen=True)
class Batch:
    """The latest snapshot, None when no run completed (or HDFS is down: `error`)."""

    snapshot: Snapshot | None
    error: str | None


class ReportData:
    """Everything the page and API read, with bounded timeouts and short-lived caches."""

    def __init__(self, settings: Settings, config: Mapping[str, Any]) -> None:
        self._settings = settings
        self.worker = WorkerClient(settings.worker_url_list, float(config["WORKER_TIMEOUT"]))
        self.store = SnapshotSource(
            SnapshotReader.from_settings(settings, float(config["HDFS_TIMEOUT"])),
            float(config["BATCH_CHECK_SECONDS"]),
        )
        self._broker_timeout = float(config["BROKER_TIMEOUT"])
        self._clock_timeout = float(config["WORKER_TIMEOUT"])
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="report-read")
        self._refresher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="report-refresh")
        self._live_cache = TtlCache(float(config["LIVE_CACHE_SECONDS"]), executor=self._refresher)
        self._health_cache = TtlCache(
            float(config["HEALTH_CACHE_SECONDS"]), executor=self._refresher
        )
        self.archive_reader = ArchiveReader(
            settings.hdfs_url,
            settings.hdfs_user_name,
            settings.archive_root,
            settings.topic,
            float(config["HDFS_TIMEOUT"]),
        )
        self._archive_cache = TtlCache(
            float(config["ARCHIVE_METRICS_SECONDS"]), executor=self._refresher
        )
        self._activity_lock = threading.Lock()
        self._cells_memo: tuple[Any, list[LiveCell]] | None = None
        self._last_messages: int | None = None
        self._last_growth: float | None = None

    def _worker_get(self, path: str) -> Any:
        return self._live_cache.get(path, lambda: self.worker.get(path))

    def live(self) -> Live:
        """Live totals and per-hour series (both read concurrently)."""
        totals_f = self._pool.submit(self._worker_get, "/totals")
        hours_f = self._pool.submit(self._worker_get, "/hours")
        sources_f = self._pool.submit(self._worker_get, "/sources")
        try:
            totals = totals_f.result()
            messages = int(_field(totals, "messages", "/totals"))
            hours = _field(hours_f.result(), "hours", "/hours")
            by_source = sources_f.result()
            sources = _field(by_source, "sources", "/sources")
            cells = self._live_cells(by_source)
        except ReportError as exc:
            return Live(None, None, str(exc))
        self._observe(messages)
        return Live(totals, hours, None, sources, cells)

    def _live_cells(self, body: Any) -> list[LiveCell]:
        """The cells of a `/sources` answer, decoded once per answer (answers are cached)."""
        memo = self._cells_memo
        if memo is not None and memo[0] is body:
            return memo[1]
        raw = _field(body, "cells", "/sources")
        cells = _decodes(live_cells, raw, "the worker's /sources cells", WorkerUnavailable)
        self._cells_memo = (body, cells)
        return cells

    def live_top(self, n: int) -> list[dict[str, Any]]:
        """The worker's top-n words."""
        top: list[dict[str, Any]] = _field(self._worker_get(f"/top?n={n}"), "top", "/top")
        return top

    def live_word(self, word: str) -> int:
        """The worker's all-time count of one (already normalised) word."""
        # The same view as `live_word_hours`, so a word's count and hours share one answer.
        return int(_field(self._worker_get(_word_path(word)), "count", "/word"))

    def live_word_hours(self, word: str) -> dict[str, int]:
        """The worker's per-hour counts of one (already normalised) word, hours it holds."""
        body = self._worker_get(_word_path(word))
        hours = _field(body, "hours", "/word?hours=1")
        return {str(h): int(n) for h, n in hours.items()}

    def live_words_hours(self, words: list[str]) -> dict[str, dict[str, int]]:
        """Per-hour counts of several words, looked up concurrently; refused words omitted."""

        def one(word: str) -> tuple[str, dict[str, int] | None]:
            try:
                return word, self.live_word_hours(word)
            except WorkerRefused:
                return word, None

        return {w: h for w, h in self._pool.map(one, words) if h is not None}

    def live_words(self, words: list[str]) -> dict[str, int]:
        """Counts of several words, looked up concurrently; words the worker refuses are omitted."""

        def one(word: str) -> tuple[str, int | None]:
            try:
                return word, self.live_word(word)
            except WorkerRefused:
                return word, None

        return {w: c for w, c in self._pool.map(one, words) if c is not None}

    def batch(self) -> Batch:
        """The latest complete snapshot."""
        try:
            return Batch(self.store.latest(), None)
        except ReportError as exc:
            return Batch(None, str(exc))

    def batch_counts(self, snapshot: Snapshot, words: list[str]) -> dict[str, int]:
        """Batch counts of some words: from the summary's top list, else the full word list."""
        top = {e["word"]: int(e["count"]) for e in snapshot.summary.get("top", [])}
        if all(w in top for w in words):
            return {w: top[w] for w in words}
        every = self.store.word_counts(snapshot)
        return {w: every.get(w, 0) for w in words}

    def batch_hour_words(self, snapshot: Snapshot, since: str) -> dict[str, dict[str, int]]:
        """Per word, the batch's per-hour counts from hour `since` on (`hour_words/`)."""
        return self.store.hour_words_since(snapshot, since)

    def archive(self) -> list[ArchivePartition]:
        """The archive's partitions as HDFS holds them (cached ARCHIVE_METRICS_SECONDS)."""
        found: list[ArchivePartition] = self._archive_cache.get(
            "archive", self.archive_reader.partitions
        )
        return found

    def last_run_or_none(self) -> LastRun | None:
        """`last_run.json`, None if there is none or HDFS cannot be read."""
        try:
            return self.store.last_run()
        except ReportError:
            return None

    def lag(self) -> LagState:
        """Both consumer groups' lag (cached like health; never raises)."""
        # Without a broker the offset requests would only wait for their timeout.
        if self._health_cache.get("broker", self._broker_health).state == "down":
            return LagState([], "broker down: cannot read offsets")
        try:
            found: LagState = self._health_cache.get("lag", self._read_lag)
        except ReportError as exc:
            return LagState([], str(exc))
        return found

    def _read_lag(self) -> LagState:
        from streamapp.lag import LagUnavailable, read_lag

        try:
            return LagState(read_lag(self._settings), None)
        except LagUnavailable as exc:
            return LagState([], str(exc))

    def _observe(self, messages: int) -> None:
        with self._activity_lock:
            if self._last_messages is not None and messages > self._last_messages:
                self._last_growth = time.monotonic()
            self._last_messages = messages

    def health(self) -> dict[str, Health]:
        """Every component of the diagram, checked concurrently (cached a few seconds)."""
        checks: dict[str, Callable[[], Health]] = {
            "broker": self._broker_health,
            "worker": self._worker_health,
            "hdfs": self._hdfs_health,
            "spark": self._spark_health,
            "clock": self._clock_health,
        }
        futures = {
            name: self._pool.submit(self._health_cache.get, name, check)
            for name, check in checks.items()
        }
        result = {name: f.result() for name, f in futures.items()}
        result["lag"] = self._lag_health()
        result["producer"] = self._producer_health(result["worker"])
        result["web"] = Health("ok", "serving this page")
        return result

    def _producer_health(self, worker: Health) -> Health:
        # Producers are not observable directly; the live message total growing is
        # the evidence that one is sending.
        if worker.state == "down":
            return Health("unknown", "worker down: cannot tell")
        with self._activity_lock:
            grew = self._last_growth
        if grew is not None and time.monotonic() - grew < PRODUCER_ACTIVE_SECONDS:
            return Health("ok", "messages arriving")
        return Health("warn", "idle: no new messages seen")

    def _lag_health(self) -> Health:
        lag = self.lag()
        if lag.error is not None:
            return Health("unknown", lag.error)
        if not lag.partitions:
            return Health("unknown", f"no topic {self._settings.topic}")
        return Health("ok", f"live {lag.total('live'):,} · archive {lag.total('archive'):,} behind")

    def _broker_health(self) -> Health:
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        conf: dict[str, Any] = dict(kafka_client_config(self._settings))
        conf.update({"socket.timeout.ms": int(self._broker_timeout * 1000), "log_level": 0})
        try:
            meta = AdminClient(conf).list_topics(timeout=self._broker_timeout)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else exc
            return Health("down", f"unreachable: {err.str() if hasattr(err, 'str') else err}")
        topic = meta.topics.get(self._settings.topic)
        if topic is None or topic.error is not None:
            return Health("warn", f"{len(meta.brokers)} broker(s); no topic {self._settings.topic}")
        return Health("ok", f"{len(meta.brokers)} broker(s); {len(topic.partitions)} partition(s)")

    def _worker_health(self) -> Health:
        try:
            body = self.worker.get("/health")
        except ReportError as exc:
            return Health("down", str(exc))
        state = worker_state(body)
        if state == "down":
            return Health("down", "the worker's /health answer is not an object")
        try:
            behind = catching_up(self._worker_get("/totals").get("behind"))
        except ReportError:
            behind = None
        if behind is not None:
            # A failover under way: the views answer, some partitions from standbys.
            return Health("warn", f"catching up: {behind}")
        if state == "ok":
            return Health("ok", f"{len(body.get('assigned', []))} partition(s) assigned")
        return Health("warn", str(body.get("status", "unknown status")))

    def _hdfs_health(self) -> Health:
        try:
            exists = self.store.ping()
        except ReportError as exc:
            return Health("down", str(exc))
        return Health("ok", "reports found" if exists else "up; no reports yet")

    def _spark_health(self) -> Health:
        try:
            run = self.store.last_run()
        except ReportError:
            return Health("unknown", "HDFS down: cannot read last_run.json")
        state = batch_state(run)
        if run is None:
            return Health(BATCH_HEALTH[state], state)
        detail = {
            "success": f"last run {_minutes(run.get('finished_at'))}",
            "running": f"running since {_minutes(run.get('started_at'))}",
            "failed": f"failed: {run.get('error')}",
        }.get(state, f"last_run.json says {run['state']!r}")
        return Health(BATCH_HEALTH[state], detail)

    def _clock_health(self) -> Health:
        base = self._settings.clock_base_url
        reply = http_json(f"{base}/health", self._clock_timeout)
        if clock_state(reply) == "down":
            # The host and port only: the page links to nothing outside itself.
            return Health("down", f"no answer from {urlsplit(base).netloc}")
        if reply.body.get("running"):
            return Health("ok", "running the batch now")
        return Health("ok", f"next run {_minutes(reply.body.get('next_run'))}")


@dataclass(frozen=True)
class ArchivePartition:
    """What HDFS says about one partition of the archive (for the /metrics page)."""

    partition: int
    last_offset: int | None  # the last offset committed in the current generation
    last_commit_ms: int | None  # when its marker was last written
    files_by_date: dict[str, int]


class ArchiveReader:
    """Reads the archive's per-partition markers and recent file counts from WebHDFS.

    Markers are settled the way the sink settles them on start (`choose_marker`,
    `plan_recovery`) without its roll-forward writes. Files are counted for the
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
        from streamapp.archive.core import (
            choose_marker,
            marker_paths,
            parse_data_file_path,
            plan_recovery,
        )

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
            slots = marker_paths(self._root, self._topic, partition)
            marker = choose_marker([self._read(path) for path in slots])
            renames = marker.pending.renames if marker and marker.pending else ()
            finals = {
                final: self._client.status(final, strict=False) is not None for _, final in renames
            }
            committed = plan_recovery(marker, finals, {}).committed
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
