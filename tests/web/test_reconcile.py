"""Unit tests of the pure reconciliation (no servers)."""

from __future__ import annotations

from web.reconcile import (
    HourRow,
    compare_totals,
    covered_before,
    hour_of,
    known_losses,
    reconcile_hours,
    top_rows,
    verdict,
)

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def hr(hour: str, messages: int, words: int) -> dict[str, object]:
    return {"hour": hour, "messages": messages, "words": words}


def test_hour_of_truncates_to_the_utc_hour() -> None:
    assert hour_of(T0) == "2026-01-01T00:00:00Z"
    assert hour_of(T0 + H - 1) == "2026-01-01T00:00:00Z"
    assert hour_of(T0 + H) == "2026-01-01T01:00:00Z"


def test_covered_before_is_the_hour_of_the_last_timestamp() -> None:
    assert covered_before({"last_timestamp_ms": T0 + 2 * H + 5}) == "2026-01-01T02:00:00Z"
    assert covered_before({"last_timestamp_ms": None}) is None


def test_hours_before_the_cutoff_are_judged_and_later_ones_are_not() -> None:
    live = [
        hr("2026-01-01T00:00:00Z", 3, 9),
        hr("2026-01-01T01:00:00Z", 2, 4),
        hr("2026-01-01T02:00:00Z", 7, 20),
    ]
    batch = [
        hr("2026-01-01T00:00:00Z", 3, 9),
        hr("2026-01-01T01:00:00Z", 2, 5),
        hr("2026-01-01T02:00:00Z", 1, 2),
    ]
    rows = reconcile_hours(live, batch, "2026-01-01T02:00:00Z")
    assert [(r.hour[11:13], r.status) for r in rows] == [
        ("00", "match"),
        ("01", "drift"),
        ("02", "not covered"),
    ]
    assert rows[1].words_diff == -1 and rows[1].messages_diff == 0
    assert rows[2].messages_diff == 6


def test_live_hour_missing_from_batch_is_drift_and_batch_only_hour_is_expired() -> None:
    rows = reconcile_hours(
        [hr("2026-01-01T05:00:00Z", 1, 1)],
        [hr("2026-01-01T04:00:00Z", 2, 2)],
        "2026-01-01T09:00:00Z",
    )
    by_hour = {r.hour: r for r in rows}
    assert by_hour["2026-01-01T04:00:00Z"].status == "expired"
    assert by_hour["2026-01-01T04:00:00Z"].messages_diff is None
    assert by_hour["2026-01-01T05:00:00Z"].status == "drift"
    assert by_hour["2026-01-01T05:00:00Z"].messages_diff == 1


def test_no_coverage_judges_nothing() -> None:
    rows = reconcile_hours([hr("2026-01-01T05:00:00Z", 1, 1)], [], None)
    assert [r.status for r in rows] == ["not covered"]


def test_live_ahead_by_uncovered_hours_is_not_drift() -> None:
    rows = [
        HourRow("2026-01-01T00:00:00Z", "match", 3, 3, 9, 9),
        HourRow("2026-01-01T01:00:00Z", "not covered", 5, 2, 10, 4),
    ]
    totals = compare_totals(
        {"messages": 8, "words": 19, "rejected": 2},
        {"messages": 5, "words": 13, "rejected": 1},
        rows,
    )
    assert [(t.name, t.status, t.diff) for t in totals] == [
        ("messages", "ahead", 3),
        ("words", "ahead", 6),
        ("rejected", "ahead", 1),
    ]


def test_a_gap_the_uncovered_hours_do_not_explain_is_drift() -> None:
    rows = [HourRow("2026-01-01T01:00:00Z", "not covered", 5, 2, 10, 4)]
    totals = compare_totals(
        {"messages": 9, "words": 16, "rejected": 0},
        {"messages": 5, "words": 10, "rejected": 1},
        rows,
    )
    assert [t.status for t in totals] == ["drift", "ahead", "drift"]


