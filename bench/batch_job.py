"""Benchmark: the Spark batch job vs a single-process Python recount, same archive.

    .venv/bin/python bench/batch_job.py [--sizes 100000,1000000,5000000] [--text-sizes 1000000]

Starts a devstack WebHDFS server on a free port over a temporary directory, writes an
archive of ten-word messages per size (contract format, 4 partitions, 50,000 messages
per file), then times (1) `python -m spark_jobs.wordcount` (the clock's command, with
SPARK_DRIVER_JAVA_OPTIONS) as a child process, JVM start included, and (2) a Python
recount that reads the same files over WebHDFS, deduplicates by identity and counts with
streamapp.tokenize.words. Both results are
compared. Two corpora: random words of accented letters and `ß` (sizes keyed "N") and
the demo corpus of French and English sentences, repeated (keyed "N_text"). Prints a
table, then one JSON line:
{"100000": {"spark_s": ..., "python_s": ..., "speedup_vs_python": ...}, ..., "1000000_text": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hdfs import InsecureClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from devstack.webhdfs import WebHdfsServer  # noqa: E402
from streamapp.contract import HOUR_MS  # noqa: E402
from streamapp.demo import corpus_lines  # noqa: E402
from streamapp.tokenize import words  # noqa: E402

PARTITIONS = 4
PER_FILE = 50_000
WORDS_PER_MESSAGE = 10
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SPAN_MS = 20 * HOUR_MS  # messages spread over 20 hours


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzéèàüöß"
    return ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(size)]


def random_texts(n: int, seed: int = 1) -> list[str]:
    """n ten-word messages of random accented words (Zipf-like word frequencies)."""
    rng = random.Random(seed)
    vocab = vocabulary(rng)
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    tokens = rng.choices(vocab, weights=weights, k=n * WORDS_PER_MESSAGE)
    return [" ".join(tokens[i * WORDS_PER_MESSAGE : (i + 1) * WORDS_PER_MESSAGE]) for i in range(n)]


def sentence_texts(n: int) -> list[str]:
    """n messages cycling through the demo corpus's French and English sentences."""
    lines = corpus_lines()
    return [lines[i % len(lines)] for i in range(n)]


def write_archive(client: InsecureClient, root: str, texts: list[str]) -> int:
    """Write the messages as committed data files; the number of files."""
    n = len(texts)
    files = 0
    per_partition = -(-n // PARTITIONS)
    for partition in range(PARTITIONS):
        first_index = partition * per_partition
        count = max(0, min(per_partition, n - first_index))
        for start in range(0, count, PER_FILE):
            lines = []
            stop = min(start + PER_FILE, count)
            for offset in range(start, stop):
                text = texts[first_index + offset]
                ts = T0 + offset * SPAN_MS // per_partition
                lines.append(
                    json.dumps(
                        {
                            "partition": partition,
                            "offset": offset,
                            "timestamp": ts,
                            "key": None,
                            "value": text,
                        },
                        ensure_ascii=False,
                    )
                )
            day = datetime.fromtimestamp(T0 / 1000, UTC).strftime("%Y-%m-%d")
            name = f"data_stream+{partition}+{start:020d}+{stop - 1:020d}.jsonl"
            # Bytes, not str + encoding: the hdfs client streams a str slowly.
            data = ("\n".join(lines) + "\n").encode("utf-8")
            client.write(f"{root}/gen=0/date={day}/{name}", data)
            files += 1
    return files


def python_recount(client: InsecureClient, root: str) -> dict[str, int]:
    """One process: read every data file over WebHDFS, dedupe by identity, count."""
    seen: set[tuple[int, int, int]] = set()
    counts: Counter[str] = Counter()
    hours: Counter[tuple[int, str]] = Counter()
    messages = 0
    for directory, dirs, names in client.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(("_", "."))]
        gen = int(directory.rsplit("/gen=", 1)[1].split("/")[0]) if "/gen=" in directory else 0
        for name in names:
            if name.startswith(("_", ".")) or not name.endswith(".jsonl"):
                continue
            with client.read(f"{directory}/{name}", encoding="utf-8") as reader:
                for line in reader.read().split("\n"):
                    if not line:
                        continue
                    r = json.loads(line)
                    identity = (gen, r["partition"], r["offset"])
                    if identity in seen:
                        continue
                    seen.add(identity)
                    messages += 1
                    tokens = words(r["value"])
                    counts.update(tokens)
                    hour = r["timestamp"] // HOUR_MS
                    hours.update((hour, w) for w in tokens)
    return {
        "messages": messages,
        "words": sum(counts.values()),
        "distinct_words": len(counts),
        "hour_words": len(hours),
    }


