"""The lab's own producer and consumer scripts, unchanged, against our dev broker."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from devstack.broker import Broker
from streamapp.cli import main

pytestmark = pytest.mark.integration

LAB = Path(__file__).resolve().parent  # the course lab's scripts sit beside this test


def test_lab_producer_then_consumer_see_all_ten_messages(
    broker_factory: Callable[..., Broker],
) -> None:
    # A private broker: the lab's scripts use the fixed topic data_stream and group my_group.
    broker = broker_factory()
    assert main(["topics", "create", "--bootstrap", broker.bootstrap]) == 0

    produced = subprocess.run(
        [sys.executable, str(LAB / "produce.py"), broker.bootstrap],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert produced.returncode == 0, produced.stderr
    reports = produced.stdout.splitlines()
    assert len(reports) == 10
    assert all(line.startswith("Message delivered to data_stream [") for line in reports)

    # The consumer loops until Ctrl-C, as in the lab: read its output, then interrupt it.
    consumer = subprocess.Popen(
        [sys.executable, "-u", str(LAB / "consume.py"), broker.bootstrap],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    received: list[str] = []
    try:
        stdout = consumer.stdout
        assert stdout is not None
        threading.Thread(target=lambda: [lines.put(x) for x in stdout], daemon=True).start()
        # Joining `my_group` with librdkafka's default session timeout takes ~23 s on
        # the dev broker (see docs/cli.md); leave room for a loaded machine.
        deadline = time.monotonic() + 90
        while len(received) < 10:
            try:
                received.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        consumer.send_signal(signal.SIGINT)
        assert consumer.wait(30) == 0
    finally:
        if consumer.poll() is None:
            consumer.kill()
            consumer.wait()
    received = [line.rstrip("\n") for line in received]
    assert sorted(received) == sorted(f"Received message: Message {i}" for i in range(10))
