"""Pure core of the archive sink: plain functions and small state machines, no I/O.

Commit protocol (per partition, one batch of consecutive offsets at a time):

1. upload each of the batch's files (one per root and UTC date) under a temporary path;
2. write the partition's marker with the batch as `pending` (an intent record, like
   kafka-connect-hdfs's write-ahead log): its tmp -> final renames and last offset;
3. rename every tmp file to its final name, then ack the batch's Kafka messages.

Markers go to two alternating slots, so a torn marker write leaves the other slot,
one step older, intact. Recovery reads both slots, keeps the valid one with the
highest sequence number, and settles its `pending` batch by looking at no more than
its own files (two per date the batch spans, at most): finals present, or tmps to
roll forward.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from streamapp.errors import WordstreamError
from streamapp.live.lineage import Lineage, Seen

T = TypeVar("T")

MARKER_SLOTS = ("a", "b")
_DATA_FILE = re.compile(
    r"(?:^|/)gen=(?P<gen>\d+)/date=(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<topic>[A-Za-z0-9._-]+)\+(?P<partition>\d+)\+(?P<first>\d{20})\+(?P<last>\d{20})\.jsonl$"
)


class ArchiveError(WordstreamError):
    """Base error of the archive sink."""


class ArchiveStateError(ArchiveError):
    """The archive's markers and files contradict each other."""


# --- File names ----------------------------------------------------------------------


@dataclass(frozen=True)
class DataFile:
    """What a committed data file's path says about its content."""

    gen: int
    date: str
    topic: str
    partition: int
    first: int
    last: int


def check_topic(topic: str) -> str:
    """`topic` if its archive files would be visible to readers (raises ArchiveError if not)."""
    if not re.fullmatch(r"[A-Za-z0-9-][A-Za-z0-9._-]*", topic):
        raise ArchiveError(
            f"topic {topic!r} cannot be archived: file names start with the topic, and "
            "Spark/Hadoop readers skip names starting with '_' or '.'; use another KAFKA_TOPIC"
        )
    return topic


def data_file_path(root: str, f: DataFile) -> str:
    """The committed path of `f` under `root` (docs/contracts.md section 1)."""
    check_topic(f.topic)
    return (
        f"{root.rstrip('/')}/gen={f.gen}/date={f.date}/"
        f"{f.topic}+{f.partition}+{f.first:020d}+{f.last:020d}.jsonl"
    )


def tmp_file_path(root: str, f: DataFile) -> str:
    """Where `f` is uploaded before its rename: under `_tmp`, which readers ignore."""
    return (
        f"{root.rstrip('/')}/_tmp/{f.topic}+{f.partition}/"
        f"gen={f.gen}+date={f.date}+{f.first:020d}+{f.last:020d}.jsonl"
    )


def parse_data_file_path(path: str) -> DataFile | None:
    """The DataFile a committed path names, or None if it is not a committed data file."""
    m = _DATA_FILE.search(path)
    if m is None or any(part.startswith(("_", ".")) for part in path.split("/")):
        return None
    return DataFile(
        gen=int(m["gen"]),
        date=m["date"],
        topic=m["topic"],
        partition=int(m["partition"]),
        first=int(m["first"]),
        last=int(m["last"]),
    )


def marker_paths(archive_root: str, topic: str, partition: int) -> tuple[str, str]:
    """The two marker slots of a partition."""
    base = f"{archive_root.rstrip('/')}/_markers/{topic}+{partition}"
    return (f"{base}/{MARKER_SLOTS[0]}.json", f"{base}/{MARKER_SLOTS[1]}.json")


def utc_date(timestamp_ms: int) -> str:
    """The UTC date (YYYY-MM-DD) of a Kafka timestamp in milliseconds."""
    return dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC).strftime("%Y-%m-%d")


# --- Records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One encoded message: its JSON line, where it goes, and its fingerprint."""

    offset: int
    timestamp: int
    date: str
    rejected: bool
    line: bytes
    fingerprint: str


