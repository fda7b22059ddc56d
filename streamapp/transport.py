"""faust's aiokafka transport: a configurable fetch wait, the live update records
handed out first, end offsets a table's recovery can trust, the removal of a dead
member from the group, and the take-over of a group leader that never completes its
rebalance (the archive sink's group, `streamapp.archive.consumer`), and a producer
whose flush returns only once everything handed to it went to aiokafka.

Fetch wait (KAFKA_FETCH_MAX_WAIT_MS): faust builds its consumer with
`fetch_max_wait_ms=1500` and no setting to change it.
A Kafka broker answers a fetch as soon as `fetch_min_bytes` (1) are there, so the wait
only bounds idle polls; the dev broker (tansu) holds every fetch for the whole wait
(measured with aiokafka: produce-to-consume p50 0.378 s at 1,500 ms, 0.002 s at
100 ms), and the worker fetches twice on the way to a view (the source topic, then its
update topic). The app selects this transport with the `wordstream-kafka://` scheme.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any, cast

import aiokafka
from aiokafka import TopicPartition
from aiokafka.client import CoordinationType
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)
from aiokafka.errors import IllegalStateError, KafkaError, for_code
from aiokafka.protocol.group import JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer as FaustProducerBuffer
from faust.types import TP
from faust.types.tuples import FutureMessage

from streamapp.config import Settings

SCHEME = "wordstream-kafka"
# How long a look at the log's end may take before recovery goes on with the answer
# of ListOffsets (and says so).
END_OFFSETS_TIMEOUT_S = 15.0

# Longest a read of fetched records waits (see Consumer._getmany).
GETMANY_MAX_WAIT_S = 0.1

log = logging.getLogger(__name__)


async def fetched_ends(
    new_consumer: Callable[[], aiokafka.AIOKafkaConsumer],
    reported: Mapping[Any, int],
    timeout: float = END_OFFSETS_TIMEOUT_S,
) -> dict[Any, int]:
    """The end offset of each partition in `reported` (its ListOffsets answer), read
    from fetch responses with a `new_consumer()` (made only when a partition is not
    empty, stopped here; no group).

    The dev broker (tansu) answers ListOffsets(latest) with the base offset of the
    last record batch plus one: a table recovering its changelog up to that offset
    missed the rest of the last batch, so a partition that moved to another worker lost
    its last row updates. A fetch response's high watermark is right: fetch from the
    reported end minus one. On a Kafka broker both agree and this costs one fetch.
    """
    ends = dict(reported)
    waiting = {TopicPartition(tp.topic, tp.partition): tp for tp, end in reported.items() if end}
    if not waiting:
        return ends
    consumer = new_consumer()
    await consumer.start()
    try:
        consumer.assign(list(waiting))
        for tp, key in waiting.items():
            consumer.seek(tp, reported[key] - 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while waiting and loop.time() < deadline:
            await consumer.getmany(*waiting, timeout_ms=500)
            for tp in list(waiting):
                highwater = consumer.highwater(tp)
                if highwater is not None:
                    key = waiting.pop(tp)
                    ends[key] = max(ends[key], highwater)
    finally:
        await consumer.stop()
    if waiting:
        log.error(
            "could not read the end of %s within %.0f s: recovering up to the broker's "
            "ListOffsets answer, which may be short (rows in the changelog's last records "
            "would then be recovered stale)",
            sorted(map(str, waiting.values())),
            timeout,
        )
    return ends


@asynccontextmanager
async def _coordinator(
    new_consumer: Callable[[], aiokafka.AIOKafkaConsumer], group_id: str
) -> AsyncIterator[Callable[[Any], Awaitable[Any]]]:
    """Send requests to `group_id`'s coordinator through a `new_consumer()`, stopped
    after the block."""
    consumer = new_consumer()
    await consumer.start()
    try:
        client = consumer._client
        node_id = await client.coordinator_lookup(CoordinationType.GROUP, group_id)
        yield lambda request: client.send(node_id, request)
    finally:
        await consumer.stop()


async def remove_member(
    new_consumer: Callable[[], aiokafka.AIOKafkaConsumer], group_id: str, member_id: str
) -> str:
    """Remove `member_id` from `group_id` on the group's coordinator, as that member's
    own LeaveGroup would (a `new_consumer()` sends it, then stops); the error's name,
    `NoError` when it was removed.

    Kafka and the dev broker both accept a LeaveGroup naming another member: the group
    then rebalances at once, without waiting for that member's session to time out.
    """
    async with _coordinator(new_consumer, group_id) as send:
        response = await send(LeaveGroupRequest(group_id, member_id))
    return str(for_code(response.error_code).__name__)


TAKE_OVER_ATTEMPTS = 3


async def take_over_leader(
    new_consumer: Callable[[], aiokafka.AIOKafkaConsumer],
    group_id: str,
    leader_id: str,
    topic: str,
    protocol: str,
    session_ms: int,
) -> str:
    """Complete `group_id`'s rebalance in place of its leader `leader_id`, then leave as
    it; the outcome's name (`NoError` when the group was released).

    For a group stuck on a leader that is gone (see `streamapp.archive.consumer`): a
    JoinGroup with that member id makes this client the leader, with the member list;
    a SyncGroup gives every member an empty assignment, which completes the rebalance;
    the LeaveGroup then starts a new one, which the members rejoin and a live member
    leads. A broker that does not know the member (Kafka, after evicting it) refuses
    the JoinGroup, and nothing else is sent.
    """
    async with _coordinator(new_consumer, group_id) as send:
        metadata = ConsumerProtocolMemberMetadata(0, [topic], b"").encode()
        join = JoinGroupRequest(
            group_id, session_ms, session_ms, leader_id, None, "consumer", [(protocol, metadata)]
        )
        empty = ConsumerProtocolMemberAssignment(0, [], b"").encode()
        outcome = "NotLeader"
        # A member joining meanwhile fails the SyncGroup (a new generation): join again.
        for _ in range(TAKE_OVER_ATTEMPTS):
            joined = await send(join)
            if joined.error_code:
                return str(for_code(joined.error_code).__name__)
            if joined.leader_id != leader_id:
                outcome = "NotLeader"  # another member leads now
                break
            members = [member[0] for member in joined.members]
            synced = await send(
                SyncGroupRequest(
                    group_id,
                    joined.generation_id,
                    leader_id,
                    None,
                    [(member, empty) for member in members],
                ),
            )
            outcome = str(for_code(synced.error_code).__name__)
            if not synced.error_code:
                break
        # Joined as that member either way: leave as it too (after a completed
        # rebalance this starts a new one, with a live leader).
        await send(LeaveGroupRequest(group_id, leader_id))
    return outcome


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = 500
    # Topics whose fetched records are handed out before any other's (see _fetch_records).
    first_topics: frozenset[str] = frozenset()

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer

    async def _fetch_records(
        self,
        consumer: aiokafka.AIOKafkaConsumer,
        active_partitions: set[Any],
        timeout: float | None = None,
        max_records: int | None = None,
    ) -> Any:
        """Fetched records of `first_topics` if there are any, else of all partitions.

        aiokafka hands out a partition's prefetched records until they run out, in the
        order the partitions were fetched: behind a backlog the source partitions
        (megabytes each) came first, and the update records of what the worker had just
        counted waited behind the rest of the backlog. The update stage goes first so
        that what is counted reaches the tables (and the views) a batch later.
        """
        first = {tp for tp in active_partitions or () if tp.topic in self.first_topics}
        if first and len(first) < len(active_partitions):
            records = await super()._fetch_records(
                consumer, first, timeout=0, max_records=max_records
            )
            if records:
                return records
        return await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )

    async def _highwaters(self, partitions: Iterable[Any]) -> Mapping[Any, int]:
        """Where table recovery stops reading a changelog (see `fetched_ends`)."""
        reported = await super()._highwaters(list(partitions))
        if self.consumer.in_transaction:
            return reported  # last stable offsets, from the consumer's own fetches
        transport = cast(faust_aiokafka.Transport, self.transport)
        return await fetched_ends(lambda: self._create_client_consumer(transport), reported)

    async def committed_offsets(self) -> dict[Any, int | None]:
        """The group's committed offset of each assigned partition (None: nothing
        committed), read from the broker; positions do not move."""
        consumer = self._ensure_consumer()
        return cast(dict[Any, int | None], await self.call_thread(self._committed, consumer))

    @staticmethod
    async def _committed(consumer: aiokafka.AIOKafkaConsumer) -> dict[Any, int | None]:
        return {tp: await consumer.committed(tp) for tp in consumer.assignment()}

    def member_id(self) -> str | None:
        """This worker's member id in the group (None before it first joined)."""
        if self._consumer is None:
            return None
        return str(self._consumer._coordinator.member_id) or None

    def new_client(self) -> aiokafka.AIOKafkaConsumer:
        """A consumer outside the group, with this worker's broker address and
        credentials (not started)."""
        return self._create_client_consumer(cast(faust_aiokafka.Transport, self.transport))

    async def remove_member(self, member_id: str) -> str:
        """Remove another member of this worker's group (see `remove_member`), then
        rejoin at once rather than learn of the rebalance from the next heartbeat."""
        transport = cast(faust_aiokafka.Transport, self.transport)
        outcome = await remove_member(
            lambda: self._create_client_consumer(transport), self.app.conf.id, member_id
        )
        if outcome == "NoError" and self._consumer is not None:
            # The group coordinator runs on this thread's own event loop.
            self.thread_loop.call_soon_threadsafe(self._consumer._coordinator.request_rejoin)
        return outcome


