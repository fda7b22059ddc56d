"""The incremental run equals a full recount: over evolving archives, and after kill -9.

The archive and reports live on the local filesystem (`file://`, a Hadoop filesystem like
HDFS for the job); the WebHDFS path is covered by tests/spark_jobs/test_batch_job.py.
"""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from spark_jobs.options import JobOptions
from spark_jobs.wordcount import run
from tests.spark_jobs.archive_format import Message, archive_files, data_file_path, record_line
from tests.spark_jobs.batch_support import hour_of

pytestmark = pytest.mark.integration

DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
VOCABULARY = ["kafka", "Été", "straße", "naïve", "東京", "🙂", "ε\u0301", "x_1", "Σας", "a\x00b"]
VOLATILE = ("run_id", "started_at", "finished_at", "dates_recomputed", "dates_reused")


class Archive:
    """An archive on the local filesystem that a test grows, copies into and deletes from."""

    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.next_offset: dict[tuple[int, int], int] = {}
        self.gen = 0
        self.serial = 0

    def messages(self, day: int, n: int, gen: int | None = None) -> list[Message]:
        gen = self.gen if gen is None else gen
        out = []
        for _ in range(n):
            partition = self.rng.randrange(2)
            offset = self.next_offset.get((gen, partition), 0)
            self.next_offset[gen, partition] = offset + 1
            text = " ".join(self.rng.choices(VOCABULARY, k=self.rng.randint(0, 5)))
            ts = T0 + day * DAY + self.rng.randrange(DAY)
            out.append(Message(gen, partition, offset, ts, text))
        return out

    def write(self, messages: list[Message], root: str = "data_stream") -> None:
        for rel, text in archive_files(messages, per_file=7).items():
            # A fresh name each time: late files never overwrite earlier ones.
            self.serial += 1
            path = self.root / root / rel.replace(".jsonl", f"+{self.serial}.jsonl")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

    def files(self, root: str = "data_stream") -> list[Path]:
        return sorted((self.root / root).rglob("*.jsonl"))

    # --- the ways an archive evolves -------------------------------------------------

    def new_date(self) -> None:
        days = {int((p.parent.name[5:]).replace("-", "")) for p in self.files()}
        self.write(self.messages(len(days) + self.rng.randrange(2), self.rng.randint(5, 30)))

    def late_file(self) -> None:
        day = self.rng.randrange(3)
        self.write(self.messages(day, self.rng.randint(1, 10)))

    def duplicate(self) -> None:
        files = self.files()
        if files:
            src = self.rng.choice(files)
            self.serial += 1
            shutil.copy(src, src.with_name(src.name.replace(".jsonl", f"+copy{self.serial}.jsonl")))

    def new_generation(self) -> None:
        self.gen += 1
        self.write(self.messages(self.rng.randrange(3), self.rng.randint(3, 15)))

    def delete(self) -> None:
        files = self.files()
        if files:
            self.rng.choice(files).unlink()

    def delete_date(self) -> None:
        dirs = sorted({p.parent for p in self.files()})
        if dirs:
            shutil.rmtree(self.rng.choice(dirs))

    def rejected(self) -> None:
        day = self.rng.randrange(3)
        bad = [
            Message(m.gen, m.partition, m.offset, m.timestamp, b"\xff" + str(m.value).encode())
            for m in self.messages(day, 3)
        ]
        self.write(bad, "data_stream_rejected")

    def corrupt(self) -> None:
        m = self.messages(self.rng.randrange(3), 1)[0]
        path = (
            self.root
            / "data_stream"
            / data_file_path(m.gen, m.partition, m.offset, m.offset, m.timestamp)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            record_line(m) + "\nnot json\n" + record_line(m)[:20] + "\n", encoding="utf-8"
        )


def job_options(root: Path, reports: str, full: bool = False) -> JobOptions:
    return JobOptions(
        archive=f"file://{root}/data_stream",
        rejected=f"file://{root}/data_stream_rejected",
        report_root=f"file://{root}/{reports}",
        master="local[2]",
        keep_runs=2,
        force=True,
        full=full,
    )


def snapshot(summary: dict[str, Any], root: Path, reports: str) -> dict[str, Any]:
    """A run's summary (without what differs between runs) and every word's count."""
    words: dict[str, int] = {}
    for part in (root / reports / "runs" / summary["run_id"] / "words").glob("part-*"):
        for line in part.read_text(encoding="utf-8").split("\n"):
            if line:
                row = json.loads(line)
                words[row["word"]] = row["count"]
    return {**{k: v for k, v in summary.items() if k not in VOLATILE}, "words": words}


