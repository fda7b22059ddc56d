"""Live counting agents and tables: thin faust edges around `streamapp.counting`.

`count_batches` reads `data_stream` in batches, pre-aggregates each batch into one
update per distinct word plus one totals update, and sends them to the internal update
topic, one record per table partition (a word's update goes to the partition that owns
the word); `apply_updates` folds them into the tables with the idempotent rule.
See docs/live.md.
"""

from __future__ import annotations

from collections import defaultdict

from faust.types import EventT, StreamT
from prometheus_client import Counter

from streamapp import counting
from streamapp.app import app, settings, source_topic

PARTITIONS = settings.live_partitions
IDEMPOTENT = bool(settings.live_idempotent)

updates_topic = app.topic(
    f"{settings.app_id}-live-updates",
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=PARTITIONS,
    internal=True,
)
dlq_topic = app.topic(settings.dlq_topic, key_type=bytes, value_type=bytes, value_serializer="raw")

# Rows are JSON documents (see counting.apply_word / apply_totals); a missing key is None.
word_table = app.Table("live-words", partitions=PARTITIONS, key_type=str)
totals_table = app.Table("live-totals", partitions=PARTITIONS, key_type=str)

MESSAGES = Counter("wordstream_live_messages", "Valid source messages counted (incl. replays)")
REJECTED = Counter("wordstream_live_rejected", "Non-UTF-8 messages sent to the dead-letter topic")
UPDATES_SENT = Counter("wordstream_live_updates_sent", "Pre-aggregated word/totals updates sent")
ENTRIES_APPLIED = Counter("wordstream_live_entries_applied", "Word occurrences added to tables")
ENTRIES_SKIPPED = Counter(
    "wordstream_live_entries_skipped", "Word occurrences skipped as replays (idempotency)"
)

_TOTALS_PARTITION = counting.partition_for(counting.TOTALS_KEY, PARTITIONS)


async def _send_update(key: bytes, value: bytes, partition: int) -> None:
    if app.in_transaction:
        # exactly_once: faust's send attaches the record to the consumer's transaction.
        await updates_topic.send(key=key, value=value, partition=partition)
        return
    # The producer directly otherwise: faust's per-send machinery is a hot-path cost.
    await app.producer.send(
        updates_topic.get_topic_name(), key, value, partition, timestamp=None, headers=None
    )


async def _send_batch(records: dict[int, list[counting.Record]]) -> None:
    batch = counting.aggregate(records)
    for partition, record in batch.rejected:
        await dlq_topic.send(
            key=record.key,
            value=record.value,
            headers={
                "source_partition": str(partition).encode(),
                "source_offset": str(record.offset).encode(),
            },
        )
    # One record per table partition: each word's update still lands in the partition
    # that owns the word, and faust's per-record cost is paid 4 times, not per word.
    grouped = counting.split_by_partition(batch, PARTITIONS)
    for partition in sorted({*grouped, _TOTALS_PARTITION}):
        totals = batch.totals if partition == _TOTALS_PARTITION else None
        payload = counting.encode_partition(grouped.get(partition, []), totals)
        await _send_update(str(partition).encode(), payload, partition)
    UPDATES_SENT.inc(len(batch.word_updates) + 1)
    REJECTED.inc(len(batch.rejected))
    MESSAGES.inc(sum(map(len, records.values())) - len(batch.rejected))


@app.agent(source_topic)
async def count_batches(stream: StreamT[bytes]) -> None:
    """Count source messages a batch at a time (events are acked after their batch is sent)."""
    within = settings.live_batch_within_ms / 1000
    # take_events (not in faust's StreamT interface) acks a batch after the loop body.
    batches = stream.take_events(settings.live_batch_max, within=within)  # type: ignore[attr-defined]
    async for events in batches:
        by_partition: dict[int, list[counting.Record]] = defaultdict(list)
        for event in events:
            m = event.message
            by_partition[m.partition].append(
                counting.Record(m.offset, round(m.timestamp * 1000), m.value, m.key)
            )
        await _send_batch(by_partition)


def _apply(event: EventT) -> None:
    """Fold one partition record into the rows (the event's partition owns every key in it)."""
    assert isinstance(event.value, bytes)  # the update topic's values are raw bytes
    by_word, totals = counting.decode_partition(event.value)
    retention = settings.live_hours_retention
    added = skipped = 0
    for word, parts in by_word.items():
        row, a, s = counting.apply_word(word_table.get(word), parts, IDEMPOTENT, retention)
        word_table[word] = row
        added, skipped = added + a, skipped + s
    if totals is not None:
        old = totals_table.get(counting.TOTALS_KEY)
        totals_row, _, _ = counting.apply_totals(old, totals, IDEMPOTENT, retention)
        totals_table[counting.TOTALS_KEY] = totals_row
    ENTRIES_APPLIED.inc(added)
    ENTRIES_SKIPPED.inc(skipped)


@app.agent(updates_topic)
async def apply_updates(stream: StreamT[bytes]) -> None:
    """Fold each update into its table row; replayed entries are skipped."""
    async for event in stream.events():
        _apply(event)
