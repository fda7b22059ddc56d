"""`read_committed`: the archive's committed offset of a partition, read without writing."""

from __future__ import annotations

from hdfs import InsecureClient

from devstack.webhdfs import WebHdfsServer
from streamapp.archive.core import (
    DataFile,
    Marker,
    Pending,
    data_file_path,
    encode_marker,
    marker_paths,
    tmp_file_path,
)
from streamapp.archive.store import read_committed

ROOT, TOPIC = "/data/data_stream", "data_stream"


def _pending_marker(hdfs: InsecureClient, f: DataFile) -> tuple[str, str]:
    tmp, final = tmp_file_path(ROOT, f), data_file_path(ROOT, f)
    pending = Pending(f.last, "f2", ((tmp, final),))
    hdfs.write(marker_paths(ROOT, TOPIC, 1)[1], data=encode_marker(Marker(1, 0, 9, "f1", pending)))
    return tmp, final


def test_no_marker_means_nothing_committed(webhdfs: WebHdfsServer) -> None:
    hdfs = InsecureClient(webhdfs.url, user="test")
    assert read_committed(hdfs, ROOT, TOPIC, 1).last is None


def test_a_pending_batch_counts_once_its_file_is_renamed(webhdfs: WebHdfsServer) -> None:
    hdfs = InsecureClient(webhdfs.url, user="test")
    _tmp, final = _pending_marker(hdfs, DataFile(0, "2026-01-01", TOPIC, 1, 10, 19))
    hdfs.write(final, data=b"{}\n")
    assert read_committed(hdfs, ROOT, TOPIC, 1).last == 19


def test_a_pending_batch_is_not_rolled_forward(webhdfs: WebHdfsServer) -> None:
    hdfs = InsecureClient(webhdfs.url, user="test")
    tmp, final = _pending_marker(hdfs, DataFile(0, "2026-01-01", TOPIC, 1, 10, 19))
    hdfs.write(tmp, data=b"{}\n")
    assert read_committed(hdfs, ROOT, TOPIC, 1).last == 9
    assert hdfs.status(final, strict=False) is None
    assert hdfs.status(tmp, strict=False) is not None
