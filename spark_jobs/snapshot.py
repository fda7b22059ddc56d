"""The batch snapshot layout of contract section 2: pure builders plus a thin store.

A run is `runs/{run_id}/` holding summary.json, words/, hour_words/ and `_SUCCESS`
(written last); `latest` points at the newest complete run and `last_run.json` records
the outcome of every attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from spark_jobs.hadoopfs import HadoopFs
from streamapp.contract import (
    LAST_RUN_FILE,
    LATEST_FILE,
    RUNS_DIR,
    SUCCESS_FILE,
    SUMMARY_FILE,
    SUMMARY_TOTALS,
)
from streamapp.snapshots import LastRun, LatestPointer, decode_last_run, decode_latest


class DatePlan(Protocol):
    """Which date keys a run recomputed, reused and dropped (spark_jobs.dates.Plan)."""

    @property
    def recompute(self) -> Sequence[str]: ...
    @property
    def reuse(self) -> Sequence[str]: ...
    @property
    def dropped(self) -> Sequence[str]: ...


RUN_ID_FORMAT = "%Y%m%dT%H%M%SZ"
_RUN_ID = re.compile(r"\d{8}T\d{6}Z")


def run_id_for(started: datetime) -> str:
    """The run id of a run started at `started`: its UTC time as YYYYMMDDTHHMMSSZ."""
    return started.astimezone(UTC).strftime(RUN_ID_FORMAT)


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z suffix, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Coverage:
    """What a run covered; `partitions` maps "gen:partition" to the last archived offset."""

    partitions: dict[str, int]
    first_timestamp_ms: int | None
    last_timestamp_ms: int | None


def build_summary(
    *,
    run_id: str,
    started: datetime,
    finished: datetime,
    spark_version: str,
    archive: str,
    input_files: int,
    coverage: Coverage,
    totals: Mapping[str, int],
    hours: Sequence[Mapping[str, Any]],
    top: Sequence[Mapping[str, Any]],
    cells: Sequence[Mapping[str, Any]] = (),
    dates: DatePlan | None = None,
    hour_words_since: str | None = None,
) -> dict[str, Any]:
    """summary.json exactly as contract section 2 lays it out."""
    return {
        "run_id": run_id,
        "started_at": iso(started),
        "finished_at": iso(finished),
        "spark_version": spark_version,
        "archive": archive,
        "input_files": input_files,
        "coverage": {
            "partitions": coverage.partitions,
            "first_timestamp_ms": coverage.first_timestamp_ms,
            "last_timestamp_ms": coverage.last_timestamp_ms,
        },
        "totals": {k: int(totals[k]) for k in SUMMARY_TOTALS},
        "hours": [
            {"hour": h["hour"], "messages": int(h["messages"]), "words": int(h["words"])}
            for h in sorted(hours, key=lambda h: h["hour"])
        ],
        "top": [{"word": t["word"], "count": int(t["count"])} for t in top],
        "cells": [
            {
                "hour": c["hour"],
                "partition": c["partition"],
                **{k: int(c[k]) for k in ("messages", "words", "first_offset", "last_offset")},
            }
            for c in cells
        ],
        "dates_recomputed": list(dates.recompute) if dates else [],
        "dates_reused": list(dates.reuse) if dates else [],
        "dates_dropped": list(dates.dropped) if dates else [],
        "hour_words_since": hour_words_since,
    }


def last_run_record(
    run_id: str,
    state: str,
    started: datetime,
    finished: datetime | None = None,
    error: str | None = None,
) -> LastRun:
    """last_run.json: the outcome of the latest attempt (running, success or failed)."""
    return {
        "run_id": run_id,
        "state": state,
        "started_at": iso(started),
        "finished_at": iso(finished) if finished else None,
        "error": error,
    }


def running_elsewhere(
    last_run: Mapping[str, Any] | None, now: datetime, stale_after_s: int
) -> bool:
    """True if last_run.json says a run is in progress and it is not stale.

    A run killed without a chance to record its end stays `running`; after
    `stale_after_s` seconds it no longer blocks new runs.
    """
    if not last_run or last_run.get("state") != "running":
        return False
    try:
        started = parse_iso(str(last_run["started_at"]))
    except (KeyError, ValueError):
        return False
    return (now - started).total_seconds() < stale_after_s


def runs_to_prune(run_ids: Iterable[str], keep: int, protect: str | None) -> list[str]:
    """The run ids to delete so that only the `keep` newest remain (never `protect`).

    Names that are not run ids (temporary directories) are left alone.
    """
    ordered = sorted((r for r in run_ids if _RUN_ID.fullmatch(r)), reverse=True)
    return sorted(r for r in ordered[max(keep, 1) :] if r != protect)


def dumps(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


class SnapshotWriter:
    """Writes REPORT_ROOT on any Hadoop filesystem: runs, `latest` and `last_run.json`.

    It reads back only what a run decides on (the last attempt, the run `latest` names);
    every other reader uses `streamapp.snapshots.SnapshotReader`.
    """

    def __init__(self, fs: HadoopFs, report_root: str) -> None:
        self.fs = fs
        self.root = report_root.rstrip("/")

    def run_dir(self, run_id: str) -> str:
        return f"{self.root}/{RUNS_DIR}/{run_id}"

    def _read_json(self, name: str) -> Any:
        raw = self.fs.read_bytes(f"{self.root}/{name}")
        return None if raw is None else json.loads(raw)

    def last_run(self) -> LastRun | None:
        """last_run.json; None if there is none or it is unreadable (then it blocks no run)."""
        try:
            return decode_last_run(self._read_json(LAST_RUN_FILE))
        except ValueError:
            return None

    def latest(self) -> LatestPointer | None:
        """The `latest` pointer; None if there is none or it is unreadable."""
        try:
            return decode_latest(self._read_json(LATEST_FILE))
        except ValueError:
            return None

    def record_attempt(self, record: Mapping[str, Any]) -> None:
        """Write last_run.json (temp file + rename, so a reader never sees half of it)."""
        self._replace(f"{self.root}/{LAST_RUN_FILE}", dumps(record))

    def run_exists(self, run_id: str) -> bool:
        return self.fs.exists(self.run_dir(run_id))

    def commit(self, run_id: str, summary: Mapping[str, Any]) -> None:
        """Write summary.json, then `_SUCCESS`, then point `latest` at the run."""
        run_dir = self.run_dir(run_id)
        self.fs.write_bytes(f"{run_dir}/{SUMMARY_FILE}", dumps(summary))
        self.fs.write_bytes(f"{run_dir}/{SUCCESS_FILE}", b"")
        pointer = {"run_id": run_id, "path": self.fs.uri_path(run_dir)}
        self._replace(f"{self.root}/{LATEST_FILE}", dumps(pointer))

    def prune(self, keep: int) -> list[str]:
        """Delete all but the `keep` newest runs (never the one `latest` names)."""
        runs_root = f"{self.root}/{RUNS_DIR}"
        if not self.fs.exists(runs_root):
            return []
        run_ids = [name for name, _, is_dir in self.fs.list_dir(runs_root) if is_dir]
        latest = self.latest()
        doomed = runs_to_prune(run_ids, keep, latest.get("run_id") if latest else None)
        for run_id in doomed:
            self.fs.delete(self.run_dir(run_id))
        return doomed

    def _replace(self, uri: str, data: bytes) -> None:
        head, _, name = uri.rpartition("/")
        tmp = f"{head}/_{name}.tmp"
        self.fs.write_bytes(tmp, data)
        self.fs.replace(tmp, uri)


class AggregateStore:
    """The per-date aggregates under REPORT_ROOT/aggregates (see spark_jobs.dates).

    `dates/date={key}.json` is a date's record (fingerprint, cells, rejected, corrupt and
    the run whose Parquet holds its counts); `runs/{run_id}/hour_words/date_key={key}/` and
    `runs/{run_id}/words/date_key={key}/` are that Parquet. A record is written only after
    its Parquet files, so a record always names complete files.
    """

    def __init__(self, fs: HadoopFs, report_root: str) -> None:
        self.fs = fs
        self.root = f"{report_root.rstrip('/')}/aggregates"

    def run_dir(self, run_id: str) -> str:
        return f"{self.root}/{RUNS_DIR}/{run_id}"

    def words_dir(self, run_id: str, key: str) -> str:
        return f"{self.run_dir(run_id)}/words/date_key={key}"

    def hour_words_dir(self, run_id: str, key: str) -> str:
        return f"{self.run_dir(run_id)}/hour_words/date_key={key}"

    def _record_path(self, key: str) -> str:
        return f"{self.root}/dates/date={key}.json"

    def records(self) -> dict[str, dict[str, Any]]:
        """Every stored date record by date key (unreadable ones are left out: recomputed)."""
        directory = f"{self.root}/dates"
        if not self.fs.exists(directory):
            return {}
        found: dict[str, dict[str, Any]] = {}
        for name, uri, is_dir in self.fs.list_dir(directory):
            if is_dir or not (name.startswith("date=") and name.endswith(".json")):
                continue
            raw = self.fs.read_bytes(uri)
            try:
                record = json.loads(raw) if raw is not None else None
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("date") == name[5:-5]:
                found[record["date"]] = record
        return found

    def store(self, record: Mapping[str, Any]) -> None:
        """Write a date's record (temp file + rename: never half a record)."""
        path = self._record_path(str(record["date"]))
        head, _, name = path.rpartition("/")
        tmp = f"{head}/_{name}.tmp"
        self.fs.write_bytes(tmp, dumps(record))
        self.fs.replace(tmp, path)

    def forget(self, keys: Iterable[str]) -> None:
        """Delete the records of dates whose files are gone."""
        for key in keys:
            self.fs.delete(self._record_path(key))

    def prune(self, keep: set[str]) -> None:
        """Delete the Parquet of runs no record names any more (and of killed runs)."""
        runs = f"{self.root}/runs"
        if not self.fs.exists(runs):
            return
        for name, uri, is_dir in self.fs.list_dir(runs):
            if is_dir and name not in keep:
                self.fs.delete(uri)
