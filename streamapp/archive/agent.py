"""The archive sink: every message of the source topic into HDFS, exactly once.

It runs inside the faust worker but off faust's stream: a faust service starts a thread
with its own event loop and its own librdkafka consumer (group `{APP_ID}-archive`),
which consumes in large batches. A Kafka offset is committed only once the HDFS file
holding the messages before it is committed; on assignment each partition is recovered
from its HDFS marker first, so HDFS stays the source of truth (docs/archive.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, cast

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError as AIOKafkaError
from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from mode import Service

from streamapp.app import app, settings
from streamapp.archive.consumer import (
    ASSIGNMENT_STRATEGY,
    GroupLog,
    LeaderWatch,
    consumer_config,
)
from streamapp.archive.core import (
    Batch,
    Committed,
    PartitionLog,
    RotationPolicy,
    Step,
    check_topic,
    encode_record,
)
from streamapp.archive.ledger import CommitLedger
from streamapp.archive.retry import Retrier
from streamapp.archive.store import ArchiveStore, CommitAborted, CommitProgress
from streamapp.config import Settings
from streamapp.transport import Consumer as LiveConsumer
from streamapp.transport import take_over_leader

log = logging.getLogger(__name__)
# The hdfs client logs every request at INFO; the sink logs one line per outage instead.
logging.getLogger("hdfs").setLevel(logging.WARNING)

CONSUME_MAX = 10_000  # messages taken from librdkafka per call
CONSUME_WAIT_S = 0.1  # longest a call waits for them (the rotation age is checked after it)


class Committer:
    """Commits one partition's sealed batches in order, retrying until HDFS takes them."""

    def __init__(
        self,
        store: ArchiveStore,
        retrier: Retrier,
        ledger: CommitLedger,
        partition: int,
        committed: Committed,
    ) -> None:
        self.partition = partition
        self.committed = committed
        self.queue: asyncio.Queue[Batch[int] | None] = asyncio.Queue()
        self.queued_bytes = 0
        self.aborted = False
        self.store = store
        self.retrier = retrier
        self.ledger = ledger
        self.task = asyncio.ensure_future(self._run())

    def put(self, batch: Batch[int]) -> None:
        self.queued_bytes += batch.nbytes
        self.ledger.sealed(batch.nbytes)
        self.queue.put_nowait(batch)

    def retire(self) -> None:
        """Stop after the current HDFS call; queued batches are dropped (Kafka replays them)."""
        self.aborted = True
        self.ledger.released(self.queued_bytes)
        self.queued_bytes = 0
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    def _aborted(self) -> bool:
        return self.aborted

    async def _run(self) -> None:
        while (batch := await self.queue.get()) is not None:
            progress = CommitProgress()
            try:
                call = partial(self.store.commit, self.committed, batch, progress, self._aborted)
                self.committed = await self.retrier.run(call, self._aborted)
            except CommitAborted:
                return
            if self.aborted:
                return
            self.queued_bytes -= batch.nbytes
            self.ledger.released(batch.nbytes)
            self.ledger.done(self.partition, batch.gen, batch.last)


