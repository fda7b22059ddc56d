"""Unit tests of the worker's Kafka settings that need no broker (streamapp.transport,
streamapp.app)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, cast

import faust
import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import ConsumerRecord
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.consumer import ThreadDelegateConsumer
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streamapp.transport import GETMANY_MAX_WAIT_S, Consumer, ProducerBuffer


def test_a_read_of_fetched_records_waits_at_most_a_tenth_of_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[float] = []

    async def faust_getmany(self: Any, active_partitions: Any, timeout: float) -> dict[Any, Any]:
        asked.append(timeout)
        return {}

    # faust's own read (it waits on aiokafka's queue in the consumer thread) is not
    # what is under test: what it is asked to wait is.
    monkeypatch.setattr(ThreadDelegateConsumer, "_getmany", faust_getmany)
    consumer = acking_consumer()
    asyncio.run(consumer._getmany(set(), 1.0))  # faust's fetcher asks for 1 s
    asyncio.run(consumer._getmany(set(), 0.01))
    assert asked == [GETMANY_MAX_WAIT_S, 0.01]
    assert GETMANY_MAX_WAIT_S <= 0.1


@pytest.mark.parametrize(
    ("env", "seconds"), [({}, 1.0), ({"KAFKA_COMMIT_INTERVAL_MS": "250"}, 0.25)]
)
def test_the_worker_commits_at_kafka_commit_interval_ms(
    env: dict[str, str], seconds: float
) -> None:
    # A fresh interpreter: the app reads its settings once, at import.
    code = "from streamapp.app import app; print(app.conf.broker_commit_interval)"
    clean = {k: v for k, v in os.environ.items() if k != "KAFKA_COMMIT_INTERVAL_MS"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True
    )
    assert float(out.stdout.strip().splitlines()[-1]) == seconds


class SlowChannel:
    """A topic whose every send takes `seconds` to reach aiokafka (a full batch, or an
    event loop busy elsewhere): what the producer buffer hands messages to."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.published: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.seconds)
        self.published.append(fut.n)


def message(channel: SlowChannel, n: int) -> Any:
    return SimpleNamespace(n=n, message=SimpleNamespace(channel=channel))


def test_a_producer_flush_returns_only_when_every_buffered_message_was_handed_on() -> None:
    # faust commits offsets after this flush: a message still buffered then (a table row's
    # changelog record) is lost by a kill -9 while the event that wrote it is committed.
    async def scenario() -> tuple[list[int], list[int]]:
        buffer = ProducerBuffer()
        buffer.app = cast(Any, SimpleNamespace(conf=SimpleNamespace(producer_threaded=False)))
        channel = SlowChannel(0.25)  # each send longer than faust's 0.1 s wait
        await buffer.start()
        try:
            for n in range(3):
                buffer.put(message(channel, n))
            await asyncio.sleep(0.05)  # the first is being sent: the queue holds 2
            await buffer.flush()
            at_flush = list(channel.published)
            buffer.put(message(channel, 3))
            await asyncio.sleep(0.05)  # taken from the queue, not handed on yet
            assert buffer.size == 0
            await buffer.flush()
            return at_flush, list(channel.published)
        finally:
            await buffer.stop()

    at_flush, after_second = asyncio.run(scenario())
    assert at_flush == [0, 1, 2]
    assert after_second == [0, 1, 2, 3]


def test_the_worker_producer_uses_the_waiting_buffer() -> None:
    app = faust.App("transport-test", broker="wordstream-kafka://localhost:1")
    assert isinstance(app.producer.buffer, ProducerBuffer)
    assert app.producer.buffer.app is app


TP0 = TP("source", 0)


def acking_consumer(generation: int = 1) -> Any:
    """The worker's consumer, not started (no broker), acking its topic's events."""
    app = faust.App("commit-test", broker="wordstream-kafka://localhost:1")
    app.topics.acks_enabled_for = lambda topic: True  # type: ignore[method-assign]
    app.consumer_generation_id = generation
    app.flow_control.resume()  # as after a recovery: events flow
    consumer = app.consumer
    assert isinstance(consumer, Consumer)
    return consumer


def delivered(consumer: Any, offsets: range, generation: int = 1) -> list[ConsumerMessage]:
    """Messages of TP0 handed to one stream (tracked, one reference each, as faust's
    conductor does)."""
    messages = [
        ConsumerMessage("source", 0, o, 0.0, 0, {}, None, b"", None, generation_id=generation)
        for o in offsets
    ]
    for m in messages:
        consumer.track_message(m)
        m.incref()
    return messages


@pytest.mark.parametrize("committed", [None, 10], ids=["nothing-committed", "committed-10"])
def test_a_commit_never_passes_an_event_not_acked(committed: int | None) -> None:
    # faust commits the first run of acked offsets: with nothing committed it checks
    # nothing; with 10 committed it lets the run start at 11 with 10 unacked.
    consumer = acking_consumer()
    start = committed or 0
    if committed is not None:
        consumer._committed_offset[TP0] = committed
    messages = delivered(consumer, range(start, start + 5))
    for m in messages[1:]:
        m.ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {}
    messages[0].ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {TP0: start + 5}