def test_verdict_reports_a_missing_side_before_anything_else() -> None:
    assert (
        verdict(worker_error="x", hdfs_error="y", has_snapshot=False, rows=[], totals=[]).state
        == "worker down"
    )
    assert (
        verdict(worker_error=None, hdfs_error="y", has_snapshot=False, rows=[], totals=[]).state
        == "hdfs down"
    )
    assert (
        verdict(worker_error=None, hdfs_error=None, has_snapshot=False, rows=[], totals=[]).state
        == "no batch yet"
    )


def test_verdict_drift_names_what_differs() -> None:
    rows = [HourRow("2026-01-01T00:00:00Z", "drift", 3, 2, 9, 8)]
    totals = compare_totals(
        {"messages": 3, "words": 9, "rejected": 0}, {"messages": 2, "words": 8, "rejected": 0}, rows
    )
    v = verdict(worker_error=None, hdfs_error=None, has_snapshot=True, rows=rows, totals=totals)
    assert v.state == "drift"
    assert "1 fully covered hour" in v.message and "messages" in v.message


def test_verdict_match_says_live_is_ahead() -> None:
    rows = [
        HourRow("2026-01-01T00:00:00Z", "match", 3, 3, 9, 9),
        HourRow("2026-01-01T01:00:00Z", "not covered", 4, 0, 8, 0),
    ]
    totals = compare_totals(
        {"messages": 7, "words": 17, "rejected": 0},
        {"messages": 3, "words": 9, "rejected": 0},
        rows,
    )
    v = verdict(worker_error=None, hdfs_error=None, has_snapshot=True, rows=rows, totals=totals)
    assert v.state == "match"
    assert "ahead by 4 message" in v.message


def test_top_rows_joins_both_lists_and_fills_the_other_side() -> None:
    rows = top_rows(
        [{"word": "a", "count": 9}, {"word": "b", "count": 5}],
        [{"word": "a", "count": 8}, {"word": "c", "count": 6}],
        live_counts={"c": 4},
        batch_counts={"b": 5},
        n=2,
    )
    assert [(r.word, r.live, r.batch, r.diff) for r in rows] == [
        ("a", 9, 8, 1),
        ("c", 4, 6, -2),
        ("b", 5, 5, 0),
    ]


def test_top_rows_keeps_unknown_counts_empty() -> None:
    rows = top_rows([{"word": "a", "count": 2}], [], {}, {}, n=10)
    assert rows[0].batch is None and rows[0].diff is None


def test_a_closed_log_live_counted_beyond_the_archive_is_a_known_loss() -> None:
    # Live counted offsets 0-1232 of partition 0's first log; the archive holds 0-1220,
    # and the batch already covered the partition's next log: 1221-1232 are gone.
    live = [
        {"source": "0:0", "last_offset": 1232},
        {"source": "1:0", "last_offset": 2},
        {"source": "0:1", "last_offset": 99},
    ]
    losses = known_losses(live, {"0:0": 1220, "1:0": 2, "0:1": 50})
    assert [loss.as_dict() for loss in losses] == [
        {"source": "0:0", "live_last_offset": 1232, "archived_last_offset": 1220}
    ]
    # Partition 1 has no newer log in the batch: 51-99 may still be archived (pending).
    result = verdict(
        worker_error=None, hdfs_error=None, has_snapshot=True, rows=[], totals=[], losses=losses
    )
    assert result.state == "drift"
    assert "offsets 1221-1232" in result.message and "partition 0, generation 0" in result.message


def test_no_loss_when_the_archive_holds_every_closed_log() -> None:
    live = [{"source": "0:0", "last_offset": 1232}, {"source": "1:0", "last_offset": 2}]
    assert known_losses(live, {"0:0": 1232, "1:0": 2}) == []
    # A log the batch never saw at all, closed by a newer one it did see: lost whole.
    (loss,) = known_losses(live, {"1:0": 2})
    assert loss.archived_last_offset is None and "offsets 0-1232" in loss.describe()
