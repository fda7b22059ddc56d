"""The batch job against the dev WebHDFS server: exact counts, reruns, copies, errors."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hdfs import InsecureClient
from pyspark.sql import SparkSession

from devstack.webhdfs import WebHdfsServer
from spark_jobs.errors import ArchiveMissing, RunInProgress
from spark_jobs.hadoopfs import HadoopFs
from spark_jobs.options import JobOptions
from spark_jobs.snapshot import AggregateStore, last_run_record
from spark_jobs.wordcount import run
from streamapp.tokenize import words
from tests.spark_jobs.archive_format import Message, data_file_path, record_line
from tests.spark_jobs.batch_support import (
    hour_of,
    read_json,
    read_json_lines,
    recount,
    write_archive,
)

pytestmark = pytest.mark.integration

ARCHIVE = "/data/data_stream"
REJECTED = "/data/data_stream_rejected"
REPORTS = "/reports/wordstream"
T0 = 1_767_222_000_000  # 2025-12-31T23:00:00Z: the archive spans two dates

VOCABULARY = [
    "kafka",
    "Kafka",
    "KAFKA",
    "spark",
    "hdfs",
    "Été",
    "ete\u0301",
    "straße",
    "STRASSE",
    "naïve",
    "東京",
    "שלום",
    "مرحبا",
    "🙂",
    "l'été",
    "c'est_bien",
    "x\x00y",
    "a\u2028b",
    "tab\tsep",
    "new\nline",
    "cr\rhere",
    "\u0085nel",
]


def make_messages(seed: int = 7) -> list[Message]:
    """Two generations with overlapping offsets, three partitions, hours over two dates."""
    rng = random.Random(seed)
    messages = []
    for gen, count in ((0, 70), (1, 40)):
        for partition in range(3):
            for offset in range(count):
                text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 9)))
                ts = T0 + rng.randint(0, 5 * 3_600_000)
                messages.append(Message(gen, partition, offset, ts, text, key=None))
    # A file holds one date only; keep each partition's timestamps ordered like Kafka's.
    messages.sort(key=lambda m: (m.gen, m.partition, m.timestamp))
    return [
        Message(m.gen, m.partition, i, m.timestamp, m.value)
        for (gen, part), group in _groups(messages)
        for i, m in enumerate(group)
    ]


def _groups(messages: list[Message]) -> list[tuple[tuple[int, int], list[Message]]]:
    out: dict[tuple[int, int], list[Message]] = {}
    for m in messages:
        out.setdefault((m.gen, m.partition), []).append(m)
    return list(out.items())


def expected_cells(messages: list[Message]) -> list[dict[str, object]]:
    """Per (hour, gen:partition): messages, words, first and last offset, counted in Python."""
    cells: dict[tuple[str, int, int], dict[str, int]] = {}
    for (gen, partition, offset), m in {
        (m.gen, m.partition, m.offset): m for m in messages
    }.items():
        assert isinstance(m.value, str)
        cell = cells.setdefault(
            (hour_of(m.timestamp), gen, partition),
            {"messages": 0, "words": 0, "first_offset": offset, "last_offset": offset},
        )
        cell["messages"] += 1
        cell["words"] += len(words(m.value))
        cell["first_offset"] = min(cell["first_offset"], offset)
        cell["last_offset"] = max(cell["last_offset"], offset)
    return [
        {"hour": hour, "partition": f"{gen}:{partition}", **cell}
        for (hour, gen, partition), cell in sorted(cells.items())
    ]


def options(server: WebHdfsServer, **overrides: object) -> JobOptions:
    base = f"webhdfs://127.0.0.1:{server.port}"
    values: dict[str, object] = {
        "archive": base + ARCHIVE,
        "rejected": base + REJECTED,
        "report_root": base + REPORTS,
        "keep_runs": 7,
    }
    values.update(overrides)
    return JobOptions(**values)  # type: ignore[arg-type]


def snapshot(
    client: InsecureClient, run_id: str, spark: SparkSession | None = None, port: int = 0
) -> dict[str, Any]:
    run_dir = f"{REPORTS}/runs/{run_id}"
    got: dict[str, Any] = {
        "summary": read_json(client, f"{run_dir}/summary.json"),
        "words": read_json_lines(client, f"{run_dir}/words"),
    }
    if spark is not None:
        got["hour_words"] = stored_hour_words(spark, port)
    return got


def stored_hour_words(spark: SparkSession, port: int) -> list[dict[str, object]]:
    """The per-(hour, word) counts of every date's stored aggregate."""
    base = f"webhdfs://127.0.0.1:{port}"
    rows = []
    for key, record in AggregateStore(HadoopFs(spark, base), base + REPORTS).records().items():
        if record["words"]:
            path = f"{base}{REPORTS}/aggregates/runs/{record['run_id']}/hour_words/date_key={key}"
            rows += [r.asDict() for r in spark.read.parquet(path).collect()]
    return rows


