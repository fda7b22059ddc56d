"""Live counting agents and tables: thin faust edges around `streamapp.live.counting`.

`count_batches` reads `data_stream` in batches, tells each source partition's new
messages from replays and from a log that started again (`streamapp.live.lineage`, the
archive's detector), pre-aggregates each batch into one update per distinct word plus
one totals update, and sends them to the internal update topic, one record per table
partition (a word's update goes to the partition that owns the word); `apply_updates`
folds them into the tables with the idempotent rule. See docs/live.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, cast

from aiokafka.errors import IllegalStateError
from faust import Stream
from faust.streams import _current_event
from faust.types import TP, EventT, StreamT
from mode.types.signals import BaseSignalT
from prometheus_client import Counter, Gauge, Histogram

from streamapp.app import app, before_stop, settings, source_topic
from streamapp.archive.core import encode_record
from streamapp.contract import Source
from streamapp.live import counting, tablewrite
from streamapp.live.lineage import Lineage, Seen
from streamapp.live.topn import TopN, TopRow
from streamapp.live.turns import in_turns
from streamapp.live.writebehind import Row, Unwritten, WriteBehind

log = logging.getLogger(__name__)

PARTITIONS = settings.live_partitions
IDEMPOTENT = bool(settings.live_idempotent)

updates_topic = app.topic(
    settings.live_updates_topic,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
    internal=True,
)
dlq_topic = app.topic(settings.dlq_topic, key_type=bytes, value_type=bytes, value_serializer="raw")

# Each table partition is a RocksDB database; faust's defaults give each one a 2 GiB
# block cache and three 64 MiB memtables, which a large vocabulary fills (docs/live.md).
ROCKSDB_OPTIONS = {
    "block_cache_size": settings.rocksdb_block_cache_bytes,
    "write_buffer_size": settings.rocksdb_write_buffer_bytes,
    "max_write_buffer_number": settings.rocksdb_write_buffers,
}


def _table(name: str) -> Any:
    return app.Table(
        name,
        partitions=PARTITIONS,
        key_type=str,
        # faust's store pops keys from the options it is given: each table gets a copy.
        options=dict(ROCKSDB_OPTIONS),
        # The views read standby copies during a failover (streamapp.live.views): a standby
        # writes what it receives at once rather than per 1,000 records.
        standby_buffer_size=settings.live_standby_buffer_records,
    )


# Rows are JSON documents (see counting.apply_word / apply_totals); a missing key is None.
word_table = _table("live-words")
totals_table = _table("live-totals")
# One row per table partition (key: the partition number): its top words (topn.TopRow).
top_table = _table("live-top")
# Per source partition, what `count_batches` has taken of its log (`lineage.Seen`), kept
# beside the rows in RocksDB: it must outlive a broker that restarts empty, as the rows'
# offset marks do. Co-partitioned with the source topic (same partition count), so the
# worker that reads source partition p owns row p.
lineage_table = app.Table("live-lineage", partitions=settings.topic_partitions, key_type=str)

MESSAGES = Counter("wordstream_live_messages", "Valid source messages counted (incl. replays)")
REJECTED = Counter("wordstream_live_rejected", "Non-UTF-8 messages sent to the dead-letter topic")
BATCH_SIZE = Histogram(
    "wordstream_live_batch_messages",
    "Messages per counting batch (larger batches: less work per message)",
    buckets=(1, 10, 100, 500, 1000, 2000, 5000, 10000),
)
UPDATES_SENT = Counter(
    "wordstream_live_updates_sent", "Pre-aggregated updates sent (per word and source partition)"
)
ENTRIES_APPLIED = Counter("wordstream_live_entries_applied", "Word occurrences added to tables")
ENTRIES_SKIPPED = Counter(
    "wordstream_live_entries_skipped",
    "Update entries (a word in a message) skipped as replays (idempotency)",
)

ROWS_WRITTEN = Counter("wordstream_live_rows_written", "Table rows written (write-behind flushes)")
TICKS_SENT = Counter(
    "wordstream_live_ticks_sent", "Empty updates sent to quiet partitions so their rows get written"
)
LOG_RESTARTS = Counter(
    "wordstream_live_log_restarts",
    "Source partitions whose offsets went back to a new log (topic recreated, broker reset)",
)
GENERATION = Gauge(
    "wordstream_live_generation",
    "The generation of each source partition's log the live layer counts in",
    ["partition"],
)
ROWS_DROPPED = Counter(
    "wordstream_live_rows_dropped", "Unwritten rows dropped on rebalance (their updates replay)"
)


async def _send_update(key: bytes, value: bytes, partition: int) -> None:
    if app.in_transaction:
        # exactly_once: faust's send attaches the record to the consumer's transaction.
        await updates_topic.send(key=key, value=value, partition=partition)
        return
    # The producer directly otherwise: faust's per-send machinery is a hot-path cost.
    await app.producer.send(
        updates_topic.get_topic_name(), key, value, partition, timestamp=None, headers=None
    )


def _prepare(
    records: dict[Source, list[counting.SourceRecord]],
) -> tuple[counting.BatchCounts, dict[int, bytes]]:
    """The batch's updates, aggregated and encoded one record per table partition."""
    batch = counting.aggregate(records)
    return batch, counting.encode_partitions(batch, PARTITIONS)


