import pytest

from streamapp.cli.tail import (
    BATCH,
    INVALID_FLAG,
    batch_size,
    consumer_settings,
    format_message,
    render_value,
    wait_time,
)


def test_utf8_values_print_as_they_are() -> None:
    assert render_value("héllo ✓".encode()) == ("héllo ✓", True)
    assert render_value(None) == ("", True)


def test_invalid_bytes_are_escaped_and_flagged() -> None:
    assert render_value(b"caf\xe9 ok") == ("caf\\xe9 ok", False)
    assert format_message(b"caf\xe9", "t", 0, 1) == INVALID_FLAG + "caf\\xe9"


def test_verbose_line_says_where_the_message_is() -> None:
    assert format_message(b"hi", "data_stream", 3, 12, verbose=True) == "data_stream [3] @ 12: hi"


def test_batch_size_stops_at_max_messages() -> None:
    assert batch_size(0, None) == BATCH
    assert batch_size(0, 3) == 3
    assert batch_size(10, BATCH * 10) == BATCH
    assert batch_size(3, 3) == 0


def test_wait_time_counts_down_the_idle_timeout() -> None:
    assert wait_time(100.0, None) == 1.0
    assert wait_time(0.0, 5.0) == 1.0
    assert wait_time(4.5, 5.0) == pytest.approx(0.5)
    assert wait_time(6.0, 5.0) == 0.0


def test_group_member_uses_the_configured_session_timeout() -> None:
    conf = consumer_settings({"bootstrap.servers": "h:1"}, "g", True, session_timeout_s=9)
    assert conf["group.id"] == "g"
    assert conf["auto.offset.reset"] == "earliest"
    assert conf["session.timeout.ms"] == 9000
    assert conf["heartbeat.interval.ms"] == 3000


def test_throwaway_reader_commits_nothing_and_never_shares_a_group() -> None:
    a = consumer_settings({}, None, from_earliest=False)
    b = consumer_settings({}, None, from_earliest=False)
    assert a["enable.auto.commit"] is False
    assert a["auto.offset.reset"] == "latest"
    assert a["group.id"] != b["group.id"]
