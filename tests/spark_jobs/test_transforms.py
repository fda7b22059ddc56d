"""The pure DataFrame steps on local DataFrames (no storage): parsing, identity, counts."""

from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs import transforms
from streamapp.tokenize import words
from tests.spark_jobs.archive_format import Message, data_file_path, record_line

TS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def file_uri(m: Message) -> str:
    return "file:///archive/" + data_file_path(m.gen, m.partition, m.offset, m.offset, m.timestamp)


def lines_frame(spark: SparkSession, rows: list[tuple[str, str]]) -> DataFrame:
    return spark.createDataFrame(rows, "line STRING, file STRING")


def message_lines(spark: SparkSession, messages: list[Message]) -> DataFrame:
    return lines_frame(spark, [(record_line(m), file_uri(m)) for m in messages])


def test_lines_that_are_not_archive_records_are_corrupt(spark: SparkSession) -> None:
    good_file = "file:///a/gen=0/date=2026-01-01/data_stream+0+00000000000000000000+00000000000000000009.jsonl"
    base = '"partition": 0, "offset": 1, "timestamp": 5'
    cases = {
        "valid": (f'{{{base}, "key": null, "value": "a b"}}', good_file, False),
        "extra field": (f'{{{base}, "key": "k", "value": "a", "x": [1]}}', good_file, False),
        "not json": ("hello world", good_file, True),
        "truncated": (f'{{{base}, "value": "a', good_file, True),
        "empty line": ("", good_file, True),
        "json array": ("[1, 2]", good_file, True),
        "value is a number": (f'{{{base}, "value": 5}}', good_file, True),
        "value is an object": (f'{{{base}, "value": {{"a": "b"}}}}', good_file, True),
        "value is null": (f'{{{base}, "value": null}}', good_file, True),
        "value is a boolean": (f'{{{base}, "value": false}}', good_file, True),
        "value is an array": (f'{{{base}, "value": ["a"]}}', good_file, True),
        "value is a negative float": (f'{{{base}, "value": -1.5e3}}', good_file, True),
        "value text looks like a number": (f'{{{base}, "value": "5"}}', good_file, False),
        "value text is true": (f'{{{base}, "value": "true"}}', good_file, False),
        "value text opens a brace": (f'{{{base}, "value": "{{a [b"}}', good_file, False),
        "value missing": (f"{{{base}}}", good_file, True),
        "partition is a string": (
            '{"partition": "0", "offset": 1, "timestamp": 5, "value": "a"}',
            good_file,
            True,
        ),
        "offset is a float": (
            '{"partition": 0, "offset": 1.5, "timestamp": 5, "value": "a"}',
            good_file,
            True,
        ),
        "timestamp missing": ('{"partition": 0, "offset": 1, "value": "a"}', good_file, True),
        "no gen in path": (
            f'{{{base}, "value": "a"}}',
            "file:///a/date=2026-01-01/data_stream+0+1+1.jsonl",
            True,
        ),
    }
    frame = lines_frame(
        spark, [(line, f"{name}|{file}") for name, (line, file, _) in cases.items()]
    )
    # The case name rides in front of the path; the gen regex only looks at the path's end.
    got = {r["file"].split("|")[0]: r["corrupt"] for r in transforms.parse_records(frame).collect()}
    assert got == {name: expected for name, (_, _, expected) in cases.items()}


def test_rejected_records_need_a_value_b64_string(spark: SparkSession) -> None:
    m = Message(0, 1, 7, TS, b"\xff\xfe")
    good = record_line(m)
    bad = '{"partition": 1, "offset": 8, "timestamp": 5, "value": "text"}'
    parsed = transforms.parse_records(
        lines_frame(spark, [(good, file_uri(m)), (bad, file_uri(m))]), "value_b64"
    )
    assert sorted(r["corrupt"] for r in parsed.collect()) == [False, True]


def test_identity_is_gen_partition_offset(spark: SparkSession) -> None:
    first = Message(0, 0, 10, TS, "one")
    messages = [
        first,
        first,  # the same record in a duplicated file
        Message(1, 0, 10, TS + 1, "two"),  # same partition and offset, next generation
        Message(0, 1, 10, TS + 2, "three"),  # same offset, other partition
    ]
    parsed = transforms.parse_records(message_lines(spark, messages))
    unique = transforms.unique_messages(parsed)
    got = sorted((r["gen"], r["partition"], r["offset"], r["value"]) for r in unique.collect())
    assert got == [(0, 0, 10, "one"), (0, 1, 10, "three"), (1, 0, 10, "two")]
    copies = [tuple(r) for r in transforms.duplicate_identities(parsed).collect()]
    assert copies == [(0, 0, 10, 2)]