# The agent and the timer that settles held messages both send batches: one at a time,
# so a source partition's updates leave in the order they were prepared.
_sending = asyncio.Lock()


async def _send_batch(records: dict[Source, list[counting.SourceRecord]], generation: int) -> bool:
    """Send `records`' updates; False when a revocation came since `generation`
    (`write_behind.generation` when the records were taken): their lineages were dropped with
    it, nothing more is sent, and the partitions' next owner replays the records."""
    async with _sending:
        # Pure, and proportional to the batch's distinct words (tens of thousands at a
        # large vocabulary): in a thread, so the event loop answers views meanwhile
        # (the GIL is handed over every few milliseconds).
        batch, payloads = await asyncio.to_thread(_prepare, records)
        if write_behind.generation != generation:
            return False
        await _send_prepared(batch, payloads, sum(map(len, records.values())))
    return write_behind.generation == generation


async def _send_prepared(
    batch: counting.BatchCounts, payloads: dict[int, bytes], n_messages: int
) -> None:
    for source, record in batch.rejected:
        await dlq_topic.send(
            key=record.key,
            value=record.value,
            headers={
                "source_partition": str(source.partition).encode(),
                "source_offset": str(record.offset).encode(),
            },
        )
    # One record per table partition: each word's update still lands in the partition
    # that owns the word, and faust's per-record cost is paid 4 times, not per word.
    for partition, payload in sorted(payloads.items()):
        await _send_update(str(partition).encode(), payload, partition)
    UPDATES_SENT.inc(sum(len(part.words) for part in batch.slices.values()) + 1)
    REJECTED.inc(len(batch.rejected))
    BATCH_SIZE.observe(n_messages)
    MESSAGES.inc(n_messages - len(batch.rejected))


# A source message on its way through a lineage: its record and the event to ack.
Taken = tuple[counting.SourceRecord, EventT]

# The lineage of each source partition this worker reads, loaded from `lineage_table`
# on first use after an assignment.
lineages: dict[int, Lineage[Taken]] = {}
# Events whose verdict (replay or new log) is still open when their batch ends: they
# hold an extra reference, so faust's ack at the end of the batch does not let the
# partition's committed offset pass them; settling them acks them for good.
_unsettled: set[int] = set()


@contextlib.contextmanager
def _as_current(event: EventT) -> Iterator[None]:
    """Make `event` faust's current event: a table reads and writes the partition of
    the current event, and a batch holds events of several partitions."""
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


def _lineage(partition: int, event: EventT) -> Lineage[Taken]:
    found = lineages.get(partition)
    if found is not None:
        return found
    with _as_current(event):
        stored = lineage_table.get(str(partition))
    seen = Seen(stored["g"], stored["o"], stored["f"]) if stored else Seen()
    lineage = lineages[partition] = Lineage(seen, _fingerprint(partition))
    GENERATION.labels(str(partition)).set(seen.gen)
    return lineage


def _fingerprint(partition: int) -> Callable[[Taken], str]:
    """The archive's fingerprint of a message (any stable digest would do; one is enough)."""

    def fingerprint(taken: Taken) -> str:
        r = taken[0]
        return encode_record(partition, r.offset, r.timestamp_ms, r.key, r.value).fingerprint

    return fingerprint


def _settle(settled: list[Taken], out: list[counting.SourceRecord]) -> None:
    for record, event in settled:
        out.append(record)
        if id(event) in _unsettled:
            _unsettled.discard(id(event))
            event.ack()


