"""The whole path as a new user meets it: `make run`'s Procfile.dev, then the demo and the lab.

The stack is started exactly as `make run` starts it (honcho over Procfile.dev), with
every port moved to a free one through the same environment variables a user sets.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.ports import free_port
from streamapp.demo import demo_messages
from streamapp.tokenize import words
from tests.fixtures.webhdfs import read_all_lines

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LAB = Path(__file__).resolve().parents[1] / "lab"  # the course lab's scripts
READY_TIMEOUT_S = 120
# Enough demo rounds that some partition has an archive file wholly before its newest
# hour (the drift half deletes one).
DEMO_ROUNDS = 8


@dataclass
class Stack:
    env: dict[str, str]
    log: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.env[name]}"

    def wordstream(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the `wordstream` console script against this stack."""
        return subprocess.run(
            [str(BIN / "wordstream"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def tail_log(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """`honcho start -f Procfile.dev` on free ports; stopped (the whole group) afterwards."""
    ports = {name: str(free_port()) for name in ("KAFKA", "HDFS", "WORKER", "WEB", "CLOCK")}
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{ports['KAFKA']}",
        "HDFS_URL": f"http://127.0.0.1:{ports['HDFS']}",
        "WORKER_HOST": "127.0.0.1",
        "WORKER_PORT": ports["WORKER"],
        "WORKER_URLS": f"http://127.0.0.1:{ports['WORKER']}",
        "WEB_PORT": ports["WEB"],
        "CLOCK_PORT": ports["CLOCK"],
        "DEV_HDFS_ROOT": str(tmp_path / "hdfs"),
        "STATE_DIR": str(tmp_path / "state"),
        "APP_ID": f"e2e_{uuid.uuid4().hex[:8]}",
        # Commit archive files quickly so the batch sees every message soon, in files
        # small enough that a partition has several (the drift test loses one).
        "ARCHIVE_ROTATE_SECONDS": "2",
        "ARCHIVE_ROTATE_RECORDS": "50",
    }
    log = tmp_path / "honcho.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", str(REPO / "Procfile.dev")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    s = Stack(env, log)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            status = s.wordstream("status", "--json", timeout=30)
            if status.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"stack not up:\n{status.stdout}\n{s.tail_log()}")
            time.sleep(1)
        yield s
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM honcho's whole process group (honcho may have exited already), then SIGKILL."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_demo_gives_a_matching_report_then_a_lost_archive_file_shows_as_located_drift(
    stack: Stack, tmp_path: Path
) -> None:
    """The demo's matching report and page; then, on the same stack (one stack and one
    demo for both halves keeps the suite's time down), the lost-file drift of #14."""
    started_ms = int(time.time() * 1000)
    demo = stack.wordstream("demo", "--rounds", str(DEMO_ROUNDS))
    assert demo.returncode == 0, f"{demo.stdout}\n{demo.stderr}\n{stack.tail_log()}"
    assert "Verdict: match" in demo.stdout

    # The live totals equal a plain recount of what the demo produced (same corpus,
    # same tokenizer; timestamps do not change the words).
    produced = demo_messages(started_ms, rounds=DEMO_ROUNDS)
    valid, rejected = [], 0
    for value, _ in produced:
        try:
            valid.append(value.decode("utf-8"))
        except UnicodeDecodeError:
            rejected += 1
    recount = collections.Counter(w for text in valid for w in words(text))
    live = requests.get(f"{stack.url('WORKER_PORT')}/totals", timeout=10).json()
    assert live == {
        "messages": len(valid),
        "words": sum(recount.values()),
        "rejected": rejected,
    }

    summary = requests.get(f"{stack.url('WEB_PORT')}/api/summary", timeout=10).json()
    assert summary["verdict"]["state"] == "match"
    assert summary["batch"]["totals"]["messages"] == len(valid)
    assert summary["batch"]["totals"]["words"] == sum(recount.values())
    assert summary["batch"]["totals"]["rejected"] == rejected
    hours = requests.get(f"{stack.url('WEB_PORT')}/api/hours", timeout=10).json()
    # Coverage is per (hour, partition): how many whole hours are judged depends on the
    # time of day the demo runs; the judged cells are what was compared.
    judged = [c for row in hours["hours"] for c in row["cells"] if c["status"] != "not covered"]
    assert len(judged) >= 2, hours["hours"]
    assert all(c["status"] == "match" for c in judged), judged
    assert all(total["status"] == "match" for total in hours["totals"]), hours["totals"]
    # Ties are broken by the word, as everywhere in wordstream.
    top_word, top_count = min(recount.items(), key=lambda wc: (-wc[1], wc[0]))
    top = requests.get(f"{stack.url('WEB_PORT')}/api/top?n=1", timeout=10).json()
    assert top["rows"][0] == {"word": top_word, "live": top_count, "batch": top_count, "diff": 0}

    # Every component is up while the stack runs.
    status = stack.wordstream("status")
    assert status.returncode == 0, status.stdout

    # The page, in a real browser, shows what the API says.
    from tests.web.browser import check_report_page

    shown = check_report_page(stack.url("WEB_PORT"), tmp_path)
    assert shown

    a_lost_archive_file_is_drift_located_to_its_partition_hours_and_offsets(stack)


def test_the_labs_own_scripts_work_unchanged_against_the_stack(stack: Stack) -> None:
    kafka = stack.env["KAFKA_BOOTSTRAP"]
    hdfs_address = stack.env["HDFS_URL"].removeprefix("http://")

    created = stack.wordstream("topics", "create")
    assert created.returncode == 0, created.stderr

    produced = subprocess.run(
        [sys.executable, str(REPO / "tests/lab/produce.py"), kafka],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr
    assert produced.stdout.count("Message delivered to data_stream") == 10

    stored = subprocess.run(
        [sys.executable, str(LAB / "hdfs_store.py"), stack.env["HDFS_URL"]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.splitlines()[0] == "hello from the lab"

    # The worker archives the ten messages; then the lab's Spark script counts them.
    deadline = time.monotonic() + 120
    while len(read_all_lines(stack.env["HDFS_URL"], "/data/data_stream", missing_ok=True)) < 10:
        assert time.monotonic() < deadline, stack.tail_log()
        time.sleep(1)
    counted = subprocess.run(
        [sys.executable, str(LAB / "spark_count.py"), hdfs_address],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert counted.returncode == 0, counted.stderr[-3000:]
    assert "lines: 10" in counted.stdout.splitlines()


def a_lost_archive_file_is_drift_located_to_its_partition_hours_and_offsets(
    stack: Stack,
) -> None:
    """Issue #14's bar: after the demo, delete one committed archive file and run the
    batch: the report says drift for that file's partition and the hours its records
    fall in, by exactly what the file held; best-known counts carry their provenance."""
    import json

    from hdfs import InsecureClient

    from streamapp.archive.store import committed_files
    from streamapp.contract import hour_of

    client = InsecureClient(stack.env["HDFS_URL"])
    contents: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    for path, f in committed_files(client, "/data/data_stream"):
        with client.read(path, encoding="utf-8") as reader:
            contents[path] = (f, [json.loads(line) for line in reader.read().splitlines() if line])
    newest_hour: dict[int, str] = {}
    for f, records in contents.values():
        for r in records:
            newest_hour[f.partition] = max(
                hour_of(r["timestamp"]), newest_hour.get(f.partition, "")
            )
    first_offset = {f.partition: f.first for f, _ in contents.values()}
    for f, _ in contents.values():
        first_offset[f.partition] = min(f.first, first_offset[f.partition])
    # A file all of whose records fall before its partition's newest hour: the batch
    # fully covers those hours, so losing it must show as drift, not "not covered".
    # One inside its partition's log is preferred: its offsets are then a gap between
    # others, which the report lists (a gap at a log's very start is not listed).
    candidates = sorted(
        (f.first == first_offset[f.partition], f.first, p)
        for p, (f, rs) in contents.items()
        if all(hour_of(r["timestamp"]) < newest_hour[f.partition] for r in rs)
    )
    assert candidates, {p: (f, len(rs)) for p, (f, rs) in contents.items()}
    path = candidates[0][2]
    lost, records = contents[path]
    held: dict[str, list[int]] = {}
    for r in records:
        slot = held.setdefault(hour_of(r["timestamp"]), [0, 0])
        slot[0] += 1
        slot[1] += len(words(r["value"]))
    client.delete(path)
    rerun = stack.wordstream("batch", "run")
    assert rerun.returncode == 0, f"{rerun.stdout}\n{rerun.stderr}"

    web = stack.url("WEB_PORT")
    drift = requests.get(f"{web}/api/drift", timeout=30).json()
    assert drift["verdict"]["state"] == "drift"
    located = {(d["source"], d["hour"]): d for d in drift["drift"]}
    source = f"{lost.gen}:{lost.partition}"
    assert set(located) == {(source, hour) for hour in held}, drift["drift"]
    for hour, (messages, n_words) in held.items():
        cell = located[(source, hour)]
        assert (cell["messages_diff"], cell["words_diff"]) == (messages, n_words)
        assert cell["short"] == "batch"

    counts = requests.get(f"{web}/api/counts", timeout=30).json()
    assert {h["provenance"] for h in counts["hours"]} <= {"exact", "live", "batch"}
    assert counts["hours"] and all("provenance" in h for h in counts["hours"])
