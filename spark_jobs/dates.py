"""Per-date aggregates of the incremental run: fingerprints, the plan, the merge (pure).

The archive is laid out by date (contract section 1), and every copy of a message lands
in the same `gen=/date=` directory (its identity and its date both come from the Kafka
record), so each date key can be counted on its own and the sum over dates is exact. A
date's aggregate is kept under REPORT_ROOT with the fingerprint of the files it counted
(names and lengths, both roots); a run recomputes exactly the dates whose fingerprint
changed. See docs/batch.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spark_jobs.transforms import date_key_of_path
from streamapp.contract import Source, hour_label

# Roots in a fingerprint entry: the same relative name in the two roots is two files.
ARCHIVE, REJECTED = "archive", "rejected"


@dataclass(frozen=True)
class DateFiles:
    """The data files of one date key in both roots: (root, relative name, length)."""

    key: str
    entries: tuple[tuple[str, str, int], ...]
    locations: tuple[tuple[str, str], ...] = ()  # (root, full URI): where to read them

    def uris(self, root: str) -> list[str]:
        return [uri for kind, uri in self.locations if kind == root]

    @property
    def fingerprint(self) -> str:
        text = json.dumps(sorted(self.entries), separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def group_by_date(
    archive: Iterable[tuple[str, int]],
    rejected: Iterable[tuple[str, int]],
    archive_root: str,
    rejected_root: str,
) -> dict[str, DateFiles]:
    """Listed (uri, length) of both roots, grouped by date key."""
    grouped: dict[str, list[tuple[str, str, int]]] = {}
    located: dict[str, list[tuple[str, str]]] = {}
    roots = ((ARCHIVE, archive_root, archive), (REJECTED, rejected_root, rejected))
    for kind, root, files in roots:
        for uri, length in files:
            key = date_key_of_path(uri)
            grouped.setdefault(key, []).append((kind, _relative(uri, root), length))
            located.setdefault(key, []).append((kind, uri))
    return {
        key: DateFiles(key, tuple(sorted(grouped[key])), tuple(sorted(located[key])))
        for key in sorted(grouped)
    }


def _relative(uri: str, root: str) -> str:
    # Listing returns fully qualified URIs; the root may be given with or without the
    # authority, so compare from the root's path part on.
    path = root.split("://", 1)[-1]
    path = path[path.find("/") :] if "://" in root else path
    at = uri.find(path.rstrip("/") + "/")
    return uri[at + len(path.rstrip("/")) + 1 :] if at >= 0 else uri


@dataclass(frozen=True)
class Plan:
    """Which date keys a run recomputes, reuses, and drops (no files left)."""

    recompute: list[str]
    reuse: list[str]
    dropped: list[str]


def plan_run(
    current: Mapping[str, DateFiles], stored: Mapping[str, Mapping[str, Any]], full: bool
) -> Plan:
    """Reuse a stored aggregate only when its fingerprint equals the current file set."""
    reuse = [
        key
        for key, files in current.items()
        if not full and key in stored and stored[key].get("fingerprint") == files.fingerprint
    ]
    return Plan(
        recompute=sorted(set(current) - set(reuse)),
        reuse=sorted(reuse),
        dropped=sorted(set(stored) - set(current)),
    )


def date_record(
    *,
    key: str,
    files: DateFiles,
    run_id: str,
    cells: Sequence[Mapping[str, Any]],
    rejected_partitions: Sequence[Mapping[str, Any]],
    corrupt: int,
) -> dict[str, Any]:
    """The stored record of one date's aggregate (its completion mark).

    `cells` rows: h, gen, partition, messages, words, first_offset, last_offset,
    first_timestamp_ms, last_timestamp_ms. `rejected_partitions` rows: gen, partition,
    messages, last_offset.
    """
    return {
        "date": key,
        "fingerprint": files.fingerprint,
        "files": len(files.entries),
        "run_id": run_id,
        "words": sum(int(c["words"]) for c in cells),
        "rejected": sum(int(r["messages"]) for r in rejected_partitions),
        "corrupt": int(corrupt),
        "rejected_partitions": {
            Source(r["gen"], r["partition"]).key: int(r["last_offset"]) for r in rejected_partitions
        },
        "cells": [
            {k: int(c[k]) for k in _CELL_FIELDS}
            for c in sorted(cells, key=lambda c: (c["h"], c["gen"], c["partition"]))
        ],
    }


_CELL_FIELDS = (
    "h",
    "gen",
    "partition",
    "messages",
    "words",
    "first_offset",
    "last_offset",
    "first_timestamp_ms",
    "last_timestamp_ms",
)


@dataclass(frozen=True)
class Merged:
    """What the snapshot's summary takes from the per-date records."""

    messages: int
    words: int
    rejected: int
    corrupt: int
    hours: list[dict[str, Any]]
    cells: list[dict[str, Any]]
    partitions: dict[str, int]
    first_timestamp_ms: int | None
    last_timestamp_ms: int | None