def lowest_unacked(messages: Iterable[Any], generation: int | None) -> dict[Any, int]:
    """Per partition, the lowest offset of the `messages` delivered in consumer
    `generation` and not acked yet (those of an earlier generation are read again)."""
    lowest: dict[Any, int] = {}
    for m in messages:
        if m.acked or m.generation_id != generation:
            continue
        if m.tp not in lowest or m.offset < lowest[m.tp]:
            lowest[m.tp] = m.offset
    return lowest


class Consumer(faust_aiokafka.Consumer):
    """faust's aiokafka consumer; its commits never pass an event that is not acked.

    faust commits, per partition, the first run of consecutive acked offsets. It checks
    that the run starts at the committed offset only when that offset is known and not
    0, and then lets a run start one past it: with offsets 0-1 (or, after a commit at
    10, offset 10) still unacked and the next ones acked, it commits past them. The live
    agents ack out of order on purpose (a source message waiting for its lineage
    verdict keeps an extra reference while later ones are acked). And between a
    revocation and the end of the recovery that follows, faust acks the events it
    skips (fetched before the revocation) while the write-behind has dropped the
    unwritten events before them; a commit computed then can land after the new
    assignment read its committed offsets, and the partition's owner, even the same
    worker, never reads those updates again (docs/live.md, "Write-behind").

    So a commit stops below the lowest event delivered and not acked; no commit is
    computed while flow control is suspended (a rebalance); and acks in that window or
    of events from an earlier rebalance are not counted (their partitions are sought
    back to the committed offset and the events come again).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Computed once per commit (`_filter_committable_offsets`), read per partition.
        self._lowest_unacked: dict[Any, int] = {}
        self._fetched: Any = None
        # Positions asked for by other tasks, made by the fetching task (see `seek`):
        # partition -> offset (None: nothing committed, the partition's first offset).
        self._moves: dict[Any, int | None] = {}
        self._fetching_task: asyncio.Task[Any] | None = None

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Any) -> bool:
        app = self.app
        if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
            return False
        return super().ack(message)

    async def on_partitions_assigned(self, assigned: set[Any], generation_id: int = 0) -> None:
        # Acks since the revocation are of events delivered before it (nothing was
        # assigned in between): the partitions restart from their committed offsets.
        for tp in assigned:
            self._acked.pop(tp, None)
            self._acked_index.pop(tp, None)
        # A move asked for in the old assignment: the recovery's seek replaces it.
        self._moves.clear()
        await super().on_partitions_assigned(assigned, generation_id)

    async def seek(self, partition: Any, offset: int) -> None:
        """faust's seek, made by the task that fetches and hands out records.

        Another task's seek (the recovery's seek to the committed offsets, after a
        rebalance) races with that task: records it fetched before the seek were still
        handed on after it, and it sets a partition's read offset after handing each
        record on (a record can wait there, behind a full stream buffer, across a whole
        rebalance), then drops records below that offset as already read, the ones the
        seek meant to read again among them. After a kill's rebalance an update
        partition's records 24-34, dropped unwritten at the revocation, were never read
        again and 35 was handed on. So another task's seek is recorded here, and the
        fetching task makes it before its next fetch; records of a partition with a
        move pending are not handed on.
        """
        if self._in_fetching_task():
            await super().seek(partition, offset)
        else:
            self._moves[partition] = offset

    async def perform_seek(self) -> None:
        """faust's seek of every assigned partition to its committed offset, made by the
        fetching task (see `seek`).

        A partition with nothing committed goes back to its first offset when the group
        reads from the earliest (faust's default): the recovery that asks for this seek
        has just emptied the stream buffers, and the position may be past records that
        were fetched in this assignment and never processed (faust's own seek left it
        there; replays are no-ops). Changelog partitions are not the group's: the
        recovery positions them itself, so they get no move (a move would hold back a
        standby's records fetched meanwhile).
        """
        read = await cast(ConsumerThread, self._thread).committed_offsets()
        changelogs = self.app.tables.changelog_topics
        from_start = self.app.conf.consumer_auto_offset_reset == "earliest"
        for tp, offset in read.items():
            tp = TP(tp.topic, tp.partition)
            self._committed_offset[tp] = offset or None
            if tp.topic in changelogs:
                self._read_offset[tp] = None  # as faust's seek leaves them
            elif offset is not None or from_start:
                self._moves[tp] = offset
        if self._in_fetching_task():
            await self._make_moves()

    def _in_fetching_task(self) -> bool:
        """Whether a move can be made at once: by the fetching task, or before any."""
        return self._fetching_task is None or asyncio.current_task() is self._fetching_task

    async def _make_moves(self) -> None:
        """Make the moves other tasks asked for (in the fetching task, before a fetch)."""
        if not self._moves:
            return
        try:
            assignment = self.assignment()
        except IllegalStateError:
            assignment = set()
        # A partition revoked since gets no move: its next owner starts at the committed
        # offset. Moves asked for while these are made are made at the next fetch.
        moves = {tp: offset for tp, offset in self._moves.items() if tp in assignment}
        self._moves.clear()
        starts = [tp for tp, offset in moves.items() if offset is None]
        found: Mapping[Any, int] = {}
        if starts:
            # Looked up, then sought to: aiokafka's seek_to_beginning leaves the position
            # unset until its reset is done, and faust's livelock check asserts on it.
            try:
                found = await self.earliest_offsets(*starts)
            except KafkaError as exc:
                log.warning("%s: first offsets not read (%r): trying again", starts, exc)
        firsts = {TP(tp.topic, tp.partition): offset for tp, offset in found.items()}
        for tp, offset in moves.items():
            if tp in self._moves:
                continue  # asked for again meanwhile: that move decides
            if offset is None and tp not in firsts:
                # First offset not read: the move waits, and no record is handed on.
                self._moves[tp] = None
                continue
            try:
                await super().seek(tp, firsts[tp] if offset is None else offset)
            except IllegalStateError:
                continue  # revoked meanwhile: as above

    def _filter_committable_offsets(self, tps: Iterable[Any]) -> dict[Any, int]:
        if not self.app.flow_control.is_active():
            return {}
        generation = self.app.consumer_generation_id
        self._lowest_unacked = lowest_unacked(list(self._unacked_messages), generation)
        return super()._filter_committable_offsets(tps)

    async def _wait_next_records(self, timeout: float) -> Any:
        records, active_partitions = await super()._wait_next_records(timeout)
        self._fetched = records  # what `getmany` is about to hand out
        return records, active_partitions

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        """faust's `getmany`, which reads the consumer's position back where it stopped.

        aiokafka's position is already past every record it returned. faust's
        `getmany` stops handing them out when flow control pauses or the group
        generation changes, and leaves out records of partitions that are not active;
        the records not handed out were then never read, unless a rebalance sought the
        partition back. Here each partition with records left over is sought back to
        the first of them.
        """
        self._fetched = None
        self._fetching_task = asyncio.current_task()
        generation = self.app.consumer_generation_id
        handed: dict[Any, int] = {}
        try:
            async for tp, message in super().getmany(timeout):
                if tp in self._moves:
                    continue  # fetched before a seek: the move decides what comes next
                handed[tp] = message.offset
                yield tp, message
        finally:
            await self._seek_back(self._fetched, handed, generation)

    async def _seek_back(self, fetched: Any, handed: Mapping[Any, int], generation: Any) -> None:
        """Seek each partition of `fetched` back to its first record not in `handed`."""
        app = self.app
        if not fetched or self.should_stop or app.consumer_generation_id != generation:
            return  # a rebalance since: the new assignment seeks to the committed offsets
        if not app.flow_control.is_active():
            return  # a rebalance under way: the same
        try:
            assignment = self.assignment()
        except IllegalStateError:
            return
        for tp, records in fetched.items():
            last = handed.get(tp)
            if not records or (last is not None and records[-1].offset <= last):
                continue  # all handed out: the usual case
            first = next(r.offset for r in records if last is None or r.offset > last)
            if tp in assignment and tp not in self._moves:
                log.info(
                    "%s: records from offset %d were not handed out: reading them again",
                    tp,
                    first,
                )
                await self.seek(tp, first)

    def _new_offset(self, tp: Any) -> int | None:
        acked = self._acked[tp]
        lowest = self._lowest_unacked.get(tp)
        if acked and lowest is not None and lowest < min(acked):
            return None  # the acked run starts above an event still unacked
        return super()._new_offset(tp)

    async def _getmany(self, active_partitions: Any, timeout: float) -> Any:
        # faust's fetcher waits up to 1 s for records of the partitions active when it
        # asks. After a rebalance the recovery resumes the source and update partitions
        # while it waits on quiet changelogs, so counting began up to a second late. A
        # shorter wait only reads aiokafka's local queue more often (no extra requests).
        await self._make_moves()
        return await super()._getmany(active_partitions, min(timeout, GETMANY_MAX_WAIT_S))

    def member_id(self) -> str | None:
        return cast(ConsumerThread, self._thread).member_id()

    async def remove_member(self, member_id: str) -> str:
        return await cast(ConsumerThread, self._thread).remove_member(member_id)

    def new_client(self) -> aiokafka.AIOKafkaConsumer:
        return cast(ConsumerThread, self._thread).new_client()


class ProducerBuffer(FaustProducerBuffer):
    """faust's producer buffer, with a flush that waits for every message put in it.

    Table rows reach their changelog through this buffer, and faust flushes the
    producer before it commits the offsets of the events that changed them. faust's
    `flush` returns as soon as no message leaves the buffer within 0.1 s (a send waiting
    for room in aiokafka's batch, or an event loop busy with a flush of many rows), with
    messages still waiting, and the commit goes on: after a kill -9 in that window the
    events are committed but their rows never reached the changelog, so the partition's
    next owner undercounts. Nor does it wait for the message being handed to aiokafka
    at that moment, which aiokafka's own flush cannot see yet.
    """

    sending = 0  # messages taken from the queue and not yet handed to aiokafka

    async def _send_pending(self, fut: FutureMessage) -> None:
        self.sending += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.sending -= 1

    async def flush(self) -> None:
        while self.size or self.sending:
            if self.state != "running" and self.size:
                raise RuntimeError("Cannot flush: Producer not Running")
            self.message_sent.clear()
            # A bounded wait, then look again: a send that fails sets no event.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)


class Producer(faust_aiokafka.Producer):
    """faust's aiokafka producer with the `ProducerBuffer` above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        buffer = ProducerBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        if self.threaded_producer is not None:
            buffer.threaded_producer = self.threaded_producer
        self.buffer = buffer


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
    Producer = Producer


def broker_url(settings: Settings) -> str:
    """The faust broker URL for KAFKA_BOOTSTRAP, through this transport."""
    ConsumerThread.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    ConsumerThread.first_topics = frozenset({settings.live_updates_topic})
    return f"{SCHEME}://{settings.kafka_bootstrap}"


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
