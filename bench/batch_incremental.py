"""Benchmark: the nightly (incremental) batch run after a month of history vs one day alone.

    .venv/bin/python bench/batch_incremental.py [--dates 30] [--per-date 100000]

Builds, on the local filesystem (a Hadoop `file://` filesystem for the job), an archive of
`--dates` UTC dates x `--per-date` messages written with the archive sink's own encoder
and file naming (4 partitions), then times `python -m spark_jobs.wordcount` (the clock's
command: a fresh JVM each, with SPARK_DRIVER_JAVA_OPTIONS, `local[2]`):

1. a full run over the history (`full_s`);
2. one more date is added, then the nightly incremental run (`incremental_s`);
3. separately, a full run over an archive holding only that one date (`one_date_s`).

Then a `--full` recount of all dates into another report root must equal the incremental
snapshot (summary apart from run metadata, and every word's count); exit 1 otherwise.
Last line: {"history_dates", "full_s", "incremental_s", "one_date_s",
"incremental_over_one_date"}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from batch_job import random_texts  # noqa: E402

from streamapp.archive.core import DataFile, data_file_path, encode_record, utc_date  # noqa: E402

PARTITIONS = 4
PER_FILE = 25_000
DAY_MS = 86_400_000
T0 = 1_764_547_200_000  # 2025-12-01T00:00:00Z
VOLATILE = ("run_id", "started_at", "finished_at", "dates_recomputed", "dates_reused")


def write_date(root: Path, day: int, n: int) -> None:
    """n messages of one UTC date, as the sink writes them (gen 0, offsets per partition)."""
    texts = random_texts(n, seed=day)
    per_partition = -(-n // PARTITIONS)
    for partition in range(PARTITIONS):
        first_index = partition * per_partition
        count = max(0, min(per_partition, n - first_index))
        base_offset = day * per_partition
        for start in range(0, count, PER_FILE):
            stop = min(start + PER_FILE, count)
            lines = []
            for i in range(start, stop):
                ts = T0 + day * DAY_MS + i * (DAY_MS - 1) // per_partition
                text = texts[first_index + i].encode("utf-8")
                lines.append(encode_record(partition, base_offset + i, ts, None, text).line)
            date = utc_date(T0 + day * DAY_MS)
            f = DataFile(
                0, date, "data_stream", partition, base_offset + start, base_offset + stop - 1
            )
            path = Path(data_file_path(str(root), f))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(lines))


def spark_run(root: Path, reports: str, full: bool = False) -> float:
    """Time the job as the clock starts it (a fresh JVM of its own), in seconds."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    command = [
        sys.executable, "-m", "spark_jobs.wordcount",
        "--archive", f"file://{root}/data_stream",
        "--rejected", f"file://{root}/data_stream_rejected",
        "--report-root", f"file://{root}/{reports}",
        "--master", "local[2]",
    ]  # fmt: skip
    if full:
        command.append("--full")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"spark job failed ({done.returncode}):\n{done.stderr[-3000:]}")
    log = (done.stdout + done.stderr).splitlines()
    phases = [line.rsplit(": ", 1)[-1] for line in log if "spark_jobs" in line and " took " in line]
    print(
        f"  {reports}{' --full' if full else ''}: {elapsed:.1f} s; " + "; ".join(phases), flush=True
    )
    return elapsed


def snapshot(root: Path, reports: str) -> dict[str, Any]:
    latest = json.loads((root / reports / "latest").read_text())
    run_dir = root / reports / "runs" / latest["run_id"]
    summary = json.loads((run_dir / "summary.json").read_text())
    words: dict[str, int] = {}
    for part in (run_dir / "words").glob("part-*"):
        for line in part.read_text(encoding="utf-8").split("\n"):
            if line:
                row = json.loads(line)
                words[row["word"]] = row["count"]
    return {**{k: v for k, v in summary.items() if k not in VOLATILE}, "words": words}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dates", type=int, default=30, help="dates of history")
    parser.add_argument("--per-date", type=int, default=100_000, help="messages per date")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-incremental-") as tmp:
        history = Path(tmp, "history")
        t = time.perf_counter()
        for day in range(args.dates):
            write_date(history / "data_stream", day, args.per_date)
        print(f"wrote {args.dates} dates x {args.per_date} in {time.perf_counter() - t:.1f} s")
        full_s = spark_run(history, "reports")
        write_date(history / "data_stream", args.dates, args.per_date)
        incremental_s = spark_run(history, "reports")
        one = Path(tmp, "one")
        write_date(one / "data_stream", args.dates, args.per_date)
        one_date_s = spark_run(one, "reports")
        spark_run(history, "recount", full=True)
        incremental = snapshot(history, "reports")
        recount = snapshot(history, "recount")
        equal = incremental == recount
    print(
        f"incremental snapshot equals a --full recount of {args.dates + 1} dates: "
        f"{'yes' if equal else 'NO'} ({incremental['totals']['messages']} messages)"
    )
    result = {
        "history_dates": args.dates,
        "full_s": round(full_s, 2),
        "incremental_s": round(incremental_s, 2),
        "one_date_s": round(one_date_s, 2),
        "incremental_over_one_date": round(incremental_s / one_date_s, 2),
    }
    print(json.dumps(result))
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
