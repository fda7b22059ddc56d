"""What the Kafka subcommands share: options, topic-name rules, the broker check."""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass
from typing import Any

from streamapp.config import Settings, kafka_client_config
from streamapp.errors import BrokerUnavailable, WordstreamError

# Kafka's own rule (kafka.common.internals.Topic): legal characters and length.
_TOPIC_CHARS = re.compile(r"[a-zA-Z0-9._-]+")
TOPIC_MAX_LENGTH = 249

# How long a subcommand waits for the first metadata reply before giving up.
BROKER_TIMEOUT_S = 5.0


class InvalidTopicName(WordstreamError):
    """The topic name breaks Kafka's naming rules."""


class TopicNotFound(WordstreamError):
    """The topic does not exist on the broker."""


def validate_topic_name(name: str) -> str:
    """Return `name` if Kafka accepts it as a topic name, else raise InvalidTopicName."""
    if not name:
        raise InvalidTopicName("the topic name is empty; give one such as data_stream")
    if name in (".", ".."):
        raise InvalidTopicName(f"topic name {name!r} is not allowed; use e.g. data_stream")
    if len(name) > TOPIC_MAX_LENGTH:
        raise InvalidTopicName(
            f"topic name is {len(name)} characters long; Kafka allows at most {TOPIC_MAX_LENGTH}"
        )
    if not _TOPIC_CHARS.fullmatch(name):
        bad = sorted({c for c in name if not _TOPIC_CHARS.fullmatch(c)})
        raise InvalidTopicName(
            f"topic name {name!r} contains {''.join(bad)!r}; "
            "Kafka allows only letters, digits, '.', '_' and '-'"
        )
    return name


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def add_kafka_options(parser: argparse.ArgumentParser, topic: bool = True) -> None:
    """Add --bootstrap (and --topic); their defaults come from the config at run time.

    The defaults are resolved in `kafka_target`, not here, so that a bad environment
    variable is reported by `main` as one line rather than while the parser is built.
    """
    parser.add_argument(
        "--bootstrap",
        metavar="HOST:PORT",
        help="Kafka bootstrap servers (default: KAFKA_BOOTSTRAP, localhost:9092)",
    )
    if topic:
        parser.add_argument("--topic", help="the topic (default: KAFKA_TOPIC, data_stream)")


@dataclass(frozen=True)
class KafkaTarget:
    """Resolved connection settings of one subcommand run."""

    settings: Settings
    bootstrap: str
    topic: str

    def client_config(self, **extra: Any) -> dict[str, Any]:
        """librdkafka settings with our bootstrap servers; librdkafka's own log is off.

        The client keeps retrying an unreachable broker and would log every attempt
        to stderr; we report problems ourselves, as one line.
        """
        conf: dict[str, Any] = {**kafka_client_config(self.settings), "log_level": 0}
        conf["bootstrap.servers"] = self.bootstrap
        conf.update(extra)
        return conf


def kafka_target(args: argparse.Namespace) -> KafkaTarget:
    """Read the config (errors surface here, inside `main`) and apply the options."""
    settings = Settings.from_env()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    chosen = getattr(args, "topic", None)
    topic = validate_topic_name(chosen if chosen is not None else settings.topic)
    return KafkaTarget(settings, bootstrap, topic)


def fetch_metadata(client: Any, bootstrap: str, timeout: float = BROKER_TIMEOUT_S) -> Any:
    """Cluster metadata from a confluent_kafka client, or BrokerUnavailable.

    Asks for all topics (not one by name) so the request never auto-creates a topic.
    """
    from confluent_kafka import KafkaException

    try:
        return client.list_topics(timeout=timeout)
    except KafkaException:
        raise BrokerUnavailable(
            f"no Kafka broker answered at {bootstrap} within {timeout:.0f} s; "
            "start one (make run) or point KAFKA_BOOTSTRAP / --bootstrap at it"
        ) from None


def partition_count(metadata: Any, topic: str) -> int | None:
    """Partitions of `topic` in a metadata reply; None if the topic does not exist."""
    info = metadata.topics.get(topic)
    if info is None or info.error is not None:
        return None
    return len(info.partitions)


def require_topic(metadata: Any, topic: str, bootstrap: str) -> int:
    """Partition count of `topic`, or TopicNotFound saying how to create it."""
    count = partition_count(metadata, topic)
    if count is None:
        raise TopicNotFound(
            f"topic {topic!r} does not exist on {bootstrap}; "
            f"create it with: wordstream topics create --topic {topic}"
        )
    return count


def end_offsets(conf: dict[str, Any], topic: str, timeout: float = 10.0) -> dict[int, int]:
    """Each partition's end offset, read from fetch responses.

    The dev broker (tansu) answers ListOffsets(latest) with the base offset of the last
    record *batch* plus one, so `get_watermark_offsets` can be hundreds of records
    short. Fetch responses carry the right high watermark: start reading at the
    reported end minus one and take the end from the partition-EOF events.
    """
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer(
        {**conf, "group.id": "wordstream-end-offsets", "enable.partition.eof": True, "log_level": 0}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=5).topics[topic].partitions
        reported = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
            for p in partitions
        }
        ends = {p: high for p, (low, high) in reported.items() if high <= low}
        consumer.assign(
            [
                TopicPartition(topic, p, high - 1)
                for p, (_, high) in reported.items()
                if p not in ends
            ]
        )
        deadline = time.monotonic() + timeout
        while len(ends) < len(partitions):
            if time.monotonic() > deadline:
                raise WordstreamError(
                    f"could not read the end offsets of {topic} within {timeout:.0f} s"
                )
            msg = consumer.poll(0.5)
            error = msg.error() if msg is not None else None
            if msg is not None and error is not None and error.code() == KafkaError._PARTITION_EOF:
                partition, offset = msg.partition(), msg.offset()
                if partition is not None and offset is not None:
                    ends[partition] = offset
        return ends
    finally:
        consumer.close()
