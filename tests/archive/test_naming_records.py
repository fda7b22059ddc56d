"""File names, record encoding and dates of the archive (docs/contracts.md section 1)."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamapp.archive.core import (
    ArchiveError,
    DataFile,
    check_topic,
    data_file_path,
    encode_record,
    marker_paths,
    parse_data_file_path,
    tmp_file_path,
    utc_date,
)

data_files = st.builds(
    DataFile,
    gen=st.integers(0, 10**6),
    date=st.dates().map(lambda d: d.strftime("%Y-%m-%d")).filter(lambda s: len(s) == 10),
    topic=st.from_regex(r"[A-Za-z0-9-][A-Za-z0-9._-]{0,40}", fullmatch=True),
    partition=st.integers(0, 10**5),
    first=st.integers(0, 10**19),
    last=st.integers(0, 10**19),
)


@given(data_files)
def test_committed_path_round_trips(f: DataFile) -> None:
    assert parse_data_file_path(data_file_path("/data/data_stream", f)) == f


@given(data_files)
def test_temporary_and_marker_paths_are_not_data_files(f: DataFile) -> None:
    assert parse_data_file_path(tmp_file_path("/data/data_stream", f)) is None
    for path in marker_paths("/data/data_stream", f.topic, f.partition):
        assert parse_data_file_path(path) is None
        assert "/_markers/" in path


def test_committed_name_is_the_contract_layout() -> None:
    f = DataFile(gen=2, date="2026-11-25", topic="data_stream", partition=3, first=7, last=42)
    assert data_file_path("/data/data_stream/", f) == (
        "/data/data_stream/gen=2/date=2026-11-25/"
        "data_stream+3+00000000000000000007+00000000000000000042.jsonl"
    )


@pytest.mark.parametrize("topic", ["_private", ".hidden", "a+b", ""])
def test_topics_whose_files_readers_would_skip_are_refused(topic: str) -> None:
    with pytest.raises(ArchiveError, match="cannot be archived"):
        check_topic(topic)


def test_paths_that_are_not_committed_files_do_not_parse() -> None:
    assert parse_data_file_path("/a/gen=0/date=2026-01-01/t+0+1+2.jsonl") is None  # unpadded
    assert (
        parse_data_file_path(
            "/a/_old/gen=0/date=2026-01-01/t+0+" + "0" * 20 + "+" + "0" * 20 + ".jsonl"
        )
        is None
    )
    assert (
        parse_data_file_path("/a/gen=0/date=2026-01-01/t+0+" + "0" * 20 + "+" + "0" * 20 + ".json")
        is None
    )


def test_utc_date_splits_at_midnight_utc() -> None:
    midnight = 1_764_028_800_000  # 2025-11-25T00:00:00Z
    assert utc_date(midnight - 1) == "2025-11-24"
    assert utc_date(midnight) == "2025-11-25"


def test_valid_record_is_one_json_line_with_the_contract_fields() -> None:
    r = encode_record(3, 17, 1_764_028_800_123, b"k\xc3\xa9", "héllo\nwörld 👋".encode())
    assert r.line.endswith(b"\n") and r.line.count(b"\n") == 1
    assert json.loads(r.line) == {
        "partition": 3,
        "offset": 17,
        "timestamp": 1_764_028_800_123,
        "key": "ké",
        "value": "héllo\nwörld 👋",
    }
    assert not r.rejected
    assert r.date == "2025-11-25"


def test_non_utf8_value_is_rejected_with_its_raw_bytes_in_base64() -> None:
    raw = b"\xff\xfe not utf-8 \x80"
    r = encode_record(0, 5, 1_000, None, raw)
    obj = json.loads(r.line)
    assert r.rejected
    assert "value" not in obj
    assert base64.b64decode(obj["value_b64"]) == raw
    assert obj["key"] is None


def test_non_utf8_key_is_stored_as_key_b64() -> None:
    obj = json.loads(encode_record(0, 5, 1_000, b"\xc3", b"ok").line)
    assert "key" not in obj
    assert base64.b64decode(obj["key_b64"]) == b"\xc3"
    assert obj["value"] == "ok"


def test_fingerprint_tells_different_messages_at_the_same_offset_apart() -> None:
    a = encode_record(0, 9, 1_000, None, b"same")
    assert encode_record(0, 9, 1_000, None, b"same").fingerprint == a.fingerprint
    assert encode_record(0, 9, 1_001, None, b"same").fingerprint != a.fingerprint
    assert encode_record(0, 9, 1_000, None, b"other").fingerprint != a.fingerprint
