import argparse

import pytest

from streamapp.cli.common import (
    InvalidTopicName,
    TopicNotFound,
    positive_float,
    positive_int,
    require_topic,
    validate_topic_name,
)


@pytest.mark.parametrize("name", ["data_stream", "a", "A.b-c_9", "x" * 249, "..."])
def test_legal_topic_names_pass(name: str) -> None:
    assert validate_topic_name(name) == name


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("", "empty"),
        (".", "not allowed"),
        ("..", "not allowed"),
        ("x" * 250, "at most 249"),
        ("bad name", "' '"),
        ("été", "'é'"),
        ("a/b", "'/'"),
    ],
)
def test_illegal_topic_names_say_why(name: str, says: str) -> None:
    with pytest.raises(InvalidTopicName, match=says):
        validate_topic_name(name)


def test_positive_int() -> None:
    assert positive_int("3") == 3
    for bad in ("0", "-1", "x", "1.5"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_int(bad)


def test_positive_float() -> None:
    assert positive_float("0.5") == 0.5
    for bad in ("0", "-2", "nan", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            positive_float(bad)


class _Topic:
    def __init__(self, partitions: int) -> None:
        self.partitions = dict.fromkeys(range(partitions))
        self.error = None


class _Metadata:
    def __init__(self) -> None:
        self.topics = {"data_stream": _Topic(3)}


def test_require_topic_counts_partitions_or_says_how_to_create() -> None:
    assert require_topic(_Metadata(), "data_stream", "h:1") == 3
    with pytest.raises(TopicNotFound, match="wordstream topics create --topic other"):
        require_topic(_Metadata(), "other", "h:1")
