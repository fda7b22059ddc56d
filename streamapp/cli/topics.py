"""`wordstream topics create|list|describe`: the lab's kafka-topics.sh step."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from streamapp.cli.common import (
    BROKER_TIMEOUT_S,
    KafkaTarget,
    add_kafka_options,
    end_offsets,
    fetch_metadata,
    kafka_target,
    partition_count,
    positive_int,
    require_topic,
)
from streamapp.errors import WordstreamError


class TopicMismatch(WordstreamError):
    """The topic exists with another partition count than asked for."""


@dataclass(frozen=True)
class PartitionRow:
    """One partition of `topics describe`: metadata plus its offset range."""

    partition: int
    leader: int
    replicas: list[int]
    low: int
    high: int


def existing_outcome(topic: str, existing: int, wanted: int) -> str:
    """The message for `create` on a topic that exists; TopicMismatch if the counts differ."""
    if existing == wanted:
        return f"topic {topic} already exists with {existing} partitions"
    raise TopicMismatch(
        f"topic {topic} already exists with {existing} partitions, not {wanted}; "
        f"use --partitions {existing}, or delete and recreate the topic"
    )


def describe_lines(topic: str, rows: list[PartitionRow]) -> list[str]:
    """The `describe` table: one header, one line per partition, one total."""
    lines = [f"{'TOPIC':<20} {'PARTITION':>9} {'LEADER':>6}  {'REPLICAS':<10} OFFSETS"]
    for r in sorted(rows, key=lambda r: r.partition):
        replicas = ",".join(str(b) for b in r.replicas)
        offsets = f"{r.low}..{r.high}"
        lines.append(f"{topic:<20} {r.partition:>9} {r.leader:>6}  {replicas:<10} {offsets}")
    total = sum(r.high - r.low for r in rows)
    lines.append(f"{topic}: {len(rows)} partitions, {total} messages retained")
    return lines


def _admin(target: KafkaTarget) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient(target.client_config())


def create(args: argparse.Namespace) -> int:
    """Create the topic; an existing topic with the same partition count is fine."""
    target = kafka_target(args)
    print(ensure_topic(target, args.partitions or target.settings.topic_partitions))
    return 0


def ensure_topic(target: KafkaTarget, wanted: int) -> str:
    """Create the topic with `wanted` partitions if it does not exist; the outcome as a line.

    TopicMismatch if it exists with another partition count.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _admin(target)
    existing = partition_count(fetch_metadata(admin, target.bootstrap), target.topic)
    if existing is None:
        future = admin.create_topics([NewTopic(target.topic, wanted)])[target.topic]
        try:
            future.result()
        except KafkaException as exc:
            error = exc.args[0]
            if error.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise WordstreamError(
                    f"could not create topic {target.topic}: {error.str()}"
                ) from None
            # Someone created it between our metadata request and ours: compare again.
            existing = require_topic(
                fetch_metadata(admin, target.bootstrap), target.topic, target.bootstrap
            )
        else:
            return f"created topic {target.topic} with {wanted} partitions on {target.bootstrap}"
    return existing_outcome(target.topic, existing, wanted)


def list_topics(args: argparse.Namespace) -> int:
    """Print every topic with its partition count."""
    target = kafka_target(args)
    metadata = fetch_metadata(_admin(target), target.bootstrap)
    for name in sorted(metadata.topics):
        print(f"{name}\t{len(metadata.topics[name].partitions)}")
    return 0


def describe(args: argparse.Namespace) -> int:
    """Print the topic's partitions, leaders and offset ranges."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    target = kafka_target(args)
    metadata = fetch_metadata(_admin(target), target.bootstrap)
    require_topic(metadata, target.topic, target.bootstrap)
    # Offsets need a consumer; it never joins a group, the id only satisfies librdkafka.
    consumer = Consumer(target.client_config(**{"group.id": "wordstream-describe"}))
    try:
        lows = {}
        for p in metadata.topics[target.topic].partitions.values():
            try:
                lows[p.id], _ = consumer.get_watermark_offsets(
                    TopicPartition(target.topic, p.id), timeout=BROKER_TIMEOUT_S
                )
            except KafkaException as exc:
                raise WordstreamError(
                    f"could not read the offsets of {target.topic} [{p.id}]: {exc.args[0].str()}"
                ) from None
    finally:
        consumer.close()
    highs = end_offsets(target.client_config(), target.topic)
    rows = [
        PartitionRow(p.id, p.leader, list(p.replicas), lows[p.id], highs[p.id])
        for p in metadata.topics[target.topic].partitions.values()
    ]
    print("\n".join(describe_lines(target.topic, rows)))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("topics", help="create, list or describe Kafka topics")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    p_create = actions.add_parser("create", help="create the topic (idempotent)")
    add_kafka_options(p_create)
    p_create.add_argument(
        "--partitions",
        type=positive_int,
        help="number of partitions (default: TOPIC_PARTITIONS, 4)",
    )
    p_create.set_defaults(func=create)

    p_list = actions.add_parser("list", help="list topics and their partition counts")
    add_kafka_options(p_list, topic=False)
    p_list.set_defaults(func=list_topics)

    p_describe = actions.add_parser("describe", help="partitions, leaders and offsets")
    add_kafka_options(p_describe)
    p_describe.set_defaults(func=describe)