def encode_record(
    partition: int, offset: int, timestamp_ms: int, key: bytes | None, value: bytes | None
) -> Record:
    """Encode one message as a JSON line; a non-UTF-8 value goes to the rejected root."""
    obj: dict[str, Any] = {"partition": partition, "offset": offset, "timestamp": timestamp_ms}
    if key is None:
        obj["key"] = None
    else:
        try:
            obj["key"] = key.decode("utf-8")
        except UnicodeDecodeError:
            obj["key_b64"] = base64.b64encode(key).decode("ascii")
    raw = value or b""
    rejected = False
    try:
        obj["value"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        rejected = True
        obj["value_b64"] = base64.b64encode(raw).decode("ascii")
    line = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
    return Record(
        offset=offset,
        timestamp=timestamp_ms,
        date=utc_date(timestamp_ms),
        rejected=rejected,
        line=line,
        fingerprint=hashlib.blake2b(line, digest_size=8).hexdigest(),
    )


def decode_line(line: bytes | str) -> dict[str, Any]:
    """Parse one archived line back into its JSON object."""
    obj: dict[str, Any] = json.loads(line)
    return obj


# --- Markers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """A batch whose files were uploaded and whose renames may or may not have happened."""

    last: int
    fingerprint: str
    renames: tuple[tuple[str, str], ...]  # (tmp, final) pairs


@dataclass(frozen=True)
class Marker:
    """A partition's durable state: generation, last committed offset, pending batch."""

    seq: int
    gen: int
    last: int | None
    fingerprint: str | None
    pending: Pending | None = None


def encode_marker(m: Marker) -> bytes:
    """The marker as JSON bytes."""
    obj: dict[str, Any] = {
        "seq": m.seq,
        "gen": m.gen,
        "last": m.last,
        "fingerprint": m.fingerprint,
        "pending": None,
    }
    if m.pending is not None:
        obj["pending"] = {
            "last": m.pending.last,
            "fingerprint": m.pending.fingerprint,
            "renames": [list(pair) for pair in m.pending.renames],
        }
    return json.dumps(obj, sort_keys=True).encode("utf-8")


def decode_marker(data: bytes | None) -> Marker | None:
    """The marker in `data`, or None if it is missing or torn (a crash mid-write)."""
    if not data:
        return None
    try:
        obj = json.loads(data)
        p = obj["pending"]
        pending = (
            None
            if p is None
            else Pending(
                last=int(p["last"]),
                fingerprint=str(p["fingerprint"]),
                renames=tuple((str(t), str(f)) for t, f in p["renames"]),
            )
        )
        last = obj["last"]
        return Marker(
            seq=int(obj["seq"]),
            gen=int(obj["gen"]),
            last=None if last is None else int(last),
            fingerprint=obj["fingerprint"],
            pending=pending,
        )
    except (ValueError, KeyError, TypeError):
        return None


def choose_marker(slots: Sequence[bytes | None]) -> Marker | None:
    """The newest valid marker among the slots' contents (None: the partition is new)."""
    markers = [m for m in (decode_marker(s) for s in slots) if m is not None]
    return max(markers, key=lambda m: m.seq, default=None)


def marker_slot(seq: int) -> int:
    """Which slot (index into marker_paths) the marker with sequence `seq` goes to."""
    return seq % len(MARKER_SLOTS)


@dataclass(frozen=True)
class Committed:
    """What is durably archived for a partition: its generation and last offset in it."""

    gen: int
    last: int | None
    fingerprint: str | None
    seq: int  # the sequence number of the marker this state came from


@dataclass(frozen=True)
class RecoveryPlan:
    """How to settle a marker: renames to roll forward, then the committed state."""

    committed: Committed
    roll_forward: tuple[tuple[str, str], ...]


def plan_recovery(
    marker: Marker | None, final_exists: dict[str, bool], tmp_exists: dict[str, bool]
) -> RecoveryPlan:
    """Settle the marker's pending batch from which of its files exist.

    The intent is written only after every tmp file was fully uploaded, so a pending
    batch is committed by rolling its remaining renames forward. If none of its files
    exist (tmps removed by hand) the batch is treated as never written and re-archived.
    """
    if marker is None:
        return RecoveryPlan(Committed(gen=0, last=None, fingerprint=None, seq=-1), ())
    before = Committed(marker.gen, marker.last, marker.fingerprint, marker.seq)
    if marker.pending is None:
        return RecoveryPlan(before, ())
    roll: list[tuple[str, str]] = []
    missing: list[str] = []
    for tmp, final in marker.pending.renames:
        if final_exists.get(final, False):
            continue
        if tmp_exists.get(tmp, False):
            roll.append((tmp, final))
        else:
            missing.append(final)
    if len(missing) == len(marker.pending.renames):
        return RecoveryPlan(before, ())
    if missing:
        raise ArchiveStateError(
            f"marker seq {marker.seq} says {missing} were uploaded, but neither the file "
            "nor its temporary copy exists; restore them or remove the marker slots under "
            "_markers/ to re-archive from Kafka"
        )
    after = Committed(marker.gen, marker.pending.last, marker.pending.fingerprint, marker.seq)
    return RecoveryPlan(after, tuple(roll))


# --- Batches, rotation and offset regressions -------------------------------------------


@dataclass(frozen=True)
class RotationPolicy:
    """When an open file is committed: whichever bound is reached first.

    `idle_seconds`: a batch that has taken nothing for this long is committed at once,
    so the archive trails a stream that went quiet by seconds, not by `max_seconds`.
    """

    max_records: int
    max_bytes: int
    max_seconds: float
    idle_seconds: float = math.inf


@dataclass
class Batch(Generic[T]):
    """Consecutive offsets of one partition and one generation, committed together.

    Its records may carry several UTC dates (timestamps are set by producers and go
    back and forth, e.g. around midnight): the batch then commits one file per root
    and date, each holding that date's records in offset order. Sealing a batch at
    every date change instead made one tiny file per message when timestamps
    alternated across midnight, which slowed the sink to a few messages a second.
    """

    topic: str
    partition: int
    gen: int
    opened_at: float
    touched_at: float = -math.inf  # when it last took a record
    records: list[Record] = field(default_factory=list)
    tokens: list[T] = field(default_factory=list)  # what to ack once committed
    nbytes: int = 0

    def add(self, record: Record, token: T) -> None:
        self.records.append(record)
        self.tokens.append(token)
        self.nbytes += len(record.line)

    @property
    def first(self) -> int:
        return self.records[0].offset

    @property
    def last(self) -> int:
        return self.records[-1].offset

    def files(self, archive_root: str, rejected_root: str) -> list[tuple[str, str, bytes]]:
        """(tmp path, final path, content) of each file the batch commits."""
        groups: dict[tuple[bool, str], list[Record]] = {}
        for r in self.records:
            groups.setdefault((r.rejected, r.date), []).append(r)
        out = []
        for (rejected, date), records in sorted(groups.items()):
            root = rejected_root if rejected else archive_root
            f = DataFile(
                self.gen, date, self.topic, self.partition, records[0].offset,
                records[-1].offset,
            )  # fmt: skip
            content = b"".join(r.line for r in records)
            out.append((tmp_file_path(root, f), data_file_path(root, f), content))
        return out


@dataclass
class Step(Generic[T]):
    """What the caller must do after offering records: ack tokens, commit batches."""

    acks: list[T] = field(default_factory=list)
    sealed: list[Batch[T]] = field(default_factory=list)


class PartitionLog(Generic[T]):
    """One partition's archive state machine: dedup, regression detection, rotation.

    An offset at or below the last one taken (or, at start, the last committed one)
    is either a replay or a regression. Replays happen after a restart (the Kafka
    commit lags the archive) and within a session (a seek back to the committed
    offset). A regression means the log itself was replaced (topic recreated,
    memory-only broker restarted): those are new messages, archived in a new
    generation. `streamapp.live.lineage` tells the two apart, for the live layer too.
    """

    def __init__(self, topic: str, partition: int, committed: Committed, policy: RotationPolicy):
        self.topic = topic
        self.partition = partition
        self.policy = policy
        self.lineage: Lineage[tuple[Record, T]] = Lineage(
            Seen(committed.gen, committed.last, committed.fingerprint), _record_fingerprint
        )
        self.durable_last = committed.last  # archived before this session
        self.open: Batch[T] | None = None

    @property
    def gen(self) -> int:
        """The generation new records are archived in."""
        return self.lineage.gen

    @property
    def last(self) -> int | None:
        """The newest offset taken (archived or batched)."""
        return self.lineage.last

    @property
    def verifying(self) -> list[tuple[int, tuple[Record, T]]]:
        """Records at offsets below the last taken, held until replay or regression is known."""
        return self.lineage.held

    @property
    def held_bytes(self) -> int:
        """Bytes of records held in memory (open batch and verification window)."""
        opened = self.open.nbytes if self.open else 0
        return opened + sum(len(r.line) for _, (r, _) in self.lineage.held)

    def offer(self, record: Record, token: T, now: float, highwater: int | None) -> Step[T]:
        """Take one record (offsets ascending, except after a seek or a regression)."""
        step: Step[T] = Step()
        out = self.lineage.offer(record.offset, (record, token), highwater)
        if out.replayed:
            # Replays of messages archived before this session are acked so the Kafka
            # offset moves on; replays of messages taken in this session are dropped:
            # their first delivery is acked once its file is committed.
            last = self.durable_last
            step.acks.extend(t for r, t in out.replayed if last is not None and r.offset <= last)
        if out.regressed:
            # The open batch belongs to the old generation (a batch keeps the one it
            # was opened in); nothing of the old log is durable in the new one.
            sealed = self.seal()
            if sealed is not None:
                step.sealed.append(sealed)
            self.durable_last = None
        for taken, taken_token in out.taken:
            self._accept(step, taken, taken_token, now)
        return step

    def tick(self, now: float) -> Batch[T] | None:
        """Seal the open batch if it is older than the rotation age or has been idle."""
        batch, p = self.open, self.policy
        if batch is not None and (
            now - batch.opened_at >= p.max_seconds or now - batch.touched_at >= p.idle_seconds
        ):
            return self.seal()
        return None

    def seal(self) -> Batch[T] | None:
        """Close the open batch for commit (None if nothing is open)."""
        batch, self.open = self.open, None
        return batch

    def _accept(self, step: Step[T], record: Record, token: T, now: float) -> None:
        if self.open is None:
            self.open = Batch(self.topic, self.partition, self.gen, now)
        self.open.add(record, token)
        self.open.touched_at = now
        p = self.policy
        if len(self.open.records) >= p.max_records or self.open.nbytes >= p.max_bytes:
            sealed = self.seal()
            assert sealed is not None
            step.sealed.append(sealed)


def _record_fingerprint(held: tuple[Record, Any]) -> str:
    return held[0].fingerprint


def intent_marker(
    previous: Committed, batch: Batch[Any], renames: Sequence[tuple[str, str]]
) -> Marker:
    """The marker written before `batch`'s renames (step 2 of the commit protocol)."""
    same_gen = previous.gen == batch.gen
    return Marker(
        seq=previous.seq + 1,
        gen=batch.gen,
        last=previous.last if same_gen else None,
        fingerprint=previous.fingerprint if same_gen else None,
        pending=Pending(batch.last, batch.records[-1].fingerprint, tuple(renames)),
    )


def after_commit(marker: Marker) -> Committed:
    """The committed state once `marker`'s pending renames are done."""
    assert marker.pending is not None
    return Committed(marker.gen, marker.pending.last, marker.pending.fingerprint, marker.seq)


# --- Retries -------------------------------------------------------------------------


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 5.0) -> float:
    """Seconds to wait before retry number `attempt` (0-based): doubling, capped."""
    return float(min(cap, base * 2 ** min(attempt, 30)))


