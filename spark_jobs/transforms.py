"""Pure DataFrame -> DataFrame steps of the batch job: parse, deduplicate, tokenize, count.

Nothing here reads or writes storage; `spark_jobs.wordcount` does, around these steps.
"""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from streamapp.tokenize import words

# Numbers are strict: a string, float or boolean read into INT/BIGINT parses as NULL,
# which marks the line corrupt. Strings are not: Spark's JSON reader renders *any* token
# into a STRING field (`"value": 5` becomes the text "5"), so a payload text that could be
# such a rendering (a number, true/false, an object or array) is parsed again as VARIANT,
# whose type tells a real JSON string apart. Only those few lines pay for the variant
# parse, which costs about three times the plain one.
_RECORD_FIELDS = "partition INT, offset BIGINT, timestamp BIGINT"
_NOT_STRING_STARTS = tuple("-0123456789[{")

# The generation lives in the path (contract: {root}/gen={G}/date=.../file.jsonl).
_GEN_IN_PATH = r"/gen=([0-9]+)/date=[^/]+/[^/]+$"

HOUR_FORMAT = "yyyy-MM-dd'T'HH:00:00'Z'"
_MS_PER_HOUR = 3_600_000


# The tokenizer runs in Python on Arrow batches: Spark SQL has no NFKC/casefold/`\w`
# identical to Python's `re`, so a reimplementation would drift. arrow_udf hands the
# function pyarrow arrays directly, without the pandas round trip of udf(useArrow=True).
# The stubs want a functionType; at run time pyspark prefers reading it from the hints.
@F.arrow_udf(ArrayType(StringType()))  # type: ignore[call-overload]
def words_udf(values: pa.Array) -> pa.Array:
    """The project's one tokenizer over an Arrow batch of message texts."""
    return pa.array(
        [None if v is None else words(v) for v in values.to_pylist()], type=pa.list_(pa.string())
    )


def parse_records(lines: DataFrame, payload: str = "value") -> DataFrame:
    """Parse archive lines (`line`, `file`) into typed records with a `corrupt` flag.

    `payload` is `value` for the archive and `value_b64` for the rejected root. Output
    columns: gen, partition, offset, timestamp, payload (string), file, line, corrupt.
    """
    rec = F.from_json(F.col("line"), f"{_RECORD_FIELDS}, {payload} STRING")
    text = rec.getField(payload)
    maybe_rendered = F.substring(text, 1, 1).isin(*_NOT_STRING_STARTS) | text.isin("true", "false")
    as_variant = F.from_json(F.col("line"), f"{payload} VARIANT").getField(payload)
    is_json_string = F.schema_of_variant(as_variant) == "STRING"
    gen = F.regexp_extract(F.col("file"), _GEN_IN_PATH, 1)
    parsed = lines.select(
        F.when(gen != "", gen.cast("int")).alias("gen"),
        rec.getField("partition").alias("partition"),
        rec.getField("offset").alias("offset"),
        rec.getField("timestamp").alias("timestamp"),
        # Nested CASE WHEN: the variant parse runs only for texts that may be renderings.
        F.when(maybe_rendered, F.when(is_json_string, text)).otherwise(text).alias(payload),
        F.col("file"),
        F.col("line"),
    )
    typed = [F.col(c).isNotNull() for c in ("gen", "partition", "offset", "timestamp", payload)]
    valid: Column = typed[0]
    for check in typed[1:]:
        valid = valid & check
    return parsed.withColumn("corrupt", ~valid)


def valid_messages(parsed: DataFrame, payload: str = "value") -> DataFrame:
    """The records that parsed, as gen, partition, offset, timestamp, payload."""
    return parsed.filter(~F.col("corrupt")).select(
        "gen", "partition", "offset", "timestamp", payload
    )


def duplicate_identities(parsed: DataFrame) -> DataFrame:
    """Identities (gen, partition, offset) held by more than one valid record."""
    return (
        parsed.filter(~F.col("corrupt"))
        .groupBy("gen", "partition", "offset")
        .agg(F.count(F.lit(1)).alias("copies"))
        .filter(F.col("copies") > 1)
    )


def unique_messages(parsed: DataFrame, payload: str = "value") -> DataFrame:
    """Valid records, one per identity (gen, partition, offset): copies never double-count.

    Of several copies the smallest (timestamp, payload) wins, so reruns pick the same one.
    """
    first = F.min(F.struct(F.col("timestamp"), F.col(payload))).alias("m")
    return (
        parsed.filter(~F.col("corrupt"))
        .groupBy("gen", "partition", "offset")
        .agg(first)
        .select("gen", "partition", "offset", "m.timestamp", f"m.{payload}")
    )


def hour_index(timestamp_ms: Column) -> Column:
    """Hours since the epoch of a Kafka timestamp in ms: a cheap grouping key."""
    return F.floor(timestamp_ms / _MS_PER_HOUR)


def hour_label(index: Column) -> Column:
    """`YYYY-MM-DDTHH:00:00Z` of an hour index; needs the session time zone UTC."""
    return F.date_format(F.timestamp_millis(index * _MS_PER_HOUR), HOUR_FORMAT)


def hour_of(timestamp_ms: Column) -> Column:
    """The UTC hour (`YYYY-MM-DDTHH:00:00Z`) of a Kafka timestamp in milliseconds."""
    return hour_label(hour_index(timestamp_ms))


def hour_word_counts(messages: DataFrame) -> DataFrame:
    """Per (hour, word) occurrence counts: columns hour, word, count."""
    # Group on the numeric hour and format only the aggregated rows: formatting (and
    # hashing) an hour string for every token costs more than the counting itself.
    tokens = messages.select(
        hour_index(F.col("timestamp")).alias("h"),
        F.explode(words_udf(F.col("value"))).alias("word"),
    )
    return (
        tokens.groupBy("h", "word")
        .agg(F.count(F.lit(1)).alias("count"))
        .select(hour_label(F.col("h")).alias("hour"), "word", "count")
    )


def word_counts(hour_words: DataFrame) -> DataFrame:
    """All-time per-word counts from the per-hour ones: columns word, count."""
    return hour_words.groupBy("word").agg(F.sum("count").cast("long").alias("count"))


def hour_totals(messages: DataFrame, hour_words: DataFrame) -> DataFrame:
    """Per-hour messages and words, ascending by hour; an hour without words has words 0."""
    per_hour_messages = (
        messages.groupBy(hour_index(F.col("timestamp")).alias("h"))
        .agg(F.count(F.lit(1)).alias("messages"))
        .select(hour_label(F.col("h")).alias("hour"), "messages")
    )
    per_hour_words = hour_words.groupBy("hour").agg(F.sum("count").cast("long").alias("words"))
    return (
        per_hour_messages.join(per_hour_words, "hour", "left")
        .select("hour", "messages", F.coalesce(F.col("words"), F.lit(0)).alias("words"))
        .orderBy("hour")
    )


def partition_coverage(messages: DataFrame) -> DataFrame:
    """Per (gen, partition): last offset, message count, first and last timestamp."""
    return messages.groupBy("gen", "partition").agg(
        F.max("offset").alias("last_offset"),
        F.count(F.lit(1)).alias("messages"),
        F.min("timestamp").alias("first_timestamp_ms"),
        F.max("timestamp").alias("last_timestamp_ms"),
    )


def top_words(counts: DataFrame, n: int) -> DataFrame:
    """The `n` most frequent words: count descending, then word ascending (contract order)."""
    return counts.orderBy(F.col("count").desc(), F.col("word").asc()).limit(n)