def _sources(events: list[EventT]) -> dict[Source, list[counting.SourceRecord]]:
    """The batch's records per source (generation, partition), replays included."""
    by_source: dict[Source, list[counting.SourceRecord]] = defaultdict(list)
    for event in events:
        m = event.message
        lineage = _lineage(m.partition, event)
        record = counting.SourceRecord(m.offset, round(m.timestamp * 1000), m.value, m.key)
        gen, last = lineage.gen, lineage.last
        # The high watermark is evidence only for offsets at or below the last taken.
        highwater = (
            app.consumer.highwater(TP(m.topic, m.partition))
            if last is not None and m.offset <= last
            else None
        )
        out = lineage.offer(m.offset, (record, event), highwater)
        if out.replayed:
            # Sent again: the rows' marks make them no-ops, as for any replay.
            _settle(out.replayed, by_source[Source(gen, m.partition)])
        if out.regressed:
            LOG_RESTARTS.inc()
            GENERATION.labels(str(m.partition)).set(lineage.gen)
            log.warning(
                "live: partition %d offsets went back (offset %d after %s; topic recreated "
                "or broker restarted): counting generation %d as new messages, generation "
                "%d kept",
                m.partition,
                m.offset,
                last,
                lineage.gen,
                gen,
            )
        if out.taken:
            _settle(out.taken, by_source[Source(lineage.gen, m.partition)])
    for lineage in lineages.values():
        for _, (_, held) in lineage.held:
            if id(held) not in _unsettled:
                held.message.incref()
                _unsettled.add(id(held))
    return by_source


def _remember(events: list[EventT]) -> None:
    """Store each partition's lineage, so a restart tells replays from a new log."""
    last_event: dict[int, EventT] = {}
    for event in events:
        last_event[event.message.partition] = event
    for partition, event in last_event.items():
        _store_lineage(partition, event)


def _store_lineage(partition: int, event: EventT) -> None:
    """Write `partition`'s lineage row while `event`, one of that partition, is current
    (none once a revocation dropped the lineage: its next owner reloads the stored one)."""
    lineage = lineages.get(partition)
    if lineage is None:
        return
    seen = lineage.seen()
    with _as_current(event):
        lineage_table[str(partition)] = {"g": seen.gen, "o": seen.last, "f": seen.fingerprint}


# The last offset `count_batches` has sent updates for, per source partition.
counted: dict[int, int] = {}


@app.agent(source_topic)
async def count_batches(stream: StreamT[bytes]) -> None:
    """Count source messages a batch at a time (events are acked after their batch is sent)."""
    within = settings.live_batch_within_ms / 1000
    # take_events (not in faust's StreamT interface) acks a batch after the loop body.
    batches = stream.take_events(settings.live_batch_max, within=within)  # type: ignore[attr-defined]
    async for events in batches:
        generation = write_behind.generation
        if not await _send_batch(_sources(events), generation):
            continue  # revoked meanwhile (stream_wait_empty=False): the events come again
        _remember(events)
        for event in events:
            counted[event.message.partition] = event.message.offset


write_behind: WriteBehind[EventT] = WriteBehind(
    settings.live_flush_interval_ms / 1000, settings.live_flush_rows, settings.live_row_cache_rows
)


class CurrentRows:
    """The newest row of a word, or of the totals, this worker has: the one the
    write-behind holds (changed, or written and still remembered), else the table's.

    Rows reach the table only when a flush writes them, so the table alone can be a
    flush behind; every read of a live row goes through here.
    """

    def word(self, partition: int, word: str) -> Row | None:
        """`word`'s row (`partition` owns it), to read."""
        return write_behind.word(partition, word) or word_table.get(word)

    def word_to_change(self, held: Unwritten[EventT], word: str) -> Row | None:
        """`word`'s row, to change and hold in `held` (its partition's unwritten rows)."""
        row = held.words.get(word)
        if row is None:
            row = write_behind.take_written(word)
        return row if row is not None else word_table.get(word)

    def totals(self) -> Row | None:
        """The totals row."""
        return write_behind.totals() or totals_table.get(counting.TOTALS_KEY)


current = CurrentRows()


