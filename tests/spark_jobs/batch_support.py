"""Helpers for the batch integration tests: write an archive to WebHDFS, recount it in Python,
read a snapshot back."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hdfs import InsecureClient

from streamapp.tokenize import words
from tests.spark_jobs.archive_format import Message, archive_files


def hour_of(timestamp_ms: int) -> str:
    return datetime.fromtimestamp(timestamp_ms // 1000, UTC).strftime("%Y-%m-%dT%H:00:00Z")


@dataclass
class Recount:
    """What a single-process Python pass over the same messages finds."""

    messages: int = 0
    words: Counter[str] = field(default_factory=Counter)
    hour_words: Counter[tuple[str, str]] = field(default_factory=Counter)
    hour_messages: Counter[str] = field(default_factory=Counter)
    last_offsets: dict[str, int] = field(default_factory=dict)
    timestamps: list[int] = field(default_factory=list)


def recount(messages: Iterable[Message]) -> Recount:
    """Count each (gen, partition, offset) once, with the project's tokenizer."""
    unique = {(m.gen, m.partition, m.offset): m for m in messages}
    r = Recount()
    for (gen, partition, offset), m in unique.items():
        assert isinstance(m.value, str)
        hour = hour_of(m.timestamp)
        tokens = words(m.value)
        r.messages += 1
        r.words.update(tokens)
        r.hour_words.update((hour, w) for w in tokens)
        r.hour_messages[hour] += 1
        key = f"{gen}:{partition}"
        r.last_offsets[key] = max(r.last_offsets.get(key, -1), offset)
        r.timestamps.append(m.timestamp)
    return r


def write_archive(
    client: InsecureClient, root: str, messages: Iterable[Message], per_file: int = 25
) -> list[str]:
    """Write messages as committed data files under `root`; the paths written."""
    paths = []
    for rel, text in archive_files(messages, per_file).items():
        # Bytes, not str + encoding: the hdfs client streams a str slowly.
        client.write(f"{root}/{rel}", text.encode("utf-8"), overwrite=True)
        paths.append(f"{root}/{rel}")
    return paths


def read_json(client: InsecureClient, path: str) -> Any:
    with client.read(path, encoding="utf-8") as reader:
        return json.loads(reader.read())


def read_json_lines(client: InsecureClient, directory: str) -> list[dict[str, Any]]:
    """Every JSON line of the part files of a Spark output directory."""
    rows = []
    for name in sorted(client.list(directory)):
        if name.startswith(("_", ".")):
            continue
        with client.read(f"{directory}/{name}", encoding="utf-8") as reader:
            # "\n" only: JSON writers leave U+2028 and U+0085 raw, and splitlines() splits them.
            rows += [json.loads(line) for line in reader.read().split("\n") if line]
    return rows
