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
    DataFile,
    after_commit,
    choose_marker,
    encode_marker,
    intent_marker,
    marker_paths,
    marker_slot,
    parse_data_file_path,
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
