"""The job's command-line options, shared by spark-submit and `wordstream batch run`.

No pyspark import here: the `wordstream` CLI builds its parser from this on every call.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from streamapp.config import Settings


@dataclass(frozen=True)
class JobOptions:
    """Where the job reads and writes (Hadoop URIs) and how it keeps runs."""

    archive: str
    rejected: str
    report_root: str
    master: str = "local[*]"
    keep_runs: int = 7
    stale_after_s: int = 21600
    shuffle_partitions: int = 0
    driver_java_options: str = ""
    driver_memory: str = ""
    force: bool = False
    full: bool = False


def add_job_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --archive, --rejected, --report-root, --master, --keep-runs, --force, --full."""
    parser.add_argument(
        "--archive", help="archive root, any Hadoop URI (default: BATCH_FS + ARCHIVE_ROOT)"
    )
    parser.add_argument(
        "--rejected",
        help="rejected root; missing means 0 rejected (default: BATCH_FS + REJECTED_ROOT)",
    )
    parser.add_argument("--report-root", help="snapshot root (default: BATCH_FS + REPORT_ROOT)")
    parser.add_argument("--master", help="Spark master URL (default: SPARK_MASTER)")
    parser.add_argument(
        "--keep-runs", type=int, help="snapshot runs to keep (default: BATCH_KEEP_RUNS)"
    )
    parser.add_argument(
        "--force", action="store_true", help="run even if last_run.json says one is running"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="recount every date, ignoring and rewriting the stored per-date aggregates",
    )


def default_options(settings: Settings) -> JobOptions:
    """The options of a run given no arguments: all from config."""
    parser = argparse.ArgumentParser()
    add_job_arguments(parser)
    return options_from_args(parser.parse_args([]), settings)


def options_from_args(args: argparse.Namespace, settings: Settings) -> JobOptions:
    """Resolve parsed arguments, filling what was not given from config."""
    base = settings.batch_fs_uri
    return JobOptions(
        archive=(args.archive or base + settings.archive_root).rstrip("/"),
        rejected=(args.rejected or base + settings.rejected_root).rstrip("/"),
        report_root=(args.report_root or base + settings.report_root).rstrip("/"),
        master=args.master or settings.spark_master,
        keep_runs=args.keep_runs if args.keep_runs is not None else settings.batch_keep_runs,
        stale_after_s=settings.batch_stale_after_s,
        shuffle_partitions=settings.spark_shuffle_partitions,
        driver_java_options=settings.spark_driver_java_options,
        driver_memory=settings.spark_driver_memory,
        force=bool(args.force),
        full=bool(getattr(args, "full", False)),
    )
