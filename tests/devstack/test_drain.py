"""The dev services drain on SIGTERM: they serve connected clients until these leave
(or DEV_DRAIN_SECONDS passes), then exit 0; a second signal stops them at once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.broker import metadata_ready
from devstack.ports import free_port, port_in_use

pytestmark = pytest.mark.integration

SERVICES = ["broker", "webhdfs"]


class Service:
    """`python -m devstack.<name>` on a free port, started and reaped by the fixture."""

    def __init__(self, name: str, tmp_path: Path, drain_seconds: int) -> None:
        self.name = name
        self.port = free_port()
        args = ["--port", str(self.port)]
        if name == "webhdfs":
            args += ["--root", str(tmp_path / "hdfs")]
        env = {**os.environ, "DEV_DRAIN_SECONDS": str(drain_seconds), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"devstack.{name}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        assert str(self.port) in first, first

    def answers(self) -> bool:
        """One real request over a new connection: metadata or GETFILESTATUS."""
        if self.name == "broker":
            return metadata_ready(f"127.0.0.1:{self.port}", timeout=5)
        import requests

        url = f"http://127.0.0.1:{self.port}/webhdfs/v1/?op=GETFILESTATUS"
        return requests.get(url, timeout=5).status_code == 200

    def connect(self) -> socket.socket:
        """A client connection that stays open until closed (like a worker's)."""
        conn = socket.create_connection(("127.0.0.1", self.port))
        time.sleep(0.3)  # accepted by the server before anything is signalled
        return conn

    def exit_code_within(self, seconds: float) -> int | None:
        try:
            return self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.read()


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def make(name: str, drain_seconds: int = 30) -> Service:
        service = Service(name, tmp_path, drain_seconds)
        started.append(service)
        return service

    yield make
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait()


@pytest.mark.parametrize("name", SERVICES)
def test_sigterm_serves_a_connected_client_until_it_disconnects(
    start: Callable[..., Service], name: str
) -> None:
    service = start(name)
    client = service.connect()
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert service.proc.poll() is None, "stopped while a client was still connected"
    assert service.answers(), "stopped serving while draining"
    client.close()
    assert service.exit_code_within(5) == 0
    assert not port_in_use("127.0.0.1", service.port)
    out = service.output()
    assert f"{name}: draining: 1 client connection(s) still open" in out
    assert "every client has disconnected" in out


@pytest.mark.parametrize("name", SERVICES)
def test_a_second_signal_stops_at_once(start: Callable[..., Service], name: str) -> None:
    service = start(name)
    client = service.connect()
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert service.proc.poll() is None
    service.proc.send_signal(signal.SIGINT)
    assert service.exit_code_within(3) == 0
    assert not port_in_use("127.0.0.1", service.port)
    assert "stopped by a second signal" in service.output()
    client.close()


@pytest.mark.parametrize("name", SERVICES)
def test_the_drain_is_bounded(start: Callable[..., Service], name: str) -> None:
    service = start(name, drain_seconds=1)
    client = service.connect()
    service.proc.send_signal(signal.SIGTERM)
    assert service.exit_code_within(5) == 0
    assert "DEV_DRAIN_SECONDS passed with 1 connection(s) still open" in service.output()
    client.close()


@pytest.mark.parametrize("name", SERVICES)
def test_without_clients_sigterm_stops_at_once(start: Callable[..., Service], name: str) -> None:
    service = start(name)
    service.proc.send_signal(signal.SIGTERM)
    assert service.exit_code_within(3) == 0
    assert "stopping (0 client connection(s) open)" in service.output()
