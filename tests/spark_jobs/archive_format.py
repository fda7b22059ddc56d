"""Archive files exactly as contract section 1 lays them out (tests stand in for the sink)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Message:
    """One archived Kafka message; `value` is text, or raw bytes for the rejected root."""

    gen: int
    partition: int
    offset: int
    timestamp: int
    value: str | bytes
    key: str | None = None


def record_line(m: Message) -> str:
    """One JSON line; a bytes value is written as `value_b64` (the rejected layout)."""
    record: dict[str, object] = {
        "partition": m.partition,
        "offset": m.offset,
        "timestamp": m.timestamp,
        "key": m.key,
    }
    if isinstance(m.value, bytes):
        record["value_b64"] = base64.b64encode(m.value).decode("ascii")
    else:
        record["value"] = m.value
    return json.dumps(record, ensure_ascii=False)


def data_file_path(
    gen: int, partition: int, first: int, last: int, timestamp: int, topic: str = "data_stream"
) -> str:
    """The committed file's path relative to the root: gen=G/date=D/topic+p+first+last.jsonl."""
    day = datetime.fromtimestamp(timestamp / 1000, UTC).strftime("%Y-%m-%d")
    return f"gen={gen}/date={day}/{topic}+{partition}+{first:020d}+{last:020d}.jsonl"


def archive_files(messages: Iterable[Message], per_file: int = 50) -> dict[str, str]:
    """Group messages into data files like the sink does: one gen/partition/date per file."""
    groups: dict[tuple[int, int, str], list[Message]] = {}
    for m in messages:
        day = datetime.fromtimestamp(m.timestamp / 1000, UTC).strftime("%Y-%m-%d")
        groups.setdefault((m.gen, m.partition, day), []).append(m)
    files: dict[str, str] = {}
    for group in groups.values():
        group.sort(key=lambda m: m.offset)
        for i in range(0, len(group), per_file):
            chunk = group[i : i + per_file]
            path = data_file_path(
                chunk[0].gen,
                chunk[0].partition,
                chunk[0].offset,
                chunk[-1].offset,
                chunk[0].timestamp,
            )
            files[path] = "".join(record_line(m) + "\n" for m in chunk)
    return files
