"""Rotation, replay skipping and offset-regression detection of one partition."""

from __future__ import annotations

from streamapp.archive.core import (
    Committed,
    PartitionLog,
    Record,
    RotationPolicy,
    decode_line,
    encode_record,
)

DAY = 86_400_000
T0 = 1_764_028_800_000  # 2025-11-25T00:00:00Z
BIG = RotationPolicy(max_records=10**9, max_bytes=10**12, max_seconds=10**9)
NEW = Committed(gen=0, last=None, fingerprint=None, seq=-1)


def rec(offset: int, ts: int = T0, value: bytes = b"v") -> Record:
    return encode_record(0, offset, ts, None, value)


def feed(plog: PartitionLog[int], records: list[Record], highwater: int | None = None) -> tuple:
    acks, sealed = [], []
    for r in records:
        step = plog.offer(r, r.offset, 0.0, highwater)
        acks += step.acks
        sealed += step.sealed
    return acks, sealed


def test_rotation_by_record_count() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(3, 10**9, 10**9))
    _, sealed = feed(plog, [rec(o) for o in range(7)])
    assert [(b.first, b.last) for b in sealed] == [(0, 2), (3, 5)]
    assert [b.tokens for b in sealed] == [[0, 1, 2], [3, 4, 5]]
    assert plog.open is not None and plog.open.first == 6


def test_rotation_by_bytes() -> None:
    line = len(rec(0).line)
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(10**9, 2 * line, 10**9))
    _, sealed = feed(plog, [rec(o) for o in range(5)])
    assert [(b.first, b.last) for b in sealed] == [(0, 1), (2, 3)]
    assert all(b.nbytes >= 2 * line for b in sealed)


def test_rotation_by_age_only_when_due() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(10**9, 10**9, 30))
    plog.offer(rec(0), 0, 100.0, None)
    assert plog.tick(129.0) is None
    batch = plog.tick(130.0)
    assert batch is not None and batch.tokens == [0]
    assert plog.tick(1000.0) is None


def test_idle_batch_is_sealed_after_the_quiet_period_not_the_age() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(10**9, 10**9, 120, 2))
    plog.offer(rec(0), 0, 100.0, None)
    plog.offer(rec(1), 1, 101.5, None)
    # Records keep coming: quiet for less than 2 s since the last one, nothing sealed.
    assert plog.tick(103.0) is None
    batch = plog.tick(103.5)
    assert batch is not None and batch.tokens == [0, 1]
    assert plog.tick(200.0) is None


def test_a_steady_trickle_is_sealed_by_age_not_idleness() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(10**9, 10**9, 5, 2))
    sealed = []
    for o in range(20):
        now = 100.0 + o  # one record a second: never idle for 2 s
        plog.offer(rec(o), o, now, None)
        if (b := plog.tick(now + 0.5)) is not None:
            sealed.append(b.tokens)
    assert sealed[:2] == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_a_file_holds_one_utc_date() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, BIG)
    feed(plog, [rec(0, T0 - 2), rec(1, T0 - 1), rec(2, T0), rec(3, T0 + DAY)])
    batch = plog.seal()
    assert batch is not None
    names = [final.rsplit("/", 2)[1:] for _, final, _ in batch.files("/ok", "/bad")]
    assert names == [
        ["date=2025-11-24", "t+0+00000000000000000000+00000000000000000001.jsonl"],
        ["date=2025-11-25", "t+0+00000000000000000002+00000000000000000002.jsonl"],
        ["date=2025-11-26", "t+0+00000000000000000003+00000000000000000003.jsonl"],
    ]


def test_timestamps_alternating_across_midnight_do_not_split_the_batch() -> None:
    # Producers' clocks differ: records on both sides of midnight interleave. Each
    # date change used to seal a file, i.e. one tiny file (and commit) per message.
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, RotationPolicy(100, 10**12, 10**9))
    records = [rec(o, T0 - 1 if o % 2 else T0) for o in range(250)]
    _, sealed = feed(plog, records)
    assert [(b.first, b.last) for b in sealed] == [(0, 99), (100, 199)]
    files = sealed[0].files("/ok", "/bad")
    assert [final.split("/")[3] for _, final, _ in files] == ["date=2025-11-24", "date=2025-11-25"]
    lines = [content.splitlines() for _, _, content in files]
    offsets = [[decode_line(line)["offset"] for line in part] for part in lines]
    assert offsets == [list(range(1, 100, 2)), list(range(0, 100, 2))]


