"""Unit tests of request-parameter validation."""

from __future__ import annotations

import pytest

from streamapp.contract import TOP_MAX
from web.params import BadParameter, parse_n, parse_word


@pytest.mark.parametrize("raw", ["0", "-1", "1001", "abc", "1.5", "٣", " 5", "9" * 50])
def test_bad_n_is_refused(raw: str) -> None:
    with pytest.raises(BadParameter):
        parse_n(raw)


def test_n_defaults_and_bounds() -> None:
    assert parse_n(None) == 10
    assert parse_n("") == 10
    assert parse_n("1") == 1
    assert parse_n(str(TOP_MAX)) == TOP_MAX


@pytest.mark.parametrize(
    "raw", ["../etc/passwd", "a/b", "two words", "", "   ", "hello!", "x" * 201, "<script>"]
)
def test_anything_but_one_word_is_refused(raw: str) -> None:
    with pytest.raises(BadParameter):
        parse_word(raw)


@pytest.mark.parametrize(
    "raw", ["Kafka", "  kafka ", "\uff2b\uff21\uff26\uff2b\uff21", "STRASSE", "Straße"]
)
def test_one_word_is_normalised_like_the_tokenizer(raw: str) -> None:
    from streamapp.tokenize import words

    assert parse_word(raw) == words(raw)[0]
