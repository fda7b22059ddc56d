"""Flask test-client tests of every page and API route, over a worker double and real WebHDFS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from flask import Flask
from flask.testing import FlaskClient
from hdfs import InsecureClient

from devstack.broker import Broker
from devstack.report_doubles import LiveServer, count, numbered, publish_batch, write_json
from devstack.webhdfs import WebHdfsServer
from tests.web.conftest import (
    HOSTILE,
    REPORT_ROOT,
    later_messages,
    no_dead_port_url,
    sample_messages,
)

API_ROUTES = [
    "/api/summary",
    "/api/live",
    "/api/batch",
    "/api/hours",
    "/api/top",
    "/api/word/kafka",
    "/api/health",
]


def test_match_when_live_is_only_ahead_by_later_messages(client: FlaskClient) -> None:
    s = client.get("/api/summary").json
    assert s["verdict"]["state"] == "match"
    messages = {t["name"]: t for t in s["totals"]}["messages"]
    assert messages["status"] == "ahead" and messages["diff"] == len(later_messages())
    hours = client.get("/api/hours").json["hours"]
    judged = [h for h in hours if h["status"] in ("match", "drift")]
    assert judged and all(h["status"] == "match" for h in judged)
    assert all(h["hour"] < s["batch"]["coverage"]["fully_covered_before"] for h in judged)
    assert {h["status"] for h in hours if h not in judged} == {"not covered"}


def test_page_shows_verdict_totals_batch_run_and_top_words(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    live = client.get("/api/live").json["totals"]
    batch = client.get("/api/batch").json["snapshot"]
    top = client.get("/api/top").json["rows"]
    assert 'data-state="match"' in html
    assert f'id="live-messages">{live["messages"]:,}<' in html
    assert f'id="batch-words">{batch["totals"]["words"]:,}<' in html
    assert f'id="batch-rejected">{batch["totals"]["rejected"]:,}<' in html
    assert f'id="batch-corrupt">{batch["totals"]["corrupt"]:,}<' in html
    assert batch["run_id"] in html
    assert f'<th scope="row" class="word">{top[0]["word"]}</th>' in html
    assert '<svg class="chart"' in html and '<svg class="diagram"' in html
    assert '<meta name="viewport"' in html


def test_drift_in_a_covered_hour_is_reported(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    messages = numbered(sample_messages())
    lost = messages.pop(3)  # the worker never counted this one
    app = make_app(live_factory(messages).url, published.url)
    c = app.test_client()
    s = c.get("/api/summary").json
    assert s["verdict"]["state"] == "drift"
    drifting = [h for h in c.get("/api/hours").json["hours"] if h["status"] == "drift"]
    assert len(drifting) == 1 and drifting[0]["messages_diff"] == -1
    lost_hour = datetime.fromtimestamp(lost["timestamp"] / 1000, tz=UTC)
    assert drifting[0]["hour"] == lost_hour.strftime("%Y-%m-%dT%H:00:00Z")
    assert 'data-state="drift"' in c.get("/").get_data(as_text=True)


def test_worker_down_still_renders_with_a_notice(
    published: WebHdfsServer, make_app: Callable[..., Flask]
) -> None:
    c = make_app(no_dead_port_url(), published.url).test_client()
    page = c.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-state="worker down"' in html and "Worker down" in html
    assert 'id="batch-messages">' in html  # the batch side still shows
    assert c.get("/api/live").status_code == 503
    assert c.get("/api/summary").json["verdict"]["state"] == "worker down"
    assert c.get("/api/health").json["worker"]["state"] == "down"
    assert c.get("/api/word/kafka").json["live_error"]
    for route in API_ROUTES:
        assert c.get(route).status_code in (200, 503), route


def test_second_worker_url_is_used_when_the_first_is_dead(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages())
    c = make_app(f"{no_dead_port_url()},{live.url}", published.url).test_client()
    assert c.get("/api/summary").json["verdict"]["state"] == "match"


def test_hdfs_down_still_renders_with_a_notice(
    live_factory: Callable[..., LiveServer], make_app: Callable[..., Flask]
) -> None:
    live = live_factory(sample_messages())
    c = make_app(live.url, no_dead_port_url()).test_client()
    page = c.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-state="hdfs down"' in html and "HDFS unavailable" in html
    assert 'id="live-messages">' in html
    assert c.get("/api/batch").status_code == 503
    health = c.get("/api/health").json
    assert health["hdfs"]["state"] == "down" and health["spark"]["state"] == "unknown"
    for route in API_ROUTES:
        assert c.get(route).status_code in (200, 503), route


def test_no_batch_yet(
    webhdfs: WebHdfsServer, live_factory: Callable[..., LiveServer], make_app: Callable[..., Flask]
) -> None:
    live = live_factory(sample_messages())
    c = make_app(live.url, webhdfs.url).test_client()
    html = c.get("/").get_data(as_text=True)
    assert 'data-state="no batch yet"' in html and "No batch run has completed yet" in html
    assert c.get("/api/batch").json == {"snapshot": None}
    assert c.get("/api/health").json["spark"] == {"state": "unknown", "detail": "never run"}
    top = c.get("/api/top?n=3").json
    assert len(top["rows"]) == 3 and all(r["batch"] is None for r in top["rows"])


def test_a_new_latest_run_is_picked_up(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    everything = sample_messages() + later_messages()
    c = make_app(live_factory(everything).url, published.url).test_client()
    first = c.get("/api/batch").json["snapshot"]
    publish_batch(published.url, REPORT_ROOT, everything, run_id="20260102T020000Z")
    second = c.get("/api/batch").json["snapshot"]
    assert (first["run_id"], second["run_id"]) == ("20260101T020000Z", "20260102T020000Z")
    assert second["totals"]["messages"] > first["totals"]["messages"]
    assert c.get("/api/summary").json["totals"][0]["status"] == "match"


def test_word_search_normalises_and_compares(client: FlaskClient) -> None:
    api = client.get("/api/word/K%EF%BC%A1FKA").json  # "K\uff21FKA": a full-width A folds too
    assert api["word"] == "kafka" and api["live"] is not None and api["batch"] is not None
    assert api["diff"] == api["live"] - api["batch"]
    html = client.get("/?word=KAFKA").get_data(as_text=True)
    assert f'id="word-live">{api["live"]:,}<' in html
    assert f'id="word-batch">{api["batch"]:,}<' in html


def test_a_word_outside_the_batch_top_list_is_read_from_the_word_files(
    webhdfs: WebHdfsServer, live_factory: Callable[..., LiveServer], make_app: Callable[..., Flask]
) -> None:
    msgs = [{"timestamp": 0, "value": " ".join(f"w{i}" for i in range(1500))}]
    publish_batch(webhdfs.url, REPORT_ROOT, msgs, part_size=400)
    c = make_app(live_factory(msgs).url, webhdfs.url).test_client()
    assert c.get("/api/word/w1499").json["batch"] == 1
    assert c.get("/api/word/absent").json["batch"] == 0


@pytest.mark.parametrize(
    "query",
    [
        "n=0",
        "n=1001",
        "n=abc",
        "n=-5",
        "n=99999999999999999999",
        "word=../etc/passwd",
        "word=two+words",
        "word=a%2Fb",
        "word=" + "x" * 300,
    ],
)
def test_bad_parameters_are_400(client: FlaskClient, query: str) -> None:
    page = client.get(f"/?{query}")
    assert page.status_code == 400
    assert "Bad request" in page.get_data(as_text=True)
    assert client.get(f"/fragment?{query}").status_code == 400
    if query.startswith("n="):
        assert client.get(f"/api/top?{query}").status_code == 400
        assert "error" in client.get(f"/api/top?{query}").json


@pytest.mark.parametrize("word", ["two%20words", "a/b", "..%2F..%2Fetc", "%3Cscript%3E"])
def test_api_word_refuses_anything_but_one_word(client: FlaskClient, word: str) -> None:
    resp = client.get(f"/api/word/{word}")
    assert resp.status_code == 400 and "error" in resp.json


def test_unknown_api_route_is_a_json_404(client: FlaskClient) -> None:
    resp = client.get("/api/nope")
    assert resp.status_code == 404 and "error" in resp.json


def test_hostile_text_is_escaped(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    # Words cannot hold markup, so a worker answering one (broken or hostile) is simulated.
    live = live_factory(
        sample_messages(),
        answers={
            "/top": {"top": [{"word": HOSTILE, "count": 3}]},
            "/health": {"status": HOSTILE, "assigned": []},
        },
    )
    c = make_app(live.url, published.url).test_client()
    html = c.get("/?word=%3Cb%3E").get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'value="&lt;b&gt;"' in html


def test_security_headers_on_every_response(client: FlaskClient) -> None:
    for route in ["/", "/fragment", "/api/summary", "/healthz", "/static/style.css", "/nope"]:
        headers = client.get(route).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_page_has_no_inline_script_or_style_and_no_external_resource(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "<style" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    for asset in ["/static/style.css", "/static/refresh.js", "/static/favicon.svg"]:
        assert client.get(asset).status_code == 200


def test_fragment_is_the_report_alone(client: FlaskClient) -> None:
    html = client.get("/fragment?n=3").get_data(as_text=True)
    assert "<html" not in html and 'id="verdict"' in html and "Top 3 words" in html


def test_healthz_and_no_debug(client: FlaskClient) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.application.debug is False


def test_producer_turns_active_when_live_totals_grow(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages())
    c = make_app(live.url, published.url, HEALTH_CACHE_SECONDS=0).test_client()
    c.get("/api/live")
    assert c.get("/api/health").json["producer"]["state"] == "warn"
    live.feed(sample_messages() + later_messages())
    c.get("/api/live")
    assert c.get("/api/health").json["producer"]["state"] == "ok"


def test_default_page_is_rendered_once_per_cache_period(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages())
    c = make_app(live.url, published.url, LIVE_CACHE_SECONDS=600).test_client()
    first = c.get("/").get_data(as_text=True)
    live.feed(sample_messages() + later_messages())
    assert c.get("/").get_data(as_text=True) == first
    assert c.get("/api/live").json["totals"]["messages"] == live.counts.messages - len(
        later_messages()
    )  # the worker answer is cached too, for the same period
    searched = c.get("/?word=kafka").get_data(as_text=True)
    assert 'id="word-live">' in searched  # a search is never served from the page cache


@pytest.mark.integration
def test_broker_box_reads_real_broker_metadata(
    broker: Broker,
    topic_name: str,
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages())
    app = make_app(live.url, published.url, KAFKA_BOOTSTRAP=broker.bootstrap, TOPIC=topic_name)
    missing = app.test_client().get("/api/health").json["broker"]
    assert missing["state"] == "warn" and topic_name in missing["detail"]
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})  # kept alive for the future
    admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])[
        topic_name
    ].result(timeout=10)
    app = make_app(live.url, published.url, KAFKA_BOOTSTRAP=broker.bootstrap, TOPIC=topic_name)
    present = app.test_client().get("/api/health").json["broker"]
    assert present == {"state": "ok", "detail": "1 broker(s); 3 partition(s)"}


def test_clock_and_spark_boxes_follow_their_state(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages())
    clock_health = {
        "status": "ok",
        "cron": "0 2 * * *",
        "timezone": "UTC",
        "next_run": "2026-01-02T02:00:00+00:00",
        "running": False,
    }
    clock = live_factory([], answers={"/health": clock_health})
    clock_port = int(clock.url.rsplit(":", 1)[1])
    write_json(
        InsecureClient(published.url),
        f"{REPORT_ROOT}/last_run.json",
        {"run_id": "x", "state": "failed", "started_at": "s", "finished_at": "f", "error": "OOM"},
    )
    health = make_app(live.url, published.url, CLOCK_PORT=clock_port).test_client()
    body = health.get("/api/health").json
    assert body["clock"] == {"state": "ok", "detail": "next run 2026-01-02 02:00"}
    assert body["spark"] == {"state": "down", "detail": "failed: OOM"}
    html = health.get("/").get_data(as_text=True)
    assert 'data-component="spark" data-state="down"' in html
    assert 'data-component="clock" data-state="ok"' in html
    # The same clock found at CLOCK_URL, whatever CLOCK_PORT says.
    by_url = make_app(live.url, published.url, CLOCK_URL=clock.url).test_client()
    assert by_url.get("/api/health").json["clock"] == body["clock"]


def test_a_worker_breaking_the_contract_reads_as_down_not_as_a_crash(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    live = live_factory(sample_messages(), answers={"/totals": {"msgs": 1}, "/top": [1, 2]})
    c = make_app(live.url, published.url).test_client()
    page = c.get("/")
    assert page.status_code == 200
    assert 'data-state="worker down"' in page.get_data(as_text=True)
    assert "/totals" in c.get("/api/live").json["error"]
    assert "/top" in c.get("/api/top").json["live_error"]


def test_a_worker_failing_over_reads_as_catching_up_not_down(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> None:
    # Issue 23: during a failover the survivor answers from standby copies, marked behind.
    counts = count(sample_messages())
    totals = {"messages": counts.messages, "words": counts.words, "rejected": counts.rejected}
    behind = {"partitions": [2, 3], "offsets": 17}
    live = live_factory(
        sample_messages(), status="starting", answers={"/totals": totals | {"behind": behind}}
    )
    c = make_app(live.url, published.url, HEALTH_CACHE_SECONDS=0).test_client()
    worker = c.get("/api/health").json["worker"]
    assert worker["state"] == "warn"
    assert "catching up" in worker["detail"] and "[2, 3]" in worker["detail"]
    verdict = c.get("/api/summary").json["verdict"]
    assert verdict["state"] == "catching up", verdict
    assert c.get("/api/live").json["totals"]["behind"] == behind
    html = c.get("/").get_data(as_text=True)
    assert 'data-state="catching up"' in html and 'id="live-catching-up"' in html
    assert "Worker down" not in html
