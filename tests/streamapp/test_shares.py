"""Which share a view uses per table partition (streamapp.shares, pure)."""

from __future__ import annotations

from typing import Any

from streamapp.shares import Share, pick


def share(partition: int, replica: bool, behind: int | None = 0, **data: Any) -> Share:
    return Share(partition=partition, replica=replica, behind=behind, data=data)


def test_an_owner_wins_over_any_replica_and_the_answer_is_not_behind() -> None:
    owner = [share(0, False, count=7), share(1, False, count=3)]
    standby = [share(0, True, 0, count=5), share(1, True, 0, count=2)]
    picked = pick([standby, owner], range(2))
    assert picked.missing == []
    assert [s["data"]["count"] for s in picked.shares.values()] == [7, 3]
    assert picked.behind() is None


def test_a_partition_without_owner_is_read_from_the_replica_least_behind() -> None:
    survivor = [share(0, False, count=7), share(1, True, 4, count=2)]
    other = [share(1, True, None, count=1), share(1, True, 9, count=0)]
    picked = pick([survivor, other], range(2))
    assert picked.shares[1]["data"]["count"] == 2
    assert picked.behind() == {"partitions": [1], "offsets": 4}


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
