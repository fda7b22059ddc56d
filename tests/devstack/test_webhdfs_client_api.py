"""Every public method of the `hdfs` package's Client against the dev server, as on a cluster.

Each test names the Client methods it exercises with @covers; the first test fails
when a public method of the installed Client is covered by no test, so a new
release of the package cannot add a method this server silently lacks.
"""

from __future__ import annotations

import inspect
import os
import pwd
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from hdfs import Client, InsecureClient
from hdfs.util import HdfsError

from devstack.webhdfs import WebHdfsServer
from devstack.webhdfs.core import SIDECAR

pytestmark = pytest.mark.integration

COVERED: dict[str, list[str]] = {}
F = TypeVar("F", bound=Callable[..., Any])


def covers(*methods: str) -> Callable[[F], F]:
    """Record that the decorated test exercises these Client methods."""

    def mark(test: F) -> F:
        for method in methods:
            COVERED.setdefault(method, []).append(test.__name__)
        return test

    return mark


def test_every_public_client_method_is_covered() -> None:
    public = {name for name, _ in inspect.getmembers(Client) if not name.startswith("_")}
    assert public - COVERED.keys() == set(), "Client methods without a test here"
    assert COVERED.keys() - public == set(), "covered names that are not Client methods"


@pytest.fixture
def client(webhdfs: WebHdfsServer) -> InsecureClient:
    return InsecureClient(webhdfs.url, user="alice")


def error_of(call: Callable[[], Any]) -> HdfsError:
    with pytest.raises(HdfsError) as exc:
        call()
    return exc.value


def api(server: WebHdfsServer, path: str) -> str:
    return f"{server.url}/webhdfs/v1{path}"


# --- ACLs ---------------------------------------------------------------------------


@covers("set_acl", "acl_status", "remove_acl_entries", "remove_default_acl", "remove_acl")
def test_acls_and_the_permission_bits_they_imply(client: InsecureClient) -> None:
    client.write("/acl/f", data="x", permission="640")
    client.set_acl("/acl/f", "user::rw-,user:bob:rwx,group::r--,other::---")
    acl = client.acl_status("/acl/f")
    assert acl["entries"] == ["user:bob:rwx", "group::r--"]
    # The mask (the union of named and group entries) is what the group bits show.
    assert acl["permission"] == "670"
    status = client.status("/acl/f")
    assert status["permission"] == "670" and status["aclBit"] is True

    client.set_acl("/acl/f", "group:staff:r-x", clear=False)  # MODIFYACLENTRIES
    assert client.acl_status("/acl/f")["entries"] == [
        "user:bob:rwx",
        "group::r--",
        "group:staff:r-x",
    ]
    client.set_permission("/acl/f", "640")  # chmod sets the mask
    assert client.acl_status("/acl/f")["permission"] == "640"
    client.remove_acl_entries("/acl/f", "user:bob")
    assert client.acl_status("/acl/f")["entries"] == ["group::r--", "group:staff:r-x"]
    assert client.status("/acl/f")["permission"] == "650"  # mask recalculated
    client.remove_acl("/acl/f")
    acl = client.acl_status("/acl/f")
    assert (acl["entries"], acl["permission"]) == ([], "640")  # group bits from group::
    assert "aclBit" not in client.status("/acl/f")

    client.makedirs("/acl/d", permission="755")
    client.set_acl("/acl/d", "default:user:bob:r-x,default:group::r-x")
    entries = client.acl_status("/acl/d")["entries"]
    assert "default:user:bob:r-x" in entries and "default:mask::r-x" in entries
    assert "default:user::rwx" in entries  # base entries copied from the access ACL
    client.write("/acl/d/child", data="y", permission="644")
    child = client.acl_status("/acl/d/child")
    assert child["entries"] == ["user:bob:r-x", "group::r-x"]  # inherited, as access ACL
    assert child["permission"] == "644"  # filtered by the create mode
    client.remove_default_acl("/acl/d")
    assert client.acl_status("/acl/d")["entries"] == []


