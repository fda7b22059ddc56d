"""streamapp.tablewrite writes the bytes faust's own changelog path would send."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamapp.agents import totals_table, word_table


@given(
    word=st.text(min_size=1),
    n=st.integers(min_value=0, max_value=2**53),
    marks=st.dictionaries(
        st.text(max_size=8),
        st.lists(st.integers(min_value=0, max_value=2**53), max_size=3),
        max_size=3,
    ),
)
def test_store_encoding_is_the_changelog_encoding(
    word: str, n: int, marks: dict[str, list[int]]
) -> None:
    # write_rows encodes each row once, with the store's encoders, for both RocksDB and
    # the changelog: recovery and standbys copy changelog bytes into RocksDB unchanged,
    # so they must be what faust's Table.__setitem__ would have sent.
    row = {"n": n, "m": marks}
    for table in (word_table, totals_table):
        key, _ = table.changelog_topic.prepare_key(word, table.key_serializer)
        value, _ = table.changelog_topic.prepare_value(row, table.value_serializer)
        assert table.data._encode_key(word) == key
        assert table.data._encode_value(row) == value
