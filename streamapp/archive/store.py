"""HDFS I/O of the archive sink over `hdfs.InsecureClient` (blocking: run it in a thread)."""

from __future__ import annotations

import posixpath
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from hdfs import InsecureClient
from hdfs.util import HdfsError

from streamapp.archive.core import (
    ArchiveError,
    Batch,
    Committed,
    Compaction,
    CompactionIntent,
    DataFile,
    after_commit,
    choose_marker,
    compaction_intent_path,
    compaction_tmp_path,
    data_file_path,
    date_closed,
    decode_intent,
    decode_marker,
    encode_intent,
    encode_marker,
    intent_marker,
    marker_paths,
    marker_slot,
    merge_contents,
    parse_data_file_path,
    plan_compactions,
    plan_recovery,
)


class CommitAborted(ArchiveError):
    """The partition was revoked while its batch was being committed."""


@dataclass
class CommitProgress:
    """Which steps of one batch's commit are done, so a retry resumes after them."""

    uploaded: set[str] = field(default_factory=set)
    marker_written: bool = False
    renamed: set[str] = field(default_factory=set)


class ArchiveStore:
    """The archive's files and markers in HDFS; every method blocks on WebHDFS calls."""

    def __init__(
        self,
        url: str,
        user: str,
        archive_root: str,
        rejected_root: str,
        timeout: float = 30.0,
        client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.archive_root = archive_root
        self.rejected_root = rejected_root
        self._client_factory = client_factory or partial(
            InsecureClient, url, user=user, timeout=timeout
        )
        self._local = threading.local()
        self._dirs: set[str] = set()

    @property
    def client(self) -> Any:
        """This thread's client (requests sessions are not shared between threads)."""
        c = getattr(self._local, "client", None)
        if c is None:
            c = self._local.client = self._client_factory()
        return c

    def recover(self, topic: str, partition: int) -> Committed:
        """Read the partition's marker, settle its pending batch, return what is archived."""
        slots = [self._read_or_none(p) for p in marker_paths(self.archive_root, topic, partition)]
        marker = choose_marker(slots)
        finals: dict[str, bool] = {}
        tmps: dict[str, bool] = {}
        if marker is not None and marker.pending is not None:
            for tmp, final in marker.pending.renames:
                finals[final] = self._exists(final)
                tmps[tmp] = not finals[final] and self._exists(tmp)
        plan = plan_recovery(marker, finals, tmps)
        for tmp, final in plan.roll_forward:
            self._rename(tmp, final)
        return plan.committed

    def commit(
        self,
        previous: Committed,
        batch: Batch[Any],
        progress: CommitProgress,
        aborted: Callable[[], bool],
    ) -> Committed:
        """Run (or resume) the commit protocol for `batch`; returns the new committed state."""
        files = batch.files(self.archive_root, self.rejected_root)
        for tmp, _final, content in files:
            if tmp not in progress.uploaded:
                self._check(aborted)
                self.client.write(tmp, data=content, overwrite=True)
                progress.uploaded.add(tmp)
        marker = intent_marker(previous, batch, [(tmp, final) for tmp, final, _ in files])
        if not progress.marker_written:
            self._check(aborted)
            path = marker_paths(self.archive_root, batch.topic, batch.partition)[
                marker_slot(marker.seq)
            ]
            self.client.write(path, data=encode_marker(marker), overwrite=True)
            progress.marker_written = True
        # Past the intent, recovery would roll these renames forward anyway: finish them.
        for tmp, final, _ in files:
            if final not in progress.renamed:
                self._rename(tmp, final)
                progress.renamed.add(final)
        return after_commit(marker)

    def _rename(self, tmp: str, final: str) -> None:
        parent = posixpath.dirname(final)
        if parent not in self._dirs:
            self.client.makedirs(parent)
            self._dirs.add(parent)
        try:
            self.client.rename(tmp, final)
        except HdfsError:
            # A retried rename whose first attempt succeeded but whose reply was lost.
            if not (self._exists(final) and not self._exists(tmp)):
                raise

    def _exists(self, path: str) -> bool:
        return self.client.status(path, strict=False) is not None

    def _read_or_none(self, path: str) -> bytes | None:
        if not self._exists(path):
            return None
        with self.client.read(path) as reader:
            data: bytes = reader.read()
        return data

    @staticmethod
    def _check(aborted: Callable[[], bool]) -> None:
        if aborted():
            raise CommitAborted("partition revoked during commit")


def read_committed(
    client: InsecureClient,
    archive_root: str,
    topic: str,
    partition: int,
    read: Callable[[str], bytes | None] | None = None,
) -> Committed:
    """What the archive holds of a partition, without writing: its marker settled the way
    the sink settles it on start (`ArchiveStore.recover`), but with no roll-forward.

    Two small reads and a status per pending file, whatever the archive's size. `read`
    gives a file's bytes or None if it is missing (default: any HdfsError is missing).
    """
    read = read or partial(_read_hdfs_or_none, client)
    marker = choose_marker([read(path) for path in marker_paths(archive_root, topic, partition)])
    renames = marker.pending.renames if marker and marker.pending else ()
    finals = {final: client.status(final, strict=False) is not None for _, final in renames}
    return plan_recovery(marker, finals, {}).committed


def _read_hdfs_or_none(client: InsecureClient, path: str) -> bytes | None:
    try:
        with client.read(path) as reader:
            data: bytes = reader.read()
            return data
    except HdfsError:
        return None


def committed_files(client: InsecureClient, root: str) -> Iterator[tuple[str, DataFile]]:
    """Every committed data file under `root` (walks the whole tree: for tests and tools)."""
    if client.status(root, strict=False) is None:
        return
    for dirpath, dirnames, filenames in client.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        for name in filenames:
            path = posixpath.join(dirpath, name)
            parsed = parse_data_file_path(path)
            if parsed is not None:
                yield path, parsed


@dataclass(frozen=True)
class CompactionDone:
    """One finished compaction: its output and how many files it replaced."""

    output: str
    inputs: int
    nbytes: int


class Compactor:
    """Merges closed dates' small archive files (docs/archive.md, "Compaction").

    Protocol per (root, gen, date, partition): upload the merged file under `_compact/`,
    write an intent naming it and its inputs, rename it to its final name, delete the
    inputs, delete the intent. A run first finishes every intent it finds, so a crash
    at any step is completed by the next run; until then readers see the output and
    some inputs together, which they deduplicate (or skip as superseded).
    One compaction process at a time (the clock's, or `wordstream archive compact`).
    """

    def __init__(
        self,
        archive_root: str,
        rejected_root: str,
        topic: str,
        client_factory: Callable[[], Any],
        target_bytes: int,
        grace_s: float,
    ) -> None:
        self.archive_root = archive_root
        self.roots = (archive_root, rejected_root)
        self.topic = topic
        self.client = client_factory()
        self.target_bytes = target_bytes
        self.grace_s = grace_s

    def run(
        self,
        now_ms: int,
        date: str | None = None,
        partition: int | None = None,
        progress: Callable[[CompactionDone], None] | None = None,
    ) -> list[CompactionDone]:
        """Finish interrupted compactions, then compact every closed date (or `date`)."""
        done: list[CompactionDone] = []
        for root in self.roots:
            self.resume(root)
            for gen_dir in self._dirs(root, "gen="):
                for date_dir in self._dirs(gen_dir, "date="):
                    day = posixpath.basename(date_dir)[len("date=") :]
                    if (date is not None and day != date) or not date_closed(
                        day, now_ms, self.grace_s
                    ):
                        continue
                    for plan in self.plan(date_dir, partition):
                        result = self.compact(root, plan)
                        done.append(result)
                        if progress is not None:
                            progress(result)
        return done

    def plan(self, date_dir: str, partition: int | None) -> list[Compaction]:
        """The compactions of one date directory (listed first, markers read after)."""
        files = []
        for name, status in self.client.list(date_dir, status=True):
            path = posixpath.join(date_dir, name)
            f = parse_data_file_path(path)
            if f is None or f.topic != self.topic:
                continue
            if partition is None or f.partition == partition:
                files.append((path, f, int(status["length"])))
        # Read after listing: a file listed is committed, so its batch's intent is in
        # the slots now or was replaced by a newer one that recovery would use instead.
        keep: set[str] = set()
        for p in {f.partition for _, f, _ in files}:
            for slot in marker_paths(self.archive_root, self.topic, p):
                marker = decode_marker(self._read_or_none(slot))
                if marker is not None and marker.pending is not None:
                    keep.update(final for _, final in marker.pending.renames)
        return plan_compactions(files, keep, self.target_bytes)

    def compact(self, root: str, plan: Compaction) -> CompactionDone:
        """Run one compaction's protocol to its end."""
        parts = []
        for path, f in plan.inputs:
            with self.client.read(path) as reader:
                parts.append((f, reader.read()))
        content = merge_contents(parts)
        intent = CompactionIntent(
            output=data_file_path(root, plan.output),
            tmp=compaction_tmp_path(root, plan.output),
            inputs=tuple(path for path, _ in plan.inputs),
        )
        self.client.write(intent.tmp, data=content, overwrite=True)
        self.client.write(
            compaction_intent_path(root, plan.output), data=encode_intent(intent), overwrite=True
        )
        self.finish(compaction_intent_path(root, plan.output), intent)
        return CompactionDone(intent.output, len(intent.inputs), len(content))

    def resume(self, root: str) -> None:
        """Finish the compactions a crash interrupted after their intent was written."""
        for part_dir in self._dirs(f"{root.rstrip('/')}/_compact", ""):
            names = self.client.list(part_dir)
            for name in names:
                path = posixpath.join(part_dir, name)
                if name.endswith(".intent.json"):
                    intent = decode_intent(self._read_or_none(path) or b"")
                    if intent is None:  # torn: its inputs were never touched
                        self.client.delete(path)
                    else:
                        self.finish(path, intent)
            for name in names:
                # An upload whose intent was never written: nothing refers to it.
                if name.endswith(".jsonl"):
                    self.client.delete(posixpath.join(part_dir, name))

    def finish(self, intent_path: str, intent: CompactionIntent) -> None:
        """Rename the output into place (if not yet), delete the inputs, then the intent."""
        if not self._exists(intent.output):
            try:
                self.client.rename(intent.tmp, intent.output)
            except HdfsError:
                # A retried rename whose first attempt succeeded but whose reply was lost.
                if not self._exists(intent.output):
                    raise
        for path in intent.inputs:
            self.client.delete(path)  # False if a previous attempt deleted it already
        self.client.delete(intent_path)

    def _dirs(self, parent: str, prefix: str) -> list[str]:
        if not self._exists(parent):
            return []
        return [
            posixpath.join(parent, name)
            for name, status in self.client.list(parent, status=True)
            if status["type"] == "DIRECTORY" and name.startswith(prefix)
        ]

    def _exists(self, path: str) -> bool:
        return self.client.status(path, strict=False) is not None

    def _read_or_none(self, path: str) -> bytes | None:
        if not self._exists(path):
            return None
        with self.client.read(path) as reader:
            data: bytes = reader.read()
        return data
