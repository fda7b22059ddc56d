import pytest

from streamapp.cli.topics import PartitionRow, TopicMismatch, describe_lines, existing_outcome


def test_existing_topic_with_same_count_is_fine() -> None:
    assert (
        existing_outcome("data_stream", 4, 4)
        == "topic data_stream already exists with 4 partitions"
    )


def test_existing_topic_with_other_count_is_an_error_naming_both_counts() -> None:
    with pytest.raises(TopicMismatch, match=r"3 partitions, not 4; use --partitions 3"):
        existing_outcome("data_stream", 3, 4)


def test_describe_sorts_partitions_and_totals_retained_messages() -> None:
    rows = [PartitionRow(1, 7, [7], 5, 9), PartitionRow(0, 7, [7, 8], 0, 10)]
    lines = describe_lines("t", rows)
    assert len(lines) == 4
    assert lines[1].split() == ["t", "0", "7", "7,8", "0..10"]
    assert lines[2].split() == ["t", "1", "7", "7", "5..9"]
    assert lines[3] == "t: 2 partitions, 14 messages retained"
