"""The HDFS namespace over a local directory: file operations with HDFS's rules.

Ownership, permission, replication and block size live in a SQLite sidecar in
the server's own hidden directory at the top of the root (never listed, never
reachable through a request). Uploads land in a temporary file there and are
renamed into place only when complete; appends are journalled so that a crash
halfway through one is rolled back on the next start.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import stat
import tempfile
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from devstack.webhdfs.core import (
    SIDECAR,
    FileAlreadyExists,
    FileNotFound,
    HadoopIllegalArgument,
    IllegalArgument,
    Meta,
    ParentNotDirectory,
    PathIsNotEmptyDirectory,
    RemoteError,
    batch_after,
    block_locations,
    block_ranges,
    boolean,
    content_summary,
    directory_listing,
    file_checksum,
    file_status,
    file_statuses,
    is_within,
    join_path,
    local_path,
    located_blocks,
    md5_md5_crc32,
    parent_path,
    path_parts,
)
from streamapp.errors import WordstreamError

_APPEND_STRIPES = 64


def fsync_dir(path: Path) -> None:
    """Make a rename or creation inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RootInUse(WordstreamError):
    """Another server already serves this root."""


class _AppendJournal:
    """One durable record per lock stripe of the append it is doing:
    {path, inode, before, after}, enough to undo a half-written append on restart."""

    def __init__(self, directory: Path, stripes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._fds = [
            os.open(directory / f"stripe-{i}", os.O_RDWR | os.O_CREAT, 0o600)
            for i in range(stripes)
        ]

    def write(self, stripe: int, path: str, inode: int, before: int, after: int) -> None:
        record = {"path": path, "inode": inode, "before": before, "after": after}
        os.pwrite(self._fds[stripe], json.dumps(record).encode() + b"\n", 0)
        os.fdatasync(self._fds[stripe])

    def clear(self, stripe: int) -> None:
        os.pwrite(self._fds[stripe], b"\n", 0)
        os.fdatasync(self._fds[stripe])

    def read(self, stripe: int) -> dict[str, Any] | None:
        line = os.pread(self._fds[stripe], 8192, 0).split(b"\n", 1)[0]
        return json.loads(line) if line.strip() else None

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)


