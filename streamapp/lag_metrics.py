"""The worker's consumer-lag gauges on its `/metrics` page (faust's Prometheus registry).

A faust timer re-reads both groups' committed and end offsets every LAG_INTERVAL_S
(`streamapp.lag.read_lag`, in a thread: librdkafka calls block) and sets one gauge
per group and partition. Every worker of the group exports the same values; the
alert rules take the max over workers (deploy/prometheus/rules.yml).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import Gauge

from streamapp.app import app, settings
from streamapp.lag import PartitionLag, read_lag

log = logging.getLogger(__name__)

_LABELS = ("group", "role", "partition")
LAG = Gauge(
    "wordstream_consumer_lag",
    "Messages of KAFKA_TOPIC the consumer group has yet to read (end minus committed offset)",
    _LABELS,
)
COMMITTED = Gauge(
    "wordstream_consumer_committed_offset",
    "The group's committed offset (next offset it reads); -1 when nothing is committed",
    _LABELS,
)
END = Gauge("wordstream_topic_end_offset", "KAFKA_TOPIC's end offset", ["partition"])
READ_OK = Gauge(
    "wordstream_consumer_lag_last_read_timestamp_seconds",
    "When the lag gauges were last refreshed (Unix time)",
)


def export(lags: list[PartitionLag], shown: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    """Set the gauges to `lags`, drop series of partitions no longer there; the new label set."""
    now = set()
    for r in lags:
        labels = (r.group, r.role, str(r.partition))
        now.add(labels)
        LAG.labels(*labels).set(r.lag)
        COMMITTED.labels(*labels).set(-1 if r.committed is None else r.committed)
        END.labels(str(r.partition)).set(r.end)
    for labels in shown - now:
        LAG.remove(*labels)
        COMMITTED.remove(*labels)
        if not any(p == labels[2] for _, _, p in now):
            with contextlib.suppress(KeyError):  # removed with the other group's series
                END.remove(labels[2])
    return now


_shown: set[tuple[str, str, str]] = set()


@app.timer(interval=float(settings.lag_interval_s))
async def export_consumer_lag() -> None:
    """Refresh the lag gauges; a broker that does not answer leaves the last values."""
    global _shown
    try:
        lags = await asyncio.get_running_loop().run_in_executor(None, read_lag, settings)
    except Exception as exc:  # the timer must survive anything the broker does
        log.warning("consumer lag not refreshed: %s", exc)
        return
    _shown = export(lags, _shown)
    READ_OK.set(time.time())
