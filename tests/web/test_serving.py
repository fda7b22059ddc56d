"""The report as a serving layer, over a worker double and snapshots in real WebHDFS.

Scenarios built on purpose, each ending in what a user should see: a partition's archive
held back at run time, a late message, an archive file lost before the run, and the
best-known counts (exact batch before the time boundary, live after).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from devstack.ports import free_port
from devstack.report_doubles import LiveServer, Message, count, numbered, publish_batch, source_of
from devstack.webhdfs import WebHdfsServer
from streamapp.contract import hour_of
from tests.web.conftest import HOSTILE, HOUR, REPORT_ROOT, T0

TEXTS = [
    "kafka streams words",
    "spark counts them again",
    "one",
    "hdfs keeps every word of kafka",
    "été garçon kafka",
]


def stream(hours: int = 6, partitions: int = 3, per_hour: int = 4) -> list[Message]:
    """Messages of `partitions` logs, `per_hour` an hour each, timestamps rising with offsets."""
    messages = []
    for h in range(hours):
        for p in range(partitions):
            for i in range(per_hour):
                text = TEXTS[(h + p + i) % len(TEXTS)]
                stamp = T0 + h * HOUR + (i * 10 + p) * 60_000
                messages.append({"timestamp": stamp, "value": text, "partition": p})
    return numbered(messages)


def app_over(
    messages_live: list[Message],
    make_app: Callable[..., Flask],
    live_factory: Callable[..., LiveServer],
    webhdfs: WebHdfsServer,
) -> FlaskClient:
    return make_app(live_factory(messages_live).url, webhdfs.url).test_client()


def cells_of(hours: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    return {(c["hour"], c["source"]): c["status"] for h in hours for c in h["cells"]}


def test_a_partition_held_back_at_run_time_is_not_covered_not_drift(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream()
    # Partition 1's archive had reached only two messages into hour 2 when the batch ran.
    held = [m for m in messages if m["partition"] == 1 and m["timestamp"] >= T0 + 2 * HOUR]
    archived = [m for m in messages if m not in held[2:]]
    publish_batch(webhdfs.url, REPORT_ROOT, archived)
    c = app_over(messages, make_app, live_factory, webhdfs)

    body = c.get("/api/hours").json
    assert body["per_cell"] is True
    assert body["judged_before"]["0:1"] == hour_of(T0 + 2 * HOUR)
    statuses = {h["hour"]: h["status"] for h in body["hours"]}
    cells = cells_of(body["hours"])
    assert "drift" not in statuses.values() and "drift" not in cells.values()
    assert statuses[hour_of(T0 + 2 * HOUR)] == "not covered"
    assert cells[hour_of(T0 + 2 * HOUR), "0:1"] == "not covered"
    assert cells[hour_of(T0 + 2 * HOUR), "0:0"] == "match"
    assert [statuses[hour_of(T0 + h * HOUR)] for h in (0, 1)] == ["match", "match"]
    assert c.get("/api/summary").json["verdict"]["state"] == "match"
    assert c.get("/api/drift").json["drift"] == []

    # The same run written without cells (as older runs were): one coverage timestamp
    # for all partitions judges partition 1's held-back hours, and calls them drift.
    publish_batch(webhdfs.url, REPORT_ROOT, archived, run_id="20260101T030000Z", cells=False)
    old = c.get("/api/hours").json
    assert old["per_cell"] is False and all(h["cells"] == [] for h in old["hours"])
    assert c.get("/api/summary").json["verdict"]["state"] == "drift"
    assert {h["status"] for h in old["hours"] if h["hour"] < hour_of(T0 + 5 * HOUR)} == {
        "match",
        "drift",
    }


def test_a_late_message_is_pending_until_the_next_run_counts_it(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream()
    publish_batch(webhdfs.url, REPORT_ROOT, messages)
    # Produced after the run with a timestamp in hour 1: offset beyond what was archived.
    late = numbered(
        [*messages, {"timestamp": T0 + HOUR + 7, "value": "late kafka", "partition": 0}]
    )
    c = app_over(late, make_app, live_factory, webhdfs)

    hours = c.get("/api/hours").json["hours"]
    late_hour = hour_of(T0 + HOUR)
    assert {h["hour"]: h["status"] for h in hours}[late_hour] == "late"
    assert cells_of(hours)[late_hour, "0:0"] == "late"
    assert "drift" not in cells_of(hours).values()
    summary = c.get("/api/summary").json
    assert summary["verdict"]["state"] == "match" and "pending" in summary["verdict"]["message"]
    assert {t["name"]: t["status"] for t in summary["totals"]}["messages"] == "ahead"
    drift = c.get("/api/drift").json
    assert drift["drift"] == []
    assert [(d["hour"], d["source"], d["messages_diff"]) for d in drift["late"]] == [
        (late_hour, "0:0", 1)
    ]
    assert drift["late"][0]["live"]["last_offset"] > drift["late"][0]["covered_last_offset"]
    html = c.get("/").get_data(as_text=True)
    assert 'data-source="0:0" data-status="late"' in html and "pending the next run" in html

    publish_batch(webhdfs.url, REPORT_ROOT, late, run_id="20260102T020000Z")
    after = c.get("/api/hours").json["hours"]
    assert {h["hour"]: h["status"] for h in after}[late_hour] == "match"
    assert c.get("/api/drift").json["late"] == []


def test_a_lost_archive_file_is_drift_located_to_its_partition_hours_and_offsets(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream()
    # One archive file of partition 2: offsets 5-9, across hours 1 and 2.
    lost = [m for m in messages if m["partition"] == 2 and 5 <= m["offset"] <= 9]
    publish_batch(webhdfs.url, REPORT_ROOT, [m for m in messages if m not in lost])
    c = app_over(messages, make_app, live_factory, webhdfs)

    body = c.get("/api/drift").json
    assert body["verdict"]["state"] == "drift" and "partition(s) 2" in body["verdict"]["message"]
    in_file = count(lost)
    got = {
        (d["hour"], d["source"]): (d["messages_diff"], d["words_diff"], d["short"])
        for d in body["drift"]
    }
    assert got == {(h, s): (m, w, "batch") for (h, s), (m, w, _, _) in in_file.cells.items()}
    assert sum(d["messages_diff"] for d in body["drift"]) == len(lost)
    assert sum(d["words_diff"] for d in body["drift"]) == in_file.words
    assert all(d["archive_gaps"] == [[5, 9]] for d in body["drift"])
    assert {source_of(m) for m in lost} == {d["source"] for d in body["drift"]} == {"0:2"}
    for d in body["drift"]:
        assert d["batch"]["first_offset"] <= d["batch"]["last_offset"]
    drifting = [h["hour"] for h in c.get("/api/hours").json["hours"] if h["status"] == "drift"]
    assert drifting == sorted({hour_of(m["timestamp"]) for m in lost})
    html = c.get("/").get_data(as_text=True)
    assert html.count('data-source="0:2" data-status="drift"') == len(drifting)
    assert 'id="drift-list"' in html and "5-9" in html


def recount(messages: list[Message], boundary: str, before: bool) -> Any:
    return count([m for m in messages if (hour_of(m["timestamp"]) < boundary) == before])


def test_best_known_counts_are_the_archive_before_the_boundary_plus_live_after(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream()
    held = [m for m in messages if m["partition"] == 1 and m["timestamp"] >= T0 + 3 * HOUR]
    archived = [m for m in messages if m not in held[1:]]
    publish_batch(webhdfs.url, REPORT_ROOT, archived)
    newer = numbered(
        [
            *messages,
            {"timestamp": T0 + 6 * HOUR + 5, "value": "kafka after the run", "partition": 2},
        ]
    )
    c = app_over(newer, make_app, live_factory, webhdfs)

    body = c.get("/api/counts?n=3").json
    boundary = hour_of(T0 + 3 * HOUR)  # partition 1's newest archived hour
    assert body["boundary"] == boundary
    exact, live = recount(archived, boundary, True), recount(newer, boundary, False)
    assert body["totals"]["messages"] == {
        "count": exact.messages + live.messages,
        "exact": exact.messages,
        "live": live.messages,
        "batch": 0,
    }
    assert body["totals"]["words"]["count"] == exact.words + live.words
    assert {h["hour"]: h["provenance"] for h in body["hours"]} == {
        hour_of(T0 + i * HOUR): "exact" if i < 3 else "live" for i in range(7)
    }
    everything = count(newer)  # the batch missed nothing before the boundary
    assert body["top"] == [
        {"word": e["word"], "count": e["count"]} | parts(e["word"], exact, live)
        for e in everything.top(3)
    ]
    for word in ["kafka", "été", "one", "absent"]:
        got = c.get(f"/api/counts?word={word}").json["word"]
        assert got == {"word": word, "count": everything.per_word[word]} | parts(word, exact, live)
    # The page and its word search serve the same numbers.
    html = c.get("/?word=kafka").get_data(as_text=True)
    assert f'id="known-messages">{exact.messages + live.messages:,}' in html
    assert f'id="word-known">{everything.per_word["kafka"]:,}' in html
    assert boundary in html
    api = c.get("/api/word/kafka").json["best_known"]
    assert api["count"] == everything.per_word["kafka"] and api["boundary"] == boundary


def parts(word: str, exact: Any, live: Any) -> dict[str, int]:
    return {"exact": exact.per_word[word], "live": live.per_word[word], "batch": 0}


def test_counts_without_a_batch_are_all_live_and_parameters_are_checked(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream(hours=2)
    c = app_over(messages, make_app, live_factory, webhdfs)
    body = c.get("/api/counts?word=Kafka").json
    assert body["boundary"] is None
    assert body["totals"]["messages"]["live"] == len(messages)
    assert {h["provenance"] for h in body["hours"]} == {"live"}
    assert body["word"]["count"] == body["word"]["live"] == count(messages).per_word["kafka"]
    for bad in ["n=0", "n=x", "word=two+words", "word=a%2Fb"]:
        resp = c.get(f"/api/counts?{bad}")
        assert resp.status_code == 400 and "error" in resp.json


def test_worker_cells_breaking_the_contract_read_as_down_and_text_stays_text(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream(hours=2)
    publish_batch(webhdfs.url, REPORT_ROOT, messages)
    cell = {"hour": hour_of(T0), "source": "0:0", "messages": 1, "words": 1, "last_offset": 0}
    bad = live_factory(
        messages, answers={"/sources": {"sources": [], "cells": [cell | {"source": "<b>0</b>"}]}}
    )
    c = make_app(bad.url, webhdfs.url).test_client()
    page = c.get("/")
    assert page.status_code == 200 and 'data-state="worker down"' in page.get_data(as_text=True)
    assert "/sources" in c.get("/api/live").json["error"]
    hostile = live_factory(
        messages, answers={"/sources": {"sources": [], "cells": [cell | {"hour": HOSTILE}]}}
    )
    html = make_app(hostile.url, webhdfs.url).test_client().get("/").get_data(as_text=True)
    assert "&lt;script&gt;" in html and "<script>alert" not in html


def test_word_counts_fall_back_to_the_side_that_answers(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = stream()
    archived = messages[: len(messages) - 5]
    # A run without hour_words/: the batch's side of a word from the boundary on is unknown,
    # so the word's best-known count is live's, tagged as such, and the reason is given.
    publish_batch(webhdfs.url, REPORT_ROOT, archived, hour_words=False)
    c = app_over(messages, make_app, live_factory, webhdfs)
    body = c.get("/api/counts?word=kafka&n=2").json
    live_kafka = count(messages).per_word["kafka"]
    assert body["word"] == {
        "word": "kafka",
        "count": live_kafka,
        "exact": 0,
        "live": live_kafka,
    } | {"batch": 0}
    assert "hour_words" in body["batch_error"]
    assert [e["count"] for e in body["top"]] == [e["count"] for e in count(messages).top(2)]
    # The worker down: the batch's own counts (exact before the boundary, batch after).
    publish_batch(webhdfs.url, REPORT_ROOT, archived, run_id="20260101T030000Z")
    down = make_app(f"http://127.0.0.1:{free_port()}", webhdfs.url).test_client()
    body = down.get("/api/counts?word=kafka").json
    assert body["live_error"] and body["word"]["count"] == count(archived).per_word["kafka"]
    assert body["word"]["live"] == 0 and body["word"]["batch"] > 0
    assert {h["provenance"] for h in body["hours"]} == {"exact", "batch"}


def test_a_run_that_kept_later_hours_only_gives_no_split_word_count(
    webhdfs: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    """`hour_words_since` after the time boundary: the batch's share of a word from the
    boundary on is unknown, so the word's count falls back to live's, never a guess."""
    from hdfs import InsecureClient

    messages = stream()
    run = publish_batch(webhdfs.url, REPORT_ROOT, messages[: len(messages) - 5])
    client = InsecureClient(webhdfs.url)
    with client.read(f"{run}/summary.json") as raw:
        summary = json.load(raw)
    summary["hour_words_since"] = "9999-01-01T00:00:00Z"
    client.write(f"{run}/summary.json", json.dumps(summary), overwrite=True)
    c = app_over(messages, make_app, live_factory, webhdfs)
    body = c.get("/api/counts?word=kafka").json
    assert body["word"]["count"] == count(messages).per_word["kafka"]
    assert body["word"]["exact"] == 0
    assert "kept per-hour word counts from 9999-01-01T00:00:00Z" in body["batch_error"]
