"""Crash safety: interrupted appends are rolled back and unfinished uploads dropped on start."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from devstack.ports import free_port, wait_for_port
from devstack.webhdfs.core import SIDECAR
from devstack.webhdfs.namespace import Namespace


def _journal_an_interrupted_append(root: Path, name: str, appended: bytes, extra: int) -> None:
    """Leave `root/name` as a crash would: journalled, with `appended` half written."""
    ns = Namespace(root, default_owner="me")
    try:
        local = root / name
        before = local.stat().st_size
        stripe = ns._stripe("/" + name)
        ns._journal.write(stripe, name, local.stat().st_ino, before, before + len(appended) + extra)
        with open(local, "ab") as f:
            f.write(appended)
    finally:
        ns.close()


def test_restart_rolls_back_a_half_written_append(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"committed\n")
    _journal_an_interrupted_append(tmp_path, "log.txt", b"half of an app", extra=5)
    Namespace(tmp_path, default_owner="me").close()
    assert (tmp_path / "log.txt").read_bytes() == b"committed\n"


def test_restart_keeps_a_completed_append(tmp_path: Path) -> None:
    (tmp_path / "log.txt").write_bytes(b"committed\n")
    _journal_an_interrupted_append(tmp_path, "log.txt", b"whole append\n", extra=0)
    Namespace(tmp_path, default_owner="me").close()
    assert (tmp_path / "log.txt").read_bytes() == b"committed\nwhole append\n"


def test_restart_removes_unfinished_upload_temp_files(tmp_path: Path) -> None:
    Namespace(tmp_path, default_owner="me").close()
    leftover = tmp_path / SIDECAR / "tmp" / "upload-123"
    leftover.write_bytes(b"partial")
    Namespace(tmp_path, default_owner="me").close()
    assert not leftover.exists()


@pytest.mark.integration
def test_kill_9_during_an_upload_leaves_no_file(tmp_path: Path) -> None:
    port = free_port()
    args = [sys.executable, "-m", "devstack.webhdfs", "--root", str(tmp_path), "--port", str(port)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    try:
        assert wait_for_port("127.0.0.1", port, 30)
        url = f"http://127.0.0.1:{port}/webhdfs/v1/archive/file.jsonl"
        step1 = requests.put(url, params={"op": "CREATE"}, allow_redirects=False, timeout=10)
        target = step1.headers["Location"].split(f":{port}", 1)[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"PUT {target} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "a\r\n0123456789\r\n".encode()
            )
            temp_dir = tmp_path / SIDECAR / "tmp"
            deadline = time.monotonic() + 10
            while not os.listdir(temp_dir) and time.monotonic() < deadline:
                sock.sendall(b"1\r\nx\r\n")  # keep the upload going until it has begun
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.listdir(tmp_path / SIDECAR / "tmp")  # the crash left a partial temp file
    assert not (tmp_path / "archive" / "file.jsonl").exists()
    Namespace(tmp_path, default_owner="me").close()  # what a restarted server does first
    assert os.listdir(tmp_path / SIDECAR / "tmp") == []
    assert not (tmp_path / "archive").exists()


def test_metadata_of_a_root_served_by_the_previous_schema_is_kept(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / SIDECAR).mkdir()
    old = sqlite3.connect(tmp_path / SIDECAR / "meta.sqlite3")
    old.execute(
        "CREATE TABLE meta (path TEXT PRIMARY KEY, owner TEXT, grp TEXT,"
        " permission TEXT, replication INTEGER, block_size INTEGER)"
    )
    old.execute("INSERT INTO meta VALUES ('/f', 'olga', 'staff', '600', 2, 1024)")
    old.commit()
    old.close()
    ns = Namespace(tmp_path, default_owner="me")
    try:
        status = ns.status("/f")["FileStatus"]
        assert (status["owner"], status["permission"], status["replication"]) == ("olga", "600", 2)
        ns.set_xattr("/f", "user.k", b"v", {"CREATE"}, "olga")  # the new columns work
        assert ns.list_xattrs("/f", "olga") == {"XAttrNames": '["user.k"]'}
    finally:
        ns.close()


def test_restart_removes_a_snapshot_copy_whose_creation_did_not_commit(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    ns = Namespace(tmp_path, default_owner="me")
    try:
        ns.allow_snapshot("/d")
        ns.create_snapshot("/d", "kept")
    finally:
        ns.close()
    orphan = tmp_path / SIDECAR / "snapshots" / "999"
    orphan.mkdir()
    os.link(tmp_path / "d" / "f", orphan / "f")  # what a crash halfway would leave
    ns = Namespace(tmp_path, default_owner="me")
    try:
        assert not orphan.exists()
        assert ns.list_status("/d/.snapshot")["FileStatuses"]["FileStatus"][0]["pathSuffix"] == (
            "kept"
        )
        assert os.stat(tmp_path / "d" / "f").st_nlink == 2  # the live file and "kept"
    finally:
        ns.close()
