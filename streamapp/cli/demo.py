"""`wordstream demo`: feed the sample corpus through the running stack and print the verdict.

With `make run`'s stack up: create the topic, produce the French and English corpus
(plus a few non-UTF-8 payloads) stamped over the last few hours, wait until the worker
has counted and the archive has stored every message of the topic, run the batch job
once, and print the report URL with its verdict. Running it again does not produce the
corpus a second time while the broker still holds it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests

from streamapp.cli.common import (
    add_kafka_options,
    end_offsets,
    kafka_target,
    positive_float,
    positive_int,
)
from streamapp.cli.topics import ensure_topic
from streamapp.config import Settings
from streamapp.demo import demo_messages
from streamapp.errors import WordstreamError
from streamapp.snapshots import SnapshotReader, SnapshotUnavailable

T = TypeVar("T")

POLL_S = 0.5


class DemoError(WordstreamError):
    """The stack did not get the demo through; the message names the step."""


# --- pure helpers ---------------------------------------------------------------------


def already_produced(marker: Mapping[str, Any] | None, end_offsets: Mapping[int, int]) -> bool:
    """True if the broker still holds what an earlier demo run recorded producing.

    The dev broker keeps everything in memory: after a restart its offsets start again
    at 0, so offsets below the recorded ones mean the corpus is gone and must be re-sent.
    """
    if not marker:
        return False
    recorded = {int(p): int(o) for p, o in marker.get("end_offsets", {}).items()}
    return bool(recorded) and all(end_offsets.get(p, 0) >= o for p, o in recorded.items())


def archive_complete(archived: Mapping[int, int], end_offsets: Mapping[int, int]) -> bool:
    """True if every non-empty partition is archived up to its last offset."""
    return all(archived.get(p, -1) >= end - 1 for p, end in end_offsets.items() if end > 0)


def wait_for(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Call `probe` until it returns a value; DemoError naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            value = probe()
        except (requests.RequestException, WordstreamError) as exc:
            value, last_error = None, f" (last error: {exc})"
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}{last_error}")
        time.sleep(POLL_S)


# --- I/O edges ------------------------------------------------------------------------


def _produce(conf: dict[str, Any], topic: str, messages: list[tuple[bytes, int]]) -> None:
    from confluent_kafka import Producer

    producer = Producer({**conf, "linger.ms": 20})
    failures: list[str] = []

    def report(err: Any, _msg: Any) -> None:
        if err is not None:
            failures.append(str(err))

    for value, timestamp in messages:
        producer.produce(topic, value, timestamp=timestamp, on_delivery=report)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        first = failures[0] if failures else "not delivered within 30 s"
        raise DemoError(f"{remaining + len(failures)} demo messages failed: {first}")


def _hdfs(settings: Settings) -> Any:
    from hdfs import InsecureClient

    return InsecureClient(settings.hdfs_url, user=settings.hdfs_user_name, timeout=10)


def _demo_record_path(settings: Settings, topic: str) -> str:
    # Under REPORT_ROOT with a leading "_", which every reader of that tree skips.
    return f"{settings.report_root}/_demo/{topic}.json"


def _demo_record(reader: SnapshotReader, path: str) -> dict[str, Any] | None:
    """What an earlier demo run recorded producing; None if nothing readable is there."""
    try:
        record = reader.read_json(path)
    except SnapshotUnavailable:
        return None
    return record if isinstance(record, dict) else None


def _archived(client: Any, settings: Settings, topic: str, partitions: list[int]) -> dict[int, int]:
    """Per partition, the last offset the archive has committed (`read_committed`)."""
    from streamapp.archive.store import read_committed

    archived = {}
    for partition in partitions:
        committed = read_committed(client, settings.archive_root, topic, partition)
        if committed.last is not None:
            archived[partition] = committed.last
    return archived


def _run_batch(settings: Settings) -> int:
    """Run the batch job once, as `wordstream batch run` does."""
    from spark_jobs.options import default_options
    from spark_jobs.wordcount import configure_logging, execute

    options = default_options(settings)
    configure_logging()
    return execute(options)


def _worker_total(settings: Settings) -> int:
    for url in settings.worker_url_list:
        try:
            reply = requests.get(f"{url}/totals", timeout=3)
            if reply.ok:
                totals = reply.json()
                return int(totals["messages"]) + int(totals["rejected"])
        except requests.RequestException:
            continue
    raise DemoError(f"no worker answered at {settings.worker_urls}; is `make run` up?")


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    target = kafka_target(args)
    conf = target.client_config()

    print("demo: creating the topic")
    print(ensure_topic(target, target.settings.topic_partitions))

    client = _hdfs(settings)
    reader = SnapshotReader.from_settings(settings, timeout=10)
    record_path = _demo_record_path(settings, target.topic)
    ends = end_offsets(conf, target.topic)
    if not args.again and already_produced(_demo_record(reader, record_path), ends):
        print("demo: the broker already holds the demo corpus; not producing it again")
    else:
        messages = demo_messages(int(time.time() * 1000), rounds=args.rounds)
        print(f"demo: producing {len(messages)} messages to {target.topic}")
        _produce(conf, target.topic, messages)
        ends = end_offsets(conf, target.topic)
        client.write(record_path, data=json.dumps({"end_offsets": ends}), overwrite=True)
    expected = sum(ends.values())

    print(f"demo: waiting for the worker to count {expected} messages")
    wait_for(
        "the worker's live counts",
        lambda: _worker_total(settings) >= expected or None,
        args.timeout,
    )
    print("demo: waiting for the archive to hold every message")
    partitions = list(ends)
    wait_for(
        "the HDFS archive",
        lambda: (
            archive_complete(_archived(client, settings, target.topic, partitions), ends) or None
        ),
        args.timeout,
    )

    print("demo: running the batch job")
    code = _run_batch(settings)
    if code != 0:
        return code

    web = args.web_url or f"http://localhost:{settings.web_port}"
    latest = reader.latest()
    latest_run_id = latest["run_id"] if latest else None

    def summary() -> dict[str, Any] | None:
        reply = requests.get(f"{web}/api/summary", timeout=5)
        data: dict[str, Any] = reply.json()
        batch = data.get("batch") or {}
        run_id = batch.get("run_id") if isinstance(batch, dict) else None
        return data if run_id == latest_run_id else None

    data = wait_for(f"the report at {web} to show the new batch run", summary, args.timeout)
    verdict = data.get("verdict") or {}
    print(f"Report: {web}/")
    print(f"Verdict: {verdict.get('state')} ({verdict.get('message')})")
    return 0 if verdict.get("state") == "match" else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="produce the sample corpus, run the batch, print the report's verdict"
    )
    add_kafka_options(parser)
    parser.add_argument("--rounds", type=positive_int, default=20, help="corpus repetitions")
    parser.add_argument(
        "--timeout", type=positive_float, default=300.0, help="seconds to wait for each step"
    )
    parser.add_argument("--web-url", default="", help="report base URL (default: WEB_PORT)")
    parser.add_argument(
        "--again", action="store_true", help="produce the corpus even if the broker holds it"
    )
    parser.set_defaults(func=run)
