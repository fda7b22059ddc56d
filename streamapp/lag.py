"""Consumer lag of the live and archive groups: how far each is behind the topic's end.

Pure core (`partition_lag`, `group_lags`) on plain offsets, and one thin edge
(`read_lag`) that reads the offsets from Kafka. The end offsets come from
`streamapp.cli.common.end_offsets`, which reads them from fetch responses because the
dev broker's ListOffsets answer can be short (docs/cli.md, "high watermark").
Readers: `wordstream status`, the report's health diagram, and the worker's lag gauges
(`streamapp/lag_metrics.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from streamapp.config import Settings, kafka_client_config
from streamapp.errors import WordstreamError

# How long one read of committed and end offsets may take before it gives up.
LAG_TIMEOUT_S = 5.0


class LagUnavailable(WordstreamError):
    """The broker did not answer the offset requests."""


@dataclass(frozen=True)
class PartitionLag:
    """One partition of one consumer group: its committed offset against the topic's end."""

    group: str
    role: str  # "live" or "archive"
    partition: int
    committed: int | None  # the next offset the group will read; None: nothing committed
    end: int
    lag: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def consumer_groups(settings: Settings) -> dict[str, str]:
    """Role -> consumer group id: the faust app id, and the archive sink's own group.

    The archive's group id is set in `streamapp.archive.consumer.consumer_config`; a unit
    test checks both agree.
    """
    return {"live": settings.app_id, "archive": f"{settings.app_id}-archive"}


def partition_lag(committed: int | None, low: int, end: int) -> int:
    """Messages the group has yet to read in one partition.

    Nothing committed, or a committed offset outside the log (a broker that came back
    empty, a recreated topic): the group starts again at the log's start (both groups
    reset to the earliest offset), so everything retained is still to read.
    """
    if committed is None or committed < low or committed > end:
        return max(end - low, 0)
    return end - committed


def group_lags(
    role: str,
    group: str,
    committed: Mapping[int, int | None],
    lows: Mapping[int, int],
    ends: Mapping[int, int],
) -> list[PartitionLag]:
    """Every partition of the topic (`ends`) for one group, by partition."""
    return [
        PartitionLag(
            group=group,
            role=role,
            partition=p,
            committed=committed.get(p),
            end=ends[p],
            lag=partition_lag(committed.get(p), lows.get(p, 0), ends[p]),
        )
        for p in sorted(ends)
    ]


def total_lag(lags: list[PartitionLag], role: str) -> int:
    """The sum of one role's partition lags."""
    return sum(r.lag for r in lags if r.role == role)


# --- I/O edge ----------------------------------------------------------------------------


def _committed(conf: dict[str, Any], topic: str, group: str, partitions: list[int]) -> Any:
    """The group's committed offsets (OffsetFetch; the consumer never joins the group)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({**conf, "group.id": group, "enable.auto.commit": False})
    try:
        tps = consumer.committed(
            [TopicPartition(topic, p) for p in partitions], timeout=LAG_TIMEOUT_S
        )
        lows = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=LAG_TIMEOUT_S)[0]
            for p in partitions
        }
    finally:
        consumer.close()
    # A negative offset is librdkafka's "no committed offset" (OFFSET_INVALID).
    return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in tps}, lows


def read_lag(settings: Settings, topic: str | None = None) -> list[PartitionLag]:
    """Lag per partition of the live and archive groups on `topic` (default KAFKA_TOPIC).

    An empty list when the topic does not exist yet; LagUnavailable if the broker does
    not answer.
    """
    from confluent_kafka import KafkaException

    from streamapp.cli.common import end_offsets

    topic = topic or settings.topic
    conf: dict[str, Any] = {**kafka_client_config(settings), "log_level": 0}
    try:
        ends = end_offsets(conf, topic, timeout=LAG_TIMEOUT_S)
        if not ends:
            return []
        lags: list[PartitionLag] = []
        for role, group in consumer_groups(settings).items():
            committed, lows = _committed(conf, topic, group, sorted(ends))
            lags += group_lags(role, group, committed, lows, ends)
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else exc
        raise LagUnavailable(
            f"could not read the offsets of {topic} at {settings.kafka_bootstrap}: {reason}"
        ) from None
    except WordstreamError as exc:
        raise LagUnavailable(str(exc)) from None
    return lags
