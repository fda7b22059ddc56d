"""The archive group on the dev broker: a leader that leaves during a rebalance.

The dev broker keeps a member that leaves while the group is forming as the group's
leader, so the rebalance never completes (streamapp.archive.consumer). These tests
use the sink's own consumer settings, log watch and take-over, with plain consumers
standing in for two workers' sinks.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer

from devstack.broker import Broker
from streamapp.archive.consumer import (
    ASSIGNMENT_STRATEGY,
    GroupLog,
    LeaderWatch,
    consumer_config,
)
from streamapp.config import Settings
from streamapp.transport import take_over_leader
from tests.fixtures.worker import create_topic

pytestmark = pytest.mark.integration

SESSION_S = 6
PATIENCE_S = 2.0 * SESSION_S  # the sink's
log = logging.getLogger("test.archive.group")


class Member:
    """A consumer of the sink's group, with the sink's settings and leader watch."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.watch = LeaderWatch(PATIENCE_S)
        self.assignments: list[list[int]] = []
        self.consumer = Consumer(consumer_config(settings, GroupLog(log, self.watch)))
        self.consumer.subscribe([topic], on_assign=self._on_assign)

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.watch.assigned()
        self.assignments.append(sorted(tp.partition for tp in partitions))

    def poll_until(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done() and time.monotonic() < deadline:
            self.consumer.poll(0.1)


@pytest.fixture
def group(broker: Broker) -> Iterator[tuple[Settings, str]]:
    topic = f"t_{uuid.uuid4().hex[:12]}"
    create_topic(broker.bootstrap, topic, 6)
    settings = Settings(
        kafka_bootstrap=broker.bootstrap,
        app_id=f"ws_{uuid.uuid4().hex[:12]}",
        kafka_session_timeout_s=SESSION_S,
    )
    yield settings, topic


def _join_alone(settings: Settings, topic: str) -> Member:
    first = Member(settings, topic)
    first.poll_until(lambda: first.assignments, 30)
    assert first.assignments == [[0, 1, 2, 3, 4, 5]], "the first member never got the topic"
    return first


def test_a_leader_that_leaves_during_a_rebalance_is_taken_over(
    group: tuple[Settings, str],
) -> None:
    settings, topic = group
    leader = _join_alone(settings, topic)
    leader_id = leader.consumer.memberid()
    second = Member(settings, topic)
    second.poll_until(lambda: False, 0.5)  # its JoinGroup is in: the group is forming
    leader.consumer.close()  # leaves as the leader, mid-rebalance
    stuck: list[str] = []
    try:

        def named() -> bool:
            if (who := second.watch.stuck_leader(time.monotonic())) is not None:
                stuck.append(who)
            return bool(stuck) or bool(second.assignments)

        second.poll_until(named, PATIENCE_S + 3 * SESSION_S)
        # The broker's flaw, which the take-over exists for: if this fails, the dev
        # broker ends such a rebalance itself now, and the take-over can go.
        assert not second.assignments, "the rebalance completed without a take-over"
        assert stuck == [leader_id], "the watch did not name the gone leader"

        def new_client() -> AIOKafkaConsumer:
            return AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)

        async def take_over() -> str:
            return await take_over_leader(
                new_client,
                f"{settings.app_id}-archive",
                leader_id,
                topic,
                ASSIGNMENT_STRATEGY,
                SESSION_S * 1000,
            )

        # The take-over waits on JoinGroup answers while the member polls meanwhile.
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(take_over())
            while not task.done():
                loop.run_until_complete(asyncio.sleep(0.05))
                second.consumer.poll(0.05)
            assert task.result() == "NoError"
        finally:
            loop.close()
        second.poll_until(lambda: [0, 1, 2, 3, 4, 5] in second.assignments, 4 * SESSION_S)
        assert second.assignments[-1] == [0, 1, 2, 3, 4, 5], second.assignments
    finally:
        second.consumer.close()


def test_a_rebalance_with_a_live_leader_names_no_stuck_leader(
    group: tuple[Settings, str],
) -> None:
    settings, topic = group
    first = _join_alone(settings, topic)
    second = Member(settings, topic)
    try:
        deadline = time.monotonic() + PATIENCE_S + SESSION_S
        named: list[str | None] = []
        while time.monotonic() < deadline:
            for member in (first, second):
                member.consumer.poll(0.05)
                named.append(member.watch.stuck_leader(time.monotonic()))
        assert len(first.assignments) == 2 and second.assignments, "no rebalance completed"
        assert sorted(first.assignments[-1] + second.assignments[-1]) == [0, 1, 2, 3, 4, 5]
        assert not any(named), named
    finally:
        first.consumer.close()
        second.consumer.close()