def assert_incremental_equals_full(spark: SparkSession, root: Path) -> dict[str, Any]:
    incremental = run(spark, job_options(root, "reports"))
    full = run(spark, job_options(root, "full", full=True))
    assert snapshot(incremental, root, "reports") == snapshot(full, root, "full")
    return incremental


# Every way an archive evolves, over three nightly runs; the content (dates, partitions,
# texts, which file is copied or deleted) is drawn from the seed. Each example costs eight
# job runs, so few examples: the per-character and parity tests carry the breadth.
STEPS = [
    ["new_date", "late_file", "duplicate"],
    ["new_generation", "rejected", "corrupt"],
    ["delete", "delete_date", "late_file"],
]


@pytest.mark.timeout(1500)
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**16), order=st.permutations(range(3)))
def test_incremental_runs_equal_full_recounts_as_the_archive_evolves(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, seed: int, order: list[int]
) -> None:
    root = tmp_path_factory.mktemp("evolving")
    archive = Archive(root, seed)
    archive.new_date()
    archive.new_date()
    first = assert_incremental_equals_full(spark, root)
    assert first["dates_reused"] == []
    for index in order:
        before = {p.parent.name for p in archive.files() + archive.files("data_stream_rejected")}
        for operation in STEPS[index]:
            getattr(archive, operation)()
        after = {p.parent.name for p in archive.files() + archive.files("data_stream_rejected")}
        summary = assert_incremental_equals_full(spark, root)
        # Dropped dates are named; every current date is either recomputed or reused.
        assert set(summary["dates_dropped"]) == {d[5:] for d in before - after}
        current = set(summary["dates_recomputed"]) | set(summary["dates_reused"])
        assert current == {d[5:] for d in after}


def test_a_date_nothing_changed_in_is_reused_not_recounted(
    spark: SparkSession, tmp_path: Path
) -> None:
    archive = Archive(tmp_path, 1)
    written = archive.messages(0, 20) + archive.messages(1, 20)
    archive.write(written)
    run(spark, job_options(tmp_path, "reports"))
    later = archive.messages(1, 5) + archive.messages(2, 5)  # a late file, and a new date
    archive.write(later)
    summary = run(spark, job_options(tmp_path, "reports"))
    assert (summary["dates_recomputed"], summary["dates_reused"]) == (
        ["2026-01-02", "2026-01-03"],
        ["2026-01-01"],
    )
    assert {c["hour"] for c in summary["cells"]} == {hour_of(m.timestamp) for m in written + later}
    full = run(spark, job_options(tmp_path, "reports", full=True))
    assert full["dates_reused"] == [] and len(full["dates_recomputed"]) == 3


def start_job(root: Path) -> subprocess.Popen[str]:
    o = job_options(root, "reports")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spark_jobs.wordcount",
            "--archive",
            o.archive,
            "--rejected",
            o.rejected,
            "--report-root",
            o.report_root,
            "--master",
            "local[1]",
            "--force",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).parents[2],
    )


# Two moments to kill a run at: while it writes the dates' Parquet, and after it stored
# some dates' records but not all. Both in one archive, one after the other: the second
# killed run starts from the first one's leftovers, and a single normal run then must
# trust none of them (one scenario, not two, keeps the suite's time down).
KILL_POINTS = (
    "counting per hour and word, writing the dates' aggregates ...",
    "stored the aggregate of date",
)


def kill_job_after(root: Path, kill_after: str) -> None:
    """Start the job in a process of its own and kill -9 it once it logs `kill_after`."""
    job = start_job(root)
    assert job.stderr is not None
    seen = []
    for line in job.stderr:
        seen.append(line)
        if kill_after in line:
            time.sleep(random.Random(len(seen)).uniform(0, 0.5))
            job.send_signal(signal.SIGKILL)
            break
    job.wait(timeout=60)
    assert job.returncode == -signal.SIGKILL, (kill_after, "".join(seen[-20:]))


@pytest.mark.timeout(900)
def test_runs_killed_mid_way_leave_nothing_a_later_run_trusts(
    spark: SparkSession, tmp_path: Path
) -> None:
    archive = Archive(tmp_path, 2)
    for day in range(3):
        archive.write(archive.messages(day, 30))
    run(spark, job_options(tmp_path, "reports"))
    # Change two dates and add one, so the killed runs have several aggregates to write.
    archive.write(archive.messages(0, 9))
    archive.write(archive.messages(2, 9))
    archive.write(archive.messages(3, 9))
    archive.duplicate()
    for kill_after in KILL_POINTS:
        kill_job_after(tmp_path, kill_after)
    assert_incremental_equals_full(spark, tmp_path)
