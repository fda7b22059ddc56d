"""Many writers at once: concurrent appends to different files lose and mix nothing."""

from __future__ import annotations

import http.client
import threading
from urllib.parse import urlsplit

import pytest

from devstack.webhdfs import WebHdfsServer
from tests.fixtures.webhdfs import read_all_lines

pytestmark = pytest.mark.integration

WRITERS = 20
APPENDS = 1000


def _call(conn: http.client.HTTPConnection, method: str, target: str, body: bytes = b"") -> str:
    """One two-step WebHDFS write on a keep-alive connection; returns the data URL used."""
    conn.request(method, target)
    redirect = conn.getresponse()
    redirect.read()
    assert redirect.status == 307, redirect.status
    location = urlsplit(redirect.getheader("Location", ""))
    conn.request(method, f"{location.path}?{location.query}", body=body)
    reply = conn.getresponse()
    reply.read()
    assert reply.status in (200, 201), reply.status
    return location.path


def test_concurrent_appends_to_different_files_lose_nothing(webhdfs: WebHdfsServer) -> None:
    # Plain http.client speaking the two-step protocol: the hdfs package costs
    # several times more client CPU per call, which this 2-core budget cannot spare.
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", webhdfs.port, timeout=60)
        try:
            _call(conn, "PUT", f"/webhdfs/v1/conc/w{i:02d}.txt?op=CREATE&user.name=w{i}")
            for j in range(APPENDS):
                line = f"writer {i} append {j}\n".encode()
                _call(conn, "POST", f"/webhdfs/v1/conc/w{i:02d}.txt?op=APPEND", line)
        except BaseException as exc:
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for i in range(WRITERS):
        lines = read_all_lines(webhdfs.url, f"/conc/w{i:02d}.txt")
        assert lines == [f"writer {i} append {j}" for j in range(APPENDS)]