@covers("acl_status", "set_acl")
def test_acl_errors_are_the_namenodes(client: InsecureClient, webhdfs: WebHdfsServer) -> None:
    client.write("/e/f", data="x")
    missing_base = error_of(lambda: client.set_acl("/e/f", "user:bob:rwx"))
    assert missing_base.exception == "AclException"
    assert "the user, group and other entries are required" in str(missing_base)
    on_file = error_of(lambda: client.set_acl("/e/f", "default:user:bob:rwx", clear=False))
    assert on_file.exception == "AclException"
    assert "only directories may have a default ACL" in str(on_file)
    assert error_of(lambda: client.acl_status("/none")).exception == "FileNotFoundException"
    assert client.acl_status("/none", strict=False) is None
    bad = requests.put(
        api(webhdfs, "/e/f"), params={"op": "SETACL", "aclspec": "nobody:x:rwx"}, timeout=10
    )
    assert bad.status_code == 400
    assert bad.json()["RemoteException"]["exception"] == "IllegalArgumentException"


def test_checkaccess_follows_owner_named_user_mask_and_other(
    client: InsecureClient, webhdfs: WebHdfsServer
) -> None:
    client.write("/ca/f", data="x", permission="600")
    client.set_acl("/ca/f", "user:bob:r--", clear=False)

    def check(user: str, action: str) -> requests.Response:
        return requests.get(
            api(webhdfs, "/ca/f"),
            params={"op": "CHECKACCESS", "fsaction": action, "user.name": user},
            timeout=10,
        )

    assert check("alice", "rw-").status_code == 200  # owner
    assert check("bob", "r--").status_code == 200  # named user entry
    denied = check("bob", "-w-")
    assert denied.status_code == 403
    exc = denied.json()["RemoteException"]
    assert exc["exception"] == "AccessControlException"
    assert exc["message"].startswith("Permission denied: user=bob, access=WRITE, inode=")
    assert check("carol", "r--").status_code == 403  # other: ---
    assert check("carol", "nope").status_code == 400
    client.set_permission("/ca/f", "604")
    assert check("carol", "r--").status_code == 200


# --- times, owner, permission, replication ------------------------------------------


@covers("set_times", "set_owner", "set_permission", "set_replication", "status", "list")
def test_metadata_changes_show_in_status_and_listing(client: InsecureClient) -> None:
    client.makedirs("/meta/dir")
    client.write("/meta/file", data="abc")
    client.set_times("/meta/dir", access_time=1_111_000, modification_time=2_222_000)
    client.set_times("/meta/file", modification_time=3_333_000)
    client.set_owner("/meta/dir", owner="bob", group="staff")
    client.set_owner("/meta/file", group="ops")
    client.set_permission("/meta/dir", "1777")
    client.set_replication("/meta/file", 3)
    dir_status = client.status("/meta/dir")
    assert (dir_status["accessTime"], dir_status["modificationTime"]) == (1_111_000, 2_222_000)
    assert (dir_status["owner"], dir_status["group"], dir_status["permission"]) == (
        "bob",
        "staff",
        "1777",
    )
    listed = dict(client.list("/meta", status=True))
    assert listed["dir"]["accessTime"] == 1_111_000
    assert listed["dir"]["modificationTime"] == 2_222_000
    assert listed["file"]["modificationTime"] == 3_333_000
    assert (listed["file"]["group"], listed["file"]["replication"]) == ("ops", 3)
    assert client.acl_status("/meta/dir")["stickyBit"] is True
    with pytest.raises(HdfsError, match="is not a file"):  # HDFS answers false for a dir
        client.set_replication("/meta/dir", 2)
    assert error_of(lambda: client.set_owner("/none", owner="x")).exception == (
        "FileNotFoundException"
    )


# --- snapshots ----------------------------------------------------------------------


