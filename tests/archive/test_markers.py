"""Marker encoding, slot choice and recovery decisions of the archive."""

from __future__ import annotations

import pytest

from streamapp.archive.core import (
    ArchiveStateError,
    Committed,
    Marker,
    Pending,
    choose_marker,
    decode_marker,
    encode_marker,
    marker_slot,
    plan_recovery,
)

PENDING = Pending(
    last=99,
    fingerprint="ff00",
    renames=(
        ("/r/_tmp/a", "/r/gen=0/date=2026-01-01/a"),
        ("/x/_tmp/b", "/x/gen=0/date=2026-01-01/b"),
    ),
)
MARKER = Marker(seq=7, gen=1, last=49, fingerprint="aa11", pending=PENDING)


def test_marker_round_trips() -> None:
    assert decode_marker(encode_marker(MARKER)) == MARKER
    clean = Marker(seq=0, gen=0, last=None, fingerprint=None)
    assert decode_marker(encode_marker(clean)) == clean


def test_every_torn_marker_write_is_recognised_as_invalid() -> None:
    data = encode_marker(MARKER)
    for cut in range(len(data)):
        assert decode_marker(data[:cut]) is None


def test_the_newest_valid_slot_wins_and_a_torn_newest_falls_back() -> None:
    older = encode_marker(Marker(seq=6, gen=1, last=10, fingerprint="x"))
    newer = encode_marker(MARKER)
    assert choose_marker([older, newer]) == MARKER
    assert choose_marker([newer, older]) == MARKER
    fallback = choose_marker([older, newer[:-3]])
    assert fallback is not None and fallback.seq == 6
    assert choose_marker([None, None]) is None


def test_consecutive_markers_alternate_slots() -> None:
    assert {marker_slot(7), marker_slot(8)} == {0, 1}


def test_a_new_partition_starts_at_generation_zero_with_nothing_committed() -> None:
    plan = plan_recovery(None, {}, {})
    assert plan.committed == Committed(gen=0, last=None, fingerprint=None, seq=-1)
    assert plan.roll_forward == ()


def test_marker_without_pending_batch_is_taken_as_is() -> None:
    m = Marker(seq=3, gen=2, last=5, fingerprint="f")
    assert plan_recovery(m, {}, {}).committed == Committed(2, 5, "f", 3)


def test_pending_batch_whose_files_are_all_renamed_is_committed() -> None:
    finals = {final: True for _, final in PENDING.renames}
    plan = plan_recovery(MARKER, finals, {})
    assert plan.committed == Committed(1, 99, "ff00", 7)
    assert plan.roll_forward == ()


def test_pending_batch_with_uploaded_tmps_is_rolled_forward() -> None:
    (tmp_a, final_a), (tmp_b, final_b) = PENDING.renames
    plan = plan_recovery(MARKER, {final_a: True, final_b: False}, {tmp_b: True})
    assert plan.roll_forward == ((tmp_b, final_b),)
    assert plan.committed.last == 99
    plan = plan_recovery(MARKER, {}, {tmp_a: True, tmp_b: True})
    assert plan.roll_forward == PENDING.renames


def test_pending_batch_with_no_file_left_is_not_committed() -> None:
    plan = plan_recovery(MARKER, {}, {})
    assert plan.committed == Committed(1, 49, "aa11", 7)
    assert plan.roll_forward == ()


def test_half_renamed_batch_whose_other_file_vanished_is_an_error() -> None:
    (_, final_a), _ = PENDING.renames
    with pytest.raises(ArchiveStateError, match="restore them"):
        plan_recovery(MARKER, {final_a: True}, {})
