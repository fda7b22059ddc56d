"""The worker's Prometheus sensor: faust's own, with its per-event label look-ups cached.

faust's `PrometheusMonitor` resolves a labelled child (`.labels(topic=...)`, a stream
label normalised with a regex) on every message, stream event, fetched record and table
read or write. In the live worker that was about a tenth of the event loop's time
(py-spy on the bench/live_throughput.py workload). This subclass exports the same
metrics with the same labels, looking each child up once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faust.sensors.monitor import Monitor
from faust.sensors.prometheus import PrometheusMonitor, setup_prometheus_sensors
from faust.types import TP, AppT, CollectionT, EventT, StreamT
from faust.types.tuples import Message
from prometheus_client import Histogram

LOOP_LAG = Histogram(
    "wordstream_loop_lag_seconds",
    "How late the worker's event loop woke a task due every LOOP_LAG_INTERVAL_S: the "
    "longest piece of work it ran without handing the loop over (views wait that long)",
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
LOOP_LAG_INTERVAL_S = 0.1


class CachedPrometheusMonitor(PrometheusMonitor):
    """`PrometheusMonitor` whose hot hooks look each labelled child up once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._label_children: dict[tuple[str, Any, str], Any] = {}

    def _child(self, metric: str, key: Any, operation: str = "") -> Any:
        """The child of `metric` for `key` (a TP, stream or table), created once."""
        child = self._label_children.get((metric, key, operation))
        if child is None:
            family = getattr(self._metrics, metric)
            if metric == "messages_received_per_topics":
                child = family.labels(topic=key.topic)
            elif metric == "total_events_per_stream":
                child = family.labels(stream=f"stream.{self._stream_label(key)}.events")
            elif metric == "table_operations":
                child = family.labels(table=f"table.{key.name}", operation=operation)
            else:  # per topic partition
                child = family.labels(topic=key.topic, partition=key.partition)
            self._label_children[(metric, key, operation)] = child
        return child

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        Monitor.on_message_in(self, tp, offset, message)
        self._metrics.messages_received.inc()
        self._metrics.active_messages.inc()
        self._child("messages_received_per_topics", tp).inc()
        self._child("messages_received_per_topics_partition", tp).set(offset)

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT, event: EventT
    ) -> dict[str, Any] | None:
        state = Monitor.on_stream_event_in(self, tp, offset, stream, event)
        self._metrics.total_events.inc()
        self._metrics.total_active_events.inc()
        self._child("total_events_per_stream", stream).inc()
        return state

    def track_tp_end_offset(self, tp: TP, offset: int) -> None:
        Monitor.track_tp_end_offset(self, tp, offset)
        self._child("topic_partition_end_offset", tp).set(offset)

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_get(self, table, key)
        self._child("table_operations", table, self.KEYS_RETRIEVED).inc()

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        Monitor.on_table_set(self, table, key, value)
        self._child("table_operations", table, self.KEYS_UPDATED).inc()

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        Monitor.on_table_del(self, table, key)
        self._child("table_operations", table, self.KEYS_DELETED).inc()


def setup_metrics(app: AppT, pattern: str = "/metrics") -> None:
    """faust's Prometheus page and metrics at `pattern`, with the cached sensor."""
    setup_prometheus_sensors(app, pattern=pattern, name_prefix="faust")
    app.monitor = CachedPrometheusMonitor(metrics=app.monitor._metrics)  # type: ignore[attr-defined]
    app.task(watch_loop_lag)


async def watch_loop_lag() -> None:
    """Observe, every LOOP_LAG_INTERVAL_S, how late the event loop woke this task."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LOOP_LAG_INTERVAL_S
        await asyncio.sleep(LOOP_LAG_INTERVAL_S)
        LOOP_LAG.observe(max(0.0, loop.time() - due))