@covers(
    "allow_snapshot",
    "create_snapshot",
    "rename_snapshot",
    "delete_snapshot",
    "disallow_snapshot",
    "read",
    "write",
    "delete",
    "rename",
)
def test_snapshots_are_read_only_point_in_time_views(
    client: InsecureClient, webhdfs: WebHdfsServer
) -> None:
    client.write("/snap/log.txt", data="one\n")
    client.write("/snap/sub/keep.txt", data="kept\n")
    client.write("/snap/gone.txt", data="bye\n")
    client.allow_snapshot("/snap")
    client.allow_snapshot("/snap")  # already allowed: a no-op
    assert client.status("/snap")["snapshotEnabled"] is True
    assert client.create_snapshot("/snap", "s1") == "/snap/.snapshot/s1"

    client.write("/snap/log.txt", data="two\n", append=True)
    client.write("/snap/sub/keep.txt", data="changed\n", overwrite=True)
    client.delete("/snap/gone.txt")
    client.rename("/snap/sub", "/snap/moved")
    client.set_times("/snap/log.txt", modification_time=5_000)
    requests.post(
        api(webhdfs, "/snap/log.txt"), params={"op": "TRUNCATE", "newlength": "2"}, timeout=10
    )

    def read(path: str) -> bytes:
        with client.read(path) as reader:
            data: bytes = reader.read()
        return data

    assert read("/snap/.snapshot/s1/log.txt") == b"one\n"
    assert read("/snap/.snapshot/s1/sub/keep.txt") == b"kept\n"
    assert read("/snap/.snapshot/s1/gone.txt") == b"bye\n"
    assert read("/snap/log.txt") == b"on"
    assert client.list("/snap/.snapshot") == ["s1"]
    assert client.list("/snap/.snapshot/s1") == ["gone.txt", "log.txt", "sub"]
    assert client.status("/snap/.snapshot/s1/log.txt")["modificationTime"] != 5_000
    assert ".snapshot" not in client.list("/snap")

    refused = error_of(lambda: client.write("/snap/.snapshot/s1/new", data="x"))
    assert refused.exception == "SnapshotAccessControlException"
    refused = error_of(lambda: client.delete("/snap/.snapshot/s1/log.txt"))
    assert refused.exception == "SnapshotAccessControlException"
    refused = error_of(lambda: client.allow_snapshot("/snap/.snapshot/s1/sub"))
    assert refused.exception == "SnapshotAccessControlException"
    in_use = error_of(lambda: client.delete("/snap", recursive=True))
    assert in_use.exception == "SnapshotException"
    assert error_of(lambda: client.disallow_snapshot("/snap")).exception == "SnapshotException"
    duplicate = error_of(lambda: client.create_snapshot("/snap", "s1"))
    assert duplicate.exception == "SnapshotException"
    generated = client.create_snapshot("/snap")
    assert generated.startswith("/snap/.snapshot/s")

    client.rename_snapshot("/snap", "s1", "first")
    assert read("/snap/.snapshot/first/log.txt") == b"one\n"
    missing = error_of(lambda: client.rename_snapshot("/snap", "s1", "again"))
    assert missing.exception == "SnapshotException"
    client.delete_snapshot("/snap", "first")
    client.delete_snapshot("/snap", generated.rsplit("/", 1)[1])
    assert error_of(lambda: client.read("/snap/.snapshot/first/log.txt").__enter__()).exception == (
        "FileNotFoundException"
    )
    client.disallow_snapshot("/snap")
    assert "snapshotEnabled" not in client.status("/snap")
    assert client.delete("/snap", recursive=True)
    # Nothing of the snapshots is left behind in the sidecar.
    assert list((webhdfs.root / SIDECAR / "snapshots").iterdir()) == []


@covers("allow_snapshot", "create_snapshot", "status")
def test_a_snapshot_of_the_root_leaves_the_servers_state_out(
    client: InsecureClient, webhdfs: WebHdfsServer
) -> None:
    client.write("/top.txt", data="t", permission="600")
    client.set_owner("/", owner="root-owner")
    client.allow_snapshot("/")
    client.create_snapshot("/", "all")
    assert client.list("/.snapshot/all") == ["top.txt"]
    assert client.status("/.snapshot/all")["owner"] == "root-owner"
    assert client.status("/.snapshot/all/top.txt")["permission"] == "600"
    client.delete("/top.txt")
    with client.read("/.snapshot/all/top.txt") as reader:
        assert reader.read() == b"t"


@covers("allow_snapshot", "create_snapshot")
def test_snapshot_errors(client: InsecureClient) -> None:
    client.write("/plain/f", data="x")
    assert error_of(lambda: client.create_snapshot("/plain", "s")).exception == (
        "SnapshotException"
    )
    assert error_of(lambda: client.allow_snapshot("/plain/f")).exception == (
        "PathIsNotDirectoryException"
    )
    assert error_of(lambda: client.allow_snapshot("/none")).exception == "FileNotFoundException"
    client.allow_snapshot("/plain")
    nested = error_of(lambda: client.allow_snapshot("/"))
    assert nested.exception == "SnapshotException" and "Nested" in str(nested)


