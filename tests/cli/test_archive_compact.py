"""`wordstream archive compact` against the dev WebHDFS server."""

from __future__ import annotations

import pytest
from hdfs import InsecureClient

from devstack.webhdfs import WebHdfsServer
from streamapp.archive.store import committed_files
from streamapp.cli import main
from tests.spark_jobs.archive_format import Message
from tests.spark_jobs.batch_support import write_archive

ROOT = "/data/data_stream"
OLD = 1_764_028_800_000  # 2025-11-25: long closed


def test_compact_merges_a_closed_date_and_refuses_an_open_one(
    webhdfs: WebHdfsServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HDFS_URL", webhdfs.url)
    for var in ("KAFKA_TOPIC", "ARCHIVE_ROOT", "ARCHIVE_COMPACT_TARGET_BYTES"):
        monkeypatch.delenv(var, raising=False)
    client = InsecureClient(webhdfs.url)
    messages = [Message(0, p, o, OLD + o, f"m {o}") for p in (0, 1) for o in range(30)]
    write_archive(client, ROOT, messages, per_file=3)
    assert len(list(committed_files(client, ROOT))) == 20

    assert main(["archive", "compact", "--partition", "1"]) == 0
    out = capsys.readouterr().out
    assert "archive compact: 1 files written, 10 small files replaced" in out
    left = list(committed_files(client, ROOT))
    assert sorted((f.partition, f.first, f.last) for _, f in left if f.partition == 1) == [
        (1, 0, 29)
    ]
    assert len(left) == 11  # partition 0 untouched

    assert main(["archive", "compact", "--date", "2999-01-01"]) == 1
    assert "2999-01-01 is not closed yet" in capsys.readouterr().err
