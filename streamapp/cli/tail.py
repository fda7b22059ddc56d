"""`wordstream tail`: print the topic's message values, like the lab's consume.py.

Without --group the consumer is assigned every partition directly: it starts at
once and commits nothing. With --group it joins that consumer group (subscribe),
commits its offsets, and shares the partitions with the group's other members.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import Any

from streamapp.cli.common import (
    add_kafka_options,
    fetch_metadata,
    kafka_target,
    positive_float,
    positive_int,
    require_topic,
)
from streamapp.errors import WordstreamError

INVALID_FLAG = "[invalid UTF-8] "
BATCH = 500  # messages per consume() call: one Python call per batch, not per message


class TailError(WordstreamError):
    """The consumer hit an error it cannot continue from."""


def render_value(value: bytes | None) -> tuple[str, bool]:
    """The value as text, and whether it was valid UTF-8 (invalid bytes shown as \\xNN)."""
    if value is None:
        return "", True
    try:
        return value.decode("utf-8"), True
    except UnicodeDecodeError:
        return value.decode("utf-8", "backslashreplace"), False


def format_message(
    value: bytes | None, topic: str, partition: int, offset: int, verbose: bool = False
) -> str:
    """One output line: the value, flagged if it is not UTF-8; with `verbose`, where it is."""
    text, valid = render_value(value)
    line = text if valid else INVALID_FLAG + text
    return f"{topic} [{partition}] @ {offset}: {line}" if verbose else line


def batch_size(received: int, max_messages: int | None) -> int:
    """How many messages to ask for next without going past --max-messages."""
    if max_messages is None:
        return BATCH
    return max(0, min(BATCH, max_messages - received))


def wait_time(idle_for: float, timeout: float | None, step: float = 1.0) -> float:
    """How long the next poll may block: `step`, or what is left of the idle --timeout."""
    if timeout is None:
        return step
    return max(0.0, min(step, timeout - idle_for))


# A group join completes after the coordinator's rebalance wait. On the dev broker
# (tansu) that wait is about half the member's session timeout: librdkafka's default
# 45 s makes a join take ~23 s, KAFKA_SESSION_TIMEOUT_S's default 6 s makes it ~3 s
# (6 s is also real Kafka's minimum, group.min.session.timeout.ms). See docs/cli.md.
def group_settings(session_timeout_s: int) -> dict[str, int]:
    """Session timeout and a heartbeat a third of it, as Kafka recommends."""
    session_ms = session_timeout_s * 1000
    return {"session.timeout.ms": session_ms, "heartbeat.interval.ms": max(1, session_ms // 3)}


def consumer_settings(
    base: dict[str, Any], group: str | None, from_earliest: bool, session_timeout_s: int = 6
) -> dict[str, Any]:
    """librdkafka consumer settings for a group member or a throwaway assigned reader."""
    conf = {**base, "auto.offset.reset": "earliest" if from_earliest else "latest"}
    if group:
        return {**conf, "group.id": group, **group_settings(session_timeout_s)}
    # librdkafka requires a group id even when no group is joined; nothing is committed.
    return {
        **conf,
        "group.id": f"wordstream-tail-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }


def _fail_on(error: Any) -> None:
    from confluent_kafka import KafkaError

    if error.fatal() or error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
        raise TailError(error.str())
    print(f"wordstream tail: warning: {error.str()}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

    target = kafka_target(args)
    session_timeout_s = target.settings.kafka_session_timeout_s
    conf = consumer_settings(
        target.client_config(), args.group, args.from_earliest, session_timeout_s
    )
    consumer = Consumer(conf)
    try:
        metadata = fetch_metadata(consumer, target.bootstrap)
        require_topic(metadata, target.topic, target.bootstrap)
        if args.group:
            consumer.subscribe([target.topic])
        else:
            start = OFFSET_BEGINNING if args.from_earliest else OFFSET_END
            partitions = metadata.topics[target.topic].partitions
            consumer.assign([TopicPartition(target.topic, p, start) for p in partitions])
        _print_messages(consumer, target.topic, args)
    finally:
        consumer.close()
    return 0


def _print_messages(consumer: Any, topic: str, args: argparse.Namespace) -> None:
    received = 0
    last_seen = time.monotonic()
    while n := batch_size(received, args.max_messages):
        wait = wait_time(time.monotonic() - last_seen, args.timeout)
        if wait <= 0:
            return
        messages = consumer.consume(n, wait)
        lines = []
        for msg in messages:
            if msg.error():
                _fail_on(msg.error())
                continue
            lines.append(
                format_message(msg.value(), topic, msg.partition(), msg.offset(), args.verbose)
            )
        if lines:
            received += len(lines)
            last_seen = time.monotonic()
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tail",
        help="print message values as they arrive",
        description="Print the topic's message values, one per line. Values that are not "
        f"UTF-8 are printed with invalid bytes as \\xNN and prefixed {INVALID_FLAG.strip()!r}.",
    )
    add_kafka_options(parser)
    parser.add_argument(
        "--from-earliest",
        action="store_true",
        help="start at the oldest retained message (default: only new messages); with "
        "--group this applies when the group has no committed offset yet",
    )
    parser.add_argument(
        "--group", metavar="G", help="join consumer group G and commit offsets (default: none)"
    )
    parser.add_argument(
        "--max-messages", type=positive_int, metavar="N", help="exit after N messages"
    )
    parser.add_argument(
        "--timeout", type=positive_float, metavar="S", help="exit after S seconds without messages"
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="prefix each value with partition and offset"
    )
    parser.set_defaults(func=run)
