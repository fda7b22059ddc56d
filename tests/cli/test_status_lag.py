"""`wordstream status` shows lag per partition of both groups, read from the real dev broker."""

from __future__ import annotations

import json

import pytest

from devstack.broker import Broker
from devstack.ports import free_port
from streamapp.cli import main
from tests.fixtures.worker import create_topic, produce

pytestmark = pytest.mark.integration


def test_status_lag_per_partition(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("HDFS_URL", "WORKER_URLS"):
        monkeypatch.setenv(var, f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("KAFKA_TOPIC", "status_lag")
    monkeypatch.setenv("APP_ID", "status_lag_app")
    create_topic(broker.bootstrap, "status_lag", 3)
    produce(broker.bootstrap, "status_lag", [b"x"] * 9)

    main(["status", "--json", "--bootstrap", broker.bootstrap])
    lag = json.loads(capsys.readouterr().out)["lag"]
    assert lag["topic"] == "status_lag" and lag["error"] is None
    rows = {(r["group"], r["partition"]): r for r in lag["partitions"]}
    assert set(rows) == {
        (g, p) for g in ("status_lag_app", "status_lag_app-archive") for p in range(3)
    }
    # Nobody consumed yet: each group's lag is every message.
    for group in ("status_lag_app", "status_lag_app-archive"):
        assert sum(rows[(group, p)]["lag"] for p in range(3)) == 9
        assert all(rows[(group, p)]["committed"] is None for p in range(3))

    main(["status", "--bootstrap", broker.bootstrap])
    lines = capsys.readouterr().out.splitlines()
    table = lines[lines.index("") + 1 :]
    assert table[0].split()[-1] == "LAG"
    assert len(table) == 1 + 6