def test_archive_is_counted_exactly_rerun_is_identical_old_runs_pruned(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    client = InsecureClient(webhdfs.url)
    messages = make_messages()
    paths = write_archive(client, ARCHIVE, messages)

    # A file committed twice under overlapping ranges (a sink retry after a crash).
    same_date = [p for p in paths if p.rsplit("/", 1)[0] == paths[-1].rsplit("/", 1)[0]]
    first_file, second_file = same_date[-2:]
    with (
        client.read(first_file, encoding="utf-8") as a,
        client.read(second_file, encoding="utf-8") as b,
    ):
        # "\n" only: raw U+2028 and U+0085 inside records are not line breaks.
        overlap = [line for line in a.read().split("\n")[10:] + b.read().split("\n")[:5] if line]
    client.write(
        first_file.replace("+0000", "+9000", 1), "\n".join(overlap) + "\n", encoding="utf-8"
    )
    # A copy under a directory of another date breaks the layout's rule: such records
    # are counted as corrupt, never as messages (each date is counted on its own).
    misplaced = overlap[:2]
    assert len(misplaced) == 2
    other_date = next(p for p in paths if p.rsplit("/", 1)[0] != first_file.rsplit("/", 1)[0])
    client.write(
        other_date.replace("+0000", "+8000", 1), "\n".join(misplaced) + "\n", encoding="utf-8"
    )
    # Corrupt lines, in a file that also holds one good record.
    good = Message(0, 7, 0, T0, "survivor words")
    corrupt = [
        "not json at all",
        '{"partition": 7}',
        record_line(good).replace('"survivor words"', "5"),
    ]
    client.write(
        f"{ARCHIVE}/{data_file_path(0, 7, 0, 3, T0)}",
        "\n".join([record_line(good), *corrupt]) + "\n",
        encoding="utf-8",
    )
    # What readers must skip: temporary files and directories, markers, other suffixes.
    extra = record_line(Message(0, 0, 999, T0, "never counted")) + "\n"
    client.write(f"{ARCHIVE}/_tmp/gen=0/date=2026-01-01/x.jsonl", extra, encoding="utf-8")
    client.write(f"{ARCHIVE}/gen=0/date=2026-01-01/.inflight.jsonl", extra, encoding="utf-8")
    client.write(f"{ARCHIVE}/gen=0/date=2026-01-01/_x.jsonl", extra, encoding="utf-8")
    client.write(f"{ARCHIVE}/gen=0/date=2026-01-01/notes.txt", extra, encoding="utf-8")
    # Rejected messages (raw bytes), one file committed twice.
    rejected = [
        Message(0, p, o, T0, b"\xff\xfe bad " + bytes([o])) for p in (0, 1) for o in range(3)
    ]
    for path in write_archive(client, REJECTED, rejected):
        with client.read(path) as reader:
            # A retried commit: the same records again, in the same date, another name.
            client.write(path.replace("+0000", "+1000", 1), reader.read())

    expected = recount([*messages, good])
    first = run(spark, options(webhdfs))
    got = snapshot(client, first["run_id"], spark, webhdfs.port)
    summary = got["summary"]
    assert isinstance(summary, dict)
    assert summary == first
    assert summary["totals"] == {
        "messages": expected.messages,
        "words": sum(expected.words.values()),
        "distinct_words": len(expected.words),
        "rejected": len(rejected),
        "corrupt": len(corrupt) + len(misplaced),
    }
    assert {r["word"]: r["count"] for r in got["words"]} == expected.words
    assert len(got["words"]) == len(expected.words)
    assert {(r["hour"], r["word"]): r["count"] for r in got["hour_words"]} == expected.hour_words
    assert summary["hours"] == [
        {
            "hour": hour,
            "messages": expected.hour_messages[hour],
            "words": sum(c for (h, _), c in expected.hour_words.items() if h == hour),
        }
        for hour in sorted(expected.hour_messages)
    ]
    assert summary["cells"] == expected_cells([*messages, good])
    # The run's own hour_words/: every (hour, word) from the oldest newest hour of the
    # logs (all open here) on, and nothing before it.
    since = min(
        max(c["hour"] for c in summary["cells"] if c["partition"] == source)
        for source in {c["partition"] for c in summary["cells"]}
    )
    assert summary["hour_words_since"] == since
    recent = read_json_lines(client, f"{REPORTS}/runs/{summary['run_id']}/hour_words")
    assert {(r["hour"], r["word"]): r["count"] for r in recent} == {
        (h, w): c for (h, w), c in expected.hour_words.items() if h >= since
    }
    assert summary["dates_recomputed"] == ["2025-12-31", "2026-01-01"]
    assert (summary["dates_reused"], summary["dates_dropped"]) == ([], [])
    ranked = sorted(expected.words.items(), key=lambda wc: (-wc[1], wc[0]))
    assert summary["top"] == [{"word": w, "count": c} for w, c in ranked[:1000]]
    assert summary["coverage"] == {
        # Rejected messages count for coverage too: their offsets were consumed.
        "partitions": {
            **expected.last_offsets,
            **{k: max(v, expected.last_offsets.get(k, -1)) for k, v in (("0:0", 2), ("0:1", 2))},
        },
        "first_timestamp_ms": min(expected.timestamps),
        "last_timestamp_ms": max(expected.timestamps),
    }
    assert summary["input_files"] == len(paths) + 3 + 2 * 2
    assert summary["archive"] == options(webhdfs).archive

    run_dir = f"{REPORTS}/runs/{first['run_id']}"
    assert client.status(f"{run_dir}/_SUCCESS")["length"] == 0
    assert read_json(client, f"{REPORTS}/latest") == {"run_id": first["run_id"], "path": run_dir}
    last = read_json(client, f"{REPORTS}/last_run.json")
    assert (last["run_id"], last["state"], last["error"]) == (first["run_id"], "success", None)

    # A rerun over the same archive gives the same snapshot, apart from run metadata.
    second = run(spark, options(webhdfs))
    again = snapshot(client, second["run_id"])
    assert second["run_id"] > first["run_id"]
    volatile = ("run_id", "started_at", "finished_at", "dates_recomputed", "dates_reused")
    assert (second["dates_recomputed"], second["dates_reused"]) == ([], first["dates_recomputed"])
    assert {k: v for k, v in second.items() if k not in volatile} == {
        k: v for k, v in first.items() if k not in volatile
    }
    assert sorted(map(str, again["words"])) == sorted(map(str, got["words"]))

    # Keeping 2 runs: the third run prunes the first.
    third = run(spark, options(webhdfs, keep_runs=2))
    assert sorted(client.list(f"{REPORTS}/runs")) == [second["run_id"], third["run_id"]]
    assert read_json(client, f"{REPORTS}/latest")["run_id"] == third["run_id"]


def test_empty_archive_gives_an_empty_snapshot(spark: SparkSession, webhdfs: WebHdfsServer) -> None:
    client = InsecureClient(webhdfs.url)
    client.makedirs(f"{ARCHIVE}/_state")  # exists, but holds no committed data file
    summary = run(spark, options(webhdfs))
    assert summary["totals"] == dict.fromkeys(
        ("messages", "words", "distinct_words", "rejected", "corrupt"), 0
    )
    assert (summary["hours"], summary["top"], summary["input_files"]) == ([], [], 0)
    assert summary["coverage"] == {
        "partitions": {},
        "first_timestamp_ms": None,
        "last_timestamp_ms": None,
    }
    run_dir = f"{REPORTS}/runs/{summary['run_id']}"
    assert read_json_lines(client, f"{run_dir}/words") == []
    assert read_json(client, f"{REPORTS}/latest")["run_id"] == summary["run_id"]


def test_missing_archive_is_one_line_and_a_failed_attempt(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    client = InsecureClient(webhdfs.url)
    with pytest.raises(ArchiveMissing) as caught:
        run(spark, options(webhdfs))
    message = str(caught.value)
    assert "\n" not in message and ARCHIVE in message
    last = read_json(client, f"{REPORTS}/last_run.json")
    assert (last["state"], last["error"]) == ("failed", message)
    assert client.status(f"{REPORTS}/latest", strict=False) is None


def test_a_running_attempt_blocks_another_unless_forced(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    from datetime import UTC, datetime

    client = InsecureClient(webhdfs.url)
    write_archive(client, ARCHIVE, [Message(0, 0, 0, T0, "one two")])
    running = last_run_record("20990101T000000Z", "running", datetime.now(UTC))
    client.write(
        f"{REPORTS}/last_run.json",
        str(running).replace("'", '"').replace("None", "null"),
        encoding="utf-8",
    )
    with pytest.raises(RunInProgress, match="20990101T000000Z"):
        run(spark, options(webhdfs))
    assert run(spark, options(webhdfs, force=True))["totals"]["words"] == 2


def test_without_java_the_job_prints_one_line(tmp_path: Path) -> None:
    env = {"JAVA_HOME": str(tmp_path / "no-jdk"), "PATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "spark_jobs.wordcount"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Java not found" in done.stderr
    assert "Traceback" not in done.stderr
