import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spark_jobs.clock import COMPACT_COMMAND, Clock, check_schedule, next_run, run_job_process
from spark_jobs.errors import BatchError


def test_next_run_default_cron_is_two_am_next_day_after_two() -> None:
    after = datetime(2026, 5, 1, 2, 0, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", "UTC", after) == datetime(2026, 5, 2, 2, 0, tzinfo=UTC)
    before = datetime(2026, 5, 1, 1, 59, 59, tzinfo=UTC)
    assert next_run("0 2 * * *", "UTC", before) == datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def test_next_run_reads_the_cron_in_its_time_zone_across_dst() -> None:
    # 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer (DST from 29 March).
    winter = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", "Europe/Paris", winter) == datetime(2026, 3, 28, 1, 0, tzinfo=UTC)
    summer = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert next_run("0 2 * * *", "Europe/Paris", summer) == datetime(2026, 3, 31, 0, 0, tzinfo=UTC)


def test_bad_cron_or_zone_is_one_clear_error() -> None:
    with pytest.raises(BatchError, match="BATCH_CRON"):
        check_schedule("every night", "UTC")
    with pytest.raises(BatchError, match="BATCH_TZ"):
        check_schedule("0 2 * * *", "Mars/Olympus")


def test_a_trigger_while_running_does_not_start_a_second_run() -> None:
    release = threading.Event()
    calls: list[int] = []

    def runner() -> int:
        calls.append(1)
        release.wait(5)
        return 0

    clock = Clock("0 2 * * *", "UTC", runner=runner)
    assert clock.trigger("first")
    assert clock.running
    assert not clock.trigger("second")
    assert clock.health()["running"] is True
    release.set()
    assert clock.wait_idle(5)
    assert calls == [1]
    assert clock.trigger("third")
    assert clock.wait_idle(5)
    assert calls == [1, 1]


def test_a_crashing_runner_releases_the_lock() -> None:
    def runner() -> int:
        raise OSError("cannot exec")

    clock = Clock("0 2 * * *", "UTC", runner=runner)
    assert clock.trigger("first")
    assert clock.wait_idle(5)
    assert not clock.running


def test_health_document_matches_the_contract() -> None:
    now = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    clock = Clock("30 4 * * 1-5", "UTC", runner=lambda: 0, now=lambda: now)
    assert clock.health() == {
        "status": "ok",
        "cron": "30 4 * * 1-5",
        "timezone": "UTC",
        "next_run": "2026-05-01T04:30:00Z",
        "running": False,
    }


def test_schedule_fires_once_per_due_time() -> None:
    # A fake wall clock that moves by the whole timeout of each wait.
    moments = [datetime(2026, 5, 1, 12, 0, tzinfo=UTC)]
    fired: list[datetime] = []

    class JumpingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            moments.append(moments[-1] + timedelta(seconds=timeout or 0))
            return self.is_set()

    stop = JumpingEvent()

    def runner() -> int:
        fired.append(moments[-1])
        if len(fired) == 3:
            stop.set()
        return 0

    clock = Clock("0 2 * * *", "UTC", runner=runner, now=lambda: moments[-1])
    # Runs happen in a background thread: wait for each before the clock moves on.
    original_trigger = clock.trigger

    def trigger_and_wait(reason: str) -> bool:
        started = original_trigger(reason)
        clock.wait_idle(5)
        return started

    clock.trigger = trigger_and_wait  # type: ignore[method-assign]
    clock.serve_schedule(stop)
    assert fired == [datetime(2026, 5, d, 2, 0, tzinfo=UTC) for d in (2, 3, 4)]


def test_a_run_compacts_the_archive_first_and_runs_the_job_even_if_that_fails(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace"

    def step(name: str, code: int) -> list[str]:
        script = f"open({str(trace)!r}, 'a').write({name!r} + ' '); raise SystemExit({code})"
        return [sys.executable, "-c", script]

    assert run_job_process(step("job", 0), compact=step("compact", 0)) == 0
    assert run_job_process(step("job", 3), compact=step("compact", 1)) == 3
    assert trace.read_text().split() == ["compact", "job", "compact", "job"]
    assert COMPACT_COMMAND[-2:] == ("archive", "compact")
