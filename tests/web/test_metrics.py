"""The report's /metrics: reconciliation, batch and archive health; lag in the health diagram."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from hdfs import InsecureClient
from prometheus_client.parser import text_string_to_metric_families

from devstack.broker import Broker
from devstack.report_doubles import LiveServer
from devstack.webhdfs import WebHdfsServer
from streamapp.archive.core import DataFile, Marker, data_file_path, encode_marker, marker_paths
from tests.fixtures.worker import create_topic, produce
from tests.web.conftest import sample_messages
from web.metrics import archive_metrics, batch_metrics
from web.sources import ArchivePartition

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: FlaskClient) -> Samples:
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.get_data(as_text=True))
        for s in family.samples
    }


def test_match_verdict_gap_and_batch_run(client: FlaskClient) -> None:
    m = scrape(client)
    summary = client.get("/api/summary").json
    assert m[("wordstream_reconcile_verdict", (("state", "match"),))] == 1
    assert m[("wordstream_reconcile_verdict", (("state", "drift"),))] == 0
    assert m[("wordstream_reconcile_drifting_hours", ())] == 0
    messages = next(t for t in summary["totals"] if t["name"] == "messages")
    assert messages["diff"] > 0  # the worker saw later messages
    assert (
        m[("wordstream_reconcile_live_minus_batch", (("total", "messages"),))] == messages["diff"]
    )
    assert m[("wordstream_reconcile_unexplained_gap", (("total", "messages"),))] == 0
    assert m[("wordstream_report_source_up", (("source", "worker"),))] == 1
    assert ("wordstream_batch_last_success_timestamp_seconds", ()) in m


def test_drift_is_a_metric(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = sample_messages()
    messages.pop(3)  # the worker never counted this one
    m = scrape(make_app(live_factory(messages).url, published.url).test_client())
    assert m[("wordstream_reconcile_verdict", (("state", "drift"),))] == 1
    assert m[("wordstream_reconcile_drifting_hours", ())] == 1
    assert m[("wordstream_reconcile_unexplained_gap", (("total", "messages"),))] == -1


def test_batch_metrics_from_a_run_and_a_failed_attempt() -> None:
    info = {"started_at": "2026-01-01T02:00:00Z", "finished_at": "2026-01-01T02:01:30Z"}
    families = {f.name: f for f in batch_metrics(info, {"state": "failed"})}
    at = families["wordstream_batch_last_success_timestamp_seconds"].samples[0].value
    assert at == 1_767_232_890
    assert families["wordstream_batch_last_success_duration_seconds"].samples[0].value == 90
    states = {
        s.labels["state"]: s.value for s in families["wordstream_batch_last_run_state"].samples
    }
    assert states == {"success": 0, "running": 0, "failed": 1}
    assert batch_metrics(None, None) == []


def test_archive_metrics_per_partition_and_date() -> None:
    parts = [ArchivePartition(0, 41, 1_767_225_600_500, {"2026-01-01": 3, "2026-01-02": 1})]
    samples = [(s.name, s.labels, s.value) for f in archive_metrics(parts) for s in f.samples]
    assert (
        "wordstream_archive_last_commit_timestamp_seconds",
        {"partition": "0"},
        1_767_225_600.5,
    ) in samples
    assert ("wordstream_archive_committed_offset", {"partition": "0"}, 41) in samples
    assert (
        "wordstream_archive_committed_files",
        {"partition": "0", "date": "2026-01-02"},
        1,
    ) in samples


def test_archive_read_from_markers_and_files_in_hdfs(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    root, topic = "/data/metrics_archive", "data_stream"
    hdfs = InsecureClient(published.url, user="test")
    for first, last, date in ((0, 9, "2026-01-01"), (10, 14, "2026-01-01"), (15, 20, "2026-01-02")):
        path = data_file_path(root, DataFile(0, date, topic, 1, first, last))
        hdfs.write(path, data=b"{}\n", overwrite=True)
    hdfs.write(data_file_path(root, DataFile(0, "2026-01-02", topic, 3, 0, 0)), data=b"{}\n")
    before = time.time()
    slots = marker_paths(root, topic, 1)
    hdfs.write(slots[0], data=encode_marker(Marker(4, 0, 14, "f4")), overwrite=True)
    hdfs.write(slots[1], data=encode_marker(Marker(5, 0, 20, "f5")), overwrite=True)
    app = make_app(live_factory(sample_messages()).url, published.url, ARCHIVE_ROOT=root)
    m = scrape(app.test_client())
    assert m[("wordstream_archive_committed_offset", (("partition", "1"),))] == 20
    commit = m[("wordstream_archive_last_commit_timestamp_seconds", (("partition", "1"),))]
    assert before - 2 <= commit <= time.time() + 2
    files = {k[1]: v for k, v in m.items() if k[0] == "wordstream_archive_committed_files"}
    assert files == {
        (("date", "2026-01-01"), ("partition", "1")): 2,
        (("date", "2026-01-02"), ("partition", "1")): 1,
    }  # partition 3 has files but no marker: nothing committed through the protocol


def test_health_and_diagram_show_both_groups_lag(
    broker: Broker,
    topic_name: str,
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    create_topic(broker.bootstrap, topic_name, 2)
    produce(broker.bootstrap, topic_name, [b"a"] * 5)
    app = make_app(
        live_factory(sample_messages()).url,
        published.url,
        KAFKA_BOOTSTRAP=broker.bootstrap,
        TOPIC=topic_name,
    )
    c = app.test_client()
    # Nobody consumed the topic: both groups are 5 messages behind.
    assert c.get("/api/health").json["lag"] == {
        "state": "ok",
        "detail": "live 5 · archive 5 behind",
    }
    page = c.get("/").get_data(as_text=True)
    assert "consume · lag 5" in page and "archive · lag 5" in page
