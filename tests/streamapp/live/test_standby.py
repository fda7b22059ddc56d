"""The changelog queue keeps standby records when flow control resumes (streamapp.live.standby)."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import faust
from faust.types import TP

from streamapp.live.standby import ChangelogQueue, TableManager

CHANGELOG = "app-live-words-changelog"
STANDBY = TP(CHANGELOG, 2)
OTHER = TP(CHANGELOG, 3)


def record(tp: TP, offset: int) -> Any:
    """A changelog event as the queue sees it (only its partition and offset matter)."""
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


def queued(queue: ChangelogQueue) -> list[tuple[int, int]]:
    return [(e.message.tp.partition, e.message.offset) for e in list(queue._queue)]  # type: ignore[attr-defined]


def new_app() -> faust.App:
    return faust.App("standby-test", TableManager=TableManager, store="memory://")


def test_a_resume_keeps_the_standby_records_in_order_and_drops_the_rest() -> None:
    app = new_app()
    queue = app.tables.changelog_queue
    assert isinstance(queue, ChangelogQueue)
    app.tables.recovery.standby_tps.add(STANDBY)
    for tp, offset in [(STANDBY, 0), (OTHER, 7), (STANDBY, 1), (STANDBY, 2)]:
        queue.put_nowait(record(tp, offset))
    # faust's recovery resumes flow control at the end of every rebalance: the records
    # of the standby partitions fetched before it are the only copy it will get.
    app.flow_control.resume()
    assert queued(queue) == [(2, 0), (2, 1), (2, 2)]


def test_after_a_revocation_the_next_clear_drops_everything_then_resumes_keep_again() -> None:
    app = new_app()
    queue = app.tables.changelog_queue
    app.tables.recovery.standby_tps.add(STANDBY)
    queue.put_nowait(record(STANDBY, 0))
    # The partition may move: what is queued belongs to the old assignment.
    app.tables.on_partitions_revoked({STANDBY})
    app.flow_control.clear()  # what faust's revocation does next
    assert queued(queue) == []
    queue.put_nowait(record(STANDBY, 1))
    app.flow_control.resume()
    assert queued(queue) == [(2, 1)]


def test_the_worker_app_uses_this_table_manager() -> None:
    code = "from streamapp.app import app; print(type(app.tables.changelog_queue).__name__)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ChangelogQueue"
