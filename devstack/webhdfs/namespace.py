"""The HDFS namespace over a local directory: file operations with HDFS's rules.

Ownership, permission, replication and block size live in a SQLite sidecar in
the server's own hidden directory at the top of the root (never listed, never
reachable through a request). Uploads land in a temporary file there and are
renamed into place only when complete; appends are journalled so that a crash
halfway through one is rolled back on the next start.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import grp
import json
import os
import pwd
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import IO, Any

from devstack.webhdfs.acl import (
    Acl,
    access_denied,
    allowed,
    inherit,
    mode_string,
    parse_spec,
)
from devstack.webhdfs.core import (
    DEFAULT_GROUP,
    DEFAULT_STORAGE_POLICY,
    SIDECAR,
    SNAPSHOT_DIR,
    AccessControl,
    DiffEntry,
    FileAlreadyExists,
    FileNotFound,
    HadoopIllegalArgument,
    IllegalArgument,
    Meta,
    ParentNotDirectory,
    PathIsNotDirectory,
    PathIsNotEmptyDirectory,
    RemoteError,
    SnapshotAccessControl,
    SnapshotError,
    TreeEntry,
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
    permission_string,
    snapshot_diff,
    storage_policy,
    xattr_encode,
    xattr_name,
)
from streamapp.errors import WordstreamError

_APPEND_STRIPES = 64
MAX_XATTRS = 32  # dfs.namenode.fs-limits.max-xattrs-per-inode
SNAPSHOT_QUOTA = 65536  # snapshots a directory may have (what the NameNode reports)
_META_COLUMNS_ADDED = (
    ("acl", "TEXT DEFAULT ''"),
    ("xattrs", "TEXT DEFAULT ''"),
    ("atime", "INTEGER DEFAULT 0"),
    ("policy", "INTEGER DEFAULT 0"),
)


def fsync_dir(path: Path) -> None:
    """Make a rename or creation inside `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _encode_meta(meta: Meta) -> tuple[Any, ...]:
    """A Meta as the columns after `path` of the meta table."""
    return (
        meta.owner,
        meta.group,
        meta.permission,
        meta.replication,
        meta.block_size,
        json.dumps(list(meta.acl)) if meta.acl else "",
        json.dumps(dict(meta.xattrs)) if meta.xattrs else "",
        meta.atime,
        meta.storage_policy,
    )


def _decode_meta(row: sqlite3.Row) -> Meta:
    return Meta(
        owner=row["owner"],
        group=row["grp"],
        permission=row["permission"],
        replication=row["replication"],
        block_size=row["block_size"],
        acl=tuple(json.loads(row["acl"])) if row["acl"] else (),
        xattrs=tuple(sorted(json.loads(row["xattrs"]).items())) if row["xattrs"] else (),
        atime=row["atime"] or 0,
        storage_policy=row["policy"] or 0,
    )


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
        self._db.row_factory = sqlite3.Row
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (path TEXT PRIMARY KEY, owner TEXT, grp TEXT,"
            " permission TEXT, replication INTEGER, block_size INTEGER)"
        )
        columns = {row["name"] for row in self._db.execute("PRAGMA table_info(meta)")}
        for column, kind in _META_COLUMNS_ADDED:
            if column not in columns:  # a root served by an older version of this server
                self._db.execute(f"ALTER TABLE meta ADD COLUMN {column} {kind}")
        self._db.execute("CREATE TABLE IF NOT EXISTS snapshottable (path TEXT PRIMARY KEY)")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " dir TEXT, name TEXT, created INTEGER)"
        )
        self.snapshot_dir = self.sidecar / "snapshots"
        self.snapshot_dir.mkdir(exist_ok=True)
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
        # A snapshot copy without its row: a creation or deletion a crash interrupted.
        known = {str(row["id"]) for row in self._db.execute("SELECT id FROM snapshots")}
        for entry in self.snapshot_dir.iterdir():
            if entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)

    def spool(self) -> IO[bytes]:
        """A buffer for an append body: memory while small, a hidden temp file beyond."""
        return tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b", dir=str(self.tmp_dir))

    def new_temp(self) -> tuple[Path, IO[bytes]]:
        """A fresh hidden temp file for an upload body (the caller removes or commits it)."""
        fd, name = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        return Path(name), os.fdopen(fd, "wb")

    # --- metadata -----------------------------------------------------------------

    def _meta(self, hdfs_path: str, st: os.stat_result) -> Meta:
        key = self._resolve(hdfs_path)
        with self._lock:
            row = self._db.execute("SELECT * FROM meta WHERE path=?", (key,)).fetchone()
        if row:
            return _decode_meta(row)
        is_dir = stat.S_ISDIR(st.st_mode)
        return Meta(owner=self.default_owner, permission="755" if is_dir else "644")

    def _put_meta(self, hdfs_path: str, meta: Meta) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (path, owner, grp, permission, replication,"
                " block_size, acl, xattrs, atime, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (hdfs_path, *_encode_meta(meta)),
            )

    def _update_meta(self, hdfs_path: str, **changes: Any) -> Meta:
        with self._lock:
            _, st = self._stat(hdfs_path)
            meta = dataclasses.replace(self._meta(hdfs_path, st), **changes)
            self._put_meta(hdfs_path, meta)
        return meta

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

    def _resolve(self, hdfs_path: str) -> str:
        """The path the server keeps `hdfs_path` under: a path inside a snapshot
        (`/dir/.snapshot/NAME/...`) maps to that snapshot's copy in the sidecar."""
        parts = path_parts(hdfs_path)
        if SNAPSHOT_DIR not in parts:
            return hdfs_path
        i = parts.index(SNAPSHOT_DIR)
        if i + 1 == len(parts):
            return hdfs_path  # `.snapshot` itself: a virtual directory, see _dot_snapshot
        snapshot = self._snapshot_id("/" + "/".join(parts[:i]), parts[i + 1])
        if snapshot is None:
            return hdfs_path  # nothing there: looked up, it is not found
        return "/" + "/".join([SIDECAR, "snapshots", str(snapshot), *parts[i + 2 :]])

    def _local(self, hdfs_path: str) -> Path:
        key = self._resolve(hdfs_path)
        return local_path(self.root, key, internal=key != hdfs_path)

    def _stat(self, hdfs_path: str) -> tuple[Path, os.stat_result]:
        local = self._local(hdfs_path)
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
            return os.stat(self._local(hdfs_path))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _children(self, local: Path, hdfs_path: str) -> list[str]:
        """Names in a directory that a client may see, sorted like HDFS (by bytes)."""
        names = []
        with os.scandir(local) as it:
            for entry in it:
                if (
                    entry.is_symlink()
                    or entry.name == SNAPSHOT_DIR
                    or (hdfs_path == "/" and entry.name == SIDECAR)
                ):
                    continue
                names.append(entry.name)
        return sorted(names)

    def _status(
        self,
        hdfs_path: str,
        name: str,
        local: Path,
        st: os.stat_result,
        inherited: int | None = None,
    ) -> dict[str, Any]:
        """A FileStatus; `inherited` is the storage policy from above, if known."""
        is_dir = stat.S_ISDIR(st.st_mode)
        children = len(self._children(local, hdfs_path)) if is_dir else 0
        meta = self._meta(hdfs_path, st)
        return file_status(
            name,
            st,
            meta,
            children,
            snapshot_enabled=is_dir and self._is_snapshottable(hdfs_path),
            storage_policy=meta.storage_policy
            or (self._inherited_policy(hdfs_path) if inherited is None else inherited),
        )

    def _dot_snapshot(self, hdfs_path: str) -> str | None:
        """The snapshottable directory whose virtual `.snapshot` directory this is."""
        parts = path_parts(hdfs_path)
        if parts and parts[-1] == SNAPSHOT_DIR:
            directory = parent_path(hdfs_path)
            if self._is_snapshottable(directory):
                return directory
        return None

    def status(self, hdfs_path: str) -> dict[str, Any]:
        directory = self._dot_snapshot(hdfs_path)
        if directory is not None:
            local, st = self._stat(directory)
            status = self._status(directory, "", local, st)
            status["childrenNum"] = len(self._snapshots(directory))
            return {"FileStatus": status}
        local, st = self._stat(hdfs_path)
        return {"FileStatus": self._status(hdfs_path, "", local, st)}

    def _list(self, hdfs_path: str, start_after: str | None) -> tuple[list[dict[str, Any]], int]:
        directory = self._dot_snapshot(hdfs_path)
        if directory is not None:
            names = [name for _, name, _ in self._snapshots(directory)]
            local, inherited = None, 0
        else:
            local, st = self._stat(hdfs_path)
            if not stat.S_ISDIR(st.st_mode):
                return [self._status(hdfs_path, "", local, st)], 0
            names = self._children(local, hdfs_path)
            own = self._meta(hdfs_path, st).storage_policy
            inherited = own or self._inherited_policy(hdfs_path)
        remaining = 0
        if start_after is not None:
            names, remaining = batch_after(names, start_after)
        statuses = []
        for name in names:
            child = join_path(hdfs_path, name)
            try:
                if local is None:
                    child_local, child_st = self._stat(child)
                    statuses.append(self._status(child, name, child_local, child_st))
                else:
                    child_local = local / name
                    child_st = os.stat(child_local)
                    statuses.append(self._status(child, name, child_local, child_st, inherited))
            except (FileNotFound, FileNotFoundError):
                continue  # removed while listing
        return statuses, remaining

    def list_status(self, hdfs_path: str) -> dict[str, Any]:
        if self._exists(hdfs_path) is None and self._dot_snapshot(hdfs_path) is None:
            raise FileNotFound(f"File {hdfs_path} does not exist.")
        return file_statuses(self._list(hdfs_path, None)[0])

    def list_status_batch(self, hdfs_path: str, start_after: str) -> dict[str, Any]:
        if self._exists(hdfs_path) is None and self._dot_snapshot(hdfs_path) is None:
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
            self._put_meta(
                path, self._inherit(path, Meta(owner=owner, permission=permission), True)
            )

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
            self._put_meta(hdfs_path, self._inherit(hdfs_path, meta, False))

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
                self._detach(local)
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
            self._detach(local)
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
            self._move_snapshottable(src, target)
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
                self._check_no_snapshots_within(hdfs_path)
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
            self._db.execute(
                f"DELETE FROM snapshottable WHERE {self._subtree_sql()}", (hdfs_path,) * 3
            )
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
        # The append lock too: copying a file on write must not race an append to it.
        with self._append_locks[self._stripe(hdfs_path)], self._lock:
            local, st = self._stat(hdfs_path)
            if stat.S_ISDIR(st.st_mode):
                # A directory's own atime moves whenever it is listed; HDFS's does not.
                if atime >= 0:
                    self._update_meta(hdfs_path, atime=atime)
                atime_ns = st.st_atime_ns
            else:
                self._detach(local)
                atime_ns = st.st_atime_ns if atime < 0 else atime * 1_000_000
            mtime_ns = st.st_mtime_ns if mtime < 0 else mtime * 1_000_000
            os.utime(local, ns=(atime_ns, mtime_ns))

    # --- copy-on-write and inheritance ----------------------------------------------------

    def _detach(self, local: Path) -> None:
        """Give a file shared with a snapshot (a hard link) its own copy before changing it
        in place, so the snapshot keeps its point-in-time content (under the lock)."""
        if os.stat(local).st_nlink < 2:
            return
        tmp, f = self.new_temp()
        try:
            with f, open(local, "rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
                f.flush()
                os.fsync(f.fileno())
            shutil.copystat(local, tmp)
            os.replace(tmp, local)
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(local.parent)

    def _inherit(self, hdfs_path: str, meta: Meta, is_dir: bool) -> Meta:
        """A new path's metadata with its parent directory's default ACL applied."""
        parent = parent_path(hdfs_path)
        parent_st = self._exists(parent)
        if parent_st is None:
            return meta
        parent_meta = self._meta(parent, parent_st)
        if not any(e.startswith("default:") for e in parent_meta.acl):
            return meta
        acl = inherit(_acl_of(parent_meta), meta.mode, is_dir)
        return dataclasses.replace(
            meta, permission=permission_string(acl.mode), acl=tuple(map(str, acl.entries))
        )

    # --- ACLs -----------------------------------------------------------------------------

    def acl_status(self, hdfs_path: str) -> dict[str, Any]:
        _, st = self._stat(hdfs_path)
        meta = self._meta(hdfs_path, st)
        return {
            "AclStatus": {
                "entries": list(meta.acl),
                "group": meta.group,
                "owner": meta.owner,
                "permission": meta.permission,
                "stickyBit": bool(meta.mode & 0o1000),
            }
        }

    def change_acl(self, hdfs_path: str, change: Callable[[Acl, bool], Acl]) -> None:
        """Apply one of the ACL changes of devstack.webhdfs.acl to a path."""
        with self._lock:
            _, st = self._stat(hdfs_path)
            acl = change(_acl_of(self._meta(hdfs_path, st)), stat.S_ISDIR(st.st_mode))
            self._update_meta(
                hdfs_path, permission=permission_string(acl.mode), acl=tuple(map(str, acl.entries))
            )

    def check_access(self, hdfs_path: str, user: str, wanted: int) -> None:
        """CHECKACCESS: traverse on every ancestor, then `wanted` on the path itself."""
        if self._is_superuser(user):
            self._stat(hdfs_path)
            return
        groups = user_groups(user)
        parts = path_parts(hdfs_path)
        for depth in range(len(parts) + 1):
            path = "/" + "/".join(parts[:depth])
            _, st = self._stat(path)
            need = wanted if depth == len(parts) else 1
            meta = self._meta(path, st)
            acl = _acl_of(meta)
            if not allowed(acl, meta.owner, meta.group, user, groups, need):
                is_dir = stat.S_ISDIR(st.st_mode)
                access_denied(user, need, path, meta.owner, meta.group, mode_string(is_dir, acl))

    # --- extended attributes ------------------------------------------------------------

    def _is_superuser(self, user: str) -> bool:
        """The user running the NameNode, or a member of its supergroup."""
        return user == self.default_owner or DEFAULT_GROUP in user_groups(user)

    def _xattr_visible(self, name: str, user: str) -> bool:
        namespace = name.split(".", 1)[0]
        return namespace == "user" or (namespace == "trusted" and self._is_superuser(user))

    def _check_xattr_access(self, name: str, user: str) -> None:
        if not self._xattr_visible(name, user):
            raise AccessControl(f"User doesn't have permission for xattr: {name}")

    def get_xattrs(
        self, hdfs_path: str, names: list[str], encoding: str, user: str
    ) -> dict[str, Any]:
        _, st = self._stat(hdfs_path)
        stored = dict(self._meta(hdfs_path, st).xattrs)
        wanted = [xattr_name(n) for n in names]
        for name in wanted:
            self._check_xattr_access(name, user)
        if any(name not in stored for name in wanted):
            raise RemoteError("At least one of the attributes provided was not found.")
        chosen = wanted or [n for n in stored if self._xattr_visible(n, user)]
        return {
            "XAttrs": [
                {"name": n, "value": xattr_encode(bytes.fromhex(stored[n]), encoding)}
                for n in chosen
            ]
        }

    def list_xattrs(self, hdfs_path: str, user: str) -> dict[str, Any]:
        _, st = self._stat(hdfs_path)
        names = [n for n, _ in self._meta(hdfs_path, st).xattrs if self._xattr_visible(n, user)]
        return {"XAttrNames": json.dumps(names, separators=(",", ":"))}

    def set_xattr(
        self, hdfs_path: str, raw_name: str, value: bytes, flags: set[str], user: str
    ) -> None:
        name = xattr_name(raw_name)
        self._check_xattr_access(name, user)
        with self._lock:
            _, st = self._stat(hdfs_path)
            stored = dict(self._meta(hdfs_path, st).xattrs)
            if name in stored and "REPLACE" not in flags:
                raise RemoteError(
                    f"XAttr: {name} already exists. The REPLACE flag must be specified."
                )
            if name not in stored and "CREATE" not in flags:
                raise RemoteError(
                    f"XAttr: {name} does not exist. The CREATE flag must be specified."
                )
            if name not in stored and len(stored) >= MAX_XATTRS:
                raise RemoteError(
                    f"Cannot add additional XAttr to inode, would exceed limit of {MAX_XATTRS}"
                )
            stored[name] = value.hex()
            self._update_meta(hdfs_path, xattrs=tuple(sorted(stored.items())))

    def remove_xattr(self, hdfs_path: str, raw_name: str, user: str) -> None:
        name = xattr_name(raw_name)
        self._check_xattr_access(name, user)
        with self._lock:
            _, st = self._stat(hdfs_path)
            stored = dict(self._meta(hdfs_path, st).xattrs)
            if stored.pop(name, None) is None:
                raise RemoteError("No matching attributes found for remove operation")
            self._update_meta(hdfs_path, xattrs=tuple(sorted(stored.items())))

    # --- storage policies, quotas, file system status -------------------------------------

    def _inherited_policy(self, hdfs_path: str) -> int:
        """The storage policy id set on the nearest ancestor (0 if none)."""
        path = hdfs_path
        while path != "/":
            path = parent_path(path)
            st = self._exists(path)
            if st is None:
                return 0
            policy = self._meta(path, st).storage_policy
            if policy:
                return policy
        return 0

    def set_storage_policy(self, hdfs_path: str, name: str | None) -> None:
        policy = 0 if name is None else storage_policy(name).id
        self._update_meta(hdfs_path, storage_policy=policy)

    def get_storage_policy(self, hdfs_path: str) -> dict[str, Any]:
        _, st = self._stat(hdfs_path)
        own = self._meta(hdfs_path, st).storage_policy
        policy = own or self._inherited_policy(hdfs_path) or DEFAULT_STORAGE_POLICY
        return {"BlockStoragePolicy": storage_policy(policy).to_json()}

    def quota_usage(self, hdfs_path: str) -> dict[str, Any]:
        summary = self.content_summary(hdfs_path)["ContentSummary"]
        return {
            "QuotaUsage": {
                "fileAndDirectoryCount": summary["fileCount"] + summary["directoryCount"],
                "quota": -1,
                "spaceConsumed": summary["spaceConsumed"],
                "spaceQuota": -1,
                "typeQuota": {},
            }
        }

    def fs_status(self) -> dict[str, Any]:
        vfs = os.statvfs(self.root)
        capacity = vfs.f_blocks * vfs.f_frsize
        return {
            "FsStatus": {
                "capacity": capacity,
                "remaining": vfs.f_bavail * vfs.f_frsize,
                "used": capacity - vfs.f_bfree * vfs.f_frsize,
            }
        }

    # --- concat -------------------------------------------------------------------------

    def concat(self, target: str, sources: list[str]) -> None:
        """Append whole files to `target` and remove them, as one atomic replacement."""
        if not sources:
            raise HadoopIllegalArgument("No sources given")
        stripe = self._stripe(target)
        with self._append_locks[stripe], self._lock:
            local, _ = self._file(target)
            if len(set(sources)) != len(sources):
                raise HadoopIllegalArgument("concat: repeated source file")
            locals_ = []
            for src in sources:
                self.check_writable(src)
                if src == target:
                    raise HadoopIllegalArgument(
                        f"concat: the src file {src} is the same with the target file {target}"
                    )
                src_local, src_st = self._file(src)
                if src_st.st_size == 0:
                    raise HadoopIllegalArgument(
                        f"concat: source file {src} is invalid or empty or underConstruction"
                    )
                locals_.append(src_local)
            tmp, f = self.new_temp()
            try:
                with f:
                    for part in (local, *locals_):
                        with open(part, "rb") as src_f:
                            shutil.copyfileobj(src_f, f, 1 << 20)
                    f.flush()
                    os.fsync(f.fileno())
                self._journal.clear(stripe)
                os.replace(tmp, local)
            finally:
                tmp.unlink(missing_ok=True)
            for src, src_local in zip(sources, locals_, strict=True):
                os.unlink(src_local)
                self._drop_meta(src)
                fsync_dir(src_local.parent)
            fsync_dir(local.parent)

    # --- snapshots ----------------------------------------------------------------------

    def check_writable(self, hdfs_path: str) -> None:
        """Refuse a change to a path inside a snapshot (or named like one)."""
        parts = path_parts(hdfs_path)
        if SNAPSHOT_DIR in parts:
            if self._is_snapshottable("/" + "/".join(parts[: parts.index(SNAPSHOT_DIR)])):
                raise SnapshotAccessControl("Modification on a read-only snapshot is disallowed")
            raise HadoopIllegalArgument(f'"{SNAPSHOT_DIR}" is a reserved name.')

    def _is_snapshottable(self, hdfs_path: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM snapshottable WHERE path=?", (hdfs_path,)
            ).fetchone()
        return row is not None

    def _snapshots(self, directory: str) -> list[tuple[int, str, int]]:
        """(id, name, created ms) of a directory's snapshots, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, created FROM snapshots WHERE dir=? ORDER BY id", (directory,)
            ).fetchall()
        return [(row["id"], row["name"], row["created"]) for row in rows]

    def _snapshot_id(self, directory: str, name: str) -> int | None:
        for snapshot_id, snapshot_name, _ in self._snapshots(directory):
            if snapshot_name == name:
                return snapshot_id
        return None

    def _snapshottable_dir(self, hdfs_path: str) -> None:
        _, st = self._stat(hdfs_path)
        if not stat.S_ISDIR(st.st_mode):
            raise PathIsNotDirectory(f"`{hdfs_path}': Is not a directory")
        if not self._is_snapshottable(hdfs_path):
            raise SnapshotError(f"Directory is not a snapshottable directory: {hdfs_path}")

    def allow_snapshot(self, hdfs_path: str) -> None:
        with self._lock:
            _, st = self._stat(hdfs_path)
            if not stat.S_ISDIR(st.st_mode):
                raise PathIsNotDirectory(f"`{hdfs_path}': Is not a directory")
            for row in self._db.execute("SELECT path FROM snapshottable").fetchall():
                other = row["path"]
                if other == hdfs_path:
                    return
                if is_within(other, hdfs_path) or is_within(hdfs_path, other):
                    relation = "subdirectory" if is_within(other, hdfs_path) else "ancestor"
                    raise SnapshotError(
                        f"Nested snapshottable directories not allowed: path={hdfs_path}, "
                        f"the {relation} {other} is already a snapshottable directory."
                    )
            self._db.execute("INSERT INTO snapshottable VALUES (?)", (hdfs_path,))

    def disallow_snapshot(self, hdfs_path: str) -> None:
        with self._lock:
            self._stat(hdfs_path)
            if self._snapshots(hdfs_path):
                raise SnapshotError(
                    f"The directory {hdfs_path} has snapshot(s). Please redo the operation "
                    "after removing all the snapshots."
                )
            self._db.execute("DELETE FROM snapshottable WHERE path=?", (hdfs_path,))

    def create_snapshot(self, hdfs_path: str, name: str | None) -> dict[str, Any]:
        """Hard-link the directory's tree into a new snapshot; later writes copy on write."""
        now = time.time()
        if not name:
            # Snapshot.generateDefaultSnapshotName: 's'yyyyMMdd-HHmmss.SSS
            name = (
                time.strftime("s%Y%m%d-%H%M%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"
            )
        _check_snapshot_name(name)
        # Every append lock, then the namespace lock (the order appends use): no
        # append is halfway through a file while its links are made.
        with contextlib.ExitStack() as stack:
            for lock in self._append_locks:
                stack.enter_context(lock)
            stack.enter_context(self._lock)
            self._snapshottable_dir(hdfs_path)
            if self._snapshot_id(hdfs_path, name) is not None:
                raise SnapshotError(
                    "Failed to add snapshot: there is already a snapshot with the same name "
                    f'"{name}".'
                )
            created = int(now * 1000)
            # One transaction: a crash before COMMIT leaves no row, and the copy it
            # left behind is an orphan that _recover removes.
            with self._db:  # commits, or rolls back on an error
                self._db.execute("BEGIN")
                self._copy_snapshot(hdfs_path, name, created)
        return {"Path": join_path(join_path(hdfs_path, SNAPSHOT_DIR), name)}

    def _copy_snapshot(self, hdfs_path: str, name: str, created: int) -> None:
        """Record a snapshot and make its copy: linked files, copied metadata rows."""
        snapshot_id = self._db.execute(
            "INSERT INTO snapshots (dir, name, created) VALUES (?, ?, ?)",
            (hdfs_path, name, created),
        ).lastrowid
        assert snapshot_id is not None
        copy = self.snapshot_dir / str(snapshot_id)
        shutil.rmtree(copy, ignore_errors=True)
        self._link_tree(self._local(hdfs_path), copy, hdfs_path == "/")
        os.utime(copy, ns=(created * 1_000_000, created * 1_000_000))
        internal = f"/{SIDECAR}/snapshots/{snapshot_id}"
        prefix = hdfs_path.rstrip("/")
        self._db.execute(
            "INSERT OR REPLACE INTO meta SELECT ? || CASE WHEN path = ? THEN ''"
            " ELSE substr(path, length(?) + 1) END, owner, grp,"
            " permission, replication, block_size, acl, xattrs, atime, policy FROM meta"
            " WHERE (path = ? OR substr(path, 1, length(?) + 1) = ? || '/')"
            " AND substr(path, 1, length(?)) != ?",
            (
                internal,
                hdfs_path,
                prefix,
                hdfs_path,
                prefix,
                prefix,
                f"/{SIDECAR}/",
                f"/{SIDECAR}/",
            ),
        )

    def _link_tree(self, src: Path, dst: Path, is_root: bool) -> None:
        """Copy a directory tree with hard links for its files (directory times kept)."""
        os.mkdir(dst)
        with os.scandir(src) as it:
            entries = list(it)
        for entry in entries:
            if entry.is_symlink() or entry.name == SNAPSHOT_DIR:
                continue
            if is_root and entry.name == SIDECAR:
                continue
            if entry.is_dir():
                self._link_tree(Path(entry.path), dst / entry.name, False)
            else:
                os.link(entry.path, dst / entry.name)
        st = os.stat(src)
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))

    def delete_snapshot(self, hdfs_path: str, name: str) -> None:
        with self._lock:
            self._snapshottable_dir(hdfs_path)
            snapshot_id = self._snapshot_id(hdfs_path, name)
            if snapshot_id is None:
                raise SnapshotError(
                    f"Cannot delete snapshot {name} from path {hdfs_path}: the snapshot does "
                    "not exist."
                )
            internal = f"/{SIDECAR}/snapshots/{snapshot_id}"
            with self._db:  # one transaction (sqlite3 commits it, or rolls it back)
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM snapshots WHERE id=?", (snapshot_id,))
                self._db.execute(f"DELETE FROM meta WHERE {self._subtree_sql()}", (internal,) * 3)
            doomed = self.tmp_dir / f"deleted-{uuid.uuid4().hex}"
            os.rename(self.snapshot_dir / str(snapshot_id), doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def rename_snapshot(self, hdfs_path: str, old: str, new: str) -> None:
        _check_snapshot_name(new)
        with self._lock:
            self._snapshottable_dir(hdfs_path)
            snapshot_id = self._snapshot_id(hdfs_path, old)
            if snapshot_id is None:
                raise SnapshotError(f"The snapshot {old} does not exist for directory {hdfs_path}")
            if old == new:
                return
            if self._snapshot_id(hdfs_path, new) is not None:
                raise SnapshotError(f"The snapshot {new} already exists for directory {hdfs_path}")
            self._db.execute("UPDATE snapshots SET name=? WHERE id=?", (new, snapshot_id))

    def _check_no_snapshots_within(self, hdfs_path: str) -> None:
        rows = self._db.execute("SELECT DISTINCT dir FROM snapshots ORDER BY dir").fetchall()
        for row in rows:
            if is_within(row["dir"], hdfs_path):
                raise SnapshotError(
                    f"The directory {hdfs_path} cannot be deleted since {row['dir']} is "
                    "snapshottable and already has snapshots"
                )

    def _move_snapshottable(self, src: str, dst: str) -> None:
        for table, column in (("snapshottable", "path"), ("snapshots", "dir")):
            self._db.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, length(?) + 1) WHERE "
                f"({column} = ? OR substr({column}, 1, length(?) + 1) = ? || '/')",
                (dst, src, src, src, src),
            )

    def snapshottable_directories(self, user: str) -> dict[str, Any]:
        """GETSNAPSHOTTABLEDIRECTORYLIST: all for the superuser, else the user's own."""
        with self._lock:
            paths = [r["path"] for r in self._db.execute("SELECT path FROM snapshottable")]
        listing = []
        for path in sorted(paths):
            local, st = self._stat(path)
            status = self._status(path, path_parts(path)[-1] if path != "/" else "", local, st)
            if not self._is_superuser(user) and status["owner"] != user:
                continue
            listing.append(
                {
                    "dirStatus": status,
                    "parentFullPath": parent_path(path) if path != "/" else "",
                    "snapshotNumber": len(self._snapshots(path)),
                    "snapshotQuota": SNAPSHOT_QUOTA,
                }
            )
        return {"SnapshottableDirectoryList": listing or None}

    def snapshot_list(self, hdfs_path: str) -> dict[str, Any]:
        self._snapshottable_dir(hdfs_path)
        listing = []
        for snapshot_id, name, _ in self._snapshots(hdfs_path):
            path = join_path(join_path(hdfs_path, SNAPSHOT_DIR), name)
            local, st = self._stat(path)
            listing.append(
                {
                    "deletionStatus": "ACTIVE",
                    "dirStatus": self._status(path, name, local, st),
                    "fullPath": hdfs_path,
                    "snapshotID": snapshot_id,
                }
            )
        return {"SnapshotList": listing}

    def _tree(self, root: str) -> dict[str, TreeEntry]:
        """Every path under `root` (a directory or a snapshot) keyed relative to it."""
        tree = {}
        for path, st in self._walk_files(root):
            meta = dataclasses.replace(self._meta(path, st), atime=0)
            rel = path[len(root) :].lstrip("/")
            tree[rel] = TreeEntry(
                stat.S_ISDIR(st.st_mode), st.st_ino, st.st_size, st.st_mtime_ns, astuple(meta)
            )
        return tree

    def _diff_side(self, hdfs_path: str, name: str) -> str:
        if name in ("", "."):
            return hdfs_path
        if self._snapshot_id(hdfs_path, name) is None:
            raise SnapshotError(
                f"Cannot find the snapshot of directory {hdfs_path} with name {name}"
            )
        return join_path(join_path(hdfs_path, SNAPSHOT_DIR), name)

    def _diff(
        self, hdfs_path: str, old: str, new: str
    ) -> tuple[list[DiffEntry], dict[str, TreeEntry]]:
        with self._lock:
            self._snapshottable_dir(hdfs_path)
            before = self._tree(self._diff_side(hdfs_path, old))
            after = self._tree(self._diff_side(hdfs_path, new))
        return snapshot_diff(before, after), {**before, **after}

    def snapshot_diff_report(self, hdfs_path: str, old: str, new: str) -> dict[str, Any]:
        entries, _ = self._diff(hdfs_path, old, new)
        return {
            "SnapshotDiffReport": {
                "diffList": [e.to_json() for e in entries],
                "fromSnapshot": old,
                "snapshotRoot": hdfs_path,
                "toSnapshot": new,
            }
        }

    def snapshot_diff_listing(self, hdfs_path: str, old: str, new: str) -> dict[str, Any]:
        """GETSNAPSHOTDIFFLISTING: the whole diff as one page (lastIndex -1).

        Created and deleted entries point at their directory by `dirId`; a modified
        directory with such children is a reference to them (what Hadoop's
        SnapshotDiffReportGenerator joins on). Directory ids are stable per path.
        """
        entries, tree = self._diff(hdfs_path, old, new)
        parents = {_rel_parent(e.source) for e in entries if e.type != "MODIFY"}

        def dir_id(rel: str) -> int:
            return zlib.crc32(rel.encode()) + 1

        lists: dict[str, list[dict[str, Any]]] = {"CREATE": [], "DELETE": [], "MODIFY": []}
        for e in entries:
            is_dir = tree[e.source].is_dir
            item: dict[str, Any] = {
                "dirId": dir_id(
                    e.source if e.type == "MODIFY" and is_dir else _rel_parent(e.source)
                ),
                "fileId": dir_id(e.source) if is_dir else tree[e.source].inode,
                "isReference": e.type == "RENAME" or (e.type == "MODIFY" and e.source in parents),
                "sourcePath": e.source,
            }
            if e.target is not None:
                item["targetPath"] = e.target
            lists["DELETE" if e.type == "RENAME" else e.type].append(item)
        return {
            "SnapshotDiffReportListing": {
                "createList": lists["CREATE"],
                "deleteList": lists["DELETE"],
                "isFromEarlier": True,
                "lastIndex": -1,
                "lastPath": "",
                "modifyList": lists["MODIFY"],
            }
        }


def _rel_parent(rel: str) -> str:
    return rel.rpartition("/")[0]


def _check_snapshot_name(name: str) -> None:
    if not name or "/" in name or name in (".", ".."):
        raise HadoopIllegalArgument(f'Invalid snapshot name "{name}"')


def _acl_of(meta: Meta) -> Acl:
    entries = parse_spec(",".join(meta.acl)) if meta.acl else []
    return Acl(meta.mode, tuple(entries))


def user_groups(user: str) -> set[str]:
    """The user's groups on this host, as Hadoop's default ShellBasedUnixGroupsMapping finds."""
    groups = {g.gr_name for g in grp.getgrall() if user in g.gr_mem}
    with contextlib.suppress(KeyError):  # no such user on this host: no groups
        groups.add(grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name)
    return groups
