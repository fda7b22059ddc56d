"""An in-memory stand-in for `hdfs.InsecureClient` that can crash at any mutating call.

Only for unit tests of the commit/recovery protocol: it lets a test stop the protocol
at every step (including a torn write), which a real kill -9 hits only by chance.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hdfs.util import HdfsError


class Crash(Exception):
    """The process died here."""


class FakeHdfs:
    """Files and directories in dicts; `crash_at=n` kills the n-th mutating call (0-based)."""

    def __init__(self, crash_at: int | None = None, torn: bool = False) -> None:
        self.files: dict[str, bytes] = {}
        self.dirs: set[str] = {"/"}
        self.crash_at = crash_at
        self.torn = torn
        self.mutations = 0
        # (n, f): call f() just before the n-th mutating call, e.g. another writer's work.
        self.interleave: tuple[int, Callable[[], None]] | None = None

    def _mutate(self) -> bool:
        """Count a mutating call; True if it is the one that crashes."""
        n, self.mutations = self.mutations, self.mutations + 1
        if self.interleave is not None and self.interleave[0] == n:
            work, self.interleave = self.interleave[1], None
            work()
        return n == self.crash_at

    def _mkparents(self, path: str) -> None:
        while path not in ("/", ""):
            path = posixpath.dirname(path)
            self.dirs.add(path)

    def write(self, path: str, data: bytes, overwrite: bool = False) -> None:
        if path in self.files and not overwrite:
            raise HdfsError(f"{path} exists")
        if self._mutate():
            if self.torn:
                self._mkparents(path)
                self.files[path] = data[: len(data) // 2]
            raise Crash(f"write {path}")
        self._mkparents(path)
        self.files[path] = data

    def rename(self, src: str, dst: str) -> None:
        if self._mutate():
            raise Crash(f"rename {src}")
        if src not in self.files or dst in self.files or posixpath.dirname(dst) not in self.dirs:
            raise HdfsError(f"Unable to rename {src!r} to {dst!r}.")
        self.files[dst] = self.files.pop(src)

    def makedirs(self, path: str) -> None:
        if self._mutate():
            raise Crash(f"makedirs {path}")
        self.dirs.add(path)
        self._mkparents(path)

    def status(self, path: str, strict: bool = True) -> dict[str, object] | None:
        if path in self.files:
            return {"type": "FILE", "length": len(self.files[path])}
        if path in self.dirs:
            return {"type": "DIRECTORY", "length": 0}
        if strict:
            raise HdfsError(f"File does not exist: {path}")
        return None

    def delete(self, path: str, recursive: bool = False) -> bool:
        if self._mutate():
            raise Crash(f"delete {path}")
        return self.files.pop(path, None) is not None

    def list(self, path: str, status: bool = False) -> list[object]:
        if path not in self.dirs:
            raise HdfsError(f"File does not exist: {path}")
        children = sorted(
            {p[len(path) + 1 :].split("/")[0] for p in (*self.files, *self.dirs)
             if p.startswith(path.rstrip("/") + "/") and p != path}
        )  # fmt: skip
        if not status:
            return list(children)
        return [(c, self.status(posixpath.join(path, c))) for c in children]

    @contextmanager
    def read(self, path: str) -> Iterator[io.BytesIO]:
        yield io.BytesIO(self.files[path])
