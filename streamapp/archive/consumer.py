"""The archive sink's Kafka consumer: its settings, and a watch on its group's leader.

A rebalance of the sink's group can wait forever on the dev broker (tansu). When the
group's leader leaves while the group is forming (a worker stopped cleanly just as
another joined), tansu removes the member but keeps it as the leader; it also never
evicts a member that stops heartbeating while the group is forming (a kill -9 at that
moment). Every other member then gets JoinGroup answers naming that leader and
SyncGroup answers "rebalance in progress", again and again: no member gets a partition
and the archive stops. Kafka ends such a rebalance on its own (it evicts the member
and elects another leader).

So the sink watches its rebalances. librdkafka logs each JoinGroup answer (debug
context `cgrp`); `GroupLog` hands them to `LeaderWatch`. When the same other member has
been named leader for `patience_s` and this member still has no assignment, the sink
completes the rebalance in that leader's place and leaves the group as it
(`streamapp.transport.take_over_leader`); the members then rejoin and elect a live
leader. docs/archive.md, "Rebalances".
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from streamapp.config import Settings, kafka_client_config

# The assignor the group uses (named in the take-over's JoinGroup too).
ASSIGNMENT_STRATEGY = "range"

# librdkafka's line for a JoinGroup answer; the leader is followed by " (me)" when it
# is this member, and is empty in an error answer.
_JOIN_RESPONSE = re.compile(
    r"JoinGroup response: GenerationId -?\d+, Protocol [^,]*, "
    r"LeaderId (?P<leader>[^,]*?)(?: \(me\))?, my MemberId (?P<me>[^,]*),"
)


def parse_join_response(message: str) -> tuple[str, str] | None:
    """(leader, this member) from librdkafka's log line of a JoinGroup answer, or None
    for any other line (and for an answer that names no leader)."""
    if (m := _JOIN_RESPONSE.search(message)) is None or not m["leader"]:
        return None
    return m["leader"], m["me"]


class LeaderWatch:
    """Names the leader a rebalance has waited on for `patience_s` (plus up to
    `jitter_s`), if it is another member: a live leader completes the rebalance right
    after its JoinGroup answer.

    Every member of a stuck group watches; the jitter lets one take over first, and
    its take-over completes the others' rebalance too (they get an assignment), which
    clears their watch.
    """

    def __init__(
        self,
        patience_s: float,
        jitter_s: float = 0.0,
        draw: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.patience_s = patience_s
        self.jitter_s = jitter_s
        self._draw = draw
        self._leader: str | None = None
        self._due = 0.0

    def joined(self, leader: str, me: str, now: float) -> None:
        """A JoinGroup answer named `leader`."""
        if leader == me:
            self._leader = None
        elif leader != self._leader:
            self._leader = leader
            self._due = now + self.patience_s + self._draw(0.0, self.jitter_s)

    def assigned(self) -> None:
        """The rebalance completed: whoever led it did."""
        self._leader = None

    def stuck_leader(self, now: float) -> str | None:
        """The leader to take over now; again after `patience_s` while it lasts."""
        if self._leader is None or now < self._due:
            return None
        self._due = now + self.patience_s
        return self._leader


class GroupLog:
    """librdkafka's logger for the sink's consumer: passes every line on to `logger`,
    and tells `watch` of each JoinGroup answer."""

    def __init__(
        self,
        logger: logging.Logger,
        watch: LeaderWatch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.watch = watch
        self.clock = clock

    def log(self, level: int, msg: str, *args: Any) -> None:
        # confluent_kafka calls log(level, "%s [%s] %s", facility, client name, text).
        joined = len(args) == 3 and args[0] == "JOINGROUP"
        seen = parse_join_response(str(args[2])) if joined else None
        if seen is not None:
            self.watch.joined(*seen, self.clock())
        self.logger.log(level, msg, *args)


def consumer_config(s: Settings, logger: Any) -> dict[str, Any]:
    """librdkafka settings of the sink's consumer: manual commits, eager rebalances;
    `logger` receives librdkafka's log (a `GroupLog` in the sink)."""
    session_ms = s.kafka_session_timeout_s * 1000
    return {
        **kafka_client_config(s),
        "group.id": f"{s.app_id}-archive",
        "client.id": f"{s.app_id}-archive",
        # Offsets are committed by hand, after HDFS; nothing is stored automatically.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # No committed offset (new group, or the broker lost it): read the whole log,
        # the markers tell replays from new messages.
        "auto.offset.reset": "earliest",
        # Eager protocol: a rebalance revokes everything and each partition is recovered
        # from its marker again (cheap), which keeps one simple state per partition.
        "partition.assignment.strategy": ASSIGNMENT_STRATEGY,
        # The dev broker answers a JoinGroup after half the session timeout.
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(session_ms // 6, 500),
        # The dev broker holds every fetch for the whole wait, even with data ready.
        "fetch.wait.max.ms": s.kafka_fetch_max_wait_ms,
        "max.partition.fetch.bytes": s.kafka_max_message_bytes,
        "logger": logger,
        # The JoinGroup answers `LeaderWatch` reads: a few lines per rebalance (passed
        # on at DEBUG, which the worker's log level drops).
        "debug": "cgrp",
    }