def test_snapshots_survive_a_restart_and_rename_of_their_directory(
    webhdfs_factory: Callable[..., WebHdfsServer], tmp_path: Path
) -> None:
    server = webhdfs_factory(root=tmp_path / "r")
    client = InsecureClient(server.url, user="alice")
    client.write("/d/f", data="v1")
    client.allow_snapshot("/d")
    client.create_snapshot("/d", "s1")
    client.write("/d/f", data="v2", overwrite=True)
    port = server.port
    server.stop()
    again = webhdfs_factory(root=tmp_path / "r", port=port)
    client = InsecureClient(again.url, user="alice")
    client.rename("/d", "/renamed")
    with client.read("/renamed/.snapshot/s1/f") as reader:
        assert reader.read() == b"v1"
    assert client.status("/renamed/.snapshot/s1/f")["owner"] == "alice"


def test_snapshot_diff_reports_creates_deletes_renames_and_modifies(
    client: InsecureClient, webhdfs: WebHdfsServer
) -> None:
    client.write("/sd/a", data="a")
    client.write("/sd/b", data="b")
    client.write("/sd/dir/c", data="c")
    client.allow_snapshot("/sd")
    client.create_snapshot("/sd", "s1")
    client.write("/sd/a", data="more", append=True)
    client.rename("/sd/b", "/sd/b2")
    client.delete("/sd/dir", recursive=True)
    client.write("/sd/new/x", data="x")
    client.create_snapshot("/sd", "s2")

    def diff(old: str, new: str) -> dict[str, Any]:
        reply = requests.get(
            api(webhdfs, "/sd"),
            params={"op": "GETSNAPSHOTDIFF", "oldsnapshotname": old, "snapshotname": new},
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        report: dict[str, Any] = reply.json()["SnapshotDiffReport"]
        return report

    report = diff("s1", "s2")
    assert (report["snapshotRoot"], report["fromSnapshot"], report["toSnapshot"]) == (
        "/sd",
        "s1",
        "s2",
    )
    entries = {(e["type"], e["sourcePath"], e.get("targetPath")) for e in report["diffList"]}
    assert entries == {
        ("MODIFY", "", None),
        ("MODIFY", "a", None),
        ("RENAME", "b", "b2"),
        ("DELETE", "dir", None),
        ("CREATE", "new", None),
    }
    assert diff("s2", "")["diffList"] == []  # "" is the current state
    client.write("/sd/late", data="z")
    assert {(e["type"], e["sourcePath"]) for e in diff("s2", ".")["diffList"]} == {
        ("MODIFY", ""),
        ("CREATE", "late"),
    }
    missing = requests.get(
        api(webhdfs, "/sd"),
        params={"op": "GETSNAPSHOTDIFF", "oldsnapshotname": "nope", "snapshotname": "s1"},
        timeout=10,
    )
    assert missing.status_code == 403
    assert missing.json()["RemoteException"]["exception"] == "SnapshotException"

    listing = requests.get(
        api(webhdfs, "/"),
        params={"op": "GETSNAPSHOTTABLEDIRECTORYLIST", "user.name": "alice"},
        timeout=10,
    ).json()["SnapshottableDirectoryList"]
    assert [
        (d["parentFullPath"], d["dirStatus"]["pathSuffix"], d["snapshotNumber"]) for d in listing
    ] == [("/", "sd", 2)]
    snapshots = requests.get(
        api(webhdfs, "/sd"), params={"op": "GETSNAPSHOTLIST"}, timeout=10
    ).json()["SnapshotList"]
    assert [s["dirStatus"]["pathSuffix"] for s in snapshots] == ["s1", "s2"]


# --- trash, home, content, checksum -------------------------------------------------


@covers("delete", "content", "checksum", "makedirs", "resolve")
def test_delete_to_trash_content_and_checksum(client: InsecureClient) -> None:
    client.write("/t/doomed.txt", data="12345")
    assert client.resolve("t/doomed.txt") == "/user/alice/t/doomed.txt"  # home directory
    assert client.delete("/t/doomed.txt", skip_trash=False) is True
    trashed = [
        f"{d}/{f}" for d, _, files in client.walk("/user/alice/.Trash/Current") for f in files
    ]
    assert len(trashed) == 1 and trashed[0].endswith("/doomed.txt")
    assert client.delete("/t/none", skip_trash=False) is False
    summary = client.content("/user/alice/.Trash")
    assert (summary["length"], summary["fileCount"]) == (5, 1)
    client.makedirs("/c")
    client.write("/c/one", data=b"same")
    client.write("/c/two", data=b"same")
    assert client.checksum("/c/one") == client.checksum("/c/two")
    assert error_of(lambda: client.checksum("/c")).exception == "FileNotFoundException"


# --- upload, download, walk, parts, from_options ------------------------------------


@covers("upload", "download", "walk", "parts", "from_options", "write", "read", "list")
def test_transfers_walks_and_parts(
    client: InsecureClient, webhdfs: WebHdfsServer, tmp_path: Path
) -> None:
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("A" * 1000)
    (local / "sub" / "b.txt").write_text("B")
    client.upload("/up", str(local), n_threads=2, chunk_size=64)
    walked = sorted((d, tuple(sorted(f))) for d, _, f in client.walk("/up"))
    assert walked == [("/up", ("a.txt",)), ("/up/sub", ("b.txt",))]
    target = tmp_path / "down"
    client.download("/up", str(target), n_threads=2)
    assert (target / "a.txt").read_text() == "A" * 1000
    assert (target / "sub" / "b.txt").read_text() == "B"

    for i in range(3):
        client.write(f"/out/part-r-{i:05d}", data=f"{i}\n")
    client.write("/out/_SUCCESS", data="")
    assert sorted(client.parts("/out")) == [f"part-r-{i:05d}" for i in range(3)]
    # (parts=N samples with random.sample over a dict, which Python 3.11 refuses: a
    # client-side limit, so the list form is used.)
    chosen = client.parts("/out", parts=[0, 2], status=True)
    assert [(name, s["length"]) for name, s in chosen] == [("part-r-00000", 2), ("part-r-00002", 2)]

    configured = Client.from_options({"url": webhdfs.url}, class_name="InsecureClient")
    assert configured.list("/out") == client.list("/out")


# --- ops the hdfs package has no method for (raw HTTP, as Hadoop's client sends) ------


def test_xattrs_with_encodings_and_flags(client: InsecureClient, webhdfs: WebHdfsServer) -> None:
    client.write("/x/f", data="x")
    url = api(webhdfs, "/x/f")

    def put(**params: str) -> requests.Response:
        return requests.put(url, params={"user.name": "alice", **params}, timeout=10)

    assert put(op="SETXATTR", **{"xattr.name": "user.a", "xattr.value": '"hé"'}, flag="CREATE").ok
    assert put(op="SETXATTR", **{"xattr.name": "USER.b", "xattr.value": "0x0102"}, flag="CREATE").ok
    again = put(op="SETXATTR", **{"xattr.name": "user.a", "xattr.value": "0s", "flag": "CREATE"})
    assert again.status_code == 403 and "REPLACE flag" in again.json()["RemoteException"]["message"]
    assert put(
        op="SETXATTR", **{"xattr.name": "user.a", "xattr.value": "0sAAE=", "flag": "REPLACE"}
    ).ok
    wrong = put(op="SETXATTR", **{"xattr.name": "bogus.a", "xattr.value": "1", "flag": "CREATE"})
    assert wrong.status_code == 400
    assert wrong.json()["RemoteException"]["exception"] == "HadoopIllegalArgumentException"

    def get(**params: Any) -> requests.Response:
        return requests.get(url, params=params, timeout=10)

    hexed = get(op="GETXATTRS", encoding="hex").json()["XAttrs"]
    assert hexed == [{"name": "user.a", "value": "0x0001"}, {"name": "user.b", "value": "0x0102"}]
    one = get(op="GETXATTRS", **{"xattr.name": "user.b"}, encoding="base64").json()
    assert one == {"XAttrs": [{"name": "user.b", "value": "0sAQI="}]}
    two = get(op="GETXATTRS", **{"xattr.name": ["user.a", "user.b"]}).json()["XAttrs"]
    assert [x["name"] for x in two] == ["user.a", "user.b"]
    assert get(op="LISTXATTRS").json() == {"XAttrNames": '["user.a","user.b"]'}
    absent = get(op="GETXATTRS", **{"xattr.name": "user.zzz"})
    assert absent.status_code == 403
    superuser = pwd.getpwuid(os.getuid()).pw_name  # the user running the server
    trusted = {"xattr.name": "trusted.t", "xattr.value": "0x01", "flag": "CREATE"}
    denied = put(op="SETXATTR", **trusted)  # as alice
    assert denied.json()["RemoteException"]["exception"] == "AccessControlException"
    assert put(op="SETXATTR", **{**trusted, "user.name": superuser}).ok
    assert [
        x["name"] for x in get(op="GETXATTRS", **{"user.name": superuser}).json()["XAttrs"]
    ] == [
        "trusted.t",
        "user.a",
        "user.b",
    ]
    assert "trusted.t" not in get(op="LISTXATTRS", **{"user.name": "alice"}).text
    assert put(op="REMOVEXATTR", **{"xattr.name": "user.a"}).ok
    assert put(op="REMOVEXATTR", **{"xattr.name": "user.a"}).status_code == 403
    assert get(op="LISTXATTRS").json() == {"XAttrNames": '["user.b"]'}


def test_storage_policies_quota_concat_and_server_info(
    client: InsecureClient, webhdfs: WebHdfsServer
) -> None:
    client.write("/sp/dir/f", data="12345", replication=2)
    everything = requests.get(
        api(webhdfs, "/"), params={"op": "GETALLSTORAGEPOLICY"}, timeout=10
    ).json()["BlockStoragePolicies"]["BlockStoragePolicy"]
    assert {"HOT", "COLD", "WARM", "ALL_SSD"} <= {p["name"] for p in everything}

    def policy(path: str) -> str:
        reply = requests.get(api(webhdfs, path), params={"op": "GETSTORAGEPOLICY"}, timeout=10)
        name: str = reply.json()["BlockStoragePolicy"]["name"]
        return name

    assert policy("/sp/dir/f") == "HOT"
    set_cold = requests.put(
        api(webhdfs, "/sp/dir"),
        params={"op": "SETSTORAGEPOLICY", "storagepolicy": "COLD"},
        timeout=10,
    )
    assert set_cold.ok
    assert policy("/sp/dir/f") == "COLD"  # inherited
    assert client.status("/sp/dir/f")["storagePolicy"] == 2
    unknown = requests.put(
        api(webhdfs, "/sp/dir"), params={"op": "SETSTORAGEPOLICY", "storagepolicy": "X"}, timeout=10
    )
    assert unknown.status_code == 400
    assert requests.post(
        api(webhdfs, "/sp/dir"), params={"op": "UNSETSTORAGEPOLICY"}, timeout=10
    ).ok
    assert policy("/sp/dir/f") == "HOT"

    usage = requests.get(api(webhdfs, "/sp"), params={"op": "GETQUOTAUSAGE"}, timeout=10).json()
    assert usage["QuotaUsage"]["fileAndDirectoryCount"] == 3
    assert usage["QuotaUsage"]["spaceConsumed"] == 10 and usage["QuotaUsage"]["quota"] == -1

    client.write("/cc/target", data="t-")
    client.write("/cc/one", data="1-")
    client.write("/cc/two", data="2")
    concat = requests.post(
        api(webhdfs, "/cc/target"),
        params={"op": "CONCAT", "sources": "/cc/one,/cc/two"},
        timeout=10,
    )
    assert concat.status_code == 200, concat.text
    with client.read("/cc/target") as reader:
        assert reader.read() == b"t-1-2"
    assert client.list("/cc") == ["target"]
    itself = requests.post(
        api(webhdfs, "/cc/target"), params={"op": "CONCAT", "sources": "/cc/target"}, timeout=10
    )
    assert itself.status_code == 400

    defaults = requests.get(api(webhdfs, "/"), params={"op": "GETSERVERDEFAULTS"}, timeout=10)
    assert defaults.json()["FsServerDefaults"]["blockSize"] == 128 * 1024 * 1024
    fs = requests.get(api(webhdfs, "/"), params={"op": "GETSTATUS"}, timeout=10).json()
    assert fs["FsStatus"]["capacity"] >= fs["FsStatus"]["remaining"] > 0
    link = requests.get(api(webhdfs, "/cc/target"), params={"op": "GETFILELINKSTATUS"}, timeout=10)
    assert link.json()["FileStatus"]["length"] == 5
    ec = requests.get(api(webhdfs, "/cc"), params={"op": "GETECPOLICY"}, timeout=10)
    assert ec.json() == {"ErasureCodingPolicy": None}
    policies = requests.get(api(webhdfs, "/"), params={"op": "GETECPOLICIES"}, timeout=10).json()
    enabled = [
        info["policy"]["name"]
        for info in policies["ErasureCodingPolicies"]["ErasureCodingPolicyInfo"]
        if info["state"] == "ENABLED"
    ]
    assert enabled == ["replication"]
    disable = requests.put(
        api(webhdfs, "/"), params={"op": "DISABLEECPOLICY", "ecpolicy": "RS-6-3-1024k"}, timeout=10
    )
    assert disable.status_code == 200
    token = requests.get(api(webhdfs, "/"), params={"op": "GETDELEGATIONTOKEN"}, timeout=10)
    assert token.json() == {"Token": None}


@pytest.mark.parametrize(
    ("method", "op", "params", "status", "exception"),
    [
        ("PUT", "CREATESYMLINK", {"destination": "/t"}, 400, "UnsupportedOperationException"),
        ("GET", "GETLINKTARGET", {}, 403, "IOException"),
        ("PUT", "RENEWDELEGATIONTOKEN", {"token": "abc"}, 403, "InvalidToken"),
        ("PUT", "CANCELDELEGATIONTOKEN", {"token": "abc"}, 403, "InvalidToken"),
        ("PUT", "SATISFYSTORAGEPOLICY", {}, 403, "IOException"),
        (
            "PUT",
            "ENABLEECPOLICY",
            {"ecpolicy": "RS-6-3-1024k"},
            400,
            "UnsupportedOperationException",
        ),
        ("PUT", "SETECPOLICY", {"ecpolicy": "RS-6-3-1024k"}, 400, "HadoopIllegalArgumentException"),
        ("POST", "UNSETECPOLICY", {}, 403, "IOException"),
        ("PUT", "SETQUOTA", {"namespacequota": "5"}, 400, "IllegalArgumentException"),
    ],
)
def test_refused_ops_say_what_a_namenode_says(
    webhdfs: WebHdfsServer,
    method: str,
    op: str,
    params: dict[str, str],
    status: int,
    exception: str,
) -> None:
    InsecureClient(webhdfs.url).write("/r", data="x")
    reply = requests.request(method, api(webhdfs, "/r"), params={"op": op, **params}, timeout=10)
    assert reply.status_code == status, reply.text
    assert reply.json()["RemoteException"]["exception"] == exception


def test_hdfscli_interactive_shell_drives_acls_and_snapshots(
    webhdfs: WebHdfsServer, tmp_path: Path
) -> None:
    config = tmp_path / "hdfscli.cfg"
    config.write_text(
        f"[global]\ndefault.alias = dev\n\n[dev.alias]\nurl = {webhdfs.url}\nuser = dave\n"
        f"\n[hdfscli.command]\nlog.path = {tmp_path / 'hdfscli.log'}\n"
    )
    script = "\n".join(
        [
            "CLIENT.write('/cli/f', data='v1')",
            "CLIENT.set_acl('/cli/f', 'user:erin:r--', clear=False)",
            "CLIENT.allow_snapshot('/cli')",
            "print(CLIENT.create_snapshot('/cli', 'before'))",
            "CLIENT.write('/cli/f', data='v2', overwrite=True)",
            "print(CLIENT.acl_status('/cli/f')['entries'])",
            "reading = CLIENT.read('/cli/.snapshot/before/f')",
            "print(reading.__enter__().read())",
        ]
    )
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hdfscli")), "interactive"],
        env={**os.environ, "HDFSCLI_CONFIG": str(config)},
        input=script + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "/cli/.snapshot/before" in done.stdout
    assert "b'v1'" in done.stdout
    # Overwriting replaced the file: the new one has no ACL, the snapshot keeps v1.
    assert "[]" in done.stdout