def counted(spark: SparkSession, messages: list[Message]) -> DataFrame:
    """Parsed, dated, deduplicated and tokenized messages, as the job counts them."""
    parsed = transforms.with_date_key(transforms.parse_records(message_lines(spark, messages)))
    return transforms.message_tokens(transforms.unique_messages(parsed, keys=["date_key"]))


def test_hours_and_cells_are_utc_hours_of_the_kafka_timestamp(spark: SparkSession) -> None:
    hour = 3_600_000
    messages = [
        Message(0, 0, 4, TS, "a b"),
        Message(0, 0, 1, TS + hour - 1, "a"),
        Message(0, 1, 9, TS + 5, "Ünïcode 🙂 b"),  # the Python path
        Message(0, 0, 2, TS + hour, "🙂"),  # a message without words still counts
    ]
    tokens = counted(spark, messages)
    cells = sorted(
        (
            r["h"],
            r["gen"],
            r["partition"],
            r["messages"],
            r["words"],
            r["first_offset"],
            r["last_offset"],
        )
        for r in transforms.cell_counts(tokens).collect()
    )
    h0 = TS // hour
    assert cells == [(h0, 0, 0, 2, 3, 1, 4), (h0, 0, 1, 1, 2, 9, 9), (h0 + 1, 0, 0, 1, 0, 2, 2)]
    per_hour = {
        (r["hour"], r["word"]): r["count"]
        for r in transforms.date_hour_word_counts(tokens).collect()
    }
    assert per_hour == {
        ("2026-01-01T00:00:00Z", "a"): 2,
        ("2026-01-01T00:00:00Z", "b"): 2,
        ("2026-01-01T00:00:00Z", "ünïcode"): 1,
    }


def test_a_record_outside_its_own_dates_directory_is_corrupt(spark: SparkSession) -> None:
    m = Message(0, 0, 1, TS, "a")
    right = file_uri(m)
    wrong = right.replace("date=2026-01-01", "date=2025-12-31")
    parsed = transforms.with_date_key(
        transforms.parse_records(
            lines_frame(spark, [(record_line(m), right), (record_line(m), wrong)])
        )
    )
    got = sorted((r["date_key"], r["corrupt"]) for r in parsed.collect())
    assert got == [("2025-12-31", True), ("2026-01-01", False)]


def test_top_words_order_is_count_desc_then_word(spark: SparkSession) -> None:
    counts = spark.createDataFrame(
        [("b", 2), ("a", 2), ("é", 3), ("z", 1), ("c", 2)], "word STRING, count LONG"
    )
    top = [(r["word"], r["count"]) for r in transforms.top_words(counts, 4).collect()]
    assert top == [("é", 3), ("a", 2), ("b", 2), ("c", 2)]


NASTY = [
    "Cafe\u0301 CAFÉ café \uff23\uff21\uff26\uff25 ﬁne",  # combining accent, full-width, ligature
    "Straße STRASSE ǅ ǆ",  # full case folding, title-case digraphs
    "שָׁלוֹם עולם مرحبا بالعالم \u200f\u202e abc",  # RTL with marks and bidi controls
    "🙂👍🏽 family👨‍👩‍👧 flags🇫🇷 keycap1️⃣",  # emoji, ZWJ, modifiers
    "nul\x00inside\x00\x00words \x01\x1f",  # NUL and control characters
    "line\nbreaks\r\nand\u2028separators\u2029\x85nel",  # what a line-based reader splits on
    "x\u0301\u0302\u0303 \u0301lead \u0345 \uff12\uff14 ½ ①",  # stacked/lone marks, numbers
    "",
    "word " * 20_000 + "end",  # a long message
    "\uff41" * 50_000,  # one very long word
]


NATIVE = transforms.native_tokenizer().alphabet
CANDIDATES = [chr(i) for i in range(0x0000, 0x0250)]
OUTSIDE = [c for c in CANDIDATES if c not in NATIVE] + [
    "\u0301",
    "\u03a3",
    "\u03c2",
    "ẞ",
    "\uff21",
    "\u200d",
]


