"""BROKER_STORAGE=s3: the dev broker keeps topics, messages and committed group offsets
across a restart (tansu's s3:// engine over moto's S3 server and its request log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.broker import Broker
from devstack.ports import free_port
from devstack.s3store import LOG_NAME

pytestmark = pytest.mark.integration

TOPIC = "kept"
GROUP = "kept-group"


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 2000,
        }
    )


def _fill(bootstrap: str) -> None:
    """Topic of 2 partitions, 6 messages, the group's offsets committed after 4 of them."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 2)])[TOPIC].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(6):
        producer.produce(TOPIC, f"m{i}".encode(), partition=i % 2)
    assert producer.flush(30) == 0
    consumer = _consumer(bootstrap)
    consumer.assign([TopicPartition(TOPIC, 0, 0), TopicPartition(TOPIC, 1, 0)])
    consumer.commit(
        offsets=[TopicPartition(TOPIC, 0, 2), TopicPartition(TOPIC, 1, 2)], asynchronous=False
    )
    consumer.close()


def _read_back(bootstrap: str) -> tuple[list[str], list[int]]:
    """Every message of the topic, and the group's committed offsets."""
    consumer = _consumer(bootstrap)
    parts = [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]
    committed = [tp.offset for tp in consumer.committed(parts, timeout=30)]
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in (0, 1)])
    values: list[str] = []
    for _ in range(100):
        msg = consumer.poll(0.2)
        if msg is not None and msg.error() is None:
            values.append(msg.value().decode())
        if len(values) == 6:
            break
    consumer.close()
    return sorted(values), committed


def test_s3_storage_keeps_messages_and_group_offsets_across_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with Broker(free_port(), log_path=tmp_path / "b1.log", storage="s3", data_dir=data) as b:
        _fill(b.bootstrap)
    lines_before = len((data / LOG_NAME).read_text().splitlines())

    with Broker(free_port(), log_path=tmp_path / "b2.log", storage="s3", data_dir=data) as b:
        values, committed = _read_back(b.bootstrap)
    assert values == [f"m{i}" for i in range(6)]
    assert committed == [2, 2]

    # The restart compacted the request log to one PUT per object (and the bucket).
    entries = [json.loads(line) for line in (data / LOG_NAME).read_text().splitlines()]
    puts = [e for e in entries if e["method"] == "PUT"]
    assert len(puts) < lines_before
    assert not (data / (LOG_NAME + ".compacting")).exists()


def test_memory_storage_starts_empty(tmp_path: Path) -> None:
    with Broker(free_port(), log_path=tmp_path / "b1.log") as b:
        _fill(b.bootstrap)
    with Broker(free_port(), log_path=tmp_path / "b2.log") as b:
        metadata = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=10)
    assert TOPIC not in metadata.topics
