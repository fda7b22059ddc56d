"""The batch job on a Spark standalone cluster writes the snapshot local mode writes (#20).

The cluster is real (a master and two worker JVMs from pyspark's distribution); its
executors run a Python that has pyarrow but not wordstream, so every run below imports
the code the job ships (docs/batch.md, "Running on a cluster").
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hdfs import InsecureClient
from pyspark.sql import SparkSession

from devstack.spark_cluster import SparkCluster
from devstack.webhdfs import WebHdfsServer
from spark_jobs.options import JobOptions
from spark_jobs.wordcount import run
from tests.spark_jobs.archive_format import Message, data_file_path, record_line
from tests.spark_jobs.batch_support import read_json, read_json_lines, write_archive
from tests.spark_jobs.job_process import JobProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ARCHIVE = "/data/data_stream"
REJECTED = "/data/data_stream_rejected"
T0 = 1_767_222_000_000  # 2025-12-31T23:00:00Z
HOUR = 3_600_000
# Texts for both tokenizer paths: the JVM one (Latin letters, ß) and the Python UDF
# (CJK, emoji, combining marks, RTL, NUL), which is what needs the shipped streamapp.
VOCABULARY = ["kafka", "KAFKA", "Été", "straße", "naïve", "東京", "🙂", "ε\u0301", "שלום", "x\x00y"]
# What differs between two runs of the same archive.
VOLATILE = ("run_id", "started_at", "finished_at")


def messages(
    rng: random.Random, gen: int, partition: int, first: int, n: int, start: int
) -> list[Message]:
    """n messages of one source log from offset `first`, timestamps rising from `start`."""
    return [
        Message(
            gen,
            partition,
            first + i,
            start + i * 97_000,
            " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(0, 8))),
        )
        for i in range(n)
    ]


def options(server: WebHdfsServer, reports: str) -> JobOptions:
    base = f"webhdfs://127.0.0.1:{server.port}"
    return JobOptions(
        archive=base + ARCHIVE,
        rejected=base + REJECTED,
        report_root=f"{base}/reports/{reports}",
        force=True,
    )


def snapshot(client: InsecureClient, reports: str, summary: dict[str, Any]) -> dict[str, Any]:
    """Everything a run wrote that must not depend on where it ran."""
    run_dir = f"/reports/{reports}/runs/{summary['run_id']}"
    dates_dir = f"/reports/{reports}/aggregates/dates"
    return {
        "summary": read_json(client, f"{run_dir}/summary.json") | dict.fromkeys(VOLATILE),
        "words": sorted(
            (r["word"], r["count"]) for r in read_json_lines(client, f"{run_dir}/words")
        ),
        "hour_words": sorted(
            (r["hour"], r["word"], r["count"])
            for r in read_json_lines(client, f"{run_dir}/hour_words")
        ),
        "date_records": {
            name: read_json(client, f"{dates_dir}/{name}") | {"run_id": None}
            for name in sorted(client.list(dates_dir))
        },
    }


@pytest.mark.timeout(3000)
def test_cluster_run_equals_local_run_full_then_incremental(
    spark_cluster: SparkCluster,
    spark_executor_python: Path,
    webhdfs: WebHdfsServer,
    spark: SparkSession,
) -> None:
    client = InsecureClient(webhdfs.url)
    rng = random.Random(20)
    # Two dates, two generations reusing offsets, three partitions.
    archived = [
        m
        for gen in (0, 1)
        for partition in range(3)
        for m in messages(rng, gen, partition, 0, 60, T0 + partition * HOUR // 3)
    ]
    paths = write_archive(client, ARCHIVE, archived, per_file=20)
    # A file committed twice (a sink retry) and a corrupt line: dedup and corrupt counting
    # run on the executors too.
    with client.read(paths[0]) as reader:
        client.write(paths[0].replace("+0000", "+5000", 1), reader.read())
    client.write(
        f"{ARCHIVE}/{data_file_path(0, 5, 0, 0, T0)}",
        record_line(Message(0, 5, 0, T0, "kafka 東京")) + "\nnot json\n",
        encoding="utf-8",
    )
    write_archive(client, REJECTED, [Message(0, 1, o, T0, b"\xff bad") for o in (3, 4)])

    # Local mode is this test process's shared session (a JVM started already); the
    # cluster run needs a process of its own (one SparkContext per process).
    with JobProcess(spark_cluster.master_url, str(spark_executor_python)) as cluster:
        first_local = run(spark, options(webhdfs, "local"))
        first_cluster = cluster.run(options(webhdfs, "cluster"))
        assert first_cluster["totals"]["messages"] == len(archived) + 1
        assert first_cluster["totals"]["corrupt"] == 1
        assert snapshot(client, "cluster", first_cluster) == snapshot(client, "local", first_local)

        # The nightly run: a new date and a late file of the last one; the first date's
        # stored aggregate is reused.
        later = messages(rng, 0, 0, 60, 40, T0 + 30 * HOUR) + messages(
            rng, 0, 1, 60, 5, T0 + 20 * HOUR
        )
        write_archive(client, ARCHIVE, later, per_file=20)
        second_local = run(spark, options(webhdfs, "local"))
        second_cluster = cluster.run(options(webhdfs, "cluster"))
        assert second_cluster["dates_reused"] == ["2025-12-31"]
        assert second_cluster["dates_recomputed"] == ["2026-01-01", "2026-01-02"]
        assert second_cluster["totals"]["messages"] == len(archived) + 1 + len(later)
        assert snapshot(client, "cluster", second_cluster) == snapshot(
            client, "local", second_local
        )

    # The runs' tasks ran in executors of both worker JVMs: the master granted the
    # application a core of each, and each worker holds an executor directory of it with
    # the shipped code and the executor's log.
    app = next(
        a for a in spark_cluster.state()["completedapps"] if a["id"] == cluster.application_id
    )
    assert (app["name"], app["cores"]) == ("wordstream-batch", 2)
    for n in (1, 2):
        executors = list((spark_cluster.worker_dir(n) / cluster.application_id).iterdir())
        assert executors, f"worker {n} ran no executor"
        for executor in executors:
            assert (executor / "wordstream.zip").is_file()
            assert "Running task" in (executor / "stderr").read_text(encoding="utf-8")
