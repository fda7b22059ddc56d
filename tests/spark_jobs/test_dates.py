"""Per-date plan and merge (pure): which dates a run recounts, and how dates add up."""

from spark_jobs.dates import (
    DateFiles,
    date_record,
    group_by_date,
    merge,
    plan_run,
    recent_hours_since,
)

ROOT = "webhdfs://nn:9870/data/data_stream"
REJ = "webhdfs://nn:9870/data/data_stream_rejected"


def listing() -> dict[str, DateFiles]:
    return group_by_date(
        [
            (f"{ROOT}/gen=0/date=2026-01-01/a.jsonl", 10),
            (f"{ROOT}/gen=1/date=2026-01-02/b.jsonl", 5),
        ],
        [(f"{REJ}/gen=0/date=2026-01-01/a.jsonl", 10)],
        ROOT,
        REJ,
    )


def test_fingerprint_follows_names_lengths_and_roots_not_the_server() -> None:
    days = listing()
    assert sorted(days) == ["2026-01-01", "2026-01-02"]
    same = group_by_date(
        [
            ("webhdfs://other:1/data/data_stream/gen=0/date=2026-01-01/a.jsonl", 10),
            ("webhdfs://other:1/data/data_stream/gen=1/date=2026-01-02/b.jsonl", 5),
        ],
        [("webhdfs://other:1/data/data_stream_rejected/gen=0/date=2026-01-01/a.jsonl", 10)],
        "webhdfs://other:1/data/data_stream",
        "/data/data_stream_rejected",
    )
    assert {k: v.fingerprint for k, v in same.items()} == {
        k: v.fingerprint for k, v in days.items()
    }
    longer = group_by_date([(f"{ROOT}/gen=0/date=2026-01-01/a.jsonl", 11)], [], ROOT, REJ)
    moved = group_by_date([], [(f"{REJ}/gen=0/date=2026-01-01/a.jsonl", 10)], ROOT, REJ)
    prints = {days["2026-01-01"].fingerprint, longer["2026-01-01"].fingerprint}
    assert len(prints | {moved["2026-01-01"].fingerprint}) == 3


def test_plan_reuses_only_matching_fingerprints_and_names_dropped_dates() -> None:
    days = listing()
    stored = {
        "2026-01-01": {"fingerprint": days["2026-01-01"].fingerprint},
        "2026-01-02": {"fingerprint": "stale"},
        "2025-12-31": {"fingerprint": "gone"},
    }
    plan = plan_run(days, stored, full=False)
    assert (plan.recompute, plan.reuse, plan.dropped) == (
        ["2026-01-02"],
        ["2026-01-01"],
        ["2025-12-31"],
    )
    full = plan_run(days, stored, full=True)
    assert (full.recompute, full.reuse) == (["2026-01-01", "2026-01-02"], [])


def cell(
    h: int, gen: int, partition: int, messages: int, words: int, first: int, last: int
) -> dict[str, int]:
    return {
        "h": h, "gen": gen, "partition": partition, "messages": messages, "words": words,
        "first_offset": first, "last_offset": last,
        "first_timestamp_ms": h * 3_600_000, "last_timestamp_ms": h * 3_600_000 + 9,
    }  # fmt: skip


def test_merge_sums_cells_hours_and_coverage_over_dates() -> None:
    days = listing()
    h = 491_000
    one = date_record(
        key="2026-01-01", files=days["2026-01-01"], run_id="r1",
        cells=[cell(h + 1, 0, 0, 2, 5, 3, 9), cell(h, 0, 1, 1, 0, 7, 7), cell(h, 0, 0, 1, 2, 0, 0)],
        rejected_partitions=[{"gen": 0, "partition": 0, "messages": 2, "last_offset": 12}],
        corrupt=1,
    )  # fmt: skip
    two = date_record(
        key="2026-01-02", files=days["2026-01-02"], run_id="r2",
        cells=[cell(h + 24, 1, 0, 4, 4, 0, 3)], rejected_partitions=[], corrupt=2,
    )  # fmt: skip
    merged = merge([two, one])
    assert (merged.messages, merged.words, merged.rejected, merged.corrupt) == (8, 11, 2, 3)
    assert [c["partition"] for c in merged.cells] == ["0:0", "0:1", "0:0", "1:0"]
    assert merged.cells[0] == {
        "hour": "2026-01-05T08:00:00Z", "partition": "0:0", "messages": 1, "words": 2,
        "first_offset": 0, "last_offset": 0,
    }  # fmt: skip
    assert [(x["messages"], x["words"]) for x in merged.hours] == [(2, 2), (2, 5), (4, 4)]
    assert merged.partitions == {"0:0": 12, "0:1": 7, "1:0": 3}
    assert (merged.first_timestamp_ms, merged.last_timestamp_ms) == (
        h * 3_600_000,
        (h + 24) * 3_600_000 + 9,
    )


def test_recent_hours_start_at_the_oldest_newest_hour_of_the_open_logs() -> None:
    cells = [
        {"hour": "2026-11-20T05:00:00Z", "partition": "0:0"},  # closed: 1:0 exists
        {"hour": "2026-12-01T10:00:00Z", "partition": "1:0"},
        {"hour": "2026-12-01T23:00:00Z", "partition": "1:0"},
        {"hour": "2026-12-01T22:00:00Z", "partition": "0:1"},
        {"hour": "2026-12-01T20:00:00Z", "partition": "0:1"},
    ]
    partitions = {"0:0": 90, "1:0": 12, "0:1": 40}
    assert recent_hours_since(cells, partitions) == "2026-12-01T22:00:00Z"
    assert recent_hours_since([], {}) is None
    # Only closed logs left with cells: nothing needs the recent hours.
    assert recent_hours_since(cells[:1], partitions) is None
