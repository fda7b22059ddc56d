"""Server lifecycle: stop really cuts clients off, a restart on the same port and root works."""

from __future__ import annotations

import http.client
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from hdfs import InsecureClient

from devstack.ports import port_in_use
from devstack.webhdfs import PortInUse, RootInUse, WebHdfsServer
from tests.fixtures.webhdfs import read_all_lines


def test_stop_closes_listener_and_open_connections_then_restart_keeps_data(
    webhdfs_factory: Callable[..., WebHdfsServer], tmp_path: Path
) -> None:
    server = webhdfs_factory(root=tmp_path / "root")
    port = server.port
    client = InsecureClient(server.url, user="alice")
    client.write("/d/a.txt", data="one\n", encoding="utf-8")
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # keep-alive, idle
    idle.request("GET", "/webhdfs/v1/d?op=LISTSTATUS")
    response = idle.getresponse()
    assert response.status == 200
    response.read()
    assert idle.sock is not None

    server.stop()

    assert not port_in_use("127.0.0.1", port)
    assert idle.sock.recv(1) == b""  # the server closed the idle connection
    idle.close()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/webhdfs/v1/?op=LISTSTATUS", timeout=2)

    again = webhdfs_factory(root=tmp_path / "root", port=port)
    assert again.port == port
    client.write("/d/b.txt", data="two\n", encoding="utf-8")
    assert read_all_lines(again.url, "/d") == ["one", "two"]
    assert client.status("/d/a.txt")["owner"] == "alice"


def test_port_taken_is_reported_without_touching_the_root(
    webhdfs: WebHdfsServer, tmp_path: Path
) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    with pytest.raises(PortInUse, match="--port"):
        WebHdfsServer(other_root, port=webhdfs.port).start()
    assert list(other_root.iterdir()) == []


def test_one_server_per_root(webhdfs: WebHdfsServer) -> None:
    with pytest.raises(RootInUse, match="--root"):
        WebHdfsServer(webhdfs.root, port=0).start()
    InsecureClient(webhdfs.url).write("/still-serving", data="yes")  # the first is unharmed


def test_a_client_resetting_its_connection_is_not_logged_as_a_server_fault(
    webhdfs: WebHdfsServer, capfd: pytest.CaptureFixture[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", webhdfs.port, timeout=5)  # keep-alive
    conn.request("GET", "/webhdfs/v1/?op=LISTSTATUS")
    conn.getresponse().read()
    assert conn.sock is not None
    # Linger 0: close() sends a reset, as the kernel does for a process killed with -9.
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
    # The server notices the reset in its wait for the next request line.
    response = requests.get(f"{webhdfs.url}/webhdfs/v1/?op=LISTSTATUS", timeout=5)
    assert response.status_code == 200
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err
