"""The archive agent: every message of the source topic into HDFS, exactly once.

Events are taken without acking (`noack_take`); an event is acked only once the file
holding it is committed (or once it is known to be archived already), and faust
commits a Kafka offset only when every stream on the topic acked it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar, cast

from faust import Stream
from faust.sensors import Sensor
from faust.types import AppT, EventT, StreamT

from streamapp.app import app, settings, source_topic
from streamapp.archive.core import (
    Batch,
    Committed,
    Outage,
    PartitionLog,
    RotationPolicy,
    Step,
    backoff_delay,
    check_topic,
    encode_record,
)
from streamapp.archive.store import ArchiveStore, CommitAborted, CommitProgress

log = logging.getLogger(__name__)
# The hdfs client logs every request at INFO; the sink logs one line per outage instead.
logging.getLogger("hdfs").setLevel(logging.WARNING)
R = TypeVar("R")

TAKE_MAX = 2000  # events handed to the sink at once
TAKE_WITHIN = 0.5  # seconds to wait for a full take before handing over what arrived


class Committer:
    """Commits one partition's sealed batches in order, retrying until HDFS takes them."""

    def __init__(self, sink: ArchiveSink, partition: int, committed: Committed) -> None:
        self.sink = sink
        self.partition = partition
        self.committed = committed
        self.aborted = False
        self.queue: asyncio.Queue[Batch[EventT] | None] = asyncio.Queue()
        self.queued_bytes = 0
        self.task = asyncio.ensure_future(self._run())

    def put(self, batch: Batch[EventT]) -> None:
        self.queued_bytes += batch.nbytes
        self.sink.pending_bytes += batch.nbytes
        self.queue.put_nowait(batch)

    def retire(self) -> None:
        """Stop after the current HDFS call; queued batches are dropped, unacked."""
        self.aborted = True
        self.sink.release(self.queued_bytes)
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
                call = partial(
                    self.sink.store.commit, self.committed, batch, progress, self._aborted
                )
                self.committed = await self.sink.with_retries(call, self._aborted)
            except CommitAborted:
                return
            for event in batch.tokens:
                event.ack()
            self.queued_bytes -= batch.nbytes
            self.sink.release(batch.nbytes)


