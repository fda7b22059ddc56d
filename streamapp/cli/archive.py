"""`wordstream archive compact`: merge closed dates' small archive files into large ones.

The clock runs it before every batch run; by hand it is safe while the worker runs
(it never touches a date younger than ARCHIVE_COMPACT_GRACE_SECONDS past its end, nor
the files the sink's markers name). Run one compaction at a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from functools import partial
from typing import Any

from streamapp.config import Settings
from streamapp.errors import WordstreamError


class CompactError(WordstreamError):
    """Compaction could not run (HDFS unreachable, or a date not closed yet)."""


def iso_date(text: str) -> str:
    """argparse type: a date written YYYY-MM-DD."""
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def partition_number(text: str) -> int:
    """argparse type: a partition number (0 or more)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a partition number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not a partition number (0 or more)")
    return value


def compact(args: argparse.Namespace) -> int:
    from hdfs import InsecureClient
    from hdfs.util import HdfsError
    from requests import RequestException

    from streamapp.archive.core import check_topic, date_closed
    from streamapp.archive.store import CompactionDone, Compactor

    s = Settings.from_env()
    now_ms = int(time.time() * 1000)
    grace = s.archive_compact_grace_seconds
    if args.date is not None and not date_closed(args.date, now_ms, grace):
        raise CompactError(
            f"{args.date} is not closed yet: a date is compacted once it ended "
            f"ARCHIVE_COMPACT_GRACE_SECONDS={grace} ago, so the sink no longer writes to it"
        )
    compactor = Compactor(
        s.archive_root,
        s.rejected_root,
        check_topic(s.topic),
        partial(InsecureClient, s.hdfs_url, user=s.hdfs_user_name, timeout=60),
        target_bytes=s.archive_compact_target_bytes,
        grace_s=grace,
    )

    def report(d: CompactionDone) -> None:
        print(f"compacted {d.inputs} files into {d.output} ({d.nbytes} bytes)", flush=True)

    try:
        done = compactor.run(now_ms, args.date, args.partition, progress=report)
    except (HdfsError, RequestException) as exc:
        raise CompactError(
            f"HDFS at {s.hdfs_url} failed ({type(exc).__name__}: {exc}); fix HDFS_URL or "
            "start HDFS, then run again: an interrupted compaction is finished by the next"
        ) from None
    replaced = sum(d.inputs for d in done)
    print(f"archive compact: {len(done)} files written, {replaced} small files replaced")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "archive",
        help="archive maintenance (compact closed dates' small files)",
        description="Maintain the HDFS archive.",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = sub.add_parser(
        "compact",
        help="merge each closed date's small files of a partition into large ones",
        description=(
            "Merge the small files of each closed UTC date (ended more than "
            "ARCHIVE_COMPACT_GRACE_SECONDS ago), per root, generation and partition, into "
            "files of up to ARCHIVE_COMPACT_TARGET_BYTES. Atomic for readers; a run "
            "finishes any compaction an earlier one left half done."
        ),
    )
    c.add_argument("--date", type=iso_date, help="only this UTC date (YYYY-MM-DD)")
    c.add_argument("--partition", type=partition_number, help="only this partition")
    c.set_defaults(func=compact)