class ArchiveSink:
    """The sink's consumer and per-partition state; everything runs on its own thread."""

    def __init__(
        self,
        s: Settings,
        store: ArchiveStore,
        topic: str,
        policy: RotationPolicy,
        new_client: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self.settings = s
        self.store = store
        self.topic = topic
        self.policy = policy
        self.max_pending_bytes = s.archive_max_pending_bytes
        self.stop_wait = float(s.archive_stop_wait_seconds)
        self.consumer: Consumer | None = None
        self.logs: dict[int, PartitionLog[int]] = {}  # recovered partitions, fetching
        self.committers: dict[int, Committer] = {}
        self.retiring: dict[int, Committer] = {}
        self.epoch = 0  # bumped by every rebalance: recoveries of an older one are superseded
        self.ledger = CommitLedger()
        self.paused = False  # every partition paused: memory bound reached
        self.recoveries: set[asyncio.Future[None]] = set()
        self.stopping = threading.Event()
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="archive-hdfs")
        self.retrier = Retrier(
            self.executor,
            float(s.archive_retry_max_seconds),
            lambda line: log.warning("archive: %s", line),
        )
        # A rebalance whose leader never completes it (streamapp.archive.consumer); a
        # live leader completes it seconds after its JoinGroup answer.
        session_s = float(s.kafka_session_timeout_s)
        self.leader_watch = LeaderWatch(patience_s=2.0 * session_s, jitter_s=session_s)
        self.new_client = new_client  # for the take-over; None: never taken over
        self.take_over: asyncio.Future[None] | None = None

    # --- Thread entry and main loop ----------------------------------------------------

    def run(self, crashed: Callable[[BaseException], None]) -> None:
        """Consume and archive until `stop()` (the target of the sink's thread)."""
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            log.exception("archive: the sink failed")
            crashed(exc)

    def stop(self) -> None:
        """Ask the loop to finish (thread-safe); it stops within one consume call."""
        self.stopping.set()

    async def _main(self) -> None:
        group_log = GroupLog(logging.getLogger("streamapp.archive.kafka"), self.leader_watch)
        consumer = self.consumer = Consumer(consumer_config(self.settings, group_log))
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        try:
            while not self.stopping.is_set():
                # Blocks this thread only (the GIL is released); rebalance callbacks run
                # inside it, on this thread, so no sink state is shared between threads.
                self.handle(consumer.consume(CONSUME_MAX, CONSUME_WAIT_S), time.monotonic())
                self.tick(time.monotonic())
                self._flow()
                self._send_offsets(asynchronous=True)
                self._watch_leader(time.monotonic())
                await asyncio.sleep(0)  # let committers and recoveries move on
        finally:
            await self._shutdown(consumer)

    async def _shutdown(self, consumer: Consumer) -> None:
        """Commit what was taken to HDFS (within the stop wait), then its offsets; leave.

        What HDFS did not take in time stays uncommitted in Kafka, whole batches only
        (a batch's offsets are committed after all its files), so the next start
        archives it again from the markers: never half of each.
        """
        for partition, plog in self.logs.items():
            if (batch := plog.seal()) is not None:
                self.committers[partition].put(batch)
        committers = [*self.committers.values(), *self.retiring.values()]
        for committer in self.committers.values():
            committer.queue.put_nowait(None)  # finish what is queued, then end
        started = time.monotonic()
        if committers:
            await asyncio.wait([c.task for c in committers], timeout=self.stop_wait)
        left = {p: c.queued_bytes for p, c in self.committers.items() if c.queued_bytes}
        for committer in self.committers.values():
            committer.retire()  # HDFS still down: what is left is replayed next time
        if left:
            log.warning(
                "archive: stopping with %d bytes of partitions %s not archived: HDFS did not "
                "take them within ARCHIVE_STOP_WAIT_SECONDS=%.0f; they stay uncommitted in "
                "Kafka and are archived on the next start",
                sum(left.values()),
                sorted(left),
                self.stop_wait,
            )
        elif committers:
            log.info(
                "archive: stopping with every message taken archived (%.1f s)",
                time.monotonic() - started,
            )
        self._send_offsets(asynchronous=False)
        self.epoch += 1
        for task in self.recoveries:
            task.cancel()
        if self.take_over is not None:
            self.take_over.cancel()
        self.logs.clear()
        self.committers.clear()
        consumer.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # --- Messages ------------------------------------------------------------------------

    def handle(self, messages: list[Message], now: float) -> None:
        """Archive a batch of messages (their offsets are committed once their file is)."""
        for msg in messages:
            if (err := msg.error()) is not None:
                if err.code() != KafkaError._PARTITION_EOF:
                    log.warning("archive: consumer error: %s", err)
                continue
            partition, offset = msg.partition(), msg.offset()
            assert partition is not None and offset is not None
            plog = self.logs.get(partition)
            if plog is None:
                # Fetched before a rebalance, or not recovered yet: the seek made once
                # the partition is recovered fetches it again.
                continue
            ts_type, ts = msg.timestamp()
            if ts_type == TIMESTAMP_NOT_AVAILABLE:
                ts = int(time.time() * 1000)
            record = encode_record(partition, offset, ts, msg.key(), msg.value())
            gen = plog.gen
            # The high watermark is evidence only for offsets at or below the last taken.
            backwards = plog.last is not None and offset <= plog.last
            highwater = self._highwater(partition) if backwards else None
            self._apply(plog, plog.offer(record, offset, now, highwater))
            if plog.gen != gen:
                log.warning(
                    "archive: partition %d offsets went back (offset %d; topic recreated or "
                    "broker restarted): archiving into generation %d, generation %d kept",
                    partition,
                    offset,
                    plog.gen,
                    gen,
                )

    def tick(self, now: float) -> None:
        """Commit open files that reached the rotation age."""
        for partition, plog in self.logs.items():
            if (batch := plog.tick(now)) is not None:
                self.committers[partition].put(batch)

    def _apply(self, plog: PartitionLog[int], step: Step[int]) -> None:
        if step.acks:
            self.ledger.done(plog.partition, plog.gen, max(step.acks))
        for batch in step.sealed:
            self.committers[plog.partition].put(batch)

    def _highwater(self, partition: int) -> int | None:
        """The high watermark of the last fetch response (ListOffsets can be short)."""
        assert self.consumer is not None
        try:
            marks = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), cached=True
            )
        except KafkaException:
            return None
        if marks is None or marks[1] < 0:  # not fetched yet: no evidence
            return None
        return int(marks[1])

    # --- Kafka offsets, flow control ---------------------------------------------------

    def _send_offsets(self, asynchronous: bool) -> None:
        """Commit archived offsets of the partitions this worker owns."""
        assert self.consumer is not None
        offsets = [
            TopicPartition(self.topic, p, offset)
            for p, offset in self.ledger.take_unsent(self.logs).items()
        ]
        if not offsets:
            return
        try:
            if asynchronous:
                self.consumer.commit(offsets=offsets, asynchronous=True)
            else:
                self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # A rebalance under way: the next owner recovers from the markers anyway.
            log.info("archive: offset commit failed (%s); HDFS markers stay authoritative", exc)

    def _flow(self) -> None:
        """Pause every partition while archive data in memory exceeds its bound."""
        assert self.consumer is not None
        used = self.ledger.pending_bytes + sum(plog.held_bytes for plog in self.logs.values())
        if used > self.max_pending_bytes and not self.paused:
            # Commit what is open so memory can drain; fetch nothing until it has.
            for partition, plog in self.logs.items():
                if (batch := plog.seal()) is not None:
                    self.committers[partition].put(batch)
            self.paused = True
            self.consumer.pause(self._partitions(self.logs))
            log.info("archive: partitions paused: %d bytes waiting for HDFS", used)
        elif self.paused and used <= self.max_pending_bytes:
            self.paused = False
            self.consumer.resume(self._partitions(self.logs))
            log.info("archive: partitions resumed")

    def _partitions(self, partitions: Any) -> list[TopicPartition]:
        return [TopicPartition(self.topic, p) for p in partitions]

    # --- Rebalances and recovery -----------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Take the partitions paused; each is resumed once recovered from its marker."""
        self.epoch += 1
        self.leader_watch.assigned()
        log.info("archive: assigned partitions %s", sorted(tp.partition for tp in partitions))
        consumer.assign(partitions)
        consumer.pause(partitions)
        for tp in partitions:
            task = asyncio.ensure_future(self._recover(tp.partition, self.epoch))
            self.recoveries.add(task)
            task.add_done_callback(self.recoveries.discard)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Commit what is archived, then drop every partition's unarchived state."""
        log.info("archive: partitions %s revoked", sorted(tp.partition for tp in partitions))
        if self.logs:
            self._send_offsets(asynchronous=False)
        self.revoke_all()

    def revoke_all(self) -> None:
        """Forget every partition: open and queued batches are replayed to the next owner."""
        self.epoch += 1
        for partition, committer in self.committers.items():
            committer.retire()
            self.retiring[partition] = committer
        self.logs.clear()
        self.committers.clear()
        self.ledger.forget_offsets()
        self.paused = False

    def _watch_leader(self, now: float) -> None:
        """Take over the group's leader if the rebalance has waited on it too long."""
        if self.new_client is None or (self.take_over and not self.take_over.done()):
            return
        if (leader := self.leader_watch.stuck_leader(now)) is not None:
            self.take_over = asyncio.ensure_future(self._take_over(self.new_client, leader))

    async def _take_over(self, new_client: Callable[[], AIOKafkaConsumer], leader: str) -> None:
        s = self.settings
        log.warning(
            "archive: the group's rebalance has waited %.0f s on its leader %s, which does "
            "not complete it (the dev broker keeps a member that left during a rebalance "
            "as the leader): completing it in that member's place",
            self.leader_watch.patience_s,
            leader,
        )
        try:
            outcome = await take_over_leader(
                new_client,
                f"{s.app_id}-archive",
                leader,
                self.topic,
                ASSIGNMENT_STRATEGY,
                s.kafka_session_timeout_s * 1000,
            )
        except (AIOKafkaError, OSError) as exc:
            log.warning("archive: could not take over leader %s: %r", leader, exc)
            return
        log.warning("archive: took over leader %s: %s", leader, outcome)

    async def _recover(self, partition: int, epoch: int) -> None:
        def superseded() -> bool:
            return self.epoch != epoch

        if (retiring := self.retiring.pop(partition, None)) is not None:
            # Its last HDFS call may still be running: recover only after it ended.
            await asyncio.gather(retiring.task, return_exceptions=True)
        try:
            committed = await self.retrier.run(
                lambda: self.store.recover(self.topic, partition), superseded
            )
            start = await self._start_offset(partition, superseded)
        except CommitAborted:
            return
        if superseded():
            return
        assert self.consumer is not None
        self.logs[partition] = PartitionLog(self.topic, partition, committed, self.policy)
        self.committers[partition] = Committer(
            self.store, self.retrier, self.ledger, partition, committed
        )
        # From the committed Kafka offset (at or before the marker's), so replays and
        # offsets going back are told apart exactly as after a restart.
        tp = TopicPartition(self.topic, partition, start)
        self.consumer.seek(tp)
        if not self.paused:
            self.consumer.resume([tp])
        log.info(
            "archive: partition %d resumes at gen %d after offset %s (fetching from %s)",
            partition,
            committed.gen,
            committed.last,
            "the start" if start == OFFSET_BEGINNING else start,
        )

    async def _start_offset(self, partition: int, aborted: Callable[[], bool]) -> int:
        """The group's committed offset of `partition`, or the log's start if none.

        Asked on this thread: a call from another thread waited seconds to minutes for
        the consumer while this one kept calling `consume()`.
        """
        assert self.consumer is not None
        attempt = 0
        while True:
            try:
                [tp] = self.consumer.committed([TopicPartition(self.topic, partition)], 5.0)
                if tp.error is not None:
                    raise KafkaException(tp.error)
                return int(tp.offset) if tp.offset >= 0 else OFFSET_BEGINNING
            except KafkaException as exc:
                log.warning("archive: committed offset of partition %d: %s", partition, exc)
            await self.retrier.backoff(
                attempt, aborted, "partition revoked while reading its offset"
            )
            attempt += 1


