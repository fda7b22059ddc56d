"""The `hdfs` package (mtth/hdfs) and its `hdfscli` command against the dev server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hdfs import InsecureClient
from hdfs.util import HdfsError

from devstack.webhdfs import WebHdfsServer

pytestmark = pytest.mark.integration


@pytest.fixture
def client(webhdfs: WebHdfsServer) -> InsecureClient:
    return InsecureClient(webhdfs.url, user="alice")


def test_write_data_and_context_manager_then_read(client: InsecureClient) -> None:
    client.write("/w/a.txt", data="alpha\nbeta\n", encoding="utf-8")
    with client.write("/w/b.jsonl", encoding="utf-8") as writer:  # chunked upload
        for i in range(2000):
            writer.write(json.dumps({"i": i, "value": "é" * (i % 7)}) + "\n")
    with client.read("/w/a.txt", encoding="utf-8") as reader:
        assert reader.read() == "alpha\nbeta\n"
    with client.read("/w/b.jsonl", encoding="utf-8") as reader:
        records = [json.loads(line) for line in reader.read().splitlines()]
    assert [r["i"] for r in records] == list(range(2000))
    assert records[13]["value"] == "é" * 6


def test_read_offset_length_and_delimiter(client: InsecureClient) -> None:
    client.write("/r.txt", data=b"0123456789")
    with client.read("/r.txt", offset=3, length=4) as reader:
        assert reader.read() == b"3456"
    with client.read("/r.txt", offset=8) as reader:
        assert reader.read() == b"89"
    with client.read("/r.txt", offset=10) as reader:
        assert reader.read() == b""
    client.write("/lines.txt", data="a\nb\nc", encoding="utf-8")
    with client.read("/lines.txt", encoding="utf-8", delimiter="\n") as lines:
        assert list(lines) == ["a", "b", "c"]


def test_append(client: InsecureClient) -> None:
    client.write("/log.txt", data="one\n", encoding="utf-8")
    client.write("/log.txt", data="two\n", encoding="utf-8", append=True)
    with client.write("/log.txt", encoding="utf-8", append=True) as writer:
        writer.write("three\n")
    with client.read("/log.txt", encoding="utf-8") as reader:
        assert reader.read() == "one\ntwo\nthree\n"


def test_overwrite(client: InsecureClient) -> None:
    client.write("/o.txt", data="old")
    with pytest.raises(HdfsError) as exc:
        client.write("/o.txt", data="new")
    assert exc.value.exception == "FileAlreadyExistsException"
    client.write("/o.txt", data="new", overwrite=True)
    with client.read("/o.txt") as reader:
        assert reader.read() == b"new"


def test_list_status_content_and_makedirs(client: InsecureClient, webhdfs: WebHdfsServer) -> None:
    client.makedirs("/d/sub/deeper", permission="750")
    client.write("/d/x.txt", data="12345")
    client.write("/d/sub/y.txt", data="123")
    assert client.list("/d") == ["sub", "x.txt"]
    listed = dict(client.list("/d", status=True))
    assert listed["x.txt"]["length"] == 5 and listed["sub"]["type"] == "DIRECTORY"
    assert client.status("/d/sub/deeper")["permission"] == "750"
    assert client.status("/d/x.txt")["owner"] == "alice"
    assert client.status("/d/nope", strict=False) is None
    summary = client.content("/d")
    assert (summary["length"], summary["fileCount"], summary["directoryCount"]) == (8, 2, 3)
    assert client.content("/nope", strict=False) is None
    assert client.list("/") == ["d"]  # the server's sidecar is never listed
    assert (webhdfs.root / "d" / "x.txt").read_bytes() == b"12345"


def test_checksum(client: InsecureClient) -> None:
    client.write("/c1", data=b"same bytes")
    client.write("/c2", data=b"same bytes")
    client.write("/c3", data=b"other bytes")
    first, second, third = (client.checksum(p) for p in ("/c1", "/c2", "/c3"))
    assert first == second and first["bytes"] != third["bytes"]
    assert first["length"] == 28 and first["algorithm"].startswith("MD5-of-")


def test_rename_and_delete(client: InsecureClient) -> None:
    client.write("/src/a.txt", data="a")
    client.makedirs("/dst")
    client.rename("/src/a.txt", "/dst")  # into an existing directory
    assert client.list("/dst") == ["a.txt"]
    client.rename("/dst/a.txt", "/dst/b.txt")
    assert client.list("/dst") == ["b.txt"]
    client.write("/dst/c.txt", data="c")
    with pytest.raises(HdfsError, match="Unable to rename"):  # HDFS answers false: it exists
        client.rename("/dst/c.txt", "/dst/b.txt")
    with client.read("/dst/b.txt") as reader:
        assert reader.read() == b"a"
    with pytest.raises(HdfsError) as exc:
        client.delete("/dst")
    assert exc.value.exception == "PathIsNotEmptyDirectoryException"
    assert client.delete("/dst", recursive=True) is True
    assert client.delete("/dst") is False
    assert client.status("/dst", strict=False) is None


def test_error_exception_names(client: InsecureClient) -> None:
    client.write("/file", data="x")
    cases = [
        (lambda: client.status("/missing"), "FileNotFoundException"),
        (lambda: client.list("/missing"), "FileNotFoundException"),
        (lambda: client.write("/missing", data="x", append=True), "FileNotFoundException"),
        (lambda: client.write("/file/child", data="x"), "ParentNotDirectoryException"),
        (lambda: client.write("/file", data="x"), "FileAlreadyExistsException"),
        (lambda: client.makedirs("/file"), "FileAlreadyExistsException"),
    ]
    for call, expected in cases:
        with pytest.raises(HdfsError) as exc:
            call()
        assert exc.value.exception == expected
    with pytest.raises(HdfsError) as exc, client.read("/missing"):
        pass
    assert exc.value.exception == "FileNotFoundException"


def test_metadata_ops(client: InsecureClient) -> None:
    client.write("/m.txt", data="x", permission="600", replication=2)
    status = client.status("/m.txt")
    assert (status["permission"], status["replication"]) == ("600", 2)
    client.set_owner("/m.txt", owner="bob", group="staff")
    client.set_permission("/m.txt", "640")
    client.set_replication("/m.txt", 3)
    client.set_times("/m.txt", access_time=1_000_000, modification_time=2_000_000)
    status = client.status("/m.txt")
    assert (status["owner"], status["group"], status["permission"]) == ("bob", "staff", "640")
    assert status["replication"] == 3
    assert (status["accessTime"], status["modificationTime"]) == (1_000_000, 2_000_000)
    assert client.content("/m.txt")["spaceConsumed"] == 3  # one byte, three replicas
    acl = client.acl_status("/m.txt")
    assert (acl["owner"], acl["permission"], acl["entries"]) == ("bob", "640", [])


def test_metadata_survives_restart_and_rename(
    webhdfs_factory: Callable[..., WebHdfsServer], tmp_path: Path
) -> None:
    make = webhdfs_factory
    server = make(root=tmp_path / "r")
    InsecureClient(server.url, user="carol").write("/x/a.txt", data="a")
    InsecureClient(server.url).rename("/x", "/y")
    port = server.port
    server.stop()
    again = make(root=tmp_path / "r", port=port)
    assert InsecureClient(again.url).status("/y/a.txt")["owner"] == "carol"


def _hdfscli(config: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("hdfscli")
    return subprocess.run(
        [str(script), *args],
        env={**os.environ, "HDFSCLI_CONFIG": str(config)},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hdfscli_upload_list_download(webhdfs: WebHdfsServer, tmp_path: Path) -> None:
    config = tmp_path / "hdfscli.cfg"
    config.write_text(
        f"[global]\ndefault.alias = dev\n\n[dev.alias]\nurl = {webhdfs.url}\nuser = dave\n"
        f"\n[hdfscli.command]\nlog.path = {tmp_path / 'hdfscli.log'}\n"
    )
    local = tmp_path / "upload"
    (local / "nested").mkdir(parents=True)
    (local / "one.txt").write_text("first\n")
    (local / "nested" / "two.txt").write_text("second\n")

    upload = _hdfscli(config, "upload", str(local), "/up")
    assert upload.returncode == 0, upload.stderr
    # hdfscli lists through its interactive shell, whose CLIENT is the alias's client.
    listing = _hdfscli(config, "interactive", stdin="print(sorted(CLIENT.list('/up')))\n")
    assert listing.returncode == 0, listing.stderr
    assert "['nested', 'one.txt']" in listing.stdout
    target = tmp_path / "download"
    download = _hdfscli(config, "download", "/up", str(target))
    assert download.returncode == 0, download.stderr
    assert (target / "one.txt").read_text() == "first\n"
    assert (target / "nested" / "two.txt").read_text() == "second\n"
    assert InsecureClient(webhdfs.url).status("/up/one.txt")["owner"] == "dave"
