"""PySpark (Hadoop's Java webhdfs:// client, as bundled with pip's pyspark) against the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hdfs import InsecureClient
from pyspark.sql import SparkSession

from devstack.webhdfs import WebHdfsServer
from tests.fixtures.webhdfs import read_all_lines

pytestmark = pytest.mark.integration


def base(server: WebHdfsServer) -> str:
    return f"webhdfs://127.0.0.1:{server.port}"


@pytest.fixture
def small_splits(spark: SparkSession) -> Iterator[None]:
    """Make Spark cut files into 16 KiB splits (read at offsets), then restore the setting."""
    key = "spark.sql.files.maxPartitionBytes"
    previous = spark.conf.get(key)
    spark.conf.set(key, str(16 * 1024))
    yield
    if previous is None:
        spark.conf.unset(key)
    else:
        spark.conf.set(key, previous)


def test_read_text_over_hive_style_dirs_ignores_underscore_and_dot(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    client = InsecureClient(webhdfs.url)
    written: list[tuple[str, str, str]] = []
    for gen in (0, 1):
        for date in ("2026-11-25", "2026-11-26"):
            for f in range(4):
                lines = [f"g{gen} {date} f{f} line {i} ünïcode" for i in range(25)]
                written += [(line, str(gen), date) for line in lines]
                path = f"/archive/gen={gen}/date={date}/data_stream+0+{f:020d}.jsonl"
                client.write(path, data="\n".join(lines) + "\n", encoding="utf-8")
    for hidden in (
        "/archive/gen=0/date=2026-11-25/_tmp/part.jsonl",
        "/archive/gen=0/date=2026-11-25/.data_stream+0.jsonl.tmp",
        "/archive/gen=0/_markers/partition-0.json",
        "/archive/_SUCCESS",
        "/archive/.state/offsets",
    ):
        client.write(hidden, data="must not be read\n", encoding="utf-8")

    df = spark.read.text(f"{base(webhdfs)}/archive")
    rows = [(r["value"], str(r["gen"]), r["date"].isoformat()) for r in df.collect()]
    assert sorted(rows) == sorted(written)
    # The hdfs package, reading the same tree independently, agrees line for line.
    assert sorted(read_all_lines(webhdfs.url, "/archive")) == sorted(w[0] for w in written)


def test_read_text_recursive_over_plain_nested_dirs(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    client = InsecureClient(webhdfs.url)
    expected = []
    for d in ("a", "a/b", "a/b/c", "z"):
        for f in range(3):
            lines = [f"{d}/{f}/{i}" for i in range(10)]
            expected += lines
            client.write(f"/nested/{d}/file{f}.txt", data="\n".join(lines) + "\n")
    client.write("/nested/a/_ignored.txt", data="no\n")
    df = spark.read.option("recursiveFileLookup", "true").text(f"{base(webhdfs)}/nested")
    assert sorted(r["value"] for r in df.collect()) == sorted(expected)


@pytest.mark.usefixtures("small_splits")
def test_split_reads_at_offsets_return_every_line_once(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    lines = [json.dumps({"offset": i, "value": "x" * (i % 50)}) for i in range(5000)]
    InsecureClient(webhdfs.url).write("/big/one.jsonl", data="\n".join(lines) + "\n")
    df = spark.read.text(f"{base(webhdfs)}/big")
    assert df.rdd.getNumPartitions() > 4  # several splits of one file, read at offsets
    assert sorted(r["value"] for r in df.collect()) == sorted(lines)


def test_write_json_commits_through_the_rename_committer(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    rows = [(i, f"word{i}") for i in range(200)]
    df = spark.createDataFrame(rows, "count INT, word STRING").repartition(3)
    target = f"{base(webhdfs)}/reports/run1/words"
    df.write.json(target)

    client = InsecureClient(webhdfs.url)
    names = client.list("/reports/run1/words")
    assert "_SUCCESS" in names
    assert "_temporary" not in names
    assert [n for n in names if n.startswith("part-")]
    written = [json.loads(line) for line in read_all_lines(webhdfs.url, "/reports/run1/words")]
    assert sorted((r["count"], r["word"]) for r in written) == rows

    df.limit(5).write.mode("overwrite").json(target)  # deletes the old output first
    assert len(read_all_lines(webhdfs.url, "/reports/run1/words")) == 5


def test_hadoop_filesystem_api_through_py4j(spark: SparkSession, webhdfs: WebHdfsServer) -> None:
    jvm: Any = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    hpath = jvm.org.apache.hadoop.fs.Path

    def path(p: str) -> Any:
        return hpath(f"{base(webhdfs)}{p}")

    fs = path("/").getFileSystem(conf)
    assert fs.mkdirs(path("/runs/r1"))
    out = fs.create(path("/runs/r1/_summary.json.tmp"), True)
    out.write(bytearray(b'{"run_id": "r1", "totals": {"messages": 3}}'))
    out.close()
    assert fs.rename(path("/runs/r1/_summary.json.tmp"), path("/runs/r1/summary.json"))
    assert fs.exists(path("/runs/r1/summary.json"))
    assert not fs.exists(path("/runs/r1/_summary.json.tmp"))
    status = fs.getFileStatus(path("/runs/r1/summary.json"))
    assert status.getLen() == 43 and status.isFile()

    stream = fs.open(path("/runs/r1/summary.json"))
    stream.seek(12)
    assert bytes([stream.read() for _ in range(2)]) == b"r1"
    stream.close()

    # HDFS's FileSystem.rename answers false when the destination file exists...
    out = fs.create(path("/latest.tmp"), True)
    out.write(bytearray(b"new"))
    out.close()
    out = fs.create(path("/latest"), True)
    out.write(bytearray(b"old"))
    out.close()
    assert not fs.rename(path("/latest.tmp"), path("/latest"))
    # ...and rename with Options.Rename.OVERWRITE replaces it atomically.
    options = spark.sparkContext._gateway.new_array(  # type: ignore[union-attr]
        jvm.org.apache.hadoop.fs.Options.Rename, 1
    )
    options[0] = jvm.org.apache.hadoop.fs.Options.Rename.OVERWRITE
    fs.rename(path("/latest.tmp"), path("/latest"), options)
    with InsecureClient(webhdfs.url).read("/latest") as reader:
        assert reader.read() == b"new"

    summary = fs.getContentSummary(path("/runs"))
    assert (summary.getFileCount(), summary.getDirectoryCount(), summary.getLength()) == (1, 2, 43)
    checksum = fs.getFileChecksum(path("/runs/r1/summary.json"))
    assert checksum.getLength() == 28
    listed = [s.getPath().getName() for s in fs.listStatus(path("/runs/r1"))]
    assert listed == ["summary.json"]
    batches = fs.listStatusIterator(path("/runs/r1"))  # LISTSTATUS_BATCH
    assert batches.hasNext() and batches.next().getPath().getName() == "summary.json"
    assert not batches.hasNext()
    out = fs.append(path("/runs/r1/summary.json"))
    out.write(bytearray(b"\n"))
    out.close()
    assert fs.getFileStatus(path("/runs/r1/summary.json")).getLen() == 44
    assert fs.truncate(path("/runs/r1/summary.json"), 43)
    assert fs.getHomeDirectory().toUri().getPath() == f"/user/{spark.sparkContext.sparkUser()}"
    blocks = fs.getFileBlockLocations(status, 0, status.getLen())
    assert len(blocks) == 1 and blocks[0].getLength() == 43 and list(blocks[0].getHosts())
    assert fs.delete(path("/runs"), True)
    assert not fs.exists(path("/runs"))
    assert not fs.delete(path("/runs"), True)


def test_hadoop_client_metadata_acl_xattr_snapshot_and_policy_calls(
    spark: SparkSession, webhdfs: WebHdfsServer
) -> None:
    """The FileSystem calls beyond reading and writing, through Hadoop's own client."""
    jvm: Any = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    fs_pkg = jvm.org.apache.hadoop.fs
    perm_pkg = fs_pkg.permission

    def path(p: str) -> Any:
        return fs_pkg.Path(f"{base(webhdfs)}{p}")

    fs = path("/").getFileSystem(conf)
    client = InsecureClient(webhdfs.url)
    client.write("/m/d/f.txt", data="hello")
    client.write("/m/d/g.txt", data="world")

    fs.setTimes(path("/m/d"), 2_000_000, 1_000_000)
    fs.setPermission(path("/m/d"), perm_pkg.FsPermission("750"))
    fs.setOwner(path("/m/d/f.txt"), "bob", "staff")
    status = fs.getFileStatus(path("/m/d"))
    assert (status.getModificationTime(), status.getAccessTime()) == (2_000_000, 1_000_000)
    assert str(status.getPermission()) == "rwxr-x---"
    assert client.status("/m/d/f.txt")["owner"] == "bob"
    fs.access(path("/m/d/f.txt"), perm_pkg.FsAction.READ)  # superuser: allowed

    fs.modifyAclEntries(path("/m/d/f.txt"), perm_pkg.AclEntry.parseAclSpec("user:eve:r--", True))
    acl = fs.getAclStatus(path("/m/d/f.txt"))
    assert [str(e) for e in acl.getEntries()] == ["user:eve:r--", "group::r--"]
    assert client.acl_status("/m/d/f.txt")["entries"] == ["user:eve:r--", "group::r--"]
    fs.removeAcl(path("/m/d/f.txt"))
    assert fs.getAclStatus(path("/m/d/f.txt")).getEntries().isEmpty()

    fs.setXAttr(path("/m/d/f.txt"), "user.origin", bytearray(b"\x00spark"))
    assert bytes(fs.getXAttr(path("/m/d/f.txt"), "user.origin")) == b"\x00spark"
    assert list(fs.listXAttrs(path("/m/d/f.txt"))) == ["user.origin"]
    fs.removeXAttr(path("/m/d/f.txt"), "user.origin")
    assert fs.getXAttrs(path("/m/d/f.txt")).isEmpty()

    fs.allowSnapshot(path("/m"))
    snapshot = fs.createSnapshot(path("/m"), "s1")
    assert snapshot.toUri().getPath() == "/m/.snapshot/s1"
    out = fs.append(path("/m/d/f.txt"))
    out.write(bytearray(b" again"))
    out.close()
    fs.delete(path("/m/d/g.txt"), False)
    fs.createSnapshot(path("/m"), "s2")
    report = fs.getSnapshotDiffReport(path("/m"), "s1", "s2")
    entries = {(str(e.getType()), str(e)) for e in report.getDiffList()}
    assert {t for t, _ in entries} == {"MODIFY", "DELETE"}
    stream = fs.open(path("/m/.snapshot/s1/d/f.txt"))
    assert bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream)) == b"hello"
    stream.close()
    fs.renameSnapshot(path("/m"), "s2", "later")
    listing = fs.getSnapshottableDirectoryList()
    assert [(d.getFullPath().toString(), d.getSnapshotNumber()) for d in listing] == [("/m", 2)]
    fs.deleteSnapshot(path("/m"), "s1")
    fs.deleteSnapshot(path("/m"), "later")
    fs.disallowSnapshot(path("/m"))

    fs.setStoragePolicy(path("/m/d"), "COLD")
    assert fs.getStoragePolicy(path("/m/d/f.txt")).getName() == "COLD"
    fs.unsetStoragePolicy(path("/m/d"))
    assert fs.getStoragePolicy(path("/m/d/f.txt")).getName() == "HOT"
    assert "ALL_SSD" in [p.getName() for p in fs.getAllStoragePolicies()]

    client.write("/m/part2", data="!")
    sources = spark.sparkContext._gateway.new_array(fs_pkg.Path, 1)  # type: ignore[union-attr]
    sources[0] = path("/m/part2")
    fs.concat(path("/m/d/f.txt"), sources)
    with client.read("/m/d/f.txt") as reader:
        assert reader.read() == b"hello again!"
    usage = fs.getQuotaUsage(path("/m"))
    assert (usage.getFileAndDirectoryCount(), usage.getQuota()) == (3, -1)
    assert fs.getServerDefaults(path("/")).getBlockSize() == 128 * 1024 * 1024
    assert fs.getStatus().getCapacity() > 0
    trash = fs.getTrashRoot(path("/m")).toUri().getPath()
    assert trash == f"/user/{spark.sparkContext.sparkUser()}/.Trash"
