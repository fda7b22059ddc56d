"""The contract between the stages in code (docs/contracts.md): hours, top-N, snapshot names.

Stream, archive, batch and report import these instead of spelling them again. Standard
library only, so `spark_jobs` and `web` import it without pulling in faust.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

HOUR_MS = 3_600_000
HOUR_FORMAT = "%Y-%m-%dT%H:00:00Z"  # an hour label: UTC, start of the hour
# The same label as a Spark datetime pattern, for `date_format` in the JVM.
SPARK_HOUR_FORMAT = "yyyy-MM-dd'T'HH:00:00'Z'"

TOP_MAX = 1000  # the largest top-N: the worker's /top?n= and the snapshot's `top`

# REPORT_ROOT's layout (section 2): the run directories, a run's files, the two pointers.
RUNS_DIR = "runs"
SUMMARY_FILE = "summary.json"
WORDS_DIR = "words"
HOUR_WORDS_DIR = "hour_words"
SUCCESS_FILE = "_SUCCESS"
LATEST_FILE = "latest"
LAST_RUN_FILE = "last_run.json"
# summary.json's `totals`, in the contract's order.
SUMMARY_TOTALS = ("messages", "words", "distinct_words", "rejected", "corrupt")


@lru_cache(maxsize=4096)
def hour_label(hour_index: int) -> str:
    """The label of an hour index (whole hours since the epoch)."""
    return datetime.fromtimestamp(hour_index * 3600, UTC).strftime(HOUR_FORMAT)


def hour_of(timestamp_ms: int) -> str:
    """The label of the UTC hour a Kafka timestamp (ms) falls in."""
    return hour_label(timestamp_ms // HOUR_MS)


def hour_start(label: str) -> datetime:
    """The naive UTC start of a labelled hour (inverse of `hour_label`)."""
    return datetime.strptime(label, HOUR_FORMAT)


class Source(NamedTuple):
    """Where source messages come from: a partition's log, in one generation."""

    gen: int
    partition: int

    @property
    def key(self) -> str:
        """The source as updates, views and the snapshot name it (`<gen>:<partition>`)."""
        return f"{self.gen}:{self.partition}"

    @classmethod
    def parse(cls, key: str) -> Source:
        """Inverse of `key`."""
        gen, _, partition = key.partition(":")
        return cls(int(gen), int(partition))
