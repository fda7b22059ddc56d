"""The WebHDFS wire protocol as Hadoop's clients expect it, checked over raw HTTP."""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.webhdfs import WebHdfsServer
from devstack.webhdfs.core import SIDECAR

pytestmark = pytest.mark.integration


def api(server: WebHdfsServer, path: str) -> str:
    return f"{server.url}/webhdfs/v1{path}"


def put_file(server: WebHdfsServer, path: str, data: bytes, **params: Any) -> None:
    step1 = requests.put(
        api(server, path), params={"op": "CREATE", **params}, allow_redirects=False, timeout=10
    )
    assert step1.status_code == 307, step1.text
    step2 = requests.put(step1.headers["Location"], data=data, timeout=10)
    assert step2.status_code == 201, step2.text


def raw_request(server: WebHdfsServer, method: str, target: str) -> tuple[int, bytes]:
    """Send exactly `target` (no client-side URL normalisation) and return status, body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, target)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def remote_exception(response: requests.Response) -> dict[str, str]:
    body: dict[str, dict[str, str]] = response.json()
    return body["RemoteException"]


def test_create_is_a_two_step_307_to_an_absolute_url_on_the_same_server(
    webhdfs: WebHdfsServer,
) -> None:
    step1 = requests.put(
        api(webhdfs, "/a b/f.txt"),
        params={"op": "CREATE", "user.name": "erin", "overwrite": "False"},
        allow_redirects=False,
        timeout=10,
    )
    assert step1.status_code == 307
    location = step1.headers["Location"]
    assert location.startswith(f"{webhdfs.url}/webhdfs/v1/a%20b/f.txt?")
    assert not (webhdfs.root / "a b").exists()  # nothing happens before the data step
    step2 = requests.put(location, data=b"payload", timeout=10)
    assert step2.status_code == 201
    assert (webhdfs.root / "a b" / "f.txt").read_bytes() == b"payload"


def test_create_accepts_chunked_bodies(webhdfs: WebHdfsServer) -> None:
    def chunks() -> Iterator[bytes]:
        for i in range(100):
            yield b"%d\n" % i

    step1 = requests.put(
        api(webhdfs, "/chunked"), params={"op": "CREATE"}, allow_redirects=False, timeout=10
    )
    step2 = requests.put(step1.headers["Location"], data=chunks(), timeout=10)
    assert step2.request.headers.get("Transfer-Encoding") == "chunked"
    assert step2.status_code == 201
    assert (webhdfs.root / "chunked").read_bytes() == b"".join(chunks())


def test_noredirect_returns_the_location_as_json(webhdfs: WebHdfsServer) -> None:
    reply = requests.put(
        api(webhdfs, "/n"), params={"op": "CREATE", "noredirect": "true"}, timeout=10
    )
    assert reply.status_code == 200
    assert reply.json()["Location"].startswith(f"{webhdfs.url}/webhdfs/v1/n?")


def test_json_replies_have_no_content_type(webhdfs: WebHdfsServer) -> None:
    ok = requests.get(api(webhdfs, "/"), params={"op": "GETFILESTATUS"}, timeout=10)
    missing = requests.get(api(webhdfs, "/x"), params={"op": "GETFILESTATUS"}, timeout=10)
    assert (ok.status_code, missing.status_code) == (200, 404)
    for reply in (ok, missing):
        assert "Content-Type" not in reply.headers
        assert int(reply.headers["Content-Length"]) == len(reply.content)


def test_open_redirects_then_sends_the_range_with_content_length(webhdfs: WebHdfsServer) -> None:
    put_file(webhdfs, "/o.bin", bytes(range(256)) * 4)
    step1 = requests.get(
        api(webhdfs, "/o.bin"),
        params={"op": "OPEN", "offset": "1000", "length": "100"},
        allow_redirects=False,
        timeout=10,
    )
    assert step1.status_code == 307
    data = requests.get(step1.headers["Location"], timeout=10)
    assert data.status_code == 200
    assert data.headers["Content-Length"] == "24"
    assert data.content == (bytes(range(256)) * 4)[1000:]
    beyond = requests.get(
        api(webhdfs, "/o.bin"), params={"op": "OPEN", "offset": "5000"}, timeout=10
    )
    assert beyond.status_code == 403
    assert remote_exception(beyond)["exception"] == "IOException"
    directory = requests.get(api(webhdfs, "/"), params={"op": "OPEN"}, timeout=10)
    assert directory.status_code == 404


def test_unknown_op_and_bad_parameters_are_400s(webhdfs: WebHdfsServer) -> None:
    unknown = requests.get(api(webhdfs, "/"), params={"op": "NOPE"}, timeout=10)
    assert unknown.status_code == 400
    exc = remote_exception(unknown)
    assert exc["javaClassName"] == "java.lang.IllegalArgumentException"
    assert exc["message"] == (
        'Invalid value for webhdfs parameter "op": No enum constant '
        "org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.NOPE"
    )
    wrong_method = requests.delete(api(webhdfs, "/"), params={"op": "MKDIRS"}, timeout=10)
    assert wrong_method.status_code == 400
    assert "DeleteOpParam.Op.MKDIRS" in remote_exception(wrong_method)["message"]
    bad_bool = requests.delete(
        api(webhdfs, "/x"), params={"op": "DELETE", "recursive": "perhaps"}, timeout=10
    )
    assert bad_bool.status_code == 400
    bad_offset = requests.get(
        api(webhdfs, "/"), params={"op": "GETFILEBLOCKLOCATIONS", "offset": "-5"}, timeout=10
    )
    assert bad_offset.status_code == 400


def test_boolean_params_accept_any_case(webhdfs: WebHdfsServer) -> None:
    put_file(webhdfs, "/b", b"1")
    put_file(webhdfs, "/b", b"2", overwrite="TRUE")
    assert (webhdfs.root / "b").read_bytes() == b"2"
    step1 = requests.put(
        api(webhdfs, "/b"), params={"op": "CREATE", "overwrite": "False"}, timeout=10
    )
    assert step1.status_code == 403
    assert remote_exception(step1)["javaClassName"] == (
        "org.apache.hadoop.fs.FileAlreadyExistsException"
    )


def test_delete_semantics(webhdfs: WebHdfsServer) -> None:
    missing = requests.delete(api(webhdfs, "/none"), params={"op": "DELETE"}, timeout=10)
    assert (missing.status_code, missing.json()) == (200, {"boolean": False})
    put_file(webhdfs, "/dir/f", b"x")
    refused = requests.delete(api(webhdfs, "/dir"), params={"op": "DELETE"}, timeout=10)
    assert refused.status_code == 403
    assert remote_exception(refused)["exception"] == "PathIsNotEmptyDirectoryException"
    done = requests.delete(
        api(webhdfs, "/dir"), params={"op": "DELETE", "recursive": "True"}, timeout=10
    )
    assert done.json() == {"boolean": True}
    assert not (webhdfs.root / "dir").exists()
    root = requests.delete(
        api(webhdfs, "/"), params={"op": "DELETE", "recursive": "true"}, timeout=10
    )
    assert root.json() == {"boolean": False}


def rename(server: WebHdfsServer, src: str, dst: str, **params: str) -> requests.Response:
    return requests.put(
        api(server, src), params={"op": "RENAME", "destination": dst, **params}, timeout=10
    )


def test_rename_follows_hadoop_rules(webhdfs: WebHdfsServer) -> None:
    put_file(webhdfs, "/r/a", b"a")
    put_file(webhdfs, "/r/b", b"b")
    assert rename(webhdfs, "/r/a", "/r/b").json() == {"boolean": False}  # dst file exists
    assert rename(webhdfs, "/r/none", "/r/c").json() == {"boolean": False}  # no source
    assert rename(webhdfs, "/r/a", "/nowhere/a").json() == {"boolean": False}  # no parent
    assert rename(webhdfs, "/r/a", "/r/b/a").json() == {"boolean": False}  # parent is a file
    under = rename(webhdfs, "/r", "/r/inside")
    assert under.status_code == 403
    assert rename(webhdfs, "/r/a", "/r/a").json() == {"boolean": True}
    requests.put(api(webhdfs, "/into"), params={"op": "MKDIRS"}, timeout=10)
    assert rename(webhdfs, "/r/a", "/into").json() == {"boolean": True}
    assert (webhdfs.root / "into" / "a").read_bytes() == b"a"
    assert not (webhdfs.root / "r" / "a").exists()
    missing_dest = requests.put(api(webhdfs, "/r/b"), params={"op": "RENAME"}, timeout=10)
    assert missing_dest.status_code == 400


def test_rename_with_overwrite_option_replaces_atomically(webhdfs: WebHdfsServer) -> None:
    put_file(webhdfs, "/latest.tmp", b"new")
    put_file(webhdfs, "/latest", b"old")
    refused = rename(webhdfs, "/latest.tmp", "/latest", renameoptions="NONE")
    assert refused.status_code == 403
    assert remote_exception(refused)["exception"] == "FileAlreadyExistsException"
    done = rename(webhdfs, "/latest.tmp", "/latest", renameoptions="OVERWRITE")
    assert done.status_code == 200
    assert (webhdfs.root / "latest").read_bytes() == b"new"
    assert not (webhdfs.root / "latest.tmp").exists()
    gone = rename(webhdfs, "/latest.tmp", "/x", renameoptions="OVERWRITE")
    assert gone.status_code == 404


def test_liststatus_and_batches(webhdfs: WebHdfsServer) -> None:
    many = webhdfs.root / "many"
    many.mkdir()
    for i in range(1203):
        (many / f"f{i:05d}").write_bytes(b"")
    seen: list[str] = []
    start_after = ""
    while True:
        reply = requests.get(
            api(webhdfs, "/many"),
            params={"op": "LISTSTATUS_BATCH", "startAfter": start_after},
            timeout=10,
        ).json()["DirectoryListing"]
        names = [s["pathSuffix"] for s in reply["partialListing"]["FileStatuses"]["FileStatus"]]
        seen += names
        if reply["remainingEntries"] == 0:
            break
        start_after = names[-1]
    full = requests.get(api(webhdfs, "/many"), params={"op": "LISTSTATUS"}, timeout=10).json()
    listed = [s["pathSuffix"] for s in full["FileStatuses"]["FileStatus"]]
    assert seen == listed == sorted(p.name for p in many.iterdir())
    one_file = requests.get(
        api(webhdfs, "/many/f00001"), params={"op": "LISTSTATUS"}, timeout=10
    ).json()["FileStatuses"]["FileStatus"]
    assert [s["pathSuffix"] for s in one_file] == [""]
    root = requests.get(api(webhdfs, "/"), params={"op": "LISTSTATUS"}, timeout=10).json()
    assert [s["pathSuffix"] for s in root["FileStatuses"]["FileStatus"]] == ["many"]
    assert (webhdfs.root / SIDECAR).is_dir()


def test_block_locations_shapes(webhdfs: WebHdfsServer) -> None:
    put_file(webhdfs, "/blocks", b"x" * 2500, blocksize="1024")
    new = requests.get(
        api(webhdfs, "/blocks"), params={"op": "GETFILEBLOCKLOCATIONS"}, timeout=10
    ).json()["BlockLocations"]["BlockLocation"]
    assert [(b["offset"], b["length"]) for b in new] == [(0, 1024), (1024, 1024), (2048, 452)]
    assert all(b["hosts"] and not b["corrupt"] for b in new)
    old = requests.get(
        api(webhdfs, "/blocks"),
        params={"op": "GET_BLOCK_LOCATIONS", "offset": "1500", "length": "10"},
        timeout=10,
    ).json()["LocatedBlocks"]
    assert old["fileLength"] == 2500
    assert [(b["startOffset"], b["block"]["numBytes"]) for b in old["locatedBlocks"]] == [
        (1024, 1024)
    ]
    location = old["locatedBlocks"][0]["locations"][0]
    assert location["ipAddr"] and location["xferPort"] > 0
    status = requests.get(
        api(webhdfs, "/blocks"), params={"op": "GETFILESTATUS"}, timeout=10
    ).json()["FileStatus"]
    assert status["blockSize"] == 1024


def test_home_directory_truncate_and_content_summary(webhdfs: WebHdfsServer) -> None:
    home = requests.get(
        api(webhdfs, "/"), params={"op": "GETHOMEDIRECTORY", "user.name": "fay"}, timeout=10
    )
    assert home.json() == {"Path": "/user/fay"}
    put_file(webhdfs, "/t/file", b"0123456789")
    truncated = requests.post(
        api(webhdfs, "/t/file"), params={"op": "TRUNCATE", "newlength": "4"}, timeout=10
    )
    assert truncated.json() == {"boolean": True}
    assert (webhdfs.root / "t" / "file").read_bytes() == b"0123"
    larger = requests.post(
        api(webhdfs, "/t/file"), params={"op": "TRUNCATE", "newlength": "40"}, timeout=10
    )
    assert larger.status_code == 400
    summary = requests.get(
        api(webhdfs, "/t"), params={"op": "GETCONTENTSUMMARY"}, timeout=10
    ).json()["ContentSummary"]
    assert (summary["length"], summary["fileCount"], summary["directoryCount"]) == (4, 1, 1)
    assert (summary["quota"], summary["spaceQuota"]) == (-1, -1)


@pytest.mark.parametrize(
    "target",
    [
        "/webhdfs/v1/../../etc/passwd?op=OPEN",
        "/webhdfs/v1/%2e%2e/%2e%2e/etc/passwd?op=GETFILESTATUS",
        "/webhdfs/v1/..%2F..%2Fetc?op=LISTSTATUS",
        "/webhdfs/v1/a%2f..%2f..%2fescape?op=MKDIRS",
        f"/webhdfs/v1/{SIDECAR}/meta.sqlite3?op=OPEN",
        f"/webhdfs/v1/{SIDECAR}?op=DELETE&recursive=true",
        "/webhdfs/v1/link/secret.txt?op=OPEN",
        "/webhdfs/v1/link/new.txt?op=CREATE&data=true",
    ],
)
def test_path_escapes_are_refused_with_403(
    webhdfs: WebHdfsServer, tmp_path: Path, target: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (webhdfs.root / "link").symlink_to(outside)
    method = target.split("op=")[1].split("&")[0]
    verb = {"OPEN": "GET", "GETFILESTATUS": "GET", "LISTSTATUS": "GET", "DELETE": "DELETE"}
    status, body = raw_request(webhdfs, verb.get(method, "PUT"), target)
    assert status == 403, body
    assert b"AccessControlException" in body
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (webhdfs.root / SIDECAR / "meta.sqlite3").exists()


def _send_partial_upload(server: WebHdfsServer, location: str, method: str) -> bytes:
    """Announce a 1000-byte body, send 10 bytes of it, stop; return what the server said
    before it closed the connection (the handler has finished once it closes)."""
    target = location.split(server.url, 1)[1]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b"0123456789"
        )
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


def test_aborted_uploads_leave_nothing_behind(webhdfs: WebHdfsServer) -> None:
    step1 = requests.put(
        api(webhdfs, "/new.txt"), params={"op": "CREATE"}, allow_redirects=False, timeout=10
    )
    assert _send_partial_upload(webhdfs, step1.headers["Location"], "PUT") == b""
    put_file(webhdfs, "/kept.txt", b"original")
    step1 = requests.put(
        api(webhdfs, "/kept.txt"),
        params={"op": "CREATE", "overwrite": "true"},
        allow_redirects=False,
        timeout=10,
    )
    assert _send_partial_upload(webhdfs, step1.headers["Location"], "PUT") == b""
    step1 = requests.post(
        api(webhdfs, "/kept.txt"), params={"op": "APPEND"}, allow_redirects=False, timeout=10
    )
    assert _send_partial_upload(webhdfs, step1.headers["Location"], "POST") == b""

    listing = requests.get(api(webhdfs, "/"), params={"op": "LISTSTATUS"}, timeout=10).json()
    assert [s["pathSuffix"] for s in listing["FileStatuses"]["FileStatus"]] == ["kept.txt"]
    assert (webhdfs.root / "kept.txt").read_bytes() == b"original"
    assert os.listdir(webhdfs.root / SIDECAR / "tmp") == []


def test_requests_outside_the_api_get_a_plain_404(webhdfs: WebHdfsServer) -> None:
    status, body = raw_request(webhdfs, "GET", "/index.html")
    assert status == 404 and b"/webhdfs/v1" in body


def test_bad_content_length_is_a_400(webhdfs: WebHdfsServer) -> None:
    with socket.create_connection(("127.0.0.1", webhdfs.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /webhdfs/v1/f?op=CREATE&data=true HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: lots\r\n\r\n"
        )
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 400")
    assert not (webhdfs.root / "f").exists()