def test_an_event_held_by_an_extra_reference_holds_the_commit_below_it() -> None:
    # A source message waiting for its lineage verdict (streamapp.live.agents) keeps a
    # reference after its batch is acked; the commit must wait for its final ack, also
    # when it is the first offset after the last commit.
    consumer = acking_consumer()
    messages = delivered(consumer, range(0, 6))
    for m in messages[:2]:
        m.ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {TP0: 2}
    consumer._committed_offset[TP0] = 2  # as faust records a commit
    messages[2].incref()
    for m in messages[2:]:
        m.ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {}
    messages[2].ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {TP0: 6}


def test_acks_of_events_delivered_before_a_rebalance_are_not_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def faust_assigned(self: Any, assigned: Any, generation_id: int = 0) -> None:
        self.app.consumer_generation_id = generation_id

    # faust's own assignment work (recovery, seeks) needs a broker; what it is handed is
    # what is under test.
    monkeypatch.setattr(FaustConsumer, "on_partitions_assigned", faust_assigned)
    consumer = acking_consumer(generation=1)
    flow = consumer.app.flow_control
    before = delivered(consumer, range(20, 25), generation=1)
    before[0].ack(consumer)
    flow.suspend()  # a revocation: 21-22 were held unwritten and are dropped
    before[-1].ack(consumer)  # skipped and acked by faust while suspended
    before[-2].ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {}  # no commit meanwhile
    asyncio.run(consumer.on_partitions_assigned({TP0}, generation_id=2))
    flow.resume()
    before[1].ack(consumer)  # acked after it
    again = delivered(consumer, range(21, 23), generation=2)  # sought back to 21
    again[1].ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {}
    again[0].ack(consumer)
    assert consumer._filter_committable_offsets({TP0}) == {TP0: 23}


def fetched(offsets: range, tp: TP = TP0) -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(tp.topic, tp.partition, o, 0, 0, None, b"", None, 0, 0, ()) for o in offsets
    ]


def fetching_consumer(
    monkeypatch: pytest.MonkeyPatch, active: set[TP], tp: TP = TP0
) -> tuple[Any, list[tuple[TP, int]]]:
    """A consumer whose next fetch returns `tp`'s offsets 26-29 (`active`: the partitions
    faust counts as active), and the seeks it makes."""
    consumer = acking_consumer(generation=1)

    async def faust_wait_next_records(self: Any, timeout: float) -> Any:
        return {tp: fetched(range(26, 30), tp)}, active

    monkeypatch.setattr(FaustConsumer, "_wait_next_records", faust_wait_next_records)
    monkeypatch.setattr(consumer, "highwater", lambda tp: 30)
    monkeypatch.setattr(consumer, "assignment", lambda: {tp})
    sought: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        sought.append((tp, offset))

    monkeypatch.setattr(consumer, "_seek", seek)  # aiokafka's move
    consumer.flow_active = True
    return consumer, sought


def read_one_fetch(consumer: Any, after_each: Callable[[], None]) -> list[int]:
    """The offsets `consumer.getmany` hands out, calling `after_each` after each one."""

    async def read() -> list[int]:
        offsets = []
        async for _, message in consumer.getmany(timeout=0.1):
            offsets.append(message.offset)
            after_each()
        return offsets

    return asyncio.run(read())


