"""The one reader of REPORT_ROOT: a missing, unreadable, failed or complete run."""

import json

import pytest
from hdfs import InsecureClient

from devstack.ports import free_port
from devstack.webhdfs import WebHdfsServer
from streamapp.snapshots import (
    SnapshotReader,
    SnapshotUnavailable,
    decode_last_run,
    decode_latest,
)

ROOT = "/reports/ws"
FAILED = {
    "run_id": "R3",
    "state": "failed",
    "started_at": "2026-01-01T02:00:00Z",
    "finished_at": "2026-01-01T02:05:00Z",
    "error": "OOM",
}


def test_a_last_run_record_needs_a_state() -> None:
    assert decode_last_run(FAILED) == FAILED
    for bad in (None, [FAILED], {"run_id": "R3"}, {**FAILED, "state": 3}):
        with pytest.raises(ValueError):
            decode_last_run(bad)


def test_the_latest_pointer_keeps_the_path_part_of_a_uri() -> None:
    pointer = {"run_id": "R1", "path": "hdfs://nn:8020/reports/ws/runs/R1/"}
    assert decode_latest(pointer) == {"run_id": "R1", "path": "/reports/ws/runs/R1"}
    with pytest.raises(ValueError, match="run_id/path"):
        decode_latest({"run_id": "R1"})


@pytest.mark.integration
def test_missing_unreadable_and_failed_runs(webhdfs: WebHdfsServer) -> None:
    reader = SnapshotReader(webhdfs.url, "test", ROOT + "/", timeout=2.0)
    assert (reader.last_run(), reader.latest(), reader.ping()) == (None, None, False)

    client = InsecureClient(webhdfs.url)
    client.write(f"{ROOT}/last_run.json", "{not json", overwrite=True)
    with pytest.raises(SnapshotUnavailable, match="not JSON"):
        reader.last_run()
    client.write(f"{ROOT}/last_run.json", json.dumps(["a list"]), overwrite=True)
    with pytest.raises(SnapshotUnavailable, match="not a batch attempt's record"):
        reader.last_run()

    client.write(f"{ROOT}/last_run.json", json.dumps(FAILED), overwrite=True)
    assert reader.last_run() == FAILED
    assert reader.ping()


def test_hdfs_down_is_unavailable_not_never_run() -> None:
    reader = SnapshotReader(f"http://127.0.0.1:{free_port()}", "test", ROOT, timeout=2.0)
    with pytest.raises(SnapshotUnavailable, match="no answer"):
        reader.last_run()