def spark_run(port: int, root: str) -> float:
    """Time the job as the clock starts it (a fresh JVM of its own), in seconds."""
    base = f"webhdfs://127.0.0.1:{port}{root}"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}
    command = [
        sys.executable,
        "-m",
        "spark_jobs.wordcount",
        "--archive",
        f"{base}/data_stream",
        "--rejected",
        f"{base}/data_stream_rejected",
        "--report-root",
        f"{base}/reports",
        "--master",
        "local[2]",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"spark job failed ({done.returncode}):\n{done.stderr[-3000:]}")
    log = (done.stdout + done.stderr).splitlines()
    phases = [line.rsplit(": ", 1)[-1] for line in log if "spark_jobs" in line and " took " in line]
    print(f"  {root}: " + "; ".join(phases), flush=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="random-word corpus")
    parser.add_argument("--text-sizes", default="1000000", help="sentence corpus ('' for none)")
    args = parser.parse_args(argv)
    cases = [(str(int(s)), int(s), "random") for s in args.sizes.split(",") if s]
    cases += [(f"{int(s)}_text", int(s), "text") for s in args.text_sizes.split(",") if s]
    results: dict[str, dict[str, float]] = {}
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp,
        WebHdfsServer(Path(tmp), port=0) as server,
    ):
        client = InsecureClient(server.url)
        for name, n, corpus in cases:
            root = f"/bench/{name}"
            t = time.perf_counter()
            texts = random_texts(n) if corpus == "random" else sentence_texts(n)
            files = write_archive(client, f"{root}/data_stream", texts)
            del texts
            write_s = time.perf_counter() - t
            spark_s = spark_run(server.port, root)
            with client.read(f"{root}/reports/latest") as reader:
                latest = json.loads(reader.read())
            with client.read(f"{latest['path']}/summary.json") as reader:
                totals = json.loads(reader.read())["totals"]
            t = time.perf_counter()
            recount = python_recount(client, f"{root}/data_stream")
            python_s = time.perf_counter() - t
            agree = all(totals[k] == recount[k] for k in ("messages", "words", "distinct_words"))
            results[name] = {
                "spark_s": round(spark_s, 2),
                "python_s": round(python_s, 2),
                "speedup_vs_python": round(python_s / spark_s, 2),
            }
            rows.append((name, files, write_s, spark_s, python_s, totals["words"], agree))
            print(f"  {name}: {json.dumps(results[name])}", flush=True)
            client.delete(root, recursive=True)
    print(
        f"{'case':>12} {'files':>6} {'write s':>8} {'spark s':>8} {'python s':>9} "
        f"{'speedup':>8} {'words':>11} {'agree':>6}"
    )
    for name, files, write_s, spark_s, python_s, total_words, agree in rows:
        print(
            f"{name:>12} {files:>6} {write_s:>8.1f} {spark_s:>8.1f} {python_s:>9.1f} "
            f"{python_s / spark_s:>8.2f} {total_words:>11} {'yes' if agree else 'NO':>6}"
        )
    print(
        "spark_s: the job's wall time (python -m spark_jobs.wordcount), JVM start included; "
        "python_s: single-process recount"
        " over the same WebHDFS files; speedup_vs_python = python_s / spark_s"
    )
    print(json.dumps(results))
    return 0 if all(r[-1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
