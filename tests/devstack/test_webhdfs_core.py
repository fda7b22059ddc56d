"""Unit tests of the pure WebHDFS pieces: paths, parameters, reply JSON, body decoding."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from devstack.webhdfs.core import (
    SIDECAR,
    AccessControl,
    FileNotFound,
    IllegalArgument,
    Meta,
    RemoteError,
    batch_after,
    block_locations,
    block_ranges,
    bool_param,
    check_op,
    file_status,
    hdfs_path_from_url,
    int_param,
    is_within,
    local_path,
    md5_md5_crc32,
    normalize_path,
    parse_query,
    permission_param,
    read_chunked,
    read_sized,
    user_param,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/webhdfs/v1", "/"),
        ("/webhdfs/v1/", "/"),
        ("/webhdfs/v1/a/b.txt", "/a/b.txt"),
        ("/webhdfs/v1//a///b/", "/a/b"),
        ("/webhdfs/v1/gen=0/date=2026-11-25/x%20y", "/gen=0/date=2026-11-25/x y"),
        ("/webhdfs/v1/caf%C3%A9", "/café"),
        ("/webhdfs/v1/_tmp/.part", "/_tmp/.part"),
    ],
)
def test_url_paths_are_decoded_and_normalised(raw: str, expected: str) -> None:
    assert hdfs_path_from_url(raw) == expected


@pytest.mark.parametrize("raw", ["/", "/webhdfs", "/webhdfs/v1foo", "/webhdfs/v2/a"])
def test_urls_outside_the_api_are_not_paths(raw: str) -> None:
    assert hdfs_path_from_url(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "/webhdfs/v1/../etc/passwd",
        "/webhdfs/v1/a/../../b",
        "/webhdfs/v1/%2e%2e/x",
        "/webhdfs/v1/a/%2E%2E/%2e%2e/x",
        "/webhdfs/v1/a%2Fb",
        "/webhdfs/v1/..%2f..%2fetc",
        "/webhdfs/v1/a%5cb",
        "/webhdfs/v1/a/./b",
        "/webhdfs/v1/a%00b",
    ],
)
def test_escaping_urls_are_refused_with_403(raw: str) -> None:
    with pytest.raises(AccessControl) as exc:
        hdfs_path_from_url(raw)
    assert exc.value.status == 403


def test_non_utf8_path_is_a_bad_request() -> None:
    with pytest.raises(IllegalArgument):
        hdfs_path_from_url("/webhdfs/v1/%ff")


def test_normalize_path_requires_absolute_and_refuses_dots() -> None:
    assert normalize_path("/a//b/") == "/a/b"
    with pytest.raises(IllegalArgument):
        normalize_path("a/b")
    with pytest.raises(AccessControl):
        normalize_path("/a/../../b")


def test_local_path_maps_under_root(tmp_path: Path) -> None:
    assert local_path(tmp_path, "/") == tmp_path
    assert local_path(tmp_path, "/a/b") == tmp_path / "a" / "b"


def test_local_path_refuses_the_sidecar(tmp_path: Path) -> None:
    with pytest.raises(AccessControl):
        local_path(tmp_path, f"/{SIDECAR}/meta.sqlite3")
    assert local_path(tmp_path, f"/data/{SIDECAR}") == tmp_path / "data" / SIDECAR


def test_local_path_refuses_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "inner").symlink_to(root)
    for path in ("/link", "/link/secret", "/inner/x"):
        with pytest.raises(AccessControl):
            local_path(root, path)


def test_params_names_are_case_insensitive() -> None:
    params = parse_query("OP=liststatus&User.Name=bob&overwrite=True&x=")
    assert params == {"op": "liststatus", "user.name": "bob", "overwrite": "True", "x": ""}


@pytest.mark.parametrize(
    ("raw", "expected"), [("True", True), ("true", True), ("FALSE", False), ("fAlSe", False)]
)
def test_bool_params_are_case_insensitive(raw: str, expected: bool) -> None:
    assert bool_param({"overwrite": raw}, "overwrite", default=not expected) is expected


def test_missing_bool_param_takes_the_default() -> None:
    assert bool_param({"overwrite": ""}, "overwrite", default=True) is True
    assert bool_param({}, "overwrite", default=False) is False


def test_bad_bool_is_a_400_naming_the_parameter() -> None:
    with pytest.raises(IllegalArgument) as exc:
        bool_param({"recursive": "yes"}, "recursive", False)
    assert exc.value.status == 400
    assert 'webhdfs parameter "recursive"' in str(exc.value)


def test_int_params() -> None:
    assert int_param({"offset": "12"}, "offset", 0) == 12
    assert int_param({}, "length", None) is None
    with pytest.raises(IllegalArgument, match='"offset"'):
        int_param({"offset": "-1"}, "offset", 0, minimum=0)
    with pytest.raises(IllegalArgument, match="radix-10"):
        int_param({"offset": "ten"}, "offset", 0)


def test_permission_param() -> None:
    assert permission_param({}, "644") == "644"
    assert permission_param({"permission": "0755"}, "644") == "755"
    assert permission_param({"permission": "1777"}, "644") == "1777"
    with pytest.raises(IllegalArgument):
        permission_param({"permission": "999"}, "644")


def test_user_param_prefers_doas_then_user_name() -> None:
    assert user_param({"user.name": "bob", "doas": "alice"}) == "alice"
    assert user_param({"user.name": "bob"}) == "bob"
    assert user_param({}) == "dr.who"


def test_unknown_op_gets_hadoops_enum_message() -> None:
    with pytest.raises(IllegalArgument) as exc:
        check_op("GET", "frobnicate")
    assert str(exc.value) == (
        'Invalid value for webhdfs parameter "op": No enum constant '
        "org.apache.hadoop.hdfs.web.resources.GetOpParam.Op.FROBNICATE"
    )
    with pytest.raises(IllegalArgument, match=r"PutOpParam\.Op\.GETFILESTATUS"):
        check_op("PUT", "GETFILESTATUS")
    assert check_op("POST", "append") == "APPEND"


def test_remote_exception_json() -> None:
    body = FileNotFound("File does not exist: /x").to_json()
    assert body == {
        "RemoteException": {
            "exception": "FileNotFoundException",
            "javaClassName": "java.io.FileNotFoundException",
            "message": "File does not exist: /x",
        }
    }
    assert (FileNotFound.status, RemoteError.status, IllegalArgument.status) == (404, 403, 400)


def test_file_status_of_a_file_and_a_directory(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_bytes(b"12345")
    meta = Meta(owner="bob", permission="600", replication=2, block_size=1024)
    status = file_status("f.txt", os.stat(f), meta)
    assert status["type"] == "FILE"
    assert status["length"] == 5
    assert (status["owner"], status["group"], status["permission"]) == ("bob", "supergroup", "600")
    assert (status["replication"], status["blockSize"]) == (2, 1024)
    assert status["modificationTime"] == os.stat(f).st_mtime_ns // 1_000_000
    d = file_status("", os.stat(tmp_path), Meta(owner="bob", permission="755"), children=1)
    assert (d["type"], d["length"], d["blockSize"], d["childrenNum"]) == ("DIRECTORY", 0, 0, 1)


def test_block_ranges_cover_the_requested_range() -> None:
    assert block_ranges(0, 10, 0, 0) == []
    assert block_ranges(25, 10, 0, 25) == [(0, 10), (10, 10), (20, 5)]
    assert block_ranges(25, 10, 12, 3) == [(10, 10)]
    assert block_ranges(25, 10, 15, 100) == [(10, 10), (20, 5)]
    with pytest.raises(ValueError):
        block_ranges(1, 0, 0, 1)


def test_block_locations_shape() -> None:
    body = block_locations([(0, 10), (10, 3)], "127.0.0.1", 9870)
    blocks = body["BlockLocations"]["BlockLocation"]
    assert [(b["offset"], b["length"]) for b in blocks] == [(0, 10), (10, 3)]
    assert all(b["hosts"] and b["names"] and b["topologyPaths"] for b in blocks)


def test_batch_after_pages() -> None:
    names = [f"f{i:04d}" for i in range(2500)]
    page, remaining = batch_after(names, "")
    assert (page[0], page[-1], remaining) == ("f0000", "f0999", 1500)
    page, remaining = batch_after(names, page[-1])
    assert (page[0], remaining) == ("f1000", 500)
    page, remaining = batch_after(names, "f2400")
    assert (len(page), remaining) == (99, 0)


def test_checksum_shape_and_sensitivity() -> None:
    data = os.urandom(5000)
    algorithm, raw = md5_md5_crc32([data], block_size=1 << 20)
    assert algorithm == "MD5-of-0MD5-of-512CRC32"
    assert len(raw) == 28
    # Independent of how the stream is cut into pieces.
    assert md5_md5_crc32([data[:7], data[7:3000], data[3000:]], 1 << 20) == (algorithm, raw)
    assert md5_md5_crc32([data[:-1] + b"\0"], 1 << 20)[1] != raw
    multi, _ = md5_md5_crc32([data], block_size=1024)
    assert multi == "MD5-of-2MD5-of-512CRC32"


def test_read_chunked_decodes_extensions_and_trailers() -> None:
    body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\nNEXT"
    rfile = io.BytesIO(body)
    assert b"".join(read_chunked(rfile)) == b"hello world"
    assert rfile.read() == b"NEXT"  # the next request on the connection is untouched


@pytest.mark.parametrize("body", [b"5\r\nhel", b"5\r\nhello\r\n", b"zz\r\n"])
def test_read_chunked_rejects_truncated_bodies(body: bytes) -> None:
    with pytest.raises(ValueError):
        b"".join(read_chunked(io.BytesIO(body)))


def test_read_sized() -> None:
    assert b"".join(read_sized(io.BytesIO(b"abcdef"), 4)) == b"abcd"
    with pytest.raises(ValueError):
        b"".join(read_sized(io.BytesIO(b"ab"), 4))


def test_path_helpers() -> None:
    assert is_within("/a/b", "/a") and is_within("/a", "/a") and is_within("/x", "/")
    assert not is_within("/ab", "/a")