def test_batch_files_split_valid_and_rejected_records() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, BIG)
    feed(plog, [rec(0), rec(1, value=b"\xff"), rec(2), rec(3, value=b"\xfe")])
    batch = plog.seal()
    assert batch is not None
    files = batch.files("/data/ok", "/data/bad")
    assert [final for _, final, _ in files] == [
        "/data/ok/gen=0/date=2025-11-25/t+0+00000000000000000000+00000000000000000002.jsonl",
        "/data/bad/gen=0/date=2025-11-25/t+0+00000000000000000001+00000000000000000003.jsonl",
    ]
    assert all("/_tmp/" in tmp for tmp, _, _ in files)
    assert [content.count(b"\n") for _, _, content in files] == [2, 2]


def resumed(last: int, records: list[Record]) -> PartitionLog[int]:
    fp = next(r.fingerprint for r in records if r.offset == last)
    return PartitionLog("t", 0, Committed(0, last, fp, 4), BIG)


def test_replayed_messages_are_held_until_verified_then_acked_not_archived() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(6, old)
    acks, sealed = feed(plog, old[3:6], highwater=10)
    assert acks == [] and len(plog.verifying) == 3
    acks, _ = feed(plog, old[6:], highwater=10)
    batch = plog.seal()
    assert acks == [3, 4, 5, 6] and sealed == []
    assert batch is not None and batch.tokens == [7, 8, 9] and batch.gen == 0


def test_resuming_exactly_after_the_last_committed_offset_needs_no_verification() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(6, old)
    acks, _ = feed(plog, old[7:], highwater=10)
    assert acks == [] and plog.open is not None and plog.open.tokens == [7, 8, 9]


def test_log_shorter_than_the_archive_is_a_regression_at_once() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(9, old)
    new = [rec(o, T0 + 5, b"new") for o in range(3)]
    acks, _ = feed(plog, new, highwater=3)
    assert acks == [] and plog.gen == 1
    assert plog.open is not None and plog.open.tokens == [0, 1, 2] and plog.open.gen == 1


def test_different_message_at_the_last_committed_offset_is_a_regression() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(5, old)
    new = [rec(o, T0 + 5, b"new") for o in range(8)]
    acks, _ = feed(plog, new, highwater=100)
    assert acks == [] and plog.gen == 1
    assert plog.open is not None and plog.open.tokens == list(range(8))


def test_log_that_skips_the_last_committed_offset_is_a_replay() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(5, old)
    acks, _ = feed(plog, [old[2], old[3], old[7]], highwater=100)
    assert acks == [2, 3] and plog.gen == 0
    assert plog.open is not None and plog.open.tokens == [7]


def test_log_replaced_within_a_session_seals_the_old_generation_first() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, BIG)
    feed(plog, [rec(o) for o in range(5)], highwater=5)
    _, sealed = feed(plog, [rec(0, T0 + 9, b"new"), rec(1, T0 + 9)], highwater=2)
    assert [(b.gen, b.first, b.last) for b in sealed] == [(0, 0, 4)]
    assert plog.gen == 1 and plog.open is not None and plog.open.tokens == [0, 1]


def test_seek_back_within_a_session_is_a_replay_whose_copies_are_dropped() -> None:
    # faust seeks back to the committed offset when its flow stops, without a rebalance.
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, BIG)
    old = [rec(o) for o in range(8)]
    feed(plog, old[:6], highwater=8)
    acks, sealed = feed(plog, old[2:8], highwater=8)
    assert acks == [] and sealed == [] and plog.gen == 0
    assert plog.open is not None and plog.open.tokens == list(range(8))


def test_seek_back_over_messages_archived_before_the_session_acks_those_only() -> None:
    old = [rec(o) for o in range(10)]
    plog = resumed(3, old)
    feed(plog, old[4:7], highwater=10)
    acks, _ = feed(plog, old[1:8], highwater=10)
    assert acks == [1, 2, 3] and plog.gen == 0
    assert plog.open is not None and plog.open.tokens == [4, 5, 6, 7]


def test_different_message_after_a_seek_back_within_a_session_is_a_regression() -> None:
    plog: PartitionLog[int] = PartitionLog("t", 0, NEW, BIG)
    feed(plog, [rec(o) for o in range(5)], highwater=5)
    new = [rec(o, T0 + 9, b"new") for o in range(6)]
    acks, sealed = feed(plog, new, highwater=50)
    assert acks == [] and [(b.gen, b.last) for b in sealed] == [(0, 4)]
    assert plog.gen == 1 and plog.open is not None and plog.open.tokens == list(range(6))
