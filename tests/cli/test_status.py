import json

import requests

from streamapp.cli.status import (
    Check,
    batch_check,
    batch_probe,
    clock_check,
    exit_code,
    hdfs_check,
    json_report,
    plain_check,
    table_lines,
    worker_check,
)
from streamapp.health import Reply, describe_http_error
from streamapp.snapshots import LastRun, SnapshotUnavailable

REFUSED = Reply(error="connection refused")


def test_plain_endpoint_is_up_only_on_200() -> None:
    assert plain_check("web", "u", Reply(200)).ok
    down = plain_check("web", "u", Reply(503))
    assert (down.state, down.ok, down.detail) == ("down", False, "HTTP 503")
    assert plain_check("web", "u", REFUSED).detail == "connection refused"


def test_hdfs_needs_a_file_status_reply() -> None:
    assert hdfs_check("u", Reply(200, {"FileStatus": {"type": "DIRECTORY"}})).ok
    assert not hdfs_check("u", Reply(200, {"other": 1})).ok
    assert not hdfs_check("u", REFUSED).ok


def test_worker_ok_starting_and_down() -> None:
    up = worker_check("u", Reply(200, {"status": "ok", "assigned": [0, 2]}))
    assert (up.state, up.ok, up.detail) == ("up", True, "partitions 0,2")
    starting = worker_check("u", Reply(200, {"status": "starting", "assigned": []}))
    assert (starting.state, starting.ok, starting.detail) == ("starting", False, "partitions none")
    assert not worker_check("u", Reply(200, None)).ok
    assert not worker_check("u", REFUSED).ok


def test_clock_shows_next_run() -> None:
    up = clock_check(
        "u", Reply(200, {"status": "ok", "next_run": "2026-01-02T02:00:00+00:00", "running": False})
    )
    assert up.ok and up.detail == "next run 2026-01-02T02:00:00+00:00"
    assert "running" in clock_check("u", Reply(200, {"next_run": "x", "running": True})).detail
    assert not clock_check("u", REFUSED).ok


def _run(run_id: str, state: str, finished: str | None, error: str | None = None) -> LastRun:
    return {
        "run_id": run_id,
        "state": state,
        "started_at": "T3",
        "finished_at": finished,
        "error": error,
    }


def test_batch_states() -> None:
    never = batch_check("p", None)
    assert (never.state, never.ok) == ("never run", True)
    ok = batch_check("p", _run("R1", "success", "T2"))
    assert (ok.state, ok.ok, ok.detail) == ("success", True, "R1 finished T2")
    running = batch_check("p", _run("R2", "running", None))
    assert (running.state, running.ok) == ("running", True)
    failed = batch_check("p", _run("R3", "failed", "T4", "OOM"))
    assert (failed.state, failed.ok, failed.detail) == ("failed", False, "R3 failed T4: OOM")


class _Reader:
    """A SnapshotReader whose last_run.json could not be read."""

    root = "/r"

    def last_run(self) -> None:
        raise SnapshotUnavailable("reading /r/last_run.json: no answer")


def test_an_unreadable_last_run_is_unknown_and_fails() -> None:
    unknown = batch_probe(_Reader())  # type: ignore[arg-type]
    assert (unknown.state, unknown.ok, unknown.address) == ("unknown", False, "/r/last_run.json")
    assert unknown.detail == "HDFS: reading /r/last_run.json: no answer"


def test_exit_code_is_zero_only_if_all_ok() -> None:
    up = Check("a", "x", "up", True)
    never = Check("batch", "p", "never run", True)
    down = Check("b", "y", "down", False)
    assert exit_code([up, never]) == 0
    assert exit_code([up, down]) == 1


def test_table_aligns_columns() -> None:
    checks = [
        Check("broker", "h:9092", "up", True, "1 broker(s)"),
        Check("batch", "/r", "never run", True),
    ]
    lines = table_lines(checks)
    assert lines[0].split() == ["COMPONENT", "STATE", "ADDRESS", "DETAIL"]
    assert lines[2] == "batch      never run  /r"
    assert lines[1].index("h:9092") == lines[0].index("ADDRESS")


def test_json_report_round_trips() -> None:
    report = json.loads(json.dumps(json_report([Check("web", "u", "down", False, "HTTP 500")])))
    assert report == {
        "ok": False,
        "components": [
            {"name": "web", "address": "u", "state": "down", "ok": False, "detail": "HTTP 500"}
        ],
    }


def test_http_errors_are_short() -> None:
    assert describe_http_error(requests.ConnectTimeout("long text"), 2.0) == "no answer within 2 s"
    refused = requests.ConnectionError("... [Errno 111] Connection refused'))")
    assert describe_http_error(refused, 2.0) == "connection refused"
    assert (
        describe_http_error(requests.ConnectionError("Name or service not known"), 2.0)
        == "cannot connect"
    )


def test_lag_table_and_json() -> None:
    from streamapp.cli.status import LagReport, lag_lines
    from streamapp.lag import PartitionLag

    report = LagReport(
        "t",
        [
            PartitionLag("ws", "live", 0, 10, 12, 2),
            PartitionLag("ws-archive", "archive", 0, None, 12, 12),
        ],
    )
    lines = lag_lines(report)
    assert lines[0].split() == ["GROUP", "ROLE", "PARTITION", "COMMITTED", "END", "LAG"]
    assert [line.split() for line in lines[1:]] == [
        ["ws", "live", "0", "10", "12", "2"],
        ["ws-archive", "archive", "0", "-", "12", "12"],
    ]
    assert lag_lines(LagReport("t", [], "broker gone")) == ["lag of t: unknown (broker gone)"]
    assert lag_lines(LagReport("t", [])) == ["lag of t: no such topic yet"]
    as_json = json_report([Check("broker", "b", "up", True)], report)
    assert as_json["lag"]["partitions"][1] == {
        "group": "ws-archive",
        "role": "archive",
        "partition": 0,
        "committed": None,
        "end": 12,
        "lag": 12,
    }
    assert "lag" not in json_report([Check("broker", "b", "down", False)])
