"""The report's assembly: live and batch reads, lag and health, for the page, API and /metrics.

The sources (`web.sources`) read, the cache (`web.cache`) keeps answers briefly, the
checks (`web.health`) judge each component; this module puts them together and hands
plain data to the pure modules (`reconcile`, `svg`). The broker metadata request of the
health check times out after `BROKER_TIMEOUT`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from streamapp.config import Settings
from streamapp.health import Health
from streamapp.snapshots import LastRun, SnapshotReader
from web.cache import TtlCache
from web.errors import ReportError, WorkerRefused, WorkerUnavailable
from web.health import (
    LagState,
    broker_health,
    clock_health,
    hdfs_health,
    lag_health,
    producer_health,
    spark_health,
    worker_health,
)
from web.reconcile import LiveCell, live_cells
from web.sources import (
    ArchivePartition,
    ArchiveReader,
    Snapshot,
    SnapshotSource,
    WorkerClient,
    catching_up,
    decodes,
    field_of,
)


def _word_path(word: str) -> str:
    """The worker view of one word with its per-hour counts."""
    return "/word/" + quote(word, safe="") + "?hours=1"


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


@dataclass(frozen=True)
class LatestBatch:
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
            messages = int(field_of(totals, "messages", "/totals"))
            hours = field_of(hours_f.result(), "hours", "/hours")
            by_source = sources_f.result()
            sources = field_of(by_source, "sources", "/sources")
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
        raw = field_of(body, "cells", "/sources")
        cells = decodes(live_cells, raw, "the worker's /sources cells", WorkerUnavailable)
        self._cells_memo = (body, cells)
        return cells

    def live_top(self, n: int) -> list[dict[str, Any]]:
        """The worker's top-n words."""
        top: list[dict[str, Any]] = field_of(self._worker_get(f"/top?n={n}"), "top", "/top")
        return top

    def live_word(self, word: str) -> int:
        """The worker's all-time count of one (already normalised) word."""
        # The same view as `live_word_hours`, so a word's count and hours share one answer.
        return int(field_of(self._worker_get(_word_path(word)), "count", "/word"))

    def live_word_hours(self, word: str) -> dict[str, int]:
        """The worker's per-hour counts of one (already normalised) word, hours it holds."""
        body = self._worker_get(_word_path(word))
        hours = field_of(body, "hours", "/word?hours=1")
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

    def batch(self) -> LatestBatch:
        """The latest complete snapshot."""
        try:
            return LatestBatch(self.store.latest(), None)
        except ReportError as exc:
            return LatestBatch(None, str(exc))

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
            "worker": lambda: worker_health(self.worker, lambda: self._worker_get("/totals")),
            "hdfs": lambda: hdfs_health(self.store),
            "spark": lambda: spark_health(self.store),
            "clock": lambda: clock_health(self._settings, self._clock_timeout),
        }
        futures = {
            name: self._pool.submit(self._health_cache.get, name, check)
            for name, check in checks.items()
        }
        result = {name: f.result() for name, f in futures.items()}
        result["lag"] = lag_health(self.lag(), self._settings.topic)
        with self._activity_lock:
            grew = self._last_growth
        result["producer"] = producer_health(result["worker"], grew)
        result["web"] = Health("ok", "serving this page")
        return result

    def _broker_health(self) -> Health:
        return broker_health(self._settings, self._broker_timeout)