class Outage:
    """Turns a stream of HDFS failures/successes into one log line per outage edge."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    def failed(self, now: float, error: BaseException) -> str | None:
        """The line to log when an outage starts (None while it goes on)."""
        if self.down_since is not None:
            return None
        self.down_since = now
        return f"HDFS unavailable ({type(error).__name__}: {error}); retrying with backoff"

    def succeeded(self, now: float) -> str | None:
        """The line to log when HDFS answers again after an outage."""
        if self.down_since is None:
            return None
        lasted, self.down_since = now - self.down_since, None
        return f"HDFS available again after {lasted:.1f} s; archive catching up"


# --- Compaction ----------------------------------------------------------------------
#
# A closed date's small files of one (root, gen, topic, partition) are merged into a
# file named like any other, after the first and last offset it holds. Within a
# generation the sink's files of a partition hold disjoint offset ranges, so a file
# whose range lies inside another's of the same root, gen, date and partition is one
# the bigger file replaced (docs/contracts.md section 1).


@dataclass(frozen=True)
class CompactionIntent:
    """A compaction past its upload: rename `tmp` to `output`, then delete `inputs`."""

    output: str
    tmp: str
    inputs: tuple[str, ...]


def compaction_dir(root: str, topic: str, partition: int) -> str:
    """Where a partition's compactions keep their temporary files and intents."""
    return f"{root.rstrip('/')}/_compact/{topic}+{partition}"