class Namespace:
    """HDFS operations on the files under `root`; safe to call from many threads."""

    def __init__(self, root: Path, default_owner: str) -> None:
        self.root = Path(os.path.realpath(root))
        if not self.root.is_dir():
            raise RemoteError(f"{root} is not a directory")
        self.default_owner = default_owner
        self.sidecar = self.root / SIDECAR
        self.sidecar.mkdir(exist_ok=True)
        # Recovery below would wipe another live server's uploads: one server per root.
        self._lock_fd = os.open(self.sidecar / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise RootInUse(
                f"{self.root} is already served by another devstack WebHDFS server; "
                "stop that one or serve another directory with --root"
            ) from None
        self.tmp_dir = self.sidecar / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._journal = _AppendJournal(self.sidecar / "journal", _APPEND_STRIPES)
        # One lock orders every namespace change (check-then-act must not race);
        # appends to one file are serialised by a striped lock instead so that
        # copying their data does not hold up the whole namespace.
        self._lock = threading.RLock()
        self._append_locks = [threading.Lock() for _ in range(_APPEND_STRIPES)]
        self._db = sqlite3.connect(
            self.sidecar / "meta.sqlite3", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (path TEXT PRIMARY KEY, owner TEXT, grp TEXT,"
            " permission TEXT, replication INTEGER, block_size INTEGER)"
        )
        self._recover()

    def close(self) -> None:
        with self._lock:
            self._db.close()
            self._journal.close()
            os.close(self._lock_fd)  # releases the flock

    # --- recovery and temp files ------------------------------------------------

    def _recover(self) -> None:
        """Roll back appends a crash interrupted and drop unfinished uploads."""
        for stripe in range(_APPEND_STRIPES):
            record = self._journal.read(stripe)
            if record is None:
                continue
            target = self.root / record["path"]
            with contextlib.suppress(OSError):
                st = target.stat()
                # Only a file caught between its old and new length was interrupted;
                # a record whose append completed is simply stale.
                if st.st_ino == record["inode"] and record["before"] < st.st_size < record["after"]:
                    os.truncate(target, record["before"])
            self._journal.clear(stripe)
        for entry in self.tmp_dir.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink()

    def spool(self) -> IO[bytes]:
        """A buffer for an append body: memory while small, a hidden temp file beyond."""
        return tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b", dir=str(self.tmp_dir))

    def new_temp(self) -> tuple[Path, IO[bytes]]:
        """A fresh hidden temp file for an upload body (the caller removes or commits it)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        return Path(name), os.fdopen(fd, "wb")

    # --- metadata -----------------------------------------------------------------

    def _meta(self, hdfs_path: str, st: os.stat_result) -> Meta:
        with self._lock:
            row = self._db.execute(
                "SELECT owner, grp, permission, replication, block_size FROM meta WHERE path=?",
                (hdfs_path,),
            ).fetchone()
        if row:
            return Meta(*row)
        is_dir = stat.S_ISDIR(st.st_mode)
        return Meta(owner=self.default_owner, permission="755" if is_dir else "644")

    def _put_meta(self, hdfs_path: str, meta: Meta) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?, ?, ?, ?, ?)",
                (
                    hdfs_path,
                    meta.owner,
                    meta.group,
                    meta.permission,
                    meta.replication,
                    meta.block_size,
                ),
            )

    def _update_meta(self, hdfs_path: str, **changes: Any) -> None:
        with self._lock:
            _, st = self._stat(hdfs_path)
            current = self._meta(hdfs_path, st).__dict__ | changes
            self._put_meta(hdfs_path, Meta(**current))

    def _subtree_sql(self) -> str:
        return "(path = ? OR substr(path, 1, length(?) + 1) = ? || '/')"

    def _drop_meta(self, hdfs_path: str) -> None:
        with self._lock:
            if hdfs_path == "/":
                self._db.execute("DELETE FROM meta")
            else:
                self._db.execute(f"DELETE FROM meta WHERE {self._subtree_sql()}", (hdfs_path,) * 3)

    def _move_meta(self, src: str, dst: str) -> None:
        with self._lock:
            self._drop_meta(dst)
            self._db.execute(
                f"UPDATE meta SET path = ? || substr(path, length(?) + 1) "
                f"WHERE {self._subtree_sql()}",
                (dst, src, src, src, src),
            )

    # --- lookups --------------------------------------------------------------------

    def _stat(self, hdfs_path: str) -> tuple[Path, os.stat_result]:
        local = local_path(self.root, hdfs_path)
        try:
            return local, os.stat(local)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFound(f"File does not exist: {hdfs_path}") from None

    def _file(self, hdfs_path: str) -> tuple[Path, os.stat_result]:
        local, st = self._stat(hdfs_path)
        if stat.S_ISDIR(st.st_mode):
            raise FileNotFound(f"Path is not a file: {hdfs_path}")
        return local, st

    def _exists(self, hdfs_path: str) -> os.stat_result | None:
        try:
            return os.stat(local_path(self.root, hdfs_path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _children(self, local: Path, hdfs_path: str) -> list[str]:
        """Names in a directory that a client may see, sorted like HDFS (by bytes)."""
        names = []
        with os.scandir(local) as it:
            for entry in it:
                if entry.is_symlink() or (hdfs_path == "/" and entry.name == SIDECAR):
                    continue
                names.append(entry.name)
        return sorted(names)

    def _status(self, hdfs_path: str, name: str, local: Path, st: os.stat_result) -> dict[str, Any]:
        children = len(self._children(local, hdfs_path)) if stat.S_ISDIR(st.st_mode) else 0
        return file_status(name, st, self._meta(hdfs_path, st), children)

    def status(self, hdfs_path: str) -> dict[str, Any]:
        local, st = self._stat(hdfs_path)
        return {"FileStatus": self._status(hdfs_path, "", local, st)}

    def _list(self, hdfs_path: str, start_after: str | None) -> tuple[list[dict[str, Any]], int]:
        local, st = self._stat(hdfs_path)
        if not stat.S_ISDIR(st.st_mode):
            return [self._status(hdfs_path, "", local, st)], 0
        names = self._children(local, hdfs_path)
        remaining = 0
        if start_after is not None:
            names, remaining = batch_after(names, start_after)
        statuses = []
        for name in names:
            child = join_path(hdfs_path, name)
            try:
                child_st = os.stat(local / name)
            except FileNotFoundError:
                continue  # removed while listing
            statuses.append(self._status(child, name, local / name, child_st))
        return statuses, remaining

    def list_status(self, hdfs_path: str) -> dict[str, Any]:
        if self._exists(hdfs_path) is None:
            raise FileNotFound(f"File {hdfs_path} does not exist.")
        return file_statuses(self._list(hdfs_path, None)[0])

    def list_status_batch(self, hdfs_path: str, start_after: str) -> dict[str, Any]:
        if self._exists(hdfs_path) is None:
            raise FileNotFound(f"File {hdfs_path} does not exist.")
        statuses, remaining = self._list(hdfs_path, start_after)
        return directory_listing(statuses, remaining)

    def _walk_files(self, hdfs_path: str) -> Iterator[tuple[str, os.stat_result]]:
        """Every (path, stat) at and under `hdfs_path`, directories included."""
        local, st = self._stat(hdfs_path)
        stack = [(hdfs_path, local, st)]
        while stack:
            path, loc, s = stack.pop()
            yield path, s
            if stat.S_ISDIR(s.st_mode):
                for name in self._children(loc, path):
                    try:
                        child_st = os.stat(loc / name)
                    except FileNotFoundError:
                        continue
                    stack.append((join_path(path, name), loc / name, child_st))

    def content_summary(self, hdfs_path: str) -> dict[str, Any]:
        length = files = dirs = consumed = 0
        for path, st in self._walk_files(hdfs_path):
            if stat.S_ISDIR(st.st_mode):
                dirs += 1
            else:
                files += 1
                length += st.st_size
                consumed += st.st_size * self._meta(path, st).replication
        return content_summary(length, files, dirs, consumed)

    def checksum(self, hdfs_path: str) -> dict[str, Any]:
        local, st = self._file(hdfs_path)
        with open(local, "rb") as f:
            algorithm, raw = md5_md5_crc32(
                iter(lambda: f.read(1 << 20), b""), self._meta(hdfs_path, st).block_size
            )
        return file_checksum(algorithm, raw)

    def block_locations(
        self, hdfs_path: str, offset: int, length: int | None, host: str, port: int, legacy: bool
    ) -> dict[str, Any]:
        _, st = self._file(hdfs_path)
        size = st.st_size
        blocks = block_ranges(
            size, self._meta(hdfs_path, st).block_size, offset, size if length is None else length
        )
        if legacy:
            return located_blocks(st.st_ino, size, blocks, host, port)
        return block_locations(blocks, host, port)

    def open_range(self, hdfs_path: str, offset: int, length: int | None) -> tuple[IO[bytes], int]:
        """An open file positioned at `offset` and how many bytes to send from it."""
        local, _ = self._file(hdfs_path)
        f = open(local, "rb")  # noqa: SIM115 - the caller streams it, then closes it
        size = os.fstat(f.fileno()).st_size
        if offset > size:
            f.close()
            raise RemoteError(
                f"Offset={offset} out of the range [0, {size}); OPEN, path={hdfs_path}"
            )
        f.seek(offset)
        available = size - offset
        return f, available if length is None else min(length, available)

    # --- changes ----------------------------------------------------------------------

    def _make_dirs(
        self, parts: list[str], owner: str, permission: str, last_is_target: bool
    ) -> None:
        """Create every missing directory of `parts` (under the namespace lock)."""
        local = self.root
        for i, part in enumerate(parts):
            local = local / part
            path = "/" + "/".join(parts[: i + 1])
            st = self._exists(path)
            if st is not None:
                if not stat.S_ISDIR(st.st_mode):
                    if last_is_target and i == len(parts) - 1:
                        raise FileAlreadyExists(f"Path is not a directory: {path}")
                    raise ParentNotDirectory(f"{path} (is not a directory)")
                continue
            os.mkdir(local)
            fsync_dir(local.parent)
            self._put_meta(path, Meta(owner=owner, permission=permission))

    def mkdirs(self, hdfs_path: str, owner: str, permission: str) -> dict[str, Any]:
        local_path(self.root, hdfs_path)
        with self._lock:
            self._make_dirs(path_parts(hdfs_path), owner, permission, last_is_target=True)
        return boolean(True)

    def check_create(self, hdfs_path: str, overwrite: bool) -> None:
        """Refuse a CREATE that cannot succeed, before the client sends its data."""
        if hdfs_path == "/":
            raise FileAlreadyExists("/ already exists as a directory")
        parts = path_parts(hdfs_path)
        for i in range(1, len(parts)):
            st = self._exists("/" + "/".join(parts[:i]))
            if st is None:
                break
            if not stat.S_ISDIR(st.st_mode):
                raise ParentNotDirectory(f"/{'/'.join(parts[:i])} (is not a directory)")
        st = self._exists(hdfs_path)
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                raise FileAlreadyExists(f"{hdfs_path} already exists as a directory")
            if not overwrite:
                raise FileAlreadyExists(f"{hdfs_path} for client already exists")

    def commit_create(self, hdfs_path: str, tmp: Path, overwrite: bool, meta: Meta) -> None:
        """Move a complete, fsynced upload into place (atomically replacing an old file)."""
        local = local_path(self.root, hdfs_path)
        with self._lock:
            self.check_create(hdfs_path, overwrite)
            parts = path_parts(hdfs_path)
            self._make_dirs(parts[:-1], meta.owner, "755", last_is_target=False)
            os.replace(tmp, local)
            fsync_dir(local.parent)
            self._put_meta(hdfs_path, meta)

    def check_append(self, hdfs_path: str) -> Path:
        """The local file an APPEND to `hdfs_path` writes to."""
        local = local_path(self.root, hdfs_path)
        try:
            st = os.stat(local)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFound(
                f"Failed to append to non-existent file {hdfs_path} for client"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise FileNotFound(f"Path is not a file: {hdfs_path}")
        return local

    def _stripe(self, hdfs_path: str) -> int:
        return zlib.crc32(hdfs_path.encode()) % _APPEND_STRIPES

    def commit_append(self, hdfs_path: str, body: IO[bytes]) -> None:
        """Append a complete upload to a file: all of it or, after a crash, none of it."""
        length = body.seek(0, os.SEEK_END)
        body.seek(0)
        stripe = self._stripe(hdfs_path)
        with self._append_locks[stripe]:
            with self._lock:
                local = self.check_append(hdfs_path)
                fd = os.open(local, os.O_WRONLY | os.O_APPEND)
            try:
                st = os.fstat(fd)
                rel = str(local.relative_to(self.root))
                self._journal.write(stripe, rel, st.st_ino, st.st_size, st.st_size + length)
                try:
                    for piece in iter(lambda: body.read(1 << 20), b""):
                        view = memoryview(piece)
                        while view:
                            view = view[os.write(fd, view) :]
                    os.fsync(fd)
                except BaseException:
                    os.ftruncate(fd, st.st_size)
                    os.fsync(fd)
                    raise
            finally:
                os.close(fd)

    def truncate(self, hdfs_path: str, new_length: int) -> dict[str, Any]:
        stripe = self._stripe(hdfs_path)
        with self._append_locks[stripe], self._lock:
            local, st = self._file(hdfs_path)
            # A stale append record could otherwise undo this truncation on restart.
            self._journal.clear(stripe)
            if new_length > st.st_size:
                raise HadoopIllegalArgument(
                    "Cannot truncate to a larger file size. Current size: "
                    f"{st.st_size}, truncate size: {new_length}."
                )
            with open(local, "r+b") as f:
                f.truncate(new_length)
                os.fsync(f.fileno())
        return boolean(True)

    def rename(self, src: str, dst: str, options: set[str] | None) -> dict[str, Any] | None:
        """Hadoop's rename: `options` None is FileSystem.rename (False on most problems);
        a set (possibly empty, or {"OVERWRITE"}) is rename2, which raises instead."""
        with self._lock:
            src_st = self._exists(src)
            if options is None:
                if src_st is not None and dst == src:
                    return boolean(True)
                target = self._rename_target(src, src_st, dst)
                if target is None:
                    return boolean(False)
            else:
                target = self._rename2_target(src, src_st, dst, "OVERWRITE" in options)
            src_local = local_path(self.root, src)
            dst_local = local_path(self.root, target)
            os.replace(src_local, dst_local)
            fsync_dir(dst_local.parent)
            if src_local.parent != dst_local.parent:
                fsync_dir(src_local.parent)
            self._move_meta(src, target)
        return boolean(True) if options is None else None

    def _rename_target(self, src: str, src_st: os.stat_result | None, dst: str) -> str | None:
        """Where FileSystem.rename moves `src`, or None when it answers false."""
        if src_st is None or src == "/" or dst == src:
            return None
        if is_within(dst, src):
            raise RemoteError(f"Rename destination {dst} is a directory or file under source {src}")
        dst_st = self._exists(dst)
        if dst_st is not None:
            if not stat.S_ISDIR(dst_st.st_mode):
                return None
            dst = join_path(dst, path_parts(src)[-1])
            if dst == src or self._exists(dst) is not None:
                return None
        parent_st = self._exists(parent_path(dst))
        if parent_st is None or not stat.S_ISDIR(parent_st.st_mode):
            return None
        return dst

    def _rename2_target(
        self, src: str, src_st: os.stat_result | None, dst: str, overwrite: bool
    ) -> str:
        if src_st is None:
            raise FileNotFound(f"rename source {src} is not found.")
        if dst == src:
            raise FileAlreadyExists(f"The source {src} and destination {dst} are the same")
        if src == "/" or is_within(dst, src):
            raise RemoteError(f"Rename destination {dst} is a directory or file under source {src}")
        dst_st = self._exists(dst)
        if dst_st is not None:
            if not overwrite:
                raise FileAlreadyExists(f"rename destination {dst} already exists.")
            src_dir, dst_dir = stat.S_ISDIR(src_st.st_mode), stat.S_ISDIR(dst_st.st_mode)
            if src_dir != dst_dir:
                kind = "directories" if src_dir else "files"
                raise RemoteError(f"Source {src} and destination {dst} must both be {kind}")
            if dst_dir and self._children(local_path(self.root, dst), dst):
                raise RemoteError(f"rename destination directory is not empty: {dst}")
        parent = parent_path(dst)
        parent_st = self._exists(parent)
        if parent_st is None:
            raise FileNotFound(f"rename destination parent {parent} not found.")
        if not stat.S_ISDIR(parent_st.st_mode):
            raise ParentNotDirectory(f"rename destination parent {parent} is a file.")
        return dst

    def delete(self, hdfs_path: str, recursive: bool) -> dict[str, Any]:
        with self._lock:
            st = self._exists(hdfs_path)
            if st is None or hdfs_path == "/":
                return boolean(False)
            local = local_path(self.root, hdfs_path)
            if stat.S_ISDIR(st.st_mode):
                if not recursive and self._children(local, hdfs_path):
                    raise PathIsNotEmptyDirectory(
                        f"`{hdfs_path} is non empty': Directory is not empty"
                    )
                # Out of sight in one atomic rename, then removed at leisure.
                doomed = self.tmp_dir / f"deleted-{uuid.uuid4().hex}"
                os.rename(local, doomed)
            else:
                os.unlink(local)
                doomed = None
            fsync_dir(local.parent)
            self._drop_meta(hdfs_path)
        if doomed is not None:
            shutil.rmtree(doomed, ignore_errors=True)
        return boolean(True)

    def set_permission(self, hdfs_path: str, permission: str) -> None:
        self._update_meta(hdfs_path, permission=permission)

    def set_owner(self, hdfs_path: str, owner: str, group: str) -> None:
        if not owner and not group:
            raise IllegalArgument("Both owner and group are empty.")
        changes = {k: v for k, v in (("owner", owner), ("group", group)) if v}
        self._update_meta(hdfs_path, **changes)

    def set_replication(self, hdfs_path: str, replication: int | None) -> dict[str, Any]:
        with self._lock:
            _, st = self._stat(hdfs_path)
            if stat.S_ISDIR(st.st_mode):
                return boolean(False)
            if replication is not None:
                self._update_meta(hdfs_path, replication=replication)
        return boolean(True)

    def set_times(self, hdfs_path: str, mtime: int, atime: int) -> None:
        with self._lock:
            local, st = self._stat(hdfs_path)
            atime_ns = st.st_atime_ns if atime < 0 else atime * 1_000_000
            mtime_ns = st.st_mtime_ns if mtime < 0 else mtime * 1_000_000
            os.utime(local, ns=(atime_ns, mtime_ns))

    def acl_status(self, hdfs_path: str) -> dict[str, Any]:
        _, st = self._stat(hdfs_path)
        meta = self._meta(hdfs_path, st)
        return {
            "AclStatus": {
                "entries": [],
                "group": meta.group,
                "owner": meta.owner,
                "permission": meta.permission,
                "stickyBit": False,
            }
        }
