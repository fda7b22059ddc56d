"""The one health vocabulary `wordstream status` and the report share."""

from typing import get_args

from devstack.ports import free_port
from streamapp.health import (
    BATCH_HEALTH,
    BatchState,
    Health,
    HealthState,
    Reply,
    batch_state,
    clock_state,
    http_json,
    worker_state,
)
from streamapp.snapshots import LastRun


def _run(state: str) -> LastRun:
    return {"run_id": "R", "state": state, "started_at": "T", "finished_at": None, "error": None}


def test_every_batch_state_has_one_health_state() -> None:
    assert set(BATCH_HEALTH) == set(get_args(BatchState))
    assert set(BATCH_HEALTH.values()) <= set(get_args(HealthState))
    assert [BATCH_HEALTH[batch_state(r)] for r in (None, _run("success"), _run("running"))] == [
        "unknown",
        "ok",
        "warn",
    ]
    assert BATCH_HEALTH[batch_state(_run("failed"))] == "down"


def test_a_state_no_writer_uses_is_unknown_not_failed() -> None:
    assert batch_state(_run("cancelled")) == "unknown"
    assert BATCH_HEALTH["unknown"] == "unknown"


def test_a_worker_is_ok_once_assigned_and_warn_before() -> None:
    assert worker_state({"status": "ok", "assigned": [0]}) == "ok"
    assert worker_state({"status": "starting", "assigned": []}) == "warn"
    assert worker_state(None) == "down"
    assert worker_state(["ok"]) == "down"


def test_the_clock_is_ok_whenever_it_answers_an_object() -> None:
    assert clock_state(Reply(200, {"running": True})) == "ok"
    assert clock_state(Reply(200, {"next_run": "x", "running": False})) == "ok"
    assert clock_state(Reply(500, {"error": "boom"})) == "down"
    assert clock_state(Reply(200, None)) == "down"
    assert clock_state(Reply(error="connection refused")) == "down"


def test_http_json_never_raises() -> None:
    reply = http_json(f"http://127.0.0.1:{free_port()}/health", 1.0)
    assert (reply.status, reply.body, reply.error) == (None, None, "connection refused")


def test_health_as_json() -> None:
    assert Health("warn", "starting").as_dict() == {"state": "warn", "detail": "starting"}