class Tops:
    """Each owned table partition's top words (`streamapp.live.topn`), kept as rows change.

    A partition's top is loaded from its `live-top` row when first needed; without one
    (state written before that table existed) it is rebuilt from the word rows in
    slices of `LIVE_TOP_REBUILD_SLICE` rows, one per event-loop turn, while updates go
    on being offered to it. Views use a partition's top only once it is complete.
    """

    def __init__(self) -> None:
        self._tops: dict[int, TopN] = {}
        self._rebuilding: dict[int, asyncio.Task[None]] = {}

    def get(self, partition: int) -> TopN:
        """`partition`'s top (loaded, or being rebuilt), to offer new counts to."""
        top = self._tops.get(partition)
        if top is None:
            row: TopRow | None = top_table.get(str(partition))
            top = TopN.decode(row) if row is not None else None
            if top is None:
                top = TopN()
                # faust iterates the partitions this worker owns; keep `partition`'s rows.
                rows = iter(word_table.items())
                # The first slice at once: a new (empty) partition is complete right away.
                if self._read_slice(partition, top, rows):
                    top.changed = True  # written at the partition's next flush
                else:
                    task = asyncio.ensure_future(self._rebuild(partition, top, rows))
                    self._rebuilding[partition] = task
            self._tops[partition] = top
        return top

    def complete(self, partition: int) -> TopN | None:
        """`partition`'s top if it is exact (loaded, or rebuilt to the end), else None."""
        top = self.get(partition)
        return None if partition in self._rebuilding else top

    def persistable(self, partition: int) -> TopN | None:
        """`partition`'s top if it is complete and changed since it was last written."""
        top = self._tops.get(partition)
        if top is None or not top.changed or partition in self._rebuilding:
            return None
        return top

    @staticmethod
    def _read_slice(partition: int, top: TopN, rows: Iterator[tuple[str, Row]]) -> bool:
        """Offer the next `LIVE_TOP_REBUILD_SLICE` rows of `partition`; True at the end."""
        for _ in range(settings.live_top_rebuild_slice):
            item = next(rows, None)
            if item is None:
                return True
            word, row = item
            if counting.partition_for(word, PARTITIONS) == partition:
                top.offer(word, row["n"])
        return False

    async def _rebuild(self, partition: int, top: TopN, rows: Iterator[tuple[str, Row]]) -> None:
        try:
            while not self._read_slice(partition, top, rows):
                await asyncio.sleep(0)  # let the event loop count and answer views
        except Exception:
            # Start over at the next use rather than leave the partition incomplete.
            self._tops.pop(partition, None)
            raise
        finally:
            self._rebuilding.pop(partition, None)
        top.changed = True  # written at the partition's next flush

    def forget(self) -> None:
        """Partitions may move (rebalance): forget every top, stop every rebuild."""
        for task in self._rebuilding.values():
            task.cancel()
        self._rebuilding.clear()
        self._tops.clear()


tops = Tops()


async def _apply_update(event: EventT, now: float) -> bool:
    """Fold one partition record into that partition's unwritten rows (no table write).

    The event's partition owns every key in the record, and is also the partition whose
    RocksDB a `table.get` reads while the event is current. The words are folded
    `LIVE_TURN_ITEMS` per event-loop turn; False if the partition's rows were dropped
    (a rebalance) meanwhile: the event is then not held, and its next owner replays it.
    """
    assert isinstance(event.value, bytes)  # the update topic's values are raw bytes
    update = counting.decode_partition(event.value)
    partition = event.message.partition
    generation = write_behind.generation
    held = write_behind.partition(partition, now)
    rows = held.words
    top = tops.get(partition)
    labels = update.labels
    retention = settings.live_hours_retention
    added = skipped = 0
    async for word, spans in in_turns(update.words.items(), settings.live_turn_items):
        if write_behind.generation != generation:
            return False
        row = current.word_to_change(held, word)
        row, a, s = counting.apply_word(row, spans, labels, IDEMPOTENT, retention)
        rows[word] = row
        # Offered even when the update was a skipped replay: the top row may have missed
        # it (a crash between the changelog writes of one flush); `offer` keeps the max.
        top.offer(word, row["n"])
        added, skipped = added + a, skipped + s
    if update.totals is not None:
        held.totals, _, _ = counting.apply_totals(
            current.totals(), update.totals, labels, IDEMPOTENT, retention
        )
    held.events.append(event)
    ENTRIES_APPLIED.inc(added)
    ENTRIES_SKIPPED.inc(skipped)
    return True


