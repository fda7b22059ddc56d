"""The nightly batch job: read the archive, count exactly, write one snapshot run.

Run as `spark-submit spark_jobs/wordcount.py [options]`, as `wordstream batch run`, or
import `run(spark, options)` with a session of your own. The counting itself is the
pure DataFrame steps of `spark_jobs.transforms`; this module only reads, calls, writes.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import transforms
from spark_jobs.dates import (
    ARCHIVE,
    REJECTED,
    DateFiles,
    Plan,
    date_record,
    group_by_date,
    merge,
    plan_run,
    recent_hours_since,
)
from spark_jobs.errors import ArchiveMissing, BatchError, RunInProgress, SparkUnavailable
from spark_jobs.hadoopfs import HadoopFs
from spark_jobs.options import JobOptions, add_job_arguments, options_from_args
from spark_jobs.snapshot import (
    AggregateStore,
    Coverage,
    SnapshotWriter,
    build_summary,
    last_run_record,
    run_id_for,
    running_elsewhere,
)
from streamapp.config import Settings
from streamapp.contract import HOUR_WORDS_DIR, RUNS_DIR, TOP_MAX, WORDS_DIR
from streamapp.errors import WordstreamError

log = logging.getLogger("spark_jobs.wordcount")

CORRUPT_EXAMPLES = 5


def _require_java() -> None:
    # JAVA_HOME is Spark's own variable (its launcher reads it), not a wordstream setting.
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        raise SparkUnavailable(
            f"Java not found ({where}): install a JDK 17+ (e.g. openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )


def _code_archive() -> str:
    """A zip of the streamapp and spark_jobs packages, for executors on a cluster."""
    out = Path(tempfile.mkdtemp(prefix="wordstream-pyfiles-")) / "wordstream.zip"
    root = Path(__file__).resolve().parent.parent
    with zipfile.ZipFile(out, "w") as zf:
        for package in ("streamapp", "spark_jobs"):
            for source in sorted((root / package).rglob("*.py")):
                zf.write(source, source.relative_to(root).as_posix())
    return str(out)


def session_config(
    driver_java_options: str, environ: Mapping[str, str], driver_memory: str = ""
) -> dict[str, str]:
    """The Spark settings the job's session starts with."""
    config = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        # One `_SUCCESS` per run, written by us last; none inside words/ and hour_words/.
        "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    }
    # Under spark-submit the driver JVM already runs (pyspark then finds its gateway
    # port in the environment) and its options are spark-submit's to set.
    if "PYSPARK_GATEWAY_PORT" not in environ:
        if driver_java_options:
            config["spark.driver.extraJavaOptions"] = driver_java_options
        if driver_memory:
            config["spark.driver.memory"] = driver_memory
    return config


@contextmanager
def spark_session(
    master: str, shuffle_partitions: int = 0, driver_java_options: str = "", driver_memory: str = ""
) -> Iterator[SparkSession]:
    """A SparkSession for the job (UTC, quiet), stopped on exit."""
    _require_java()
    builder = SparkSession.builder.master(master).appName("wordstream-batch")
    for key, value in session_config(driver_java_options, os.environ, driver_memory).items():
        builder = builder.config(key, value)
    if master.startswith("local"):
        # Python workers must be this interpreter (pyarrow, streamapp); pyspark reads
        # PYSPARK_PYTHON (its own variable) and otherwise runs PATH's `python3`.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = builder.getOrCreate()
    except PySparkException as exc:
        raise SparkUnavailable(f"Spark could not start ({master}): {one_line(exc)}") from None
    try:
        spark.sparkContext.setLogLevel("ERROR")
        # Spark's default of 200 shuffle partitions means 200 tiny tasks (and output
        # files) per stage here; the aggregates are small, a few per core suffice.
        # A --conf from spark-submit wins over SPARK_SHUFFLE_PARTITIONS.
        if not spark.sparkContext.getConf().contains("spark.sql.shuffle.partitions"):
            partitions = shuffle_partitions or 2 * spark.sparkContext.defaultParallelism
            spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
        # Executors run the tokenizer UDF, so they import streamapp: local mode shares
        # this machine's packages; on a cluster ship them unless the submitter did.
        if not master.startswith("local") and not spark.conf.get("spark.submit.pyFiles", ""):
            spark.sparkContext.addPyFile(_code_archive())
        yield spark
    finally:
        spark.stop()


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (Java ones carry whole stack traces)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # "An exception was thrown from the Python worker:" + traceback: the cause is last.
    line = lines[-1] if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    return line[:500]


