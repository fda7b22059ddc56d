"""Fixtures of the report's tests: the Flask app over a worker-views double and real WebHDFS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from devstack.ports import free_port
from devstack.report_doubles import LiveServer, Message, publish_batch, serve_live
from devstack.webhdfs import WebHdfsServer
from web import create_app

REPORT_ROOT = "/reports/wordstream"
HOUR = 3_600_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)>"


def sample_messages() -> list[Message]:
    """Four full hours and a fifth that is still filling when the batch runs.

    Two partitions, each with messages in every hour; offsets follow list order (`numbered`).
    """
    texts = [
        "Kafka streams words to the worker",
        "the worker counts words; Spark counts them again",
        "Bonjour le monde, hello world",
        HOSTILE,
        "kafka kafka KAFKA",
    ]
    messages: list[Message] = []
    for hour in range(5):
        for i, text in enumerate(texts[: 2 + hour % 4]):
            messages.append(
                {"timestamp": T0 + hour * HOUR + i * 60_000, "value": text, "partition": i % 2}
            )
    messages.append({"timestamp": T0 + 2 * HOUR + 5, "value_b64": "/w==", "partition": 0})
    return messages


def later_messages() -> list[Message]:
    """What arrives after the batch run, in its last (not fully covered) hour and the next."""
    return [
        {"timestamp": T0 + 4 * HOUR + 50 * 60_000, "value": "late in the partial hour"},
        {"timestamp": T0 + 5 * HOUR + 10, "value": "a brand new hour", "partition": 1},
    ]


def no_dead_port_url() -> str:
    """A loopback URL nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def live_factory() -> Iterator[Callable[..., LiveServer]]:
    """Start worker-view doubles; all are stopped at teardown."""
    servers: list[LiveServer] = []

    def make(messages: list[Message], **kwargs: Any) -> LiveServer:
        servers.append(serve_live(messages, **kwargs))
        return servers[-1]

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    """Build the app against given worker and HDFS URLs, with data caches off.

    Health checks stay cached for the app's life (a minute), so several requests of
    one test do not each wait for the dead broker's metadata timeout.
    """

    def make(worker_urls: str, hdfs_url: str, **extra: Any) -> Flask:
        config = {
            "TESTING": True,
            "WORKER_URLS": worker_urls,
            "HDFS_URL": hdfs_url,
            "REPORT_ROOT": REPORT_ROOT,
            "KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",
            "CLOCK_PORT": free_port(),
            "BROKER_TIMEOUT": 0.3,
            "LIVE_CACHE_SECONDS": 0,
            "HEALTH_CACHE_SECONDS": 60,
            "BATCH_CHECK_SECONDS": 0,
        }
        config.update(extra)
        return create_app(config)

    return make


@pytest.fixture
def published(webhdfs: WebHdfsServer) -> WebHdfsServer:
    """A WebHDFS server holding a snapshot of `sample_messages()`."""
    publish_batch(webhdfs.url, REPORT_ROOT, sample_messages())
    return webhdfs


@pytest.fixture
def client(
    published: WebHdfsServer,
    live_factory: Callable[..., LiveServer],
    make_app: Callable[..., Flask],
) -> FlaskClient:
    """The app over a snapshot of the sample and a worker that has also seen later messages."""
    live = live_factory(sample_messages() + later_messages())
    return make_app(live.url, published.url).test_client()