def contexts(c: str) -> list[str]:
    """A character alone, repeated, inside and around words, next to `_`, digits, ß, NUL."""
    return [
        c,
        c * 3,
        f"a{c}b",
        f"A{c}1",
        f"{c}_{c}",
        f"x{c} {c}Y",
        f"ß{c}ß",
        f"{c}\x00{c}",
        f"É{c}\n",
    ]


def test_the_jvm_path_equals_the_python_tokenizer_for_every_candidate_character(
    spark: SparkSession,
) -> None:
    """Derives nothing: checks S, character by character in context, against `words`."""
    texts = [t for c in CANDIDATES for t in contexts(c)]
    native = transforms.native_tokenizer()
    frame = spark.createDataFrame([(t,) for t in texts], "value STRING")
    rows = frame.select(
        "value",
        native.accepts(F.col("value")).alias("ok"),
        native.tokens(F.col("value")).alias("t"),
    ).collect()
    assert len(rows) == len(texts)
    for row in rows:
        in_s = all(ch in NATIVE for ch in row["value"])
        assert row["ok"] == in_s, repr(row["value"])
        if in_s:
            assert row["t"] == words(row["value"]), repr(row["value"])
    # The alphabet is most of Latin, but never a character whose folding or NFKC differs.
    assert {"a", "Z", "é", "É", "ß", "_", "0", "\x00", "\n"} <= set(NATIVE)
    never = {"\u00b5", "\u00aa", "\u00b2", "\u0130", "\u017f", "\u0133", "\u01c5", "\u0301"}
    assert not never & set(NATIVE)


in_s_text = st.text(st.sampled_from(NATIVE), max_size=60)
near_s_text = st.builds(
    lambda head, odd, tail: head + odd + tail, in_s_text, st.sampled_from(OUTSIDE), in_s_text
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    texts=st.lists(
        st.one_of(
            st.text(),
            st.text(st.characters(codec="utf-8"), max_size=200),
            st.text(
                st.sampled_from("aéE\u0301\u0308\u05d0\u0627\u200d\U0001f642 _-\x00'"), max_size=80
            ),
            in_s_text,  # entirely in S: the JVM path
            near_s_text,  # one character outside S: the Python path
            st.text(st.sampled_from("ΣσςΑ ßẞ\u0301é_9\x00\x1f"), max_size=40),  # final sigma
        ),
        max_size=12,
    )
)
@example(texts=NASTY)
@example(texts=["Straße " * 5000 + "é" * 10_000, "Σ" + "a" * 10_000, "A\u0301b", "x\x00\x01_9"])
def test_spark_word_counts_equal_python_counts(spark: SparkSession, texts: list[str]) -> None:
    messages = [Message(0, i % 3, i, TS + i * 60_000, t) for i, t in enumerate(texts)]
    hour_words = transforms.date_hour_word_counts(counted(spark, messages))
    counts = transforms.word_counts(hour_words)
    got = {r["word"]: r["count"] for r in counts.collect()}
    assert got == Counter(w for t in texts for w in words(t))


def test_hour_strings_match_python_for_any_timestamp(spark: SparkSession) -> None:
    stamps = [0, 1, 3_599_999, 3_600_000, TS, 4_102_444_799_999, 1_700_000_123_456]
    frame = spark.createDataFrame([(s,) for s in stamps], "timestamp LONG")
    got = [r[0] for r in frame.select(transforms.hour_of(frame["timestamp"])).collect()]
    expected = [
        datetime.fromtimestamp(s // 1000, UTC).strftime("%Y-%m-%dT%H:00:00Z") for s in stamps
    ]
    assert got == expected


def test_tokenizing_reads_the_messages_once(spark: SparkSession) -> None:
    """Both paths come from one pass: the messages are not scanned once per path."""
    frame = spark.createDataFrame(
        [(0, "Straße and café"), (1, "µ is not in S"), (2, "")], "offset LONG, value STRING"
    )
    tokens = transforms.message_tokens(frame)
    plan = tokens._jdf.queryExecution().executedPlan().toString()
    assert plan.count("Scan ExistingRDD") == 1, plan
    got = {r["offset"]: r["tokens"] for r in tokens.collect()}
    assert got == {0: ["strasse", "and", "café"], 1: ["\u03bc", "is", "not", "in", "s"], 2: []}
