"""Unit tests of the contract module: the hour label every stage writes, the source key."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streamapp.contract import HOUR_MS, Source, hour_label, hour_of, hour_start

T0 = 1_764_000_000_000  # 2025-11-24T16:00:00Z
# Kafka timestamps from the epoch to the year 9999 (the label's four-digit year).
TIMESTAMPS = st.integers(min_value=0, max_value=253_402_300_799_999)


def test_hour_of_is_the_utc_hour_start() -> None:
    assert hour_of(0) == "1970-01-01T00:00:00Z"
    assert hour_of(HOUR_MS - 1) == "1970-01-01T00:00:00Z"
    assert hour_of(HOUR_MS) == "1970-01-01T01:00:00Z"
    assert hour_of(T0 + 59 * 60_000) == "2025-11-24T16:00:00Z"
    assert hour_of(T0 + HOUR_MS) == "2025-11-24T17:00:00Z"


@given(TIMESTAMPS)
def test_hour_of_is_the_iso_utc_hour_truncated(timestamp_ms: int) -> None:
    moment = datetime.fromtimestamp(timestamp_ms // 1000, UTC)
    assert hour_of(timestamp_ms) == moment.replace(minute=0, second=0).isoformat()[:19] + "Z"


@given(TIMESTAMPS)
def test_hour_start_inverts_the_label(timestamp_ms: int) -> None:
    index = timestamp_ms // HOUR_MS
    start = hour_start(hour_label(index)).replace(tzinfo=UTC)
    assert int(start.timestamp()) * 1000 == index * HOUR_MS


@given(st.integers(min_value=0, max_value=2**31), st.integers(min_value=0, max_value=2**31))
def test_source_key_round_trips(gen: int, partition: int) -> None:
    source = Source(gen, partition)
    assert source.key == f"{gen}:{partition}"
    assert Source.parse(source.key) == source
