from datetime import UTC, datetime, timedelta

from spark_jobs.snapshot import (
    Coverage,
    build_summary,
    last_run_record,
    run_id_for,
    running_elsewhere,
    runs_to_prune,
)
from streamapp.contract import SUMMARY_TOTALS

T0 = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def test_run_id_is_the_utc_start_second() -> None:
    paris = T0.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert run_id_for(paris) == "20260304T050607Z"


def test_summary_has_exactly_the_contract_fields_and_ascending_hours() -> None:
    summary = build_summary(
        run_id="r",
        started=T0,
        finished=T0 + timedelta(seconds=30),
        spark_version="4.x",
        archive="webhdfs://h:1/a",
        input_files=3,
        coverage=Coverage({"0:1": 5}, 1, 2),
        totals=dict.fromkeys(SUMMARY_TOTALS, 1),
        hours=[
            {"hour": "2026-01-01T01:00:00Z", "messages": 1, "words": 0},
            {"hour": "2026-01-01T00:00:00Z", "messages": 2, "words": 3},
        ],
        top=[{"word": "a", "count": 2}],
    )
    assert set(summary) == {
        "run_id",
        "started_at",
        "finished_at",
        "spark_version",
        "archive",
        "input_files",
        "coverage",
        "totals",
        "hours",
        "top",
        "cells",
        "dates_recomputed",
        "dates_reused",
        "dates_dropped",
        "hour_words_since",
    }
    assert summary["started_at"] == "2026-03-04T05:06:07Z"
    assert summary["finished_at"] == "2026-03-04T05:06:37Z"
    assert set(summary["coverage"]) == {"partitions", "first_timestamp_ms", "last_timestamp_ms"}
    assert set(summary["totals"]) == set(SUMMARY_TOTALS)
    assert [h["hour"] for h in summary["hours"]] == ["2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z"]


def test_prune_keeps_the_newest_runs_and_the_latest_one() -> None:
    runs = [f"2026010{d}T000000Z" for d in range(1, 10)]
    assert runs_to_prune(runs, keep=7, protect=None) == runs[:2]
    # `latest` may name an older run (the newest ones failed): it is never deleted.
    assert runs_to_prune(runs, keep=7, protect=runs[0]) == [runs[1]]
    assert runs_to_prune([*runs, "_temporary", "junk"], keep=20, protect=None) == []
    assert runs_to_prune(runs, keep=0, protect=None) == runs[:-1]


def test_running_state_blocks_until_stale() -> None:
    running = last_run_record("r", "running", T0)
    assert running_elsewhere(running, T0 + timedelta(minutes=5), stale_after_s=3600)
    assert not running_elsewhere(running, T0 + timedelta(hours=2), stale_after_s=3600)
    done = last_run_record("r", "success", T0, T0)
    assert not running_elsewhere(done, T0, stale_after_s=3600)
    assert not running_elsewhere(None, T0, stale_after_s=3600)
    assert not running_elsewhere({"state": "running"}, T0, stale_after_s=3600)


def test_last_run_record_fields() -> None:
    failed = last_run_record("r", "failed", T0, T0 + timedelta(seconds=1), "boom")
    assert failed == {
        "run_id": "r",
        "state": "failed",
        "started_at": "2026-03-04T05:06:07Z",
        "finished_at": "2026-03-04T05:06:08Z",
        "error": "boom",
    }
    assert last_run_record("r", "running", T0)["finished_at"] is None
