"""Every user-fixable failure is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.broker import Broker
from devstack.ports import free_port

pytestmark = pytest.mark.integration


def _wordstream(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh process, so stderr includes anything librdkafka would print."""
    return subprocess.run(
        [sys.executable, "-m", "streamapp.cli", *args],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in lines[0]
    for text in expected:
        assert text in lines[0]
    return lines[0]


def test_broker_unreachable() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    result = _wordstream("produce", "hello", env={"KAFKA_BOOTSTRAP": nobody})
    _one_error_line(result, "wordstream produce: error:", f"no Kafka broker answered at {nobody}")


def test_tail_broker_unreachable() -> None:
    nobody = f"127.0.0.1:{free_port()}"
    result = _wordstream("tail", "--bootstrap", nobody, "--from-earliest")
    _one_error_line(result, "wordstream tail: error:", "no Kafka broker answered")


def test_bad_topic_name_is_refused_before_contacting_the_broker() -> None:
    # The bootstrap points nowhere: an answer within a second shows no broker was asked.
    nobody = f"127.0.0.1:{free_port()}"
    result = _wordstream("topics", "create", "--topic", "data stream", "--bootstrap", nobody)
    _one_error_line(result, "topic name 'data stream'", "letters, digits")


@pytest.mark.parametrize("name", ["..", "x" * 250], ids=["dotdot", "too-long"])
def test_other_bad_topic_names(name: str) -> None:
    _one_error_line(_wordstream("produce", "--topic", name, "hello"), "topic name")


def test_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    _one_error_line(
        _wordstream("produce", "--file", str(missing)), f"cannot read {missing}", "No such file"
    )
    _one_error_line(_wordstream("produce", "--file", str(tmp_path)), "cannot read", "directory")


def test_bad_config_value() -> None:
    result = _wordstream("status", env={"WORKER_PORT": "abc"})
    _one_error_line(result, "WORKER_PORT='abc' is not a whole number")


def test_bad_spark_driver_memory_is_refused_before_spark_starts() -> None:
    result = _wordstream("batch", "run", env={"SPARK_DRIVER_MEMORY": "lots"})
    _one_error_line(result, "SPARK_DRIVER_MEMORY='lots'", "2g")


def test_missing_topic_says_how_to_create_it(broker: Broker, topic_name: str) -> None:
    result = _wordstream("produce", "--bootstrap", broker.bootstrap, "--topic", topic_name, "x")
    _one_error_line(result, "does not exist", f"wordstream topics create --topic {topic_name}")


def test_nothing_to_produce() -> None:
    _one_error_line(_wordstream("produce"), "nothing to produce")