@pytest.mark.parametrize("case", ["flow-paused-midway", "partition-not-active", "all-handed"])
def test_records_fetched_but_not_handed_out_are_read_again(
    monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # aiokafka's position is past every record it returned; faust's getmany stops
    # handing them out when the consumer's flow pauses, and leaves out records of
    # partitions that are not active: those records were never read.
    consumer, sought = fetching_consumer(
        monkeypatch, set() if case == "partition-not-active" else {TP0}
    )

    def after_each() -> None:
        if case == "flow-paused-midway":
            consumer.flow_active = False  # faust's getmany stops after this one

    handed = read_one_fetch(consumer, after_each)
    expected = {
        "flow-paused-midway": ([26], [(TP0, 27)]),
        "partition-not-active": ([], [(TP0, 26)]),
        "all-handed": ([26, 27, 28, 29], []),
    }
    assert (handed, sought) == expected[case]


def test_no_record_is_sought_back_across_a_rebalance(monkeypatch: pytest.MonkeyPatch) -> None:
    # A new assignment seeks to the committed offsets itself; a seek to where the old
    # one stopped could skip what lies between.
    consumer, sought = fetching_consumer(monkeypatch, {TP0})

    def rebalanced() -> None:
        consumer.app.consumer_generation_id = 2

    assert read_one_fetch(consumer, rebalanced) == [26]
    assert sought == []


def test_a_seek_by_another_task_is_made_by_the_fetching_task_before_its_next_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After a rebalance the recovery seeks to the committed offsets (24) while the
    # fetching task hands on records it fetched before (26-29) and, after each, sets the
    # partition's read offset, below which faust drops records as already read.
    consumer, sought = fetching_consumer(monkeypatch, {TP0})
    committed = {TP0: 24}

    async def committed_offsets() -> dict[TP, int]:
        return dict(committed)

    async def seek_to_committed() -> dict[TP, int]:  # what faust's own seek calls
        for tp, offset in committed.items():
            await consumer._seek(tp, offset)
        return dict(committed)

    async def nothing_fetched(self: Any, active_partitions: Any, timeout: float) -> dict[Any, Any]:
        return {}

    monkeypatch.setattr(consumer._thread, "committed_offsets", committed_offsets)
    monkeypatch.setattr(consumer, "seek_to_committed", seek_to_committed)
    monkeypatch.setattr(ThreadDelegateConsumer, "_getmany", nothing_fetched)

    async def scenario() -> tuple[list[int], list[tuple[TP, int]]]:
        handed = []
        async for tp, message in consumer.getmany(timeout=0.1):
            handed.append(message.offset)
            await asyncio.create_task(consumer.perform_seek())  # the recovery's task
            consumer._read_offset[tp] = message.offset  # faust's fetching loop, after it
        moved_meanwhile = list(sought)
        await consumer._getmany({TP0}, 1.0)  # the fetching task's next fetch
        return handed, moved_meanwhile

    handed, moved_meanwhile = asyncio.run(scenario())
    assert handed == [26]  # 27-29 were fetched before the seek
    assert moved_meanwhile == []
    assert sought == [(TP0, 24)]
    assert consumer._read_offset[TP0] == 24  # 24 onwards are read again, not dropped
    assert consumer._committed_offset[TP0] == 24


def seek_during_a_fetch(
    monkeypatch: pytest.MonkeyPatch, tp: TP, committed: int | None, lookups_failing: int = 0
) -> tuple[list[int], list[tuple[TP, int]]]:
    """`tp`'s records 26-29 are fetched; after the first is handed on, the recovery's
    task asks for the seek to the committed offsets (`committed`), then the fetching task
    fetches again (three times). What was handed on and the seeks made; the partition's
    log starts at 5, and the first `lookups_failing` look-ups of it fail."""
    consumer, sought = fetching_consumer(monkeypatch, {tp}, tp)
    failures = [KafkaTimeoutError()] * lookups_failing

    async def committed_offsets() -> dict[TP, int | None]:
        return {tp: committed}

    async def earliest_offsets(*partitions: TP) -> dict[TP, int]:
        if failures:
            raise failures.pop()
        return dict.fromkeys(partitions, 5)

    async def nothing_fetched(self: Any, active_partitions: Any, timeout: float) -> dict[Any, Any]:
        return {}

    monkeypatch.setattr(consumer._thread, "committed_offsets", committed_offsets)
    monkeypatch.setattr(consumer._thread, "earliest_offsets", earliest_offsets)
    monkeypatch.setattr(ThreadDelegateConsumer, "_getmany", nothing_fetched)
    consumer.app.tables._changelogs["words-changelog"] = object()  # a table's changelog

    async def scenario() -> list[int]:
        handed = []
        async for _, message in consumer.getmany(timeout=0.1):
            handed.append(message.offset)
            if len(handed) == 1:
                await asyncio.create_task(consumer.perform_seek())
        for _ in range(3):
            await consumer._getmany({tp}, 1.0)
        return handed

    return asyncio.run(scenario()), sought


@pytest.mark.parametrize("lookups_failing", [0, 2], ids=["first-offset-read", "read-on-retry"])
def test_with_nothing_committed_the_seek_goes_back_to_the_partitions_first_offset(
    monkeypatch: pytest.MonkeyPatch, lookups_failing: int
) -> None:
    # The recovery empties the stream buffers and seeks to the committed offsets; with
    # none, records fetched in this assignment and never processed (27-29 here; those in
    # the emptied buffers too) lie behind the position: the group reads from the
    # earliest, so the partition starts over (what it counted again is a no-op replay).
    handed, sought = seek_during_a_fetch(monkeypatch, TP0, None, lookups_failing)
    assert handed == [26]
    assert sought == [(TP0, 5)]


def test_a_changelog_partition_gets_no_move_from_the_seek_to_committed_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The group commits no changelog offsets, and the recovery positions changelog
    # partitions itself: a standby's records fetched meanwhile are all handed on.
    changelog = TP("words-changelog", 0)
    handed, sought = seek_during_a_fetch(monkeypatch, changelog, None)
    assert handed == [26, 27, 28, 29]
    assert sought == []
