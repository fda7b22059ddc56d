"""The report over a snapshot written by the real Spark job (not the test helper)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from pyspark.sql import SparkSession

from devstack.report_doubles import LiveServer, Message, publish_batch_with_spark
from devstack.webhdfs import WebHdfsServer
from tests.web.conftest import REPORT_ROOT, T0, later_messages, sample_messages

pytestmark = pytest.mark.integration


def test_report_reads_a_real_spark_snapshot(
    spark: SparkSession,
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    # 1,100 distinct words in one message push some outside the summary's top 1,000.
    many: Message = {"timestamp": T0 + 30_000, "value": " ".join(f"x{i:04d}" for i in range(1100))}
    messages = [*sample_messages(), many]
    run_path = publish_batch_with_spark(spark, webhdfs.url, REPORT_ROOT, messages)
    live = live_factory(messages + later_messages())
    c = make_app(live.url, webhdfs.url).test_client()

    s = c.get("/api/summary").json
    assert s["batch"]["path"] == run_path
    assert s["verdict"]["state"] == "match", s["verdict"]
    statuses = {h["status"] for h in c.get("/api/hours").json["hours"]}
    assert "match" in statuses and "drift" not in statuses
    assert [t["status"] for t in s["totals"]] == ["ahead", "ahead", "match"]
    top_words = {e["word"] for e in c.get("/api/top?n=1000").json["rows"]}
    outside = sorted({f"x{i:04d}" for i in range(1100)} - top_words)
    assert outside  # so the next lookups read the job's words/ part files
    for word in outside[:3]:
        assert c.get(f"/api/word/{word}").json["batch"] == 1
    assert c.get("/api/health").json["spark"]["state"] == "ok"
    assert 'data-state="match"' in c.get("/").get_data(as_text=True)
