"""Which share a view uses per table partition (streamapp.live.shares, pure)."""

from __future__ import annotations

from typing import Any

from streamapp.live.shares import Share, pick


def share(
    partition: int,
    replica: bool,
    behind: int | None = 0,
    applied: int | None = None,
    **data: Any,
) -> Share:
    return Share(partition=partition, replica=replica, behind=behind, applied=applied, data=data)


def test_an_owner_wins_over_any_replica_and_the_answer_is_not_behind() -> None:
    owner = [share(0, False, count=7), share(1, False, count=3)]
    standby = [share(0, True, 0, count=5), share(1, True, 0, count=2)]
    picked = pick([standby, owner], range(2))
    assert picked.missing == []
    assert [s["data"]["count"] for s in picked.shares.values()] == [7, 3]
    assert picked.behind() is None


def test_a_partition_without_owner_is_read_from_the_replica_that_applied_the_most() -> None:
    survivor = [share(0, False, count=7), share(1, True, 4, 290, count=2)]
    other = [share(1, True, None, None, count=1), share(1, True, 9, 285, count=0)]
    picked = pick([survivor, other], range(2))
    assert picked.shares[1]["data"]["count"] == 2
    assert picked.behind() == {"partitions": [1], "offsets": 4}


def test_a_current_copy_that_cannot_tell_its_lag_wins_over_a_restoring_one() -> None:
    # Mid-rebalance (churn test, 2026-12-03): one worker's copy of partition 0 had
    # applied the changelog up to 295 but its consumer no longer had the changelog
    # partition (lag unknown); a new standby had applied 2 records and knew it was 293
    # behind. Ranked by lag, the view answered the new standby's 0 for a counted word.
    current = [share(0, True, None, 295, count=5)]
    restoring = [share(0, True, 293, 2, count=0)]
    for answers in ([current, restoring], [restoring, current]):
        picked = pick(answers, range(1))
        assert picked.shares[0]["data"]["count"] == 5
        assert picked.behind() == {"partitions": [0], "offsets": None}


def test_equal_copies_are_ranked_by_their_lag_and_an_older_answer_ranks_last() -> None:
    older_worker: Share = {"partition": 0, "replica": True, "behind": 0, "data": {"count": 9}}  # type: ignore[typeddict-item]
    picked = pick([[share(0, True, 3, 40, count=1)], [share(0, True, 1, 40, count=2)]], [0])
    assert picked.shares[0]["data"]["count"] == 2
    picked = pick([[older_worker], [share(0, True, 5, 40, count=3)]], [0])
    assert picked.shares[0]["data"]["count"] == 3


def test_an_unknown_lag_makes_the_offsets_unknown() -> None:
    picked = pick([[share(0, True, None), share(1, True, 3)]], range(2))
    assert picked.behind() == {"partitions": [0, 1], "offsets": None}


def test_a_partition_nobody_holds_is_missing_not_zero() -> None:
    picked = pick([[share(0, False, count=1)], []], range(3))
    assert picked.missing == [1, 2]
    assert sorted(picked.shares) == [0]


def test_only_the_partitions_asked_for_count() -> None:
    picked = pick([[share(2, True, 1, count=4)]], [2])
    assert picked.missing == []
    assert picked.behind() == {"partitions": [2], "offsets": 1}


def test_a_partition_two_owners_claim_is_reported_not_guessed() -> None:
    # Mid-rebalance two workers may both think they own a partition.
    picked = pick([[share(0, False, count=5)], [share(0, False, count=7)]], range(1))
    assert picked.twice == [0]
    assert pick([[share(0, False)], [share(0, True, 2)]], range(1)).twice == []