def read_lines(spark: SparkSession, files: list[str]) -> DataFrame:
    """The archive files' lines as (line, file); an empty list gives an empty frame."""
    if not files:
        return spark.createDataFrame([], "line STRING, file STRING")
    return spark.read.text(files).select(
        F.col("value").alias("line"), F.col("_metadata.file_path").alias("file")
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


def run(
    spark: SparkSession, options: JobOptions, now: Callable[[], datetime] = _utcnow
) -> dict[str, Any]:
    """One attempt: record it in last_run.json, count, commit the run; return its summary."""
    store = SnapshotWriter(HadoopFs(spark, options.report_root), options.report_root)
    started = now()
    last = store.last_run()
    if not options.force and running_elsewhere(last, started, options.stale_after_s):
        assert last is not None
        raise RunInProgress(
            f"run {last.get('run_id')} has been running since {last.get('started_at')}; "
            "wait for it, or pass --force if it died"
        )
    # Run ids are start seconds: a second run within the same second waits for the next.
    while store.run_exists(run_id_for(started)):
        time.sleep(1.05 - started.microsecond / 1e6)
        started = now()
    run_id = run_id_for(started)
    store.record_attempt(last_run_record(run_id, "running", started))
    log.info("run %s: archive %s -> %s", run_id, options.archive, store.run_dir(run_id))
    try:
        summary = _count_and_write(spark, options, store, run_id, started, now)
    except BaseException as exc:
        store.record_attempt(last_run_record(run_id, "failed", started, now(), one_line(exc)))
        raise
    store.record_attempt(last_run_record(run_id, "success", started, now()))
    pruned = store.prune(options.keep_runs)
    if pruned:
        log.info("pruned old runs: %s", ", ".join(pruned))
    return summary


@contextmanager
def _phase(name: str) -> Iterator[None]:
    """Log how long a phase of the run took (where a slow run spends its time)."""
    started = time.monotonic()
    log.info("%s ...", name)
    yield
    log.info("%s took %.1f s", name, time.monotonic() - started)


@dataclass(frozen=True)
class _Listing:
    """What the archive holds now, and which dates this run counts or takes as stored."""

    files: list[tuple[str, int]]
    rejected_files: list[tuple[str, int]]
    current: dict[str, DateFiles]
    stored: dict[str, dict[str, Any]]
    plan: Plan

    @property
    def input_files(self) -> int:
        return len(self.files) + len(self.rejected_files)


def _count_and_write(
    spark: SparkSession,
    options: JobOptions,
    store: SnapshotWriter,
    run_id: str,
    started: datetime,
    now: Callable[[], datetime],
) -> dict[str, Any]:
    """List the archive, bring every date's aggregate up to date, write and commit the run."""
    aggregates = AggregateStore(store.fs, store.root)
    listing = _list_archive(spark, options, aggregates)
    records = _date_records(spark, aggregates, run_id, listing)
    run_dir = store.run_dir(run_id)
    distinct, top = _write_words(spark, aggregates, records, run_dir)
    merged = merge(records[k] for k in sorted(records))
    since = recent_hours_since(merged.cells, merged.partitions)
    with _phase("writing the recent hours' word counts"):
        recent = _recent_hour_words(spark, aggregates, records, since)
        recent.write.json(f"{run_dir}/{HOUR_WORDS_DIR}")
    totals = {
        "messages": merged.messages,
        "words": merged.words,
        "distinct_words": distinct,
        "rejected": merged.rejected,
        "corrupt": merged.corrupt,
    }
    summary = build_summary(
        run_id=run_id,
        started=started,
        finished=now(),
        spark_version=spark.version,
        archive=options.archive,
        input_files=listing.input_files,
        coverage=Coverage(merged.partitions, merged.first_timestamp_ms, merged.last_timestamp_ms),
        totals=totals,
        hours=merged.hours,
        top=top,
        cells=merged.cells,
        dates=listing.plan,
        hour_words_since=since,
    )
    _commit(store, aggregates, run_id, summary, records, listing.plan)
    log.info("run %s committed: %s", run_id, totals)
    return summary


def _list_archive(spark: SparkSession, options: JobOptions, aggregates: AggregateStore) -> _Listing:
    """Both roots' data files by date, the stored aggregates, and the plan between them."""
    archive_fs = HadoopFs(spark, options.archive)
    if not archive_fs.exists(options.archive):
        raise ArchiveMissing(
            f"archive root {options.archive} does not exist: check BATCH_FS/HDFS_URL and "
            "ARCHIVE_ROOT (or --archive), or let the archive sink write first"
        )
    with _phase("listing the archive"):
        files = archive_fs.data_files_with_lengths(options.archive)
        rejected_fs = HadoopFs(spark, options.rejected)
        rejected_files = (
            rejected_fs.data_files_with_lengths(options.rejected)
            if rejected_fs.exists(options.rejected)
            else []
        )
        current = group_by_date(files, rejected_files, options.archive, options.rejected)
        stored = aggregates.records()
        plan = plan_run(current, stored, options.full)
    if not files:
        log.warning("archive %s holds no data files: writing an empty snapshot", options.archive)
    log.info(
        "%d archive files, %d rejected files, %d dates: %d to recompute, %d reused%s",
        len(files),
        len(rejected_files),
        len(current),
        len(plan.recompute),
        len(plan.reuse),
        f", {len(plan.dropped)} without files any more: {', '.join(plan.dropped)}"
        if plan.dropped
        else "",
    )
    return _Listing(files, rejected_files, current, stored, plan)


def _date_records(
    spark: SparkSession, aggregates: AggregateStore, run_id: str, listing: _Listing
) -> dict[str, dict[str, Any]]:
    """Every current date's aggregate record: the stored ones reused, the others counted."""
    plan = listing.plan
    fresh = (
        _recompute(spark, aggregates, run_id, {k: listing.current[k] for k in plan.recompute})
        if plan.recompute
        else {}
    )
    return {**{k: listing.stored[k] for k in plan.reuse}, **fresh}


def _write_words(
    spark: SparkSession,
    aggregates: AggregateStore,
    records: dict[str, dict[str, Any]],
    run_dir: str,
) -> tuple[int, list[dict[str, Any]]]:
    """Write the run's every-word counts; return the distinct words and the top words."""
    with _phase("merging the dates' word counts"):
        counts = _merged_word_counts(spark, aggregates, records).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            counts.write.json(f"{run_dir}/{WORDS_DIR}")
            distinct = counts.count()
            top = [r.asDict() for r in transforms.top_words(counts, TOP_MAX).collect()]
        finally:
            counts.unpersist()
    return distinct, top


def _commit(
    store: SnapshotWriter,
    aggregates: AggregateStore,
    run_id: str,
    summary: Mapping[str, Any],
    records: dict[str, dict[str, Any]],
    plan: Plan,
) -> None:
    """Commit the run, then let go of the aggregates no current date uses."""
    store.commit(run_id, summary)
    # Only after the commit: until then the previous run's state is the trusted one.
    aggregates.forget(plan.dropped)
    aggregates.prune(keep={str(r["run_id"]) for r in records.values()} | {run_id})


def _recompute(
    spark: SparkSession, aggregates: AggregateStore, run_id: str, dates: dict[str, DateFiles]
) -> dict[str, dict[str, Any]]:
    """Count the given date keys from their files; store their aggregates; their records."""
    archive_files = [uri for d in dates.values() for uri in d.uris(ARCHIVE)]
    rejected_files = [uri for d in dates.values() for uri in d.uris(REJECTED)]
    cached: list[DataFrame] = []

    def keep(df: DataFrame) -> DataFrame:
        cached.append(df.persist(StorageLevel.MEMORY_AND_DISK))
        return cached[-1]

    out_dir = aggregates.run_dir(run_id)
    try:
        with _phase("reading and parsing the archive"):
            parsed = keep(_slim(transforms.parse_records(read_lines(spark, archive_files))))
            corrupt = _report_corrupt(parsed)
        with _phase("checking message identities"):
            # Copies are rare (a file committed twice): checking for them shuffles the
            # identities only; deduplicating shuffles every message's text.
            duplicates = transforms.duplicate_identities(parsed, ["date_key"]).count()
            if duplicates:
                log.warning("%d messages archived more than once; counted once", duplicates)
                messages = transforms.unique_messages(parsed, keys=["date_key"])
            else:
                messages = transforms.valid_messages(parsed, keys=["date_key"])
        with _phase("tokenizing and counting per hour and partition"):
            tokens = keep(transforms.message_tokens(messages))
            cells = [r.asDict() for r in transforms.cell_counts(tokens).collect()]
        with _phase("counting per hour and word, writing the dates' aggregates"):
            hour_words = keep(transforms.date_hour_word_counts(tokens))
            hour_words.write.partitionBy("date_key").parquet(f"{out_dir}/hour_words")
            transforms.date_word_counts(hour_words).write.partitionBy("date_key").parquet(
                f"{out_dir}/words"
            )
        rejected_rows: list[dict[str, Any]] = []
        if rejected_files:
            with _phase("counting rejected messages"):
                rejected = keep(
                    _slim(transforms.parse_records(read_lines(spark, rejected_files), "value_b64"))
                )
                corrupt = _merge_counts(corrupt, _report_corrupt(rejected))
                rejected_rows = [
                    r.asDict()
                    for r in transforms.rejected_partitions(rejected, ["date_key"]).collect()
                ]
    finally:
        for df in cached:
            df.unpersist()

    records = {}
    for key, files in dates.items():
        records[key] = date_record(
            key=key,
            files=files,
            run_id=run_id,
            cells=[c for c in cells if c["date_key"] == key],
            rejected_partitions=[r for r in rejected_rows if r["date_key"] == key],
            corrupt=corrupt.get(key, 0),
        )
        # The record is the aggregate's completion mark: written after its Parquet files,
        # replacing the previous record atomically. A run killed before this line leaves
        # the old record, whose fingerprint no longer matches: the date is recomputed.
        aggregates.store(records[key])
        log.info("stored the aggregate of date %s", key)
    return records


def _merge_counts(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


def _merged_word_counts(
    spark: SparkSession, aggregates: AggregateStore, records: dict[str, dict[str, Any]]
) -> DataFrame:
    """Every word's count over all dates, from the dates' stored per-word Parquet."""
    paths = [
        aggregates.words_dir(str(r["run_id"]), key) for key, r in records.items() if r["words"]
    ]
    if not paths:
        return spark.createDataFrame([], "word STRING, count LONG")
    return transforms.word_counts(spark.read.parquet(*paths))


def _recent_hour_words(
    spark: SparkSession,
    aggregates: AggregateStore,
    records: dict[str, dict[str, Any]],
    since: str | None,
) -> DataFrame:
    """Per hour from `since` on and word, the count over every source log (the report
    adds live counts after its time boundary to the batch's before it)."""
    if since is None:
        return spark.createDataFrame([], "hour STRING, word STRING, count LONG")
    paths = [
        aggregates.hour_words_dir(str(r["run_id"]), key)
        for key, r in records.items()
        if r["words"] and key >= since[:10]
    ]
    if not paths:
        return spark.createDataFrame([], "hour STRING, word STRING, count LONG")
    recent = spark.read.parquet(*paths).where(F.col("hour") >= since)
    return recent.groupBy("hour", "word").agg(F.sum("count").cast("long").alias("count"))


def _slim(parsed: DataFrame) -> DataFrame:
    """The file's date key; a line and its file name only where the line is corrupt."""
    parsed = transforms.with_date_key(parsed)
    corrupt = F.col("corrupt")
    return parsed.select(
        *(c for c in parsed.columns if c not in ("file", "line")),
        F.when(corrupt, F.col("file")).alias("file"),
        F.when(corrupt, F.col("line")).alias("line"),
    )


def _report_corrupt(parsed: DataFrame) -> dict[str, int]:
    """Count the corrupt lines per date key and log a few, with their files."""
    bad = parsed.filter(F.col("corrupt"))
    counts = {
        r["date_key"]: int(r["n"])
        for r in bad.groupBy("date_key").agg(F.count(F.lit(1)).alias("n")).collect()
    }
    if counts:
        log.warning("%d corrupt archive lines (not counted); examples:", sum(counts.values()))
        for row in bad.select("file", "line").limit(CORRUPT_EXAMPLES).collect():
            log.warning("  %s: %.200s", row["file"], row["line"])
    return counts


def execute(options: JobOptions) -> int:
    """Run the job in a session of its own; print one line; return the exit code."""
    try:
        with spark_session(
            options.master,
            options.shuffle_partitions,
            options.driver_java_options,
            options.driver_memory,
        ) as spark:
            summary = run(spark, options)
    except BatchError as exc:
        print(f"wordstream batch: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # Spark/py4j failures (HDFS down, permissions): one line
        if not _is_spark_failure(exc):
            raise
        print(f"wordstream batch: error: {type(exc).__name__}: {one_line(exc)}", file=sys.stderr)
        return 1
    totals = summary["totals"]
    print(
        f"batch run {summary['run_id']} ok: "
        f"{totals['messages']} messages, {totals['words']} words "
        f"({totals['distinct_words']} distinct), {totals['rejected']} rejected, "
        f"{totals['corrupt']} corrupt -> {options.report_root}/{RUNS_DIR}/{summary['run_id']}"
    )
    return 0


def _is_spark_failure(exc: Exception) -> bool:
    from py4j.protocol import Py4JError

    return isinstance(exc, Py4JError | PySparkException | OSError)


def configure_logging() -> None:
    """Log lines with time and level on stderr; hush pyspark's pandas-3 warning."""
    # Our own handler on the package logger: under spark-submit the root logger may
    # already be configured (at WARNING), which would make basicConfig a no-op.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_log = logging.getLogger("spark_jobs")
    if not package_log.handlers:
        package_log.addHandler(handler)
    package_log.setLevel(logging.INFO)
    package_log.propagate = False
    # The job's one UDF is an Arrow UDF over plain strings; it does not touch pandas.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")


def main(argv: list[str] | None = None) -> int:
    """spark-submit entry point: parse options (defaults from config), run, exit code."""
    parser = argparse.ArgumentParser(
        prog="wordcount", description="Count the wordstream archive exactly; write a snapshot."
    )
    add_job_arguments(parser)
    args = parser.parse_args(argv)
    configure_logging()
    try:
        options = options_from_args(args, Settings.from_env())
    except WordstreamError as exc:
        print(f"wordstream batch: error: {exc}", file=sys.stderr)
        return 1
    return execute(options)


if __name__ == "__main__":
    sys.exit(main())
