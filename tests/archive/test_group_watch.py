"""The archive consumer's watch on its group's leader (pure parts)."""

from __future__ import annotations

import logging

import pytest

from streamapp.archive.consumer import GroupLog, LeaderWatch, parse_join_response

# librdkafka 2.x lines, as logged by a worker's sink in a stuck rebalance.
FOLLOWER = (
    "[thrd:main]: JoinGroup response: GenerationId 5, Protocol range, LeaderId "
    "ws-archive-b8738fc9, my MemberId ws-archive-a2c027bf, member metadata count 0: "
    "(no error)"
)
LEADER = (
    "[thrd:main]: JoinGroup response: GenerationId 3, Protocol range, LeaderId "
    "ws-archive-b8738fc9 (me), my MemberId ws-archive-b8738fc9, member metadata count 2:"
)
ERROR = (
    "[thrd:main]: JoinGroup response: GenerationId -1, Protocol , LeaderId , my MemberId "
    "ws-archive-bb6118e6, member metadata count 0: Broker: Group member needs a valid "
    "member ID"
)


def test_join_responses_name_the_leader_and_this_member() -> None:
    assert parse_join_response(FOLLOWER) == ("ws-archive-b8738fc9", "ws-archive-a2c027bf")
    assert parse_join_response(LEADER) == ("ws-archive-b8738fc9", "ws-archive-b8738fc9")
    assert parse_join_response(ERROR) is None
    assert parse_join_response("[thrd:main]: SyncGroup response: Broker: ...") is None


def test_a_leader_is_named_only_after_the_patience_and_then_once_per_patience() -> None:
    watch = LeaderWatch(patience_s=12)
    watch.joined("L", "me", now=100)
    watch.joined("L", "me", now=108)  # the same leader again: the clock runs on
    assert watch.stuck_leader(111.9) is None
    assert watch.stuck_leader(112) == "L"
    assert watch.stuck_leader(113) is None  # just taken over
    assert watch.stuck_leader(124) == "L"  # still stuck: once more


@pytest.mark.parametrize(
    "event",
    [
        lambda w: w.assigned(),  # the rebalance completed
        lambda w: w.joined("me", "me", now=105),  # this member leads now
    ],
)
def test_a_completed_rebalance_or_own_leadership_clears_the_watch(event: object) -> None:
    watch = LeaderWatch(patience_s=12)
    watch.joined("L", "me", now=100)
    event(watch)  # type: ignore[operator]
    assert watch.stuck_leader(200) is None


def test_another_leader_restarts_the_clock() -> None:
    watch = LeaderWatch(patience_s=12)
    watch.joined("L", "me", now=100)
    watch.joined("M", "me", now=110)
    assert watch.stuck_leader(115) is None
    assert watch.stuck_leader(122) == "M"


def test_the_log_passes_every_line_on_and_feeds_the_watch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watch = LeaderWatch(patience_s=1)
    group_log = GroupLog(logging.getLogger("t.kafka"), watch, clock=lambda: 50.0)
    with caplog.at_level(logging.DEBUG, logger="t.kafka"):
        group_log.log(logging.DEBUG, "%s [%s] %s", "JOINGROUP", "c#consumer-1", FOLLOWER)
        group_log.log(logging.WARNING, "%s [%s] %s", "FAIL", "c#consumer-1", "down")
        group_log.log(logging.DEBUG, "no arguments")
    assert [r.getMessage()[:9] for r in caplog.records] == ["JOINGROUP", "FAIL [c#c", "no argume"]
    assert watch.stuck_leader(51) == "ws-archive-b8738fc9"


def test_the_jitter_delays_the_first_take_over_by_the_drawn_amount() -> None:
    draws: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        draws.append((low, high))
        return 4.5

    watch = LeaderWatch(patience_s=12, jitter_s=6, draw=draw)
    watch.joined("L", "me", now=100)
    assert draws == [(0.0, 6)]
    assert watch.stuck_leader(116) is None
    assert watch.stuck_leader(116.5) == "L"
    assert watch.stuck_leader(128) is None
    assert watch.stuck_leader(128.5) == "L"  # retries every patience_s, no new draw
    assert len(draws) == 1