def build_sink(
    s: Settings, new_client: Callable[[], AIOKafkaConsumer] | None = None
) -> ArchiveSink:
    """The sink for settings `s` (checks the topic name first)."""
    return ArchiveSink(
        s,
        ArchiveStore(s.hdfs_url, s.hdfs_user_name, s.archive_root, s.rejected_root),
        check_topic(s.topic),
        RotationPolicy(
            max_records=s.archive_rotate_records,
            max_bytes=s.archive_rotate_bytes,
            max_seconds=s.archive_rotate_seconds,
            idle_seconds=s.archive_idle_commit_seconds,
        ),
        new_client,
    )


@app.service
class ArchiveService(Service):
    """Runs the sink's thread while the worker runs; a clean stop commits and leaves."""

    def __post_init__(self) -> None:
        self.sink = build_sink(settings, lambda: cast(LiveConsumer, app.consumer).new_client())
        self.thread: threading.Thread | None = None

    async def on_start(self) -> None:
        loop = asyncio.get_running_loop()

        def crashed(exc: BaseException) -> None:
            # Without its archive the worker must not go on: crash it like a failed agent.
            asyncio.run_coroutine_threadsafe(self.crash(exc), loop)

        # Daemon: a thread stuck in an HDFS call must not keep a stopping worker alive.
        self.thread = threading.Thread(
            target=self.sink.run, args=(crashed,), name="archive-sink", daemon=True
        )
        self.thread.start()

    async def on_stop(self) -> None:
        self.sink.stop()
        if self.thread is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, self.thread.join, self.sink.stop_wait + 5
            )
