"""Unit tests of the live write-behind: when rows are due, what a flush takes, drops."""

from __future__ import annotations

from streamapp.live.writebehind import WriteBehind


def test_rows_are_due_by_age_or_by_count_per_partition() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=2.0, max_rows=3)
    held = wb.partition(1, now=10.0)
    held.words["a"] = {"n": 1}
    held.events.append("e1")
    assert not wb.due(1, now=11.9)
    assert wb.due(1, now=12.0)
    assert not wb.due(0, now=99.0)  # nothing held there
    # The age counts from the first change, not the last.
    assert wb.partition(1, now=11.5) is held
    held.words.update({"b": {"n": 1}, "c": {"n": 1}})
    assert wb.due(1, now=10.5)  # three rows: due by count


def test_take_hands_over_rows_and_events_once() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=1.0, max_rows=100)
    held = wb.partition(2, now=0.0)
    held.words["x"] = {"n": 5}
    held.totals = {"n": [1, 1, 0]}
    held.events += ["e1", "e2"]
    taken = wb.take(2)
    assert taken is held and taken.events == ["e1", "e2"]
    assert wb.take(2) is None
    assert wb.totals() is None
    # Taken rows may not be in the table yet (a flush spans turns): views still see them.
    assert wb.word(2, "x") == {"n": 5}


def test_views_see_held_rows_and_drop_forgets_everything() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=1.0, max_rows=100)
    wb.partition(0, now=0.0).words["a"] = {"n": 1}
    wb.partition(3, now=0.0).words["b"] = {"n": 2}
    wb.partition(3, now=0.0).totals = {"n": [2, 3, 0]}
    assert wb.word(0, "a") == {"n": 1}
    assert wb.word(3, "a") is None  # a word is only looked up in its owner partition
    assert wb.totals() == {"n": [2, 3, 0]}
    generation = wb.generation
    assert wb.drop() == 3  # two word rows and the totals row
    assert wb.generation != generation  # a flush in progress stops
    assert wb.word(0, "a") is None and wb.totals() is None


def test_written_rows_are_reused_once_and_bounded() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=1.0, max_rows=100, max_clean=2)
    wb.partition(0, now=0.0).words.update({"a": {"n": 1}, "b": {"n": 2}})
    wb.take(0)
    assert wb.take_written("a") == {"n": 1}
    assert wb.take_written("a") is None  # handed out: it is being changed again
    wb.partition(1, now=1.0).words.update({"c": {"n": 3}, "d": {"n": 4}})
    wb.take(1)  # "b" is the least recently written: it goes first
    assert wb.clean_rows() == 2
    assert wb.take_written("b") is None and wb.take_written("c") == {"n": 3}
    wb.drop()
    assert wb.take_written("d") is None  # a revoked partition may come back changed


def test_the_written_rows_kept_stay_within_the_limit_at_any_vocabulary() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=1.0, max_rows=1000, max_clean=500)
    hot = {"the": {"n": 0}}
    for flush in range(50):
        held = wb.partition(flush % 4, now=float(flush))
        held.words.update({f"w{flush}-{i}": {"n": 1} for i in range(300)})
        row = wb.take_written("the") or hot["the"]
        held.words["the"] = {"n": row["n"] + 1}
        wb.take(flush % 4)
        assert wb.clean_rows() <= 500
    assert wb.take_written("the") == {"n": 50}  # rewritten every flush: never pushed out


def test_overdue_lists_only_partitions_holding_rows_past_the_interval() -> None:
    wb: WriteBehind[str] = WriteBehind(interval_s=2.0, max_rows=100)
    wb.partition(0, now=10.0).events.append("e0")
    wb.partition(2, now=11.0).events.append("e2")
    assert wb.holds(0) and wb.holds(2) and not wb.holds(1)
    assert wb.overdue(now=11.9) == []
    assert wb.overdue(now=12.5) == [0]
    assert sorted(wb.overdue(now=13.0)) == [0, 2]
    wb.take(0)
    assert not wb.holds(0) and wb.overdue(now=99.0) == [2]