async def _flush(partition: int) -> None:
    """Write `partition`'s changed rows once each, then ack the events they came from.

    Runs while an event of `partition` is current: faust writes a table key to the
    changelog partition (and RocksDB) of the current event. The word rows go in bulk
    (`streamapp.live.tablewrite`): changelog record batches, acknowledged by the broker
    before the rows and the changelog offset reach RocksDB and before the events are
    acked. Under `exactly_once` they take faust's per-record path, in the transaction.
    """
    held = write_behind.take(partition)
    if held is None:
        return
    generation = write_behind.generation
    # The top and totals first: views read them from the table once they leave `held`.
    top = tops.persistable(partition)
    if top is not None:
        top_table[str(partition)] = top.encode()
        top.changed = False
    if held.totals is not None:
        totals_table[counting.TOTALS_KEY] = held.totals
    if app.in_transaction:
        written = await _write_through(held.words, generation)
    else:
        offset = await tablewrite.write_rows(
            word_table,
            partition,
            held.words,
            lambda: write_behind.generation == generation,
            settings.live_turn_items,
        )
        written = None if offset is None else len(held.words)
    if written is None:
        # Revoked meanwhile: the rest is replayed by the new owner; ack nothing.
        return
    ROWS_WRITTEN.inc(written + (held.totals is not None))
    # Bulk: the broker has the word rows. faust flushes its producer (the totals and top
    # rows, and every row under exactly_once) before it commits the acks.
    for event in held.events:
        event.ack()


async def _write_through(rows: dict[str, Row], generation: int) -> int | None:
    """Write `rows` with faust's `Table.__setitem__`; the count, or None if revoked.

    Each row queues a changelog record in faust's producer buffer, which sends them one
    at a time; it pauses whenever `LIVE_CHANGELOG_BACKLOG` records wait, which bounds
    that buffer's memory, and hands the event loop over every `LIVE_TURN_ITEMS` rows.
    """
    buffer = app.producer.buffer
    backlog = settings.live_changelog_backlog
    written = 0
    async for word, row in in_turns(rows.items(), settings.live_turn_items):
        if buffer.size >= backlog:
            while buffer.size >= backlog // 2:
                await buffer.flush_atmost(backlog // 2)
        if write_behind.generation != generation:
            # Revoked meanwhile (a row written now would go to a partition another
            # worker owns): the rest is replayed by the new owner.
            ROWS_WRITTEN.inc(written)
            return None
        word_table[word] = row
        written += 1
    return written


# The key of the empty update a clean stop sends to each table partition it owns: its
# arrival means every update sent before it has been folded, and writes them all.
DRAIN = b"drain"
drained: dict[int, asyncio.Event] = {}


@app.agent(updates_topic)
async def apply_updates(stream: StreamT[bytes]) -> None:
    """Fold each update into its rows (replayed entries skipped); write rows behind."""
    async for event in cast(Stream[bytes], stream).noack().events():
        now = time.monotonic()
        partition = event.message.partition
        if event.key == DRAIN:
            await _flush(partition)
            event.ack()
            if (waiter := drained.get(partition)) is not None:
                waiter.set()
            continue
        if event.value == counting.TICK and not write_behind.holds(partition):
            event.ack()  # nothing held before it: acking it cannot pass an unacked event
            continue
        if not await _apply_update(event, now):
            continue
        if write_behind.due(partition, now):
            await _flush(partition)


async def _settle_held(partition: int, highwater: int | None) -> None:
    """Count held messages once the high watermark says their log is a new one.

    Messages below the last offset taken wait for a verdict; when the high watermark was
    unknown as they arrived and no later message comes (a short new log), only a later
    look at it decides.
    """
    lineage = lineages.get(partition)
    if lineage is None or not lineage.held:
        return
    last_event = lineage.held[-1][1][1]
    out = lineage.settle(highwater)
    if not out.regressed:
        return
    LOG_RESTARTS.inc()
    GENERATION.labels(str(partition)).set(lineage.gen)
    log.warning(
        "live: partition %d ends at %s, below the last offset taken: counting generation %d "
        "as new messages",
        partition,
        highwater,
        lineage.gen,
    )
    generation = write_behind.generation
    taken = {Source(lineage.gen, partition): [r for r, _ in out.taken]}
    if not await _send_batch(taken, generation):
        return  # revoked meanwhile: the events stay unacked and come again
    _store_lineage(partition, last_event)
    _settle(out.taken, [])  # sent: ack their events


# Source partitions seen with the consumer past the log's end, and how many checks in a row.
_past_end: dict[int, int] = {}


@app.timer(interval=2.0)
async def follow_replaced_logs() -> None:
    """Read a source partition from its start when the consumer is past the log's end.

    A topic deleted and created again under a running worker leaves the consumer at its
    old position: Kafka answers that fetch OFFSET_OUT_OF_RANGE and the consumer resets,
    but the dev broker answers with no records and no error, so the new log would stay
    unread until it grew past the old position. Two checks in a row (the high watermark
    comes from the last fetch) make it a replaced log; `count_batches`' lineage then
    counts it as a new generation.
    """
    topic = source_topic.get_topic_name()
    for tp in [tp for tp in app.consumer.assignment() if tp.topic == topic]:
        # A rebalance may revoke the partition between two awaits; the consumer then
        # refuses to answer for it (and a timer's exception would crash the worker).
        if app.rebalancing or tp not in app.consumer.assignment():
            return
        try:
            highwater = app.consumer.highwater(tp)
            await _settle_held(tp.partition, highwater)
            position = await app.consumer.position(tp)
        except (AssertionError, IllegalStateError):
            return
        if highwater is None or position is None or position <= highwater:
            _past_end.pop(tp.partition, None)
            continue
        _past_end[tp.partition] = _past_end.get(tp.partition, 0) + 1
        if _past_end[tp.partition] >= 2:
            del _past_end[tp.partition]
            log.warning(
                "live: partition %d: the consumer is at offset %d but the log ends at %d "
                "(topic recreated?): reading it from the start",
                tp.partition,
                position,
                highwater,
            )
            await app.consumer.seek(tp, 0)


@app.timer(interval=settings.live_flush_interval_ms / 1000)
async def tick_quiet_partitions() -> None:
    """Send a TICK to each partition holding rows past the flush interval.

    Without it, rows changed just before the input went quiet would stay unwritten, and
    their update records unacked (so replayed after any restart), until the next update
    of that partition, however long that takes.
    """
    if app.in_transaction:
        # exactly_once: sends belong to the transaction of a consumed event; a timer has
        # none. Rows then wait for the partition's next update (replays stay no-ops).
        return
    for partition in write_behind.overdue(time.monotonic()):
        TICKS_SENT.inc()
        await _send_update(b"tick", counting.TICK, partition)


# mode types handlers with an unparameterised TypeVar that no function satisfies.
@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _forget_unwritten(
    sender: Any, *args: Any, signal: BaseSignalT[Any], **kwargs: Any
) -> None:
    """Partitions may move: drop unwritten rows (their unacked updates get replayed) and
    the lineages in memory (reloaded from the table by the partitions' next owner)."""
    ROWS_DROPPED.inc(write_behind.drop())
    lineages.clear()  # unsettled events stay unacked: the partitions' next owner replays them
    _unsettled.clear()
    tops.forget()


def _owned(topic: str) -> list[int]:
    return sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)


