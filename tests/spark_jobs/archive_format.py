"""Archive files exactly as contract section 1 lays them out (tests stand in for the sink)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streamapp.archive.core import DataFile, encode_record, utc_date
from streamapp.archive.core import data_file_path as core_data_file_path


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
    """One JSON line, encoded by the archive sink itself (a bytes value goes to `value_b64`)."""
    value = m.value.encode("utf-8") if isinstance(m.value, str) else m.value
    key = None if m.key is None else m.key.encode("utf-8")
    line = encode_record(m.partition, m.offset, m.timestamp, key, value).line
    return line.decode("utf-8").removesuffix("\n")


def data_file_path(
    gen: int, partition: int, first: int, last: int, timestamp: int, topic: str = "data_stream"
) -> str:
    """The committed file's path relative to the root, named by the archive sink's own rule."""
    f = DataFile(gen, utc_date(timestamp), topic, partition, first, last)
    return core_data_file_path("", f).lstrip("/")


def archive_files(messages: Iterable[Message], per_file: int = 50) -> dict[str, str]:
    """Group messages into data files like the sink does: one gen/partition/date per file."""
    groups: dict[tuple[int, int, str], list[Message]] = {}
    for m in messages:
        day = utc_date(m.timestamp)
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
