"""A short-lived, thread-safe memo of the report's reads (worker answers, health, archive)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

from web.errors import ReportError


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