async def _drain() -> None:
    """Before the worker stops: count what it consumed and write every row it holds.

    Stop taking source messages; wait until every message fetched was sent as updates;
    send a DRAIN record to each table partition this worker owns and wait until each
    arrives, which writes that partition's rows (and acks their updates) behind all
    earlier updates. Whatever is left then (a bound of LIVE_DRAIN_SECONDS) is replayed
    from Kafka by the next owner. A memory-only dev broker keeps nothing over a
    restart, so there a drained stop is the only one that loses nothing.
    """
    if app.in_transaction or not app.consumer.assignment():
        return
    started = time.monotonic()
    deadline = started + settings.live_drain_seconds
    source = [tp for tp in app.consumer.assignment() if tp.topic == source_topic.get_topic_name()]
    app.consumer.pause_partitions(source)
    while time.monotonic() < deadline:
        try:
            positions = {tp: await app.consumer.position(tp) for tp in source}
        except IllegalStateError:
            break  # revoked meanwhile: its next owner replays what was not counted
        if all(
            pos is None or counted.get(tp.partition, -1) + 1 >= pos for tp, pos in positions.items()
        ):
            break
        await asyncio.sleep(0.05)
    mine = _owned(updates_topic.get_topic_name())
    drained.clear()
    drained.update({p: asyncio.Event() for p in mine})
    for p in mine:
        await _send_update(DRAIN, counting.TICK, p)
    await app.producer.flush()
    waits = [asyncio.create_task(e.wait()) for e in drained.values()]
    if waits:
        _, late = await asyncio.wait(waits, timeout=max(0.0, deadline - time.monotonic()))
        for task in late:
            task.cancel()
        if late:
            log.warning(
                "live: stopping with %d table partition(s) not drained after %d s; their "
                "updates are replayed from Kafka (LIVE_DRAIN_SECONDS)",
                len(late),
                settings.live_drain_seconds,
            )
    await app.commit(None)  # type: ignore[arg-type]
    log.info("live: drained in %.1f s", time.monotonic() - started)


before_stop.append(_drain)