def merge(records: Iterable[Mapping[str, Any]]) -> Merged:
    """Sum the per-date records into totals, hours, cells and coverage."""
    cells: dict[tuple[int, int, int], dict[str, int]] = {}
    partitions: dict[tuple[int, int], int] = {}
    rejected = corrupt = 0
    for record in records:
        rejected += int(record["rejected"])
        corrupt += int(record["corrupt"])
        for name, last in record["rejected_partitions"].items():
            gen, partition = Source.parse(name)
            partitions[gen, partition] = max(partitions.get((gen, partition), last), last)
        for c in record["cells"]:
            # A cell normally comes from one date; a message whose hour lies in another
            # date's directory (never written by the sink) still sums correctly.
            key = (c["h"], c["gen"], c["partition"])
            into = cells.get(key)
            if into is None:
                cells[key] = dict(c)
                continue
            for name in ("messages", "words"):
                into[name] += c[name]
            for name in ("first_offset", "first_timestamp_ms"):
                into[name] = min(into[name], c[name])
            for name in ("last_offset", "last_timestamp_ms"):
                into[name] = max(into[name], c[name])
    hours: dict[int, list[int]] = {}
    for (h, gen, partition), c in cells.items():
        totals = hours.setdefault(h, [0, 0])
        totals[0] += c["messages"]
        totals[1] += c["words"]
        last = partitions.get((gen, partition), c["last_offset"])
        partitions[gen, partition] = max(last, c["last_offset"])
    ordered = [cells[k] for k in sorted(cells)]
    return Merged(
        messages=sum(c["messages"] for c in ordered),
        words=sum(c["words"] for c in ordered),
        rejected=rejected,
        corrupt=corrupt,
        hours=[
            {"hour": hour_label(h), "messages": m, "words": w}
            for h, (m, w) in sorted(hours.items())
        ],
        cells=[
            {
                "hour": hour_label(c["h"]),
                "partition": Source(c["gen"], c["partition"]).key,
                "messages": c["messages"],
                "words": c["words"],
                "first_offset": c["first_offset"],
                "last_offset": c["last_offset"],
            }
            for c in ordered
        ],
        partitions={Source(g, p).key: last for (g, p), last in sorted(partitions.items())},
        first_timestamp_ms=min((c["first_timestamp_ms"] for c in ordered), default=None),
        last_timestamp_ms=max((c["last_timestamp_ms"] for c in ordered), default=None),
    )


def recent_hours_since(
    cells: Iterable[Mapping[str, Any]], partitions: Mapping[str, int]
) -> str | None:
    """The first hour a run's `hour_words/` must hold (contract section 2,
    `hour_words_since`): the oldest newest hour among the source logs still open."""
    newest_gen: dict[str, int] = {}
    for source in partitions:
        gen, _, partition = source.partition(":")
        newest_gen[partition] = max(int(gen), newest_gen.get(partition, int(gen)))
    newest_hour: dict[str, str] = {}
    for cell in cells:
        source = str(cell["partition"])
        gen, _, partition = source.partition(":")
        if int(gen) < newest_gen.get(partition, int(gen)):
            continue  # a closed log: the batch counted it whole
        hour = str(cell["hour"])
        newest_hour[source] = max(hour, newest_hour.get(source, hour))
    return min(newest_hour.values(), default=None)
