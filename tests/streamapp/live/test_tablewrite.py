"""streamapp.live.tablewrite writes the bytes faust's own changelog path would send, and
writes RocksDB off the event loop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import rocksdict
from hypothesis import given
from hypothesis import strategies as st

from streamapp.live import tablewrite
from streamapp.live.agents import totals_table, word_table


@given(
    word=st.text(min_size=1),
    n=st.integers(min_value=0, max_value=2**53),
    marks=st.dictionaries(
        st.text(max_size=8),
        st.lists(st.integers(min_value=0, max_value=2**53), max_size=3),
        max_size=3,
    ),
)
def test_store_encoding_is_the_changelog_encoding(
    word: str, n: int, marks: dict[str, list[int]]
) -> None:
    # write_rows encodes each row once, with the store's encoders, for both RocksDB and
    # the changelog: recovery and standbys copy changelog bytes into RocksDB unchanged,
    # so they must be what faust's Table.__setitem__ would have sent.
    row = {"n": n, "m": marks}
    for table in (word_table, totals_table):
        key, _ = table.changelog_topic.prepare_key(word, table.key_serializer)
        value, _ = table.changelog_topic.prepare_value(row, table.value_serializer)
        assert table.data._encode_key(word) == key
        assert table.data._encode_value(row) == value


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes]] = []

    def append(self, key: bytes, value: bytes, timestamp: None) -> object:
        self.records.append((key, value))
        return object()  # room left

    def close(self) -> None:
        pass

    def record_count(self) -> int:
        return len(self.records)


class _Producer:
    """aiokafka's batch API: the broker puts the batch at offset 100."""

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> Any:
        future = asyncio.get_running_loop().create_future()
        future.set_result(SimpleNamespace(offset=100))
        return future


def test_the_local_write_runs_off_the_event_loop(tmp_path: Path) -> None:
    # A write batch of tens of thousands of rows takes ~0.1 s in RocksDB; rocksdict lets
    # go of the GIL meanwhile, so in a thread the event loop goes on answering views.
    db = rocksdict.Rdict(str(tmp_path / "db"), options=rocksdict.Options(raw_mode=True))
    writers: list[threading.Thread] = []

    class Db:
        def write(self, batch: rocksdict.WriteBatch) -> None:
            writers.append(threading.current_thread())
            db.write(batch)

    store = SimpleNamespace(
        use_rocksdict=True,
        _encode_key=lambda k: k.encode(),
        _encode_value=lambda v: str(v).encode(),
        offset_key=b"__offset__",
        _db_for_partition=lambda p: Db(),
        _key_index={},
        key_index_size=10,
    )
    table = SimpleNamespace(
        data=store,
        name="words",
        changelog_topic=SimpleNamespace(get_topic_name=lambda: "words-changelog"),
        app=SimpleNamespace(producer=SimpleNamespace(_ensure_producer=_Producer)),
    )
    rows = {"un": 1, "deux": 2}
    offset = asyncio.run(tablewrite.write_rows(table, 3, rows, lambda: True, turn_items=1))
    assert offset == 101  # two records from 100
    assert writers and writers[0] is not threading.main_thread()
    assert db[b"un"] == b"1" and db[b"deux"] == b"2" and db[b"__offset__"] == b"101"
    db.close()