def compaction_tmp_path(root: str, f: DataFile) -> str:
    """Where a compacted file is uploaded before its rename (readers skip `_`)."""
    return (
        f"{compaction_dir(root, f.topic, f.partition)}/"
        f"gen={f.gen}+date={f.date}+{f.first:020d}+{f.last:020d}.jsonl"
    )


def compaction_intent_path(root: str, f: DataFile) -> str:
    """The intent of the compaction that writes `f`."""
    return compaction_tmp_path(root, f)[: -len(".jsonl")] + ".intent.json"


def encode_intent(intent: CompactionIntent) -> bytes:
    return json.dumps(
        {"output": intent.output, "tmp": intent.tmp, "inputs": list(intent.inputs)},
        sort_keys=True,
    ).encode("utf-8")


def decode_intent(data: bytes) -> CompactionIntent | None:
    """The intent in `data`, or None if it is torn (the compaction never started)."""
    try:
        obj = json.loads(data)
        return CompactionIntent(
            output=str(obj["output"]),
            tmp=str(obj["tmp"]),
            inputs=tuple(str(p) for p in obj["inputs"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def date_closed(date: str, now_ms: int, grace_s: float) -> bool:
    """True if UTC date `date` ended at least `grace_s` seconds before `now_ms`."""
    start = dt.datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
    end_ms = int((start + dt.timedelta(days=1)).timestamp() * 1000)
    return now_ms >= end_ms + grace_s * 1000


@dataclass(frozen=True)
class Compaction:
    """Input files (path, what its name says) merged into one `output` file."""

    output: DataFile
    inputs: tuple[tuple[str, DataFile], ...]


def plan_compactions(
    files: Sequence[tuple[str, DataFile, int]], keep: set[str], target_bytes: int
) -> list[Compaction]:
    """Group one date directory's files (path, name, length) into compactions.

    Per topic and partition, files are taken in offset order and cut into runs of at
    most `target_bytes`; a run of two files or more is one compaction. Files in `keep`
    (those the partition's markers still name: recovery checks that they exist) stay
    as they are; they are the partition's newest, so runs below them stay contiguous.
    """
    by_partition: dict[tuple[str, int, int, str], list[tuple[str, DataFile, int]]] = {}
    for path, f, length in files:
        if path not in keep:
            by_partition.setdefault((f.topic, f.partition, f.gen, f.date), []).append(
                (path, f, length)
            )
    plans: list[Compaction] = []
    for group in by_partition.values():
        group.sort(key=lambda item: (item[1].first, -item[1].last))
        runs: list[list[tuple[str, DataFile, int]]] = []
        size, reach = 0, -1
        for item in group:
            _, f, length = item
            # A file inside the previous one's range (left by an interrupted compaction)
            # always joins it, so two outputs never overlap.
            if runs and (f.first <= reach or size + length <= target_bytes):
                runs[-1].append(item)
                size += length
            else:
                runs.append([item])
                size = length
            reach = max(reach, f.last)
        for run in runs:
            if len(run) < 2:
                continue
            first = run[0][1]
            output = DataFile(
                first.gen, first.date, first.topic, first.partition, first.first,
                max(f.last for _, f, _ in run),
            )  # fmt: skip
            plans.append(Compaction(output, tuple((p, f) for p, f, _ in run)))
    return plans


def merge_contents(inputs: Sequence[tuple[DataFile, bytes]]) -> bytes:
    """The merged file: every line of the inputs once, in offset order."""
    ordered = sorted(inputs, key=lambda item: item[0].first)
    disjoint = all(a[0].last < b[0].first for a, b in itertools.pairwise(ordered))
    if disjoint:
        return b"".join(content for _, content in ordered)
    lines: dict[int, bytes] = {}
    for _, content in ordered:
        for line in content.splitlines(keepends=True):
            lines.setdefault(int(decode_line(line)["offset"]), line)
    return b"".join(lines[o] for o in sorted(lines))


def superseded(files: Sequence[DataFile]) -> set[DataFile]:
    """The files (all of one root) that another of the same gen, date and partition replaced.

    A reader that does not deduplicate on (gen, partition, offset) skips these, and so
    reads each message once also while a compaction is halfway through.
    """
    by_partition: dict[tuple[int, str, str, int], list[DataFile]] = {}
    for f in files:
        by_partition.setdefault((f.gen, f.date, f.topic, f.partition), []).append(f)
    out: set[DataFile] = set()
    for group in by_partition.values():
        group.sort(key=lambda f: (f.first, -f.last))
        reach, holder = -1, None
        for f in group:
            if holder is not None and f.last <= reach:
                out.add(f)
            else:
                reach, holder = f.last, f
    return out
