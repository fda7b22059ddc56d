"""Which worker's answer a view uses for each table partition (pure: no faust here).

Each worker answers the views' internal `/_local/*` requests with one *share* per table
partition it can read: as the partition's ready owner (its table rows plus the rows the
write-behind still holds), or as a *replica*: a standby copy, or the copy of a partition
it is still taking over, which holds what the partition's changelog held when this
worker last read it, so possibly behind. A view takes, per partition, the owner's share,
else the replica that has applied the most of the partition's changelog, and says which
partitions came from replicas and by how many changelog records. Replicas are ranked by
what they applied, not by their lag: a worker knows its lag only while the changelog
partition is assigned to its consumer, and mid-rebalance a copy that is current but
cannot tell its lag must not lose to a copy that is still restoring and knows it is
hundreds of records behind. A partition no worker can read is *missing*, and one two workers
both claim to own (mid-rebalance) is *twice*: the view answers 503 rather than count
the first as 0 or guess which owner is current. See docs/live.md, "Failover".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict


class Share(TypedDict):
    """One table partition's part of a worker's `/_local/*` answer."""

    partition: int
    # True: read from a local copy that is not the partition's ready owner.
    replica: bool
    # A replica's changelog records not applied yet (None: unknown); 0 for an owner.
    behind: int | None
    # A replica's position: the changelog offsets its copies applied, summed over the
    # tables read (None: unknown, or an owner). Comparable between workers' copies of
    # the same partition. Absent in answers of workers from before it (read as None).
    applied: int | None
    # What the view asked for from this partition (top words, totals row, a word's row).
    data: dict[str, Any]


class Behind(TypedDict):
    """The `behind` member of a view's answer when some partitions came from replicas."""

    partitions: list[int]
    # Changelog records those replicas had not applied, summed (None: some unknown).
    offsets: int | None


def _rank(share: Share) -> tuple[int, float, float]:
    """Lower is better: an owner first, then the replica that applied the most (unknown
    last), then the one least behind (unknown last)."""
    if not share["replica"]:
        return (0, 0.0, 0.0)
    applied, behind = share.get("applied"), share["behind"]
    return (
        1,
        float("inf") if applied is None else -float(applied),
        float("inf") if behind is None else float(behind),
    )


@dataclass(frozen=True)
class Picked:
    """The share a view uses for each table partition, and the partitions nobody holds."""

    shares: dict[int, Share]
    missing: list[int]
    # Partitions two workers both claim to own (they learn of a new assignment at
    # different moments): neither answer is known to be the whole truth.
    twice: list[int]

    def behind(self) -> Behind | None:
        """Which partitions came from replicas and how far behind; None if none did."""
        replicas = sorted(p for p, s in self.shares.items() if s["replica"])
        if not replicas:
            return None
        offsets: int | None = 0
        for p in replicas:
            behind = self.shares[p]["behind"]
            offsets = None if offsets is None or behind is None else offsets + behind
        return {"partitions": replicas, "offsets": offsets}


def pick(answers: Iterable[Iterable[Share]], partitions: Iterable[int]) -> Picked:
    """For each of `partitions`, the best share any answer holds (see the module doc)."""
    best: dict[int, Share] = {}
    owners: Counter[int] = Counter()
    for answer in answers:
        for share in answer:
            p = share["partition"]
            owners[p] += not share["replica"]
            if p not in best or _rank(share) < _rank(best[p]):
                best[p] = share
    wanted = sorted(partitions)
    return Picked(
        {p: best[p] for p in wanted if p in best},
        [p for p in wanted if p not in best],
        [p for p in wanted if owners[p] > 1],
    )
