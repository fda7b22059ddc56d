"""Unit tests of the pure reconciliation and best-known counts (no servers; the message
counting of tests/web/sources.py is pure too)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devstack.report_doubles import Counts, Message, count
from streamapp.contract import hour_of
from web.reconcile import (
    ALL_HOURS,
    BatchCell,
    CellRow,
    HourRow,
    LiveCell,
    archive_gaps,
    batch_cells,
    compare_totals,
    covered_before,
    hours_from_cells,
    judged_before,
    known_count,
    known_hours,
    known_losses,
    known_totals,
    live_cells,
    locate_drift,
    reconcile_cells,
    reconcile_hours,
    time_boundary,
    top_rows,
    verdict,
)

H = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def hr(hour: str, messages: int, words: int) -> dict[str, object]:
    return {"hour": hour, "messages": messages, "words": words}


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


# --- per (hour, source log) cells ----------------------------------------------------


def hour(i: int) -> str:
    return hour_of(T0 + i * H)


def bc(h: int, source: str, messages: int, words: int, first: int, last: int) -> BatchCell:
    return BatchCell(hour(h), source, messages, words, first, last)


def lc(h: int, source: str, messages: int, words: int, last: int) -> LiveCell:
    return LiveCell(hour(h), source, messages, words, last)


def statuses(rows: list[CellRow]) -> dict[tuple[int, str], str]:
    return {(int(r.hour[11:13]), r.source): r.status for r in rows}


def test_each_partition_is_covered_up_to_its_own_newest_batch_hour() -> None:
    # Partition 1's archive was held back at run time: the batch saw it only up to hour 1.
    batch = [
        bc(0, "0:0", 2, 4, 0, 1),
        bc(1, "0:0", 2, 4, 2, 3),
        bc(2, "0:0", 1, 2, 4, 4),
        bc(0, "0:1", 2, 4, 0, 1),
        bc(1, "0:1", 1, 2, 2, 2),
    ]
    live = [
        lc(0, "0:0", 2, 4, 1),
        lc(1, "0:0", 2, 4, 3),
        lc(2, "0:0", 1, 2, 4),
        lc(0, "0:1", 2, 4, 1),
        lc(1, "0:1", 2, 4, 3),  # offset 3 arrived in the archive after the run
        lc(2, "0:1", 1, 2, 4),
    ]
    covered = {"0:0": 4, "0:1": 2}
    assert judged_before(batch, covered, live) == {"0:0": hour(2), "0:1": hour(1)}
    rows = reconcile_cells(live, batch, covered, horizon=hour(0))
    assert statuses(rows) == {
        (0, "0:0"): "match",
        (1, "0:0"): "match",
        (2, "0:0"): "not covered",
        (0, "0:1"): "match",
        (1, "0:1"): "not covered",
        (2, "0:1"): "not covered",
    }
    assert time_boundary(judged_before(batch, covered, live)) == hour(1)
    # The single-timestamp rule would have judged hour 1 and called it drift.
    by_hour = hours_from_cells(
        [hr(hour(i), 4, 8) for i in range(2)] + [hr(hour(2), 2, 4)],
        [hr(hour(0), 4, 8), hr(hour(1), 3, 6), hr(hour(2), 1, 2)],
        rows,
    )
    assert [r.status for r in by_hour] == ["match", "not covered", "not covered"]


def test_a_live_cell_beyond_the_batch_offsets_is_late_never_drift() -> None:
    batch = [bc(0, "0:0", 3, 3, 0, 2), bc(1, "0:0", 1, 1, 3, 3), bc(2, "0:0", 1, 1, 4, 4)]
    # Offset 5, produced after the run with an hour-0 timestamp.
    live = [lc(0, "0:0", 4, 5, 5), lc(1, "0:0", 1, 1, 3), lc(2, "0:0", 1, 1, 4)]
    rows = reconcile_cells(live, batch, {"0:0": 4}, horizon=hour(0))
    assert statuses(rows) == {(0, "0:0"): "late", (1, "0:0"): "match", (2, "0:0"): "not covered"}
    hours = hours_from_cells([hr(hour(0), 4, 5)], [hr(hour(0), 3, 3)], rows)
    assert hours[0].status == "late" and hours[0].pending("words") == 2
    totals = compare_totals(
        {"messages": 6, "words": 7, "rejected": 0},
        {"messages": 5, "words": 5, "rejected": 0},
        hours,
    )
    assert [t.status for t in totals] == ["ahead", "ahead", "match"]
    v = verdict(worker_error=None, hdfs_error=None, has_snapshot=True, rows=hours, totals=totals)
    assert v.state == "match" and "1 cell(s) hold late messages" in v.message
    # The same difference with no offset beyond the batch's is a drift.
    live[0] = lc(0, "0:0", 4, 5, 2)
    assert statuses(reconcile_cells(live, batch, {"0:0": 4}, hour(0)))[0, "0:0"] == "drift"


def test_a_closed_log_is_judged_whole_and_what_live_counted_beyond_it_is_drift() -> None:
    # The batch saw generation 1 of partition 0: generation 0 is closed.
    batch = [bc(0, "0:0", 2, 2, 0, 1), bc(3, "1:0", 1, 1, 0, 0)]
    live = [lc(0, "0:0", 3, 3, 2), lc(3, "1:0", 1, 1, 0)]
    covered = {"0:0": 1, "1:0": 0}
    assert judged_before(batch, covered, live)["0:0"] == ALL_HOURS
    assert statuses(reconcile_cells(live, batch, covered, hour(0))) == {
        (0, "0:0"): "drift",
        (3, "1:0"): "not covered",
    }


def test_a_log_only_live_counted_is_not_covered_and_bounds_the_exact_hours() -> None:
    batch = [bc(0, "0:0", 1, 1, 0, 0), bc(5, "0:0", 1, 1, 1, 1)]
    live = [lc(0, "0:0", 1, 1, 0), lc(5, "0:0", 1, 1, 1), lc(2, "0:1", 1, 1, 0)]
    cutoffs = judged_before(batch, {"0:0": 1}, live)
    assert cutoffs == {"0:0": hour(5), "0:1": hour(2)} and time_boundary(cutoffs) == hour(2)
    assert statuses(reconcile_cells(live, batch, {"0:0": 1}, hour(0)))[2, "0:1"] == "not covered"


def test_cells_the_live_tables_no_longer_hold_are_expired_and_missing_held_ones_drift() -> None:
    batch = [bc(0, "0:0", 1, 1, 0, 0), bc(1, "0:0", 1, 1, 1, 1), bc(2, "0:0", 1, 1, 2, 2)]
    live = [lc(2, "0:0", 1, 1, 2)]
    rows = reconcile_cells(live, batch, {"0:0": 2}, horizon=hour(1))
    assert statuses(rows) == {(0, "0:0"): "expired", (1, "0:0"): "drift", (2, "0:0"): "not covered"}
    assert rows[1].short == "live" and rows[1].messages_diff == -1


def test_an_hour_row_takes_the_worst_status_of_its_cells() -> None:
    batch = [bc(0, "0:0", 1, 1, 0, 0), bc(0, "0:1", 1, 1, 0, 0), bc(1, "0:0", 1, 1, 1, 1)]
    batch.append(bc(1, "0:1", 1, 1, 1, 1))
    live = [lc(0, "0:0", 1, 1, 0), lc(0, "0:1", 2, 2, 0), lc(1, "0:0", 1, 1, 1)]
    live.append(lc(1, "0:1", 1, 1, 1))
    rows = reconcile_cells(live, batch, {"0:0": 1, "0:1": 1}, hour(0))
    hours = hours_from_cells([], [], rows)
    assert [r.status for r in hours] == ["drift", "not covered"]
    assert [c.source for c in hours[0].cells] == ["0:0", "0:1"]
    assert hours[0].as_dict()["cells"][1]["short"] == "batch"


def test_drift_is_located_in_the_archive_offsets_of_its_partition() -> None:
    # Partition 2's archive lost offsets 12-19: hour 1 held 10-19, hour 2 holds 20-29.
    batch = [
        bc(0, "0:2", 10, 20, 0, 9),
        bc(1, "0:2", 2, 4, 10, 11),
        bc(2, "0:2", 10, 20, 20, 29),
        bc(3, "0:2", 1, 2, 30, 30),
    ]
    live = [
        lc(0, "0:2", 10, 20, 9),
        lc(1, "0:2", 10, 20, 19),
        lc(2, "0:2", 10, 20, 29),
        lc(3, "0:2", 1, 2, 30),
    ]
    covered = {"0:2": 30}
    assert archive_gaps(batch, covered) == {"0:2": [(12, 19)]}
    cells = reconcile_cells(live, batch, covered, hour(0))
    (drift,) = locate_drift(cells, batch, covered)
    d = drift.as_dict()
    assert (d["hour"], d["partition"], d["short"]) == (hour(1), 2, "batch")
    assert (d["messages_diff"], d["words_diff"]) == (8, 16)
    assert d["batch"] == {"messages": 2, "words": 4, "first_offset": 10, "last_offset": 11}
    assert d["archive_gaps"] == [[12, 19]]
    assert "offsets 10-11" in drift.describe() and "12-19" in drift.describe()


def test_batch_cells_absent_from_an_older_snapshot() -> None:
    assert batch_cells({"hours": []}) is None
    (cell,) = batch_cells(
        {
            "cells": [
                {"hour": hour(0), "partition": "1:3", "messages": 2, "words": 5}
                | {"first_offset": 7, "last_offset": 9}
            ]
        }
    ) or [None]
    assert cell == bc(0, "1:3", 2, 5, 7, 9)


# --- best-known counts ---------------------------------------------------------------


def test_known_hours_are_exact_before_the_boundary_and_live_from_it() -> None:
    live = [hr(hour(1), 5, 50), hr(hour(2), 7, 70), hr(hour(3), 1, 10)]
    batch = [hr(hour(0), 2, 20), hr(hour(1), 4, 40), hr(hour(2), 3, 30)]
    known = known_hours(live, batch, hour(2))
    assert [(h.hour, h.messages, h.provenance) for h in known] == [
        (hour(0), 2, "exact"),  # live no longer holds it: the batch has the whole history
        (hour(1), 4, "exact"),
        (hour(2), 7, "live"),
        (hour(3), 1, "live"),
    ]
    totals = known_totals(known)
    assert totals["messages"].as_dict() == {"count": 14, "exact": 6, "live": 8, "batch": 0}
    # Live down: hours from the boundary on fall back to the batch, tagged as such.
    down = known_hours(None, batch, hour(2))
    assert [h.provenance for h in down] == ["exact", "exact", "batch"]


def test_known_count_of_a_word() -> None:
    k = known_count(
        batch_total=10,
        batch_by_hour={hour(2): 3, hour(3): 1},
        live_by_hour={hour(1): 6, hour(2): 5, hour(3): 2},
        live_held={hour(1), hour(2), hour(3)},
        boundary=hour(2),
    )
    assert (k.exact, k.live, k.batch, k.count) == (6, 7, 0, 13)
    nothing = known_count(0, {}, {hour(1): 4}, {hour(1)}, None)
    assert (nothing.exact, nothing.live) == (0, 4)


VOCAB = ["kafka", "spark", "hdfs", "word", "été"]


@st.composite
def partitioned_messages(draw: st.DrawFn) -> tuple[list[Message], dict[str, int]]:
    """Messages of 1-3 partitions with timestamps rising with offsets, and a random run
    point per partition (the last offset the batch saw; -1: none)."""
    messages: list[Message] = []
    cuts: dict[str, int] = {}
    for partition in range(draw(st.integers(1, 3))):
        stamp = T0 + draw(st.integers(0, 5 * H))
        n = draw(st.integers(0, 12))
        for offset in range(n):
            stamp += draw(st.integers(0, 2 * H))
            if draw(st.integers(0, 9)) == 0:
                messages.append(
                    {"timestamp": stamp, "value_b64": "/w==", "partition": partition}
                    | {"offset": offset}
                )
                continue
            text = " ".join(draw(st.lists(st.sampled_from(VOCAB), max_size=4)))
            messages.append(
                {"timestamp": stamp, "value": text, "partition": partition, "offset": offset}
            )
        cuts[f"0:{partition}"] = draw(st.integers(-1, n - 1))
    return messages, cuts


def _sides(messages: list[Message], cuts: dict[str, int]) -> tuple[Counts, Counts]:
    seen = [m for m in messages if m["offset"] <= cuts[f"0:{m['partition']}"]]
    return count(seen), count(messages)


@given(partitioned_messages())
@settings(max_examples=200, deadline=None)
def test_best_known_counts_equal_a_recount_wherever_the_run_cut_the_logs(
    case: tuple[list[Message], dict[str, int]],
) -> None:
    batch, live = _sides(*case)
    cutoffs = judged_before(
        batch_cells({"cells": batch.batch_cells()}) or [],
        batch.covered,
        live_cells(live.live_cells()),
    )
    boundary = time_boundary(cutoffs)
    known = known_totals(known_hours(live.hour_list(), batch.hour_list(), boundary))
    assert (known["messages"].count, known["words"].count) == (live.messages, live.words)
    held = {h["hour"] for h in live.hour_list()}
    for w in VOCAB:
        after = {h: n for h, n in batch.word_hours(w).items() if boundary and h >= boundary}
        k = known_count(batch.per_word[w], after, live.word_hours(w), held, boundary)
        assert k.count == live.per_word[w], w


@given(partitioned_messages(), st.data())
@settings(max_examples=200, deadline=None)
def test_the_same_messages_never_drift_and_a_lost_or_late_one_is_judged_by_its_cell(
    case: tuple[list[Message], dict[str, int]], data: st.DataObject
) -> None:
    messages, cuts = case
    batch, live = _sides(messages, cuts)
    bcells = batch_cells({"cells": batch.batch_cells()}) or []
    lcells = live_cells(live.live_cells())
    horizon = min((h["hour"] for h in live.hour_list()), default=None)
    rows = reconcile_cells(lcells, bcells, batch.covered, horizon)
    assert {r.status for r in rows} <= {"match", "not covered"}
    valid_seen = [
        m for m in messages if "value" in m and m["offset"] <= cuts[f"0:{m['partition']}"]
    ]
    if not valid_seen:
        return
    victim = data.draw(st.sampled_from(valid_seen))
    source, cell_hour = f"0:{victim['partition']}", hour_of(victim["timestamp"])
    judged = cell_hour < judged_before(bcells, batch.covered, lcells)[source]
    # Lost from the archive: the batch never saw it, live did.
    lost = count(
        [m for m in messages if m["offset"] <= cuts[f"0:{m['partition']}"] and m is not victim]
    )
    rows = reconcile_cells(
        lcells, batch_cells({"cells": lost.batch_cells()}) or [], batch.covered, horizon
    )
    drifting = [(r.hour, r.source, r.messages_diff) for r in rows if r.status == "drift"]
    assert drifting == ([(cell_hour, source, 1)] if judged else [])
    # Late: the same message produced again after the run (a new offset, the old timestamp).
    late = dict(victim, offset=max(m["offset"] for m in messages) + 1)
    _, live_late = _sides([*messages, late], {**cuts})
    rows = reconcile_cells(live_cells(live_late.live_cells()), bcells, batch.covered, horizon)
    got = {(r.hour, r.source): r.status for r in rows}
    assert "drift" not in got.values()
    assert got[cell_hour, source] == ("late" if judged else "not covered")
