"""The dev broker launcher: metadata readiness, port clashes, no orphans."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from devstack.broker import Broker, BrokerError, metadata_ready
from devstack.ports import free_port, port_in_use

pytestmark = pytest.mark.integration


def test_started_broker_answers_metadata_and_stops(broker_factory: Callable[..., Broker]) -> None:
    b = broker_factory()
    assert metadata_ready(b.bootstrap)
    b.stop()
    assert not port_in_use(b.host, b.port)


def test_port_taken_is_one_clear_error(broker: Broker) -> None:
    with pytest.raises(BrokerError, match=f"port {broker.port} .* already in use"):
        Broker(port=broker.port).start()


def test_a_killed_launcher_takes_its_broker_with_it() -> None:
    port = free_port()
    script = textwrap.dedent(
        f"""
        import os
        from devstack.broker import Broker
        Broker({port}).start()
        print("up", flush=True)
        os.kill(os.getpid(), 9)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.stdout.strip() == "up"
    deadline = time.monotonic() + 10
    while port_in_use("127.0.0.1", port):
        assert time.monotonic() < deadline, "the broker outlived its killed launcher"
        time.sleep(0.1)
