"""The commit protocol killed at every step: recovery + replay leaves each offset once."""

from __future__ import annotations

import contextlib
import json
from collections import Counter

import pytest

from streamapp.archive.core import (
    Committed,
    PartitionLog,
    Record,
    RotationPolicy,
    encode_record,
    parse_data_file_path,
    utc_date,
)
from streamapp.archive.store import ArchiveStore, CommitProgress
from tests.archive.fakehdfs import Crash, FakeHdfs

ROOT, REJECTED = "/data/ok", "/data/bad"
T0 = 1_764_028_800_000
POLICY = RotationPolicy(max_records=4, max_bytes=10**9, max_seconds=10**9)


def messages(n: int, salt: bytes = b"") -> list[Record]:
    """n messages, every third one not valid UTF-8, timestamps alternating across midnight.

    So a batch commits up to four files (valid and rejected, two dates), and a crash
    can fall between any two of their uploads or renames.
    """

    def ts(o: int) -> int:
        return T0 + o if o % 2 else T0 - 1 - o

    return [
        encode_record(0, o, ts(o), None, (b"\xff%d" if o % 3 == 2 else b"m%d") % o + salt)
        for o in range(n)
    ]


def run(fs: FakeHdfs, log: list[Record], kafka_from: int) -> int:
    """One worker life: recover, consume from `kafka_from`, commit; returns the acked offset."""
    store = ArchiveStore("http://unused", "u", ROOT, REJECTED, client_factory=lambda: fs)
    committed = store.recover("t", 0)
    plog: PartitionLog[int] = PartitionLog("t", 0, committed, POLICY)
    acked = kafka_from
    for r in log[kafka_from:]:
        step = plog.offer(r, r.offset, 0.0, len(log))
        for batch in step.sealed:
            committed = store.commit(committed, batch, CommitProgress(), lambda: False)
            acked = max(acked, batch.last + 1)
        if step.acks:
            acked = max(acked, max(step.acks) + 1)
    if (last := plog.seal()) is not None:
        committed = store.commit(committed, last, CommitProgress(), lambda: False)
        acked = last.last + 1
    return acked


def archived(fs: FakeHdfs) -> Counter[tuple[int, int]]:
    """(gen, offset) of every line of every committed file, read back."""
    seen: Counter[tuple[int, int]] = Counter()
    for path, content in fs.files.items():
        f = parse_data_file_path(path)
        if f is None:
            continue
        for line in content.splitlines():
            obj = json.loads(line)
            assert f.first <= obj["offset"] <= f.last
            assert utc_date(obj["timestamp"]) == f.date
            seen[(f.gen, obj["offset"])] += 1
    return seen


def count_mutations(n: int) -> int:
    fs = FakeHdfs()
    run(fs, messages(n), 0)
    return fs.mutations


@pytest.mark.parametrize("torn", [False, True])
def test_crash_at_every_step_then_restart_archives_each_offset_once(torn: bool) -> None:
    log = messages(10)
    for crash_at in range(count_mutations(10)):
        fs = FakeHdfs(crash_at=crash_at, torn=torn)
        with pytest.raises(Crash):
            run(fs, log, 0)
        fs.crash_at = None
        # Kafka's committed offset lags the archive (nothing was acked here): replay all.
        run(fs, log, 0)
        assert archived(fs) == Counter({(0, o): 1 for o in range(10)}), crash_at


def test_crash_during_recovery_roll_forward_is_recovered_by_the_next_start() -> None:
    log = messages(10)
    for crash_at in range(count_mutations(10)):
        fs = FakeHdfs(crash_at=crash_at)
        with pytest.raises(Crash):
            run(fs, log, 0)
        for second_crash in range(3):
            fs.crash_at, fs.mutations = second_crash, 0
            with contextlib.suppress(Crash):
                run(fs, log, 0)
        fs.crash_at = None
        run(fs, log, 0)
        assert archived(fs) == Counter({(0, o): 1 for o in range(10)}), crash_at


def test_retried_commit_resumes_after_the_steps_that_succeeded() -> None:
    fs = FakeHdfs()
    store = ArchiveStore("http://unused", "u", ROOT, REJECTED, client_factory=lambda: fs)
    plog: PartitionLog[int] = PartitionLog("t", 0, store.recover("t", 0), POLICY)
    for r in messages(3):
        plog.offer(r, r.offset, 0.0, None)
    batch = plog.seal()
    assert batch is not None
    progress = CommitProgress()
    previous = Committed(0, None, None, -1)
    for fail_at in range(6):
        fs.crash_at, fs.mutations = fail_at, 0
        try:
            result = store.commit(previous, batch, progress, lambda: False)
            break
        except Crash:
            continue
    assert result.last == 2
    assert archived(fs) == Counter({(0, o): 1 for o in range(3)})


def test_recreated_topic_goes_to_a_new_generation_and_keeps_the_old_one() -> None:
    fs = FakeHdfs()
    run(fs, messages(10), 0)
    newer = messages(6, salt=b"-recreated")
    run(fs, newer, 0)
    assert archived(fs) == Counter(
        {**{(0, o): 1 for o in range(10)}, **{(1, o): 1 for o in range(6)}}
    )
    # A restart replaying the new topic from its start stays in generation 1, once.
    run(fs, newer, 0)
    assert max(gen for gen, _ in archived(fs)) == 1
    assert sum(archived(fs).values()) == 16
