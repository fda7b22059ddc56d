"""Unit tests of the worker's Kafka settings that need no broker (streamapp.transport,
streamapp.app)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest
from faust.transport.consumer import ThreadDelegateConsumer

from streamapp.transport import GETMANY_MAX_WAIT_S, Consumer


def test_a_read_of_fetched_records_waits_at_most_a_tenth_of_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[float] = []

    async def faust_getmany(self: Any, active_partitions: Any, timeout: float) -> dict[Any, Any]:
        asked.append(timeout)
        return {}

    # faust's own read (it waits on aiokafka's queue in the consumer thread) is not
    # what is under test: what it is asked to wait is.
    monkeypatch.setattr(ThreadDelegateConsumer, "_getmany", faust_getmany)
    consumer = object.__new__(Consumer)
    asyncio.run(consumer._getmany(set(), 1.0))  # faust's fetcher asks for 1 s
    asyncio.run(consumer._getmany(set(), 0.01))
    assert asked == [GETMANY_MAX_WAIT_S, 0.01]
    assert GETMANY_MAX_WAIT_S <= 0.1


@pytest.mark.parametrize(
    ("env", "seconds"), [({}, 1.0), ({"KAFKA_COMMIT_INTERVAL_MS": "250"}, 0.25)]
)
def test_the_worker_commits_at_kafka_commit_interval_ms(
    env: dict[str, str], seconds: float
) -> None:
    # A fresh interpreter: the app reads its settings once, at import.
    code = "from streamapp.app import app; print(app.conf.broker_commit_interval)"
    clean = {k: v for k, v in os.environ.items() if k != "KAFKA_COMMIT_INTERVAL_MS"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True
    )
    assert float(out.stdout.strip().splitlines()[-1]) == seconds