class ArchiveSink:
    """Per-partition archive state of this worker, fed by the agent and the timer."""

    def __init__(self, store: ArchiveStore, topic: str, policy: RotationPolicy) -> None:
        self.store = store
        self.topic = topic
        self.policy = policy
        self.max_pending_bytes = settings.archive_max_pending_bytes
        self.retry_cap = float(settings.archive_retry_max_seconds)
        self.logs: dict[int, tuple[int | None, PartitionLog[EventT]]] = {}
        self.committers: dict[int, Committer] = {}
        self.retiring: dict[int, Committer] = {}
        self.pending_bytes = 0  # sealed, not yet committed
        self.revoked_at = 0.0  # monotonic time the last rebalance started
        self.room = asyncio.Event()
        self.outage = Outage()
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="archive-hdfs")

    async def with_retries(self, call: Callable[[], R], aborted: Callable[[], bool]) -> R:
        """Run a blocking HDFS call in the executor until it succeeds (or is aborted)."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            try:
                result = await loop.run_in_executor(self.executor, call)
            except CommitAborted:
                raise
            except Exception as exc:
                if (line := self.outage.failed(time.monotonic(), exc)) is not None:
                    log.warning("archive: %s", line)
                await asyncio.sleep(backoff_delay(attempt, cap=self.retry_cap))
                attempt += 1
                if aborted():
                    raise CommitAborted("partition revoked during retries") from None
                continue
            if (line := self.outage.succeeded(time.monotonic())) is not None:
                log.warning("archive: %s", line)
            return result

    async def handle(self, events: list[EventT]) -> None:
        """Archive a batch of events (acked later, once their file is committed)."""
        current = app.consumer_generation_id
        for event in events:
            msg = event.message
            if self._stale(msg, current):
                continue  # fetched before a rebalance; the new assignment redelivers it
            entry = self.logs.get(msg.partition)
            if entry is None or entry[0] != msg.generation_id:
                plog = await self._open(msg.partition, msg.generation_id)
                if app.consumer_generation_id != current:
                    return  # a rebalance happened while we recovered
            else:
                plog = entry[1]
            record = encode_record(
                msg.partition, msg.offset, round(msg.timestamp * 1000), msg.key, msg.value
            )
            gen = plog.gen
            # The high watermark is evidence only for offsets at or below the last taken.
            backwards = plog.last is not None and msg.offset <= plog.last
            highwater = self._highwater(msg) if backwards else None
            self._apply(plog, plog.offer(record, event, time.monotonic(), highwater))
            if plog.gen != gen:
                log.warning(
                    "archive: partition %d offsets went back (offset %d; topic recreated or "
                    "broker restarted): archiving into generation %d, generation %d kept",
                    msg.partition,
                    msg.offset,
                    plog.gen,
                    gen,
                )
        await self._backpressure()

    def tick(self) -> None:
        """Commit open files that reached the rotation age."""
        now = time.monotonic()
        for partition, (_, plog) in self.logs.items():
            if (batch := plog.tick(now)) is not None:
                self.committers[partition].put(batch)

    def revoke_all(self) -> None:
        """Forget every partition (rebalance): drop unacked state so faust can proceed."""
        for partition, committer in self.committers.items():
            committer.retire()
            self.retiring[partition] = committer
        self.logs.clear()
        self.committers.clear()
        self.room.set()

    def release(self, nbytes: int) -> None:
        self.pending_bytes -= nbytes
        if self.pending_bytes <= self.max_pending_bytes:
            self.room.set()

    async def _open(self, partition: int, generation_id: int | None) -> PartitionLog[EventT]:
        old = self.committers.pop(partition, None)
        if old is not None:
            old.retire()
            self.retiring[partition] = old
        self.logs.pop(partition, None)
        if (retiring := self.retiring.pop(partition, None)) is not None:
            # Its last HDFS call may still be running: recover only after it ended.
            await asyncio.gather(retiring.task, return_exceptions=True)
        committed = await self.with_retries(
            lambda: self.store.recover(self.topic, partition), lambda: False
        )
        log.info(
            "archive: partition %d resumes at gen %d after offset %s",
            partition,
            committed.gen,
            committed.last,
        )
        plog: PartitionLog[EventT] = PartitionLog(self.topic, partition, committed, self.policy)
        self.logs[partition] = (generation_id, plog)
        self.committers[partition] = Committer(self, partition, committed)
        return plog

    def _apply(self, plog: PartitionLog[EventT], step: Step[EventT]) -> None:
        for event in step.acks:
            event.ack()
        for batch in step.sealed:
            self.committers[plog.partition].put(batch)

    def _stale(self, msg: Any, generation_id: int) -> bool:
        """True for a message taken in before the last rebalance started.

        Group generation ids tell most of them apart, but a restarted dev broker starts
        counting generations again; faust's monitor also stamps each message's arrival.
        """
        if msg.generation_id is not None and msg.generation_id != generation_id:
            return True
        return msg.time_in is not None and msg.time_in < self.revoked_at

    def _highwater(self, msg: Any) -> int | None:
        try:
            hw = app.consumer.highwater(msg.tp)
        except Exception:  # not assigned any more, or not fetched yet: no evidence
            return None
        return None if hw is None else int(hw)

    async def _backpressure(self) -> None:
        held = sum(plog.held_bytes for _, plog in self.logs.values())
        if self.pending_bytes + held <= self.max_pending_bytes:
            return
        # Commit what is open so memory can drain, then wait for the commits.
        for partition, (_, plog) in self.logs.items():
            if (batch := plog.seal()) is not None:
                self.committers[partition].put(batch)
        while self.pending_bytes > self.max_pending_bytes and self.committers:
            self.room.clear()
            await self.room.wait()


class RebalanceSensor(Sensor):
    """Drops the sink's unacked state as soon as a rebalance starts.

    faust waits for every delivered message to be acked before it gives partitions
    away; the sink holds messages until their file is committed, so it must let go.
    The hook runs in the consumer's thread: hand over to the event loop.
    """

    def __init__(self, sink: ArchiveSink, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sink = sink
        self.sink_loop: asyncio.AbstractEventLoop | None = None

    def on_rebalance_start(self, app: AppT) -> dict[str, Any]:
        state: dict[str, Any] = super().on_rebalance_start(app)
        # A float store is atomic: the agent sees it before the loop runs revoke_all.
        self.sink.revoked_at = time.monotonic()
        if self.sink_loop is not None:
            self.sink_loop.call_soon_threadsafe(self.sink.revoke_all)
        return state


sink = ArchiveSink(
    ArchiveStore(
        settings.hdfs_url,
        settings.hdfs_user_name,
        settings.archive_root,
        settings.rejected_root,
    ),
    check_topic(settings.topic),
    RotationPolicy(
        max_records=settings.archive_rotate_records,
        max_bytes=settings.archive_rotate_bytes,
        max_seconds=settings.archive_rotate_seconds,
    ),
)
rebalance_sensor = RebalanceSensor(sink)
app.sensors.add(rebalance_sensor)


@app.agent(source_topic, name="archive")
async def archive(stream: StreamT[bytes]) -> None:
    """Hand events to the sink in batches; the sink acks them once archived."""
    rebalance_sensor.sink_loop = asyncio.get_running_loop()
    async for events in cast(Stream[bytes], stream).noack_take(TAKE_MAX, within=TAKE_WITHIN):
        # noack_take buffers the events themselves (to ack them later), not values.
        await sink.handle(cast(list[EventT], list(events)))


@app.timer(interval=1.0)
async def archive_rotation() -> None:
    """Commit files that reached ARCHIVE_ROTATE_SECONDS even when no message arrives."""
    sink.tick()
