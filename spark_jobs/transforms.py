"""Pure DataFrame -> DataFrame steps of the batch job: parse, deduplicate, tokenize, count.

Nothing here reads or writes storage; `spark_jobs.wordcount` does, around these steps.
"""

from __future__ import annotations

import warnings

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from streamapp.tokenize import words

# A record's payload is read as VARIANT, not STRING: Spark's JSON reader turns any token
# into a STRING field (`"value": 5` would become the text "5"), so only the variant's own
# type tells a real string from a mistyped value. Numbers read into INT/BIGINT are strict:
# a string, float or boolean there parses as NULL, which marks the line corrupt.
_RECORD_FIELDS = "partition INT, offset BIGINT, timestamp BIGINT"
ARCHIVE_SCHEMA = f"{_RECORD_FIELDS}, value VARIANT"
REJECTED_SCHEMA = f"{_RECORD_FIELDS}, value_b64 VARIANT"

# The generation lives in the path (contract: {root}/gen={G}/date=.../file.jsonl).
_GEN_IN_PATH = r"/gen=([0-9]+)/date=[^/]+/[^/]+$"

HOUR_FORMAT = "yyyy-MM-dd'T'HH:00:00'Z'"
_MS_PER_HOUR = 3_600_000

# The project's one tokenizer, run in Python through Arrow batches: Spark SQL has no
# NFKC/casefold/`\w` identical to Python's `re`, so a reimplementation would drift.
with warnings.catch_warnings():
    # pyspark 4 warns about pandas 3 when an Arrow UDF is defined; this one uses no pandas.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    words_udf = F.udf(words, ArrayType(StringType()), useArrow=True)


def parse_records(lines: DataFrame, payload: str = "value") -> DataFrame:
    """Parse archive lines (`line`, `file`) into typed records with a `corrupt` flag.

    `payload` is `value` for the archive and `value_b64` for the rejected root. Output
    columns: gen, partition, offset, timestamp, payload (string), file, line, corrupt.
    """
    schema = ARCHIVE_SCHEMA if payload == "value" else REJECTED_SCHEMA
    rec = F.from_json(F.col("line"), schema)
    gen = F.regexp_extract(F.col("file"), _GEN_IN_PATH, 1)
    body = rec.getField(payload)
    parsed = lines.select(
        F.when(gen != "", gen.cast("int")).alias("gen"),
        rec.getField("partition").alias("partition"),
        rec.getField("offset").alias("offset"),
        rec.getField("timestamp").alias("timestamp"),
        F.when(F.schema_of_variant(body) == "STRING", F.variant_get(body, "$", "string")).alias(
            payload
        ),
        F.col("file"),
        F.col("line"),
    )
    typed = [F.col(c).isNotNull() for c in ("gen", "partition", "offset", "timestamp", payload)]
    valid: Column = typed[0]
    for check in typed[1:]:
        valid = valid & check
    return parsed.withColumn("corrupt", ~valid)


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


def hour_of(timestamp_ms: Column) -> Column:
    """The UTC hour (`YYYY-MM-DDTHH:00:00Z`) of a Kafka timestamp in milliseconds.

    Needs the session time zone UTC, which the job and the test session set.
    """
    start = F.floor(timestamp_ms / _MS_PER_HOUR) * _MS_PER_HOUR
    return F.date_format(F.timestamp_millis(start), HOUR_FORMAT)


def hour_word_counts(messages: DataFrame) -> DataFrame:
    """Per (hour, word) occurrence counts: columns hour, word, count."""
    tokens = messages.select(
        hour_of(F.col("timestamp")).alias("hour"),
        F.explode(words_udf(F.col("value"))).alias("word"),
    )
    return tokens.groupBy("hour", "word").agg(F.count(F.lit(1)).alias("count"))


def word_counts(hour_words: DataFrame) -> DataFrame:
    """All-time per-word counts from the per-hour ones: columns word, count."""
    return hour_words.groupBy("word").agg(F.sum("count").cast("long").alias("count"))


def hour_totals(messages: DataFrame, hour_words: DataFrame) -> DataFrame:
    """Per-hour messages and words, ascending by hour; an hour without words has words 0."""
    per_hour_messages = messages.groupBy(hour_of(F.col("timestamp")).alias("hour")).agg(
        F.count(F.lit(1)).alias("messages")
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
