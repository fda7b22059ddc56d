"""The sink's accounting: offsets to commit to Kafka, bytes waiting for HDFS (no server)."""

from __future__ import annotations

from streamapp.archive.ledger import CommitLedger


def test_the_offset_to_commit_is_the_one_after_the_last_archived_and_only_moves_forward() -> None:
    ledger = CommitLedger()
    ledger.done(0, gen=0, last=9)
    assert ledger.take_unsent({0}) == {0: 10}
    assert ledger.take_unsent({0}) == {}  # sent: nothing new to commit
    ledger.done(0, gen=0, last=19)
    assert ledger.take_unsent({0}) == {0: 20}
    ledger.done(0, gen=0, last=5)  # an older batch of the same generation, acknowledged late
    assert ledger.take_unsent({0}) == {}


def test_a_newer_generation_restarts_the_offsets_and_an_older_one_is_ignored() -> None:
    ledger = CommitLedger()
    ledger.done(0, gen=0, last=99)
    ledger.done(0, gen=1, last=3)  # offsets went back: topic recreated
    assert ledger.take_unsent({0}) == {0: 4}
    ledger.done(0, gen=0, last=200)
    assert ledger.take_unsent({0}) == {}


def test_offsets_of_partitions_no_longer_owned_are_dropped() -> None:
    ledger = CommitLedger()
    ledger.done(1, gen=0, last=10)
    ledger.done(2, gen=0, last=20)
    assert ledger.take_unsent({1}) == {1: 11}
    assert ledger.take_unsent({1, 2}) == {}  # partition 2's next owner recovers it from HDFS


def test_forgotten_offsets_let_a_new_assignment_start_lower() -> None:
    ledger = CommitLedger()
    ledger.done(0, gen=0, last=50)
    ledger.forget_offsets()
    assert ledger.take_unsent({0}) == {}
    ledger.done(0, gen=0, last=10)  # replayed from the committed Kafka offset
    assert ledger.take_unsent({0}) == {0: 11}


def test_pending_bytes_count_sealed_batches_until_released() -> None:
    ledger = CommitLedger()
    ledger.sealed(100)
    ledger.sealed(50)
    ledger.released(100)
    assert ledger.pending_bytes == 50
