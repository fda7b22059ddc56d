"""Pure lag computation (streamapp.lag) and the worker's gauge export (streamapp.lag_metrics)."""

from __future__ import annotations

from streamapp.archive.consumer import consumer_config
from streamapp.config import Settings
from streamapp.lag import PartitionLag, consumer_groups, group_lags, partition_lag, total_lag


def test_lag_is_end_minus_committed() -> None:
    assert partition_lag(committed=7, low=0, end=10) == 3
    assert partition_lag(committed=10, low=0, end=10) == 0


def test_nothing_committed_means_everything_retained_is_to_read() -> None:
    assert partition_lag(committed=None, low=4, end=10) == 6
    assert partition_lag(committed=None, low=0, end=0) == 0


def test_committed_outside_the_log_counts_from_its_start() -> None:
    # A broker that came back empty: the group's old offset 500 is past the new end 3.
    assert partition_lag(committed=500, low=0, end=3) == 3
    # Retention removed what the group had not read yet.
    assert partition_lag(committed=2, low=5, end=9) == 4


def test_group_lags_covers_every_partition_of_the_topic() -> None:
    rows = group_lags("live", "g", {0: 5, 2: None}, {0: 0, 1: 0, 2: 0}, {2: 4, 0: 9, 1: 1})
    got = [(r.partition, r.committed, r.lag) for r in rows]
    assert got == [(0, 5, 4), (1, None, 1), (2, None, 4)]
    assert total_lag(rows, "live") == 9
    assert total_lag(rows, "archive") == 0


def test_archive_group_is_the_sink_consumers_group() -> None:
    s = Settings(app_id="someapp")
    assert consumer_groups(s)["archive"] == consumer_config(s, None)["group.id"]
    assert consumer_groups(s)["live"] == "someapp"


def test_export_sets_and_drops_series() -> None:
    from prometheus_client import REGISTRY

    from streamapp.lag_metrics import export

    def value(group: str, partition: str) -> float | None:
        return REGISTRY.get_sample_value(
            "wordstream_consumer_lag", {"group": group, "role": "live", "partition": partition}
        )

    rows = [PartitionLag("gx", "live", 0, 3, 10, 7), PartitionLag("gx", "live", 1, None, 4, 4)]
    shown = export(rows, set())
    assert (value("gx", "0"), value("gx", "1")) == (7, 4)
    assert (
        REGISTRY.get_sample_value(
            "wordstream_consumer_committed_offset",
            {"group": "gx", "role": "live", "partition": "1"},
        )
        == -1
    )
    export([PartitionLag("gx", "live", 0, 10, 10, 0)], shown)
    assert (value("gx", "0"), value("gx", "1")) == (0, None)
