"""Pure DataFrame -> DataFrame steps of the batch job: parse, deduplicate, tokenize, count.

Nothing here reads or writes storage; `spark_jobs.wordcount` does, around these steps.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StringType

from streamapp.contract import HOUR_MS, SPARK_HOUR_FORMAT
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
# A file's *date key*: the `date=` directory it sits in. The job keeps one aggregate per
# key; a path without a plain `date=` directory gets the key UNDATED (its lines are corrupt
# anyway, having no generation, or belong to a directory the sink never writes).
DATE_KEY_IN_PATH = r"/date=([0-9A-Za-z_.-]+)/[^/]+$"
UNDATED = "undated"


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


def date_key_of_path(path: str) -> str:
    """The date key of a file path, as `date_key` computes it in Spark."""
    found = re.search(DATE_KEY_IN_PATH, path)
    return found.group(1) if found else UNDATED


def date_key(file: Column) -> Column:
    """The date key of a file path column (see `date_key_of_path`)."""
    key = F.regexp_extract(file, DATE_KEY_IN_PATH, 1)
    return F.when(key == "", F.lit(UNDATED)).otherwise(key)


# --- Tokenizing in the JVM where that is provably the Python tokenizer -----------------
#
# `words` is NFKC, then casefold, then maximal runs of Python's `\w`. For a text whose
# characters all come from the alphabet S below, Spark's native functions compute the same
# thing: NFKC changes no character of S and composes no pair of them, casefold maps each
# character of S on its own (1:1 via `translate`, 1:n like "ß" -> "ss" via `replace`), and
# the word characters of the folded text are spelled out as an explicit regex class (no
# JVM notion of `\w` or of lower case involved). S is derived from Python's own unicodedata
# and `re` here, and tests/spark_jobs/test_transforms.py checks every candidate character,
# in context, against `words`. Texts with any other character go through the Python UDF.
_NATIVE_CANDIDATES = range(0x0000, 0x0250)  # Basic Latin, Latin-1, Latin Extended-A/B
_PY_WORD = re.compile(r"\w")
_IN_S = "_in_s"


@dataclass(frozen=True)
class NativeTokenizer:
    """The alphabet S and the character maps the JVM path uses."""

    alphabet: str  # S
    fold_from: str  # characters of S whose casefold is one other character...
    fold_to: str  # ...and that character
    expansions: tuple[tuple[str, str], ...]  # characters whose casefold is longer ("ß", "ss")
    word_chars: str  # the `\w` characters of the folded alphabet
    separators: str  # its other characters: words are the runs of anything else

    def accepts(self, text: Column) -> Column:
        """True where every character of `text` is in S (the JVM path is exact)."""
        # Deleting S's characters leaves nothing: one table lookup per character, cheaper
        # here than a regex anchored at both ends.
        return F.translate(text, self.alphabet, "") == ""

    def tokens(self, text: Column) -> Column:
        """`words(text)` as an array<string>, for texts that `accepts`."""
        folded = text
        for char, folding in self.expansions:
            folded = F.replace(folded, F.lit(char), F.lit(folding))
        folded = F.translate(folded, self.fold_from, self.fold_to)
        # Every character of the folded text is a word character or a separator, so the
        # words are the maximal runs of non-separators. The separators, not the word
        # characters, make the class: they are few and nearly all below U+0100 (see
        # `_java_class`). Not `split`: Spark compiles a split's pattern again for every
        # row, and its empty pieces would need a (not code-generated) higher-order filter.
        return F.regexp_extract_all(folded, F.lit("[^" + _java_class(self.separators) + "]+"), 0)


def _java_class(chars: str) -> str:
    """A Java regex character class body matching exactly `chars`, escaped.

    Characters below U+0100 are listed one by one: java.util.regex keeps those in a bit
    set (one lookup); only the rest become ranges, each of which is one more test per
    character, which made a class of ranges several times slower than the UDF.
    """
    points = sorted({ord(c) for c in chars})
    parts = [f"\\x{{{p:X}}}" for p in points if p < 0x100]
    rest = [p for p in points if p >= 0x100]
    i = 0
    while i < len(rest):
        j = i
        while j + 1 < len(rest) and rest[j + 1] == rest[j] + 1:
            j += 1
        low, high = rest[i], rest[j]
        parts.append(f"\\x{{{low:X}}}" + (f"-\\x{{{high:X}}}" if high > low else ""))
        i = j + 1
    return "".join(parts)


def _foldable(char: str) -> bool:
    """NFKC keeps `char`, it is no combining mark, and its casefold stays among candidates."""
    if unicodedata.normalize("NFKC", char) != char or unicodedata.combining(char):
        return False
    return all(
        ord(f) in _NATIVE_CANDIDATES and not unicodedata.combining(f) for f in char.casefold()
    )


@functools.cache
def native_tokenizer() -> NativeTokenizer:
    """Derive S from the candidates: per character, then pairwise (no composition)."""
    single = [chr(i) for i in _NATIVE_CANDIDATES if _foldable(chr(i))]
    composing = {
        a
        for a in single
        for b in single
        if unicodedata.normalize("NFKC", a + b) != a + b
        or unicodedata.normalize("NFKC", b + a) != b + a
    }
    alphabet = "".join(c for c in single if c not in composing)
    ones = [(c, c.casefold()) for c in alphabet if len(c.casefold()) == 1 and c.casefold() != c]
    folded = {f for c in alphabet for f in c.casefold()}
    return NativeTokenizer(
        alphabet=alphabet,
        fold_from="".join(c for c, _ in ones),
        fold_to="".join(f for _, f in ones),
        expansions=tuple((c, c.casefold()) for c in alphabet if len(c.casefold()) > 1),
        word_chars="".join(sorted(f for f in folded if _PY_WORD.match(f))),
        separators="".join(sorted(f for f in folded if not _PY_WORD.match(f))),
    )


def message_tokens(messages: DataFrame, payload: str = "value") -> DataFrame:
    """Replace the payload by its words (`tokens`, array<string>): JVM where exact, else UDF.

    One pass: the UDF is handed NULL for texts in S (Spark sends it every row of its
    input, whatever condition surrounds the call), and the JVM's words are taken for them.
    """
    native = native_tokenizer()
    text = F.col(payload)
    others = [c for c in messages.columns if c != payload]
    # A column of its own, referenced twice below: Spark then computes it once per row
    # rather than inlining it into both branches.
    flagged = messages.select(*others, text, native.accepts(text).alias(_IN_S))
    in_s = F.col(_IN_S)
    tokens = F.coalesce(F.when(in_s, native.tokens(text)), words_udf(F.when(~in_s, text)))
    return flagged.select(*others, tokens.alias("tokens"))


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


def with_date_key(parsed: DataFrame) -> DataFrame:
    """Add the file's `date_key`; a record whose own UTC date is not its directory's is corrupt.

    Counting date by date is exact because every copy of a message lies in the directory
    of its own date (contract section 1); a record elsewhere breaks that, so it is never
    counted as a message (it is counted, and logged, as a corrupt line).
    """
    key = date_key(F.col("file"))
    own_date = F.date_format(F.timestamp_millis(F.col("timestamp")), "yyyy-MM-dd")
    misplaced = F.coalesce(own_date != key, F.lit(False))
    return parsed.withColumn("date_key", key).withColumn("corrupt", F.col("corrupt") | misplaced)


def valid_messages(
    parsed: DataFrame, payload: str = "value", keys: list[str] | None = None
) -> DataFrame:
    """The records that parsed, as [keys...,] gen, partition, offset, timestamp, payload."""
    return parsed.filter(~F.col("corrupt")).select(
        *(keys or []), "gen", "partition", "offset", "timestamp", payload
    )


def duplicate_identities(parsed: DataFrame, keys: list[str] | None = None) -> DataFrame:
    """Identities (gen, partition, offset) held by more than one valid record."""
    return (
        parsed.filter(~F.col("corrupt"))
        .groupBy(*(keys or []), "gen", "partition", "offset")
        .agg(F.count(F.lit(1)).alias("copies"))
        .filter(F.col("copies") > 1)
    )


def unique_messages(
    parsed: DataFrame, payload: str = "value", keys: list[str] | None = None
) -> DataFrame:
    """Valid records, one per identity (gen, partition, offset): copies never double-count.

    Of several copies the smallest (timestamp, payload) wins, so reruns pick the same one.
    `keys` (the date key) refine the grouping: the job deduplicates within a date.
    """
    first = F.min(F.struct(F.col("timestamp"), F.col(payload))).alias("m")
    return (
        parsed.filter(~F.col("corrupt"))
        .groupBy(*(keys or []), "gen", "partition", "offset")
        .agg(first)
        .select(*(keys or []), "gen", "partition", "offset", "m.timestamp", f"m.{payload}")
    )


def rejected_partitions(parsed: DataFrame, keys: list[str]) -> DataFrame:
    """Per [keys,] gen, partition of rejected records: distinct messages and last offset."""
    return (
        parsed.filter(~F.col("corrupt"))
        .select(*keys, "gen", "partition", "offset")
        .distinct()
        .groupBy(*keys, "gen", "partition")
        .agg(F.count(F.lit(1)).alias("messages"), F.max("offset").alias("last_offset"))
    )


def cell_counts(tokens: DataFrame) -> DataFrame:
    """Per date key, hour index `h`, gen and partition: messages, words, offsets, times.

    `tokens` is `message_tokens` of messages with a `date_key`.
    """
    return tokens.groupBy(
        "date_key", hour_index(F.col("timestamp")).alias("h"), "gen", "partition"
    ).agg(
        F.count(F.lit(1)).alias("messages"),
        F.sum(F.size("tokens")).cast("long").alias("words"),
        F.min("offset").alias("first_offset"),
        F.max("offset").alias("last_offset"),
        F.min("timestamp").alias("first_timestamp_ms"),
        F.max("timestamp").alias("last_timestamp_ms"),
    )


def date_hour_word_counts(tokens: DataFrame) -> DataFrame:
    """Per date key, hour and word: occurrences (columns date_key, hour, word, count)."""
    exploded = tokens.select(
        "date_key", hour_index(F.col("timestamp")).alias("h"), F.explode("tokens").alias("word")
    )
    return (
        exploded.groupBy("date_key", "h", "word")
        .agg(F.count(F.lit(1)).alias("count"))
        .select("date_key", hour_label(F.col("h")).alias("hour"), "word", "count")
    )


def date_word_counts(hour_words: DataFrame) -> DataFrame:
    """Per date key and word, from `date_hour_word_counts`: columns date_key, word, count."""
    return hour_words.groupBy("date_key", "word").agg(F.sum("count").cast("long").alias("count"))


def hour_index(timestamp_ms: Column) -> Column:
    """Hours since the epoch of a Kafka timestamp in ms: a cheap grouping key."""
    return F.floor(timestamp_ms / HOUR_MS)


def hour_label(index: Column) -> Column:
    """`YYYY-MM-DDTHH:00:00Z` of an hour index; needs the session time zone UTC."""
    return F.date_format(F.timestamp_millis(index * HOUR_MS), SPARK_HOUR_FORMAT)


def hour_of(timestamp_ms: Column) -> Column:
    """The UTC hour (`YYYY-MM-DDTHH:00:00Z`) of a Kafka timestamp in milliseconds."""
    return hour_label(hour_index(timestamp_ms))


def word_counts(hour_words: DataFrame) -> DataFrame:
    """All-time per-word counts from the per-hour ones: columns word, count."""
    return hour_words.groupBy("word").agg(F.sum("count").cast("long").alias("count"))


def top_words(counts: DataFrame, n: int) -> DataFrame:
    """The `n` most frequent words: count descending, then word ascending (contract order)."""
    return counts.orderBy(F.col("count").desc(), F.col("word").asc()).limit(n)
