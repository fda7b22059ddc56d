"""The batch job over a compacted archive, and over one a crash left half compacted."""

from __future__ import annotations

from typing import Any

import pytest
from hdfs import InsecureClient
from pyspark.sql import SparkSession

from devstack.webhdfs import WebHdfsServer
from spark_jobs.wordcount import run
from streamapp.archive.store import Compactor, committed_files
from tests.spark_jobs.archive_format import Message
from tests.spark_jobs.batch_support import write_archive
from tests.spark_jobs.test_batch_job import (
    ARCHIVE,
    REJECTED,
    make_messages,
    options,
    snapshot,
)

pytestmark = pytest.mark.integration

LATER_MS = 1_800_000_000_000  # 2027: every date of make_messages() is closed
# What describes the run rather than the counts (a compacted date is recounted).
VOLATILE = (
    "run_id",
    "started_at",
    "finished_at",
    "input_files",
    "dates_recomputed",
    "dates_reused",
    "dates_dropped",
)


class Killed(Exception):
    """The compaction process died here."""


class DiesAtFirstDelete:
    """A real client whose process dies when it first deletes (output renamed, inputs kept)."""

    def __init__(self, url: str) -> None:
        self.client = InsecureClient(url)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def delete(self, path: str, recursive: bool = False) -> bool:
        raise Killed(path)


def comparable(
    client: InsecureClient, summary: dict[str, Any], spark: SparkSession, port: int
) -> dict[str, Any]:
    got = snapshot(client, summary["run_id"], spark, port)
    return {
        "summary": {k: v for k, v in summary.items() if k not in VOLATILE},
        "words": sorted(map(str, got["words"])),  # type: ignore[call-overload]
        "hour_words": sorted(map(str, got["hour_words"])),  # type: ignore[call-overload]
    }


def test_batch_over_compacted_and_half_compacted_archive_equals_uncompacted(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    client = InsecureClient(webhdfs.url)
    write_archive(client, ARCHIVE, make_messages(), per_file=5)
    rejected = [
        Message(0, p, 1000 + o, 1_767_222_000_000, b"\xff bad") for p in (0, 1) for o in range(9)
    ]
    write_archive(client, REJECTED, rejected, per_file=2)
    files_before = len(list(committed_files(client, ARCHIVE)))
    baseline = comparable(client, run(spark, options(webhdfs)), spark, webhdfs.port)

    def compactor(c: Any) -> Compactor:
        return Compactor(ARCHIVE, REJECTED, "data_stream", lambda: c, 10**9, grace_s=3600)

    # Killed after its first output was renamed into place, before any input was deleted:
    # readers see the merged file and the files it replaced side by side.
    with pytest.raises(Killed):
        compactor(DiesAtFirstDelete(webhdfs.url)).run(LATER_MS)
    assert len(list(committed_files(client, ARCHIVE))) == files_before + 1
    assert comparable(client, run(spark, options(webhdfs)), spark, webhdfs.port) == baseline

    done = compactor(client).run(LATER_MS)
    assert done
    files_after = list(committed_files(client, ARCHIVE))
    # One file per (gen, partition, date) is left: 2 generations x 3 partitions x 2 dates.
    assert len(files_after) == len({(f.gen, f.partition, f.date) for _, f in files_after}) <= 12
    assert len(files_after) < files_before / 4
    assert len(list(committed_files(client, REJECTED))) == 2
    assert comparable(client, run(spark, options(webhdfs)), spark, webhdfs.port) == baseline
