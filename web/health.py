"""The report's health checks: each diagram box's component in `streamapp.health`'s vocabulary.

Each check reads one source within its timeout and never raises; `ReportData.health`
runs them concurrently and caches them. The CLI's `wordstream status` shares the
vocabulary and the verdicts, and words its details for a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from streamapp.config import Settings, kafka_client_config
from streamapp.health import (
    BATCH_HEALTH,
    Health,
    batch_state,
    clock_state,
    http_json,
    worker_state,
)
from streamapp.lag import PartitionLag
from web.errors import ReportError
from web.sources import SnapshotSource, WorkerClient, catching_up

# A producer counts as active while the live message total grew within this window.
PRODUCER_ACTIVE_SECONDS = 300.0


@dataclass(frozen=True)
class LagState:
    """Lag per partition of both consumer groups, or why it could not be read."""

    partitions: list[PartitionLag]
    error: str | None

    def total(self, role: str) -> int:
        """One group's lag over all partitions."""
        return sum(p.lag for p in self.partitions if p.role == role)


def minutes(iso: Any) -> str:
    """An ISO time shortened to `YYYY-MM-DD HH:MM` for a diagram box."""
    text = str(iso)
    return text[:16].replace("T", " ") if len(text) >= 16 and text[10] == "T" else text


def broker_health(settings: Settings, timeout: float) -> Health:
    """A metadata request: how many brokers, and whether KAFKA_TOPIC exists."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    conf: dict[str, Any] = dict(kafka_client_config(settings))
    conf.update({"socket.timeout.ms": int(timeout * 1000), "log_level": 0})
    try:
        meta = AdminClient(conf).list_topics(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else exc
        return Health("down", f"unreachable: {err.str() if hasattr(err, 'str') else err}")
    topic = meta.topics.get(settings.topic)
    if topic is None or topic.error is not None:
        return Health("warn", f"{len(meta.brokers)} broker(s); no topic {settings.topic}")
    return Health("ok", f"{len(meta.brokers)} broker(s); {len(topic.partitions)} partition(s)")


def worker_health(worker: WorkerClient, totals: Callable[[], Any]) -> Health:
    """The first answering worker's `/health`, and whether its `totals()` say it catches up."""
    try:
        body = worker.get("/health")
    except ReportError as exc:
        return Health("down", str(exc))
    state = worker_state(body)
    if state == "down":
        return Health("down", "the worker's /health answer is not an object")
    try:
        behind = catching_up(totals().get("behind"))
    except ReportError:
        behind = None
    if behind is not None:
        # A failover under way: the views answer, some partitions from standbys.
        return Health("warn", f"catching up: {behind}")
    if state == "ok":
        return Health("ok", f"{len(body.get('assigned', []))} partition(s) assigned")
    return Health("warn", str(body.get("status", "unknown status")))


def hdfs_health(store: SnapshotSource) -> Health:
    """WebHDFS answering for REPORT_ROOT, and whether any report is there."""
    try:
        exists = store.ping()
    except ReportError as exc:
        return Health("down", str(exc))
    return Health("ok", "reports found" if exists else "up; no reports yet")


def spark_health(store: SnapshotSource) -> Health:
    """The last batch attempt (`last_run.json`)."""
    try:
        run = store.last_run()
    except ReportError:
        return Health("unknown", "HDFS down: cannot read last_run.json")
    state = batch_state(run)
    if run is None:
        return Health(BATCH_HEALTH[state], state)
    detail = {
        "success": f"last run {minutes(run.get('finished_at'))}",
        "running": f"running since {minutes(run.get('started_at'))}",
        "failed": f"failed: {run.get('error')}",
    }.get(state, f"last_run.json says {run['state']!r}")
    return Health(BATCH_HEALTH[state], detail)


def clock_health(settings: Settings, timeout: float) -> Health:
    """The clock's `/health` at CLOCK_URL: running a batch, or when the next one is due."""
    base = settings.clock_base_url
    reply = http_json(f"{base}/health", timeout)
    if clock_state(reply) == "down":
        # The host and port only: the page links to nothing outside itself.
        return Health("down", f"no answer from {urlsplit(base).netloc}")
    if reply.body.get("running"):
        return Health("ok", "running the batch now")
    return Health("ok", f"next run {minutes(reply.body.get('next_run'))}")


def producer_health(worker: Health, last_growth: float | None) -> Health:
    """Whether a producer is sending, from when the live message total last grew."""
    # Producers are not observable directly; the live message total growing is
    # the evidence that one is sending.
    if worker.state == "down":
        return Health("unknown", "worker down: cannot tell")
    if last_growth is not None and time.monotonic() - last_growth < PRODUCER_ACTIVE_SECONDS:
        return Health("ok", "messages arriving")
    return Health("warn", "idle: no new messages seen")


def lag_health(lag: LagState, topic: str) -> Health:
    """Both consumer groups' lag summed over partitions."""
    if lag.error is not None:
        return Health("unknown", lag.error)
    if not lag.partitions:
        return Health("unknown", f"no topic {topic}")
    return Health("ok", f"live {lag.total('live'):,} · archive {lag.total('archive'):,} behind")
