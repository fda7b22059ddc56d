"""Bulk writes of one faust table partition's rows, past faust's per-record path.

A faust `Table.__setitem__` encodes the row, puts it in the partition's RocksDB and
queues its changelog record in faust's producer buffer, which sends one record at a
time and, once the broker has it, records its offset in the same RocksDB
(`Table._on_changelog_sent` -> `Store.set_persisted_offset`): a restart reads the
changelog from there. At a large vocabulary that path was ~1,000 rows/s (docs/live.md).

`write_rows` keeps each of those guarantees and pays for them per batch:

- the changelog stays the recovery source: every row goes to the table's changelog
  topic and partition with the store's own key/value encoding (what faust's recovery
  and standbys copy into RocksDB byte for byte), in aiokafka record batches, and the
  call returns only once the broker has acknowledged all of them;
- then the rows and the highest changelog offset written go to the partition's RocksDB
  in one write batch (`Store.apply_changelog_batch` writes a standby's rows the same
  way), so the store never holds a row its changelog lacks and the persisted offset
  never points past what the store holds;
- faust's key -> partition index (the store's only cache) learns the keys as `_set`
  would teach it.

faust-streaming internals used: `Store._encode_key/_encode_value`, `offset_key`,
`_db_for_partition`, `_key_index`, `use_rocksdict`, and the faust producer's aiokafka
producer (`_ensure_producer`). Not for `exactly_once`: the records would not be part of
the transaction (agents._flush keeps faust's path there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import rocksdict

from streamapp.live.turns import in_turns


async def write_rows(
    table: Any,
    partition: int,
    rows: Mapping[Any, Any],
    owned: Callable[[], bool],
    turn_items: int,
) -> int | None:
    """Write `rows` to `table`'s `partition`: changelog first, then RocksDB; rows are
    encoded `turn_items` per event-loop turn (`streamapp.live.turns`).

    Returns the highest changelog offset written (-1 for no rows), or None when `owned()`
    turned false while the records were on their way (the partition was revoked): then
    nothing is written locally and the partition's next owner recovers from the changelog
    and replays the unacked updates.
    """
    if not rows:
        return -1
    store = table.data
    if not store.use_rocksdict:
        raise TypeError(f"{table.name}: bulk writes need faust's rocksdict store")
    topic = table.changelog_topic.get_topic_name()
    producer = table.app.producer._ensure_producer()  # aiokafka's AIOKafkaProducer
    encode_key, encode_value = store._encode_key, store._encode_value
    local = rocksdict.WriteBatch(raw_mode=True)
    keys: list[bytes] = []
    sent: list[tuple[asyncio.Future[Any], int]] = []  # (delivery, records in the batch)
    batch = producer.create_batch()
    async for key, value in in_turns(rows.items(), turn_items):
        k, v = encode_key(key), encode_value(value)
        keys.append(k)
        local.put(k, v)
        if batch.append(key=k, value=v, timestamp=None) is None:
            # Full: on its way (send_batch waits while one batch of this partition is
            # queued, which bounds the memory), and the row starts the next one.
            future = await producer.send_batch(batch, topic, partition=partition)
            sent.append((future, batch.record_count()))
            if not owned():
                return None
            batch = producer.create_batch()
            if batch.append(key=k, value=v, timestamp=None) is None:
                raise ValueError(f"a {table.name} row does not fit in a producer batch: {key!r}")
    batch.close()  # a closed batch goes out at once, without the producer's linger
    future = await producer.send_batch(batch, topic, partition=partition)
    sent.append((future, batch.record_count()))
    delivered = await asyncio.gather(*(future for future, _ in sent))
    if not owned():
        return None
    # A batch's future carries its first record's offset; its records follow it.
    offset = max(meta.offset + n - 1 for meta, (_, n) in zip(delivered, sent, strict=True))
    local.put(store.offset_key, str(offset).encode())  # as Store.set_persisted_offset
    # In a thread: a write of tens of thousands of rows takes ~0.1 s, and rocksdict lets
    # go of the GIL meanwhile, so the event loop answers views. A revocation meanwhile
    # does not close the database (faust's store only forgets it); the rows are those
    # the changelog has, so the local store stays consistent with it either way.
    await asyncio.to_thread(store._db_for_partition(partition).write, local)
    # An LRU of key_index_size keys: the keys written last are what remains of them.
    index = store._key_index
    for k in keys[-store.key_index_size :]:
        index[k] = partition
    return offset
