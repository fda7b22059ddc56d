"""Consumer lag on a real broker and a real worker: the worker's gauges and `read_lag`."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from devstack.broker import Broker
from streamapp.config import Settings
from streamapp.lag import read_lag, total_lag
from tests.fixtures.worker import LiveWorker, produce

pytestmark = pytest.mark.integration

FAST = {"ARCHIVE_ROTATE_SECONDS": "1", "LAG_INTERVAL_S": "1"}


def lag_samples(worker: LiveWorker) -> dict[tuple[str, int], float]:
    """(role, partition) -> lag, from the worker's /metrics page."""
    found = {}
    for family in text_string_to_metric_families(worker.text("/metrics")):
        if family.name == "wordstream_consumer_lag":
            for s in family.samples:
                found[(s.labels["role"], int(s.labels["partition"]))] = s.value
    return found


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def test_worker_exports_lag_of_both_groups_and_read_lag_sees_a_backlog(
    worker_factory: Callable[..., LiveWorker],
) -> None:
    w = worker_factory(env=FAST)
    produce(w.env["KAFKA_BOOTSTRAP"], w.topic, [f"m {i}".encode() for i in range(400)])

    def caught_up() -> bool:
        lags = lag_samples(w)
        parts = {p for _, p in lags}
        return (
            parts == {0, 1, 2, 3}
            and {r for r, _ in lags} == {"live", "archive"}
            and not any(lags.values())
        )

    wait_until(caught_up, 60, "both groups' lag gauges at 0 for every partition")

    # The worker down: what is produced now is every group's lag.
    w.kill()
    produce(w.env["KAFKA_BOOTSTRAP"], w.topic, [f"late {i}".encode() for i in range(37)])
    settings = Settings.from_env(w.env)
    lags = read_lag(settings)
    assert {(r.role, r.partition) for r in lags} == {
        (role, p) for role in ("live", "archive") for p in range(4)
    }
    assert sum(r.end for r in lags if r.role == "live") == 437
    assert total_lag(lags, "live") == 37
    assert total_lag(lags, "archive") == 37
    assert {r.group for r in lags} == {w.app_id, f"{w.app_id}-archive"}


def test_read_lag_of_a_topic_that_does_not_exist_is_empty(broker: Broker) -> None:
    settings = Settings(kafka_bootstrap=broker.bootstrap, topic="no_such_topic_lag")
    assert read_lag(settings) == []
