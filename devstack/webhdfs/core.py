"""The pure parts of the WebHDFS protocol: errors, parameters, paths and reply JSON.

Shapes and messages follow Apache Hadoop's WebHDFS REST API and what its Java
client (`WebHdfsFileSystem`, `JsonUtilClient`) parses.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, unquote

from streamapp.errors import WordstreamError

PREFIX = "/webhdfs/v1"
BLOCK_SIZE = 128 * 1024 * 1024  # dfs.blocksize default
BYTES_PER_CRC = 512  # dfs.bytes-per-checksum default
DEFAULT_GROUP = "supergroup"
# hadoop.http.staticuser.user: the user a request without user.name acts as.
ANONYMOUS_USER = "dr.who"
LIST_LIMIT = 1000  # dfs.ls.limit: entries per LISTSTATUS_BATCH reply
# The server's own state (metadata, upload temp files) lives in this directory at
# the top of the served root; it is never listed and no request may touch it.
SIDECAR = ".devstack-webhdfs"

OPS: dict[str, frozenset[str]] = {
    "GET": frozenset(
        {
            "OPEN",
            "GETFILESTATUS",
            "GETFILELINKSTATUS",
            "LISTSTATUS",
            "LISTSTATUS_BATCH",
            "GETCONTENTSUMMARY",
            "GETQUOTAUSAGE",
            "GETFILECHECKSUM",
            "GETFILEBLOCKLOCATIONS",
            "GET_BLOCK_LOCATIONS",
            "GETHOMEDIRECTORY",
            "GETTRASHROOT",
            "GETDELEGATIONTOKEN",
            "GETACLSTATUS",
            "CHECKACCESS",
            "GETXATTRS",
            "LISTXATTRS",
            "GETALLSTORAGEPOLICY",
            "GETSTORAGEPOLICY",
            "GETSNAPSHOTDIFF",
            "GETSNAPSHOTDIFFLISTING",
            "GETSNAPSHOTTABLEDIRECTORYLIST",
            "GETSNAPSHOTLIST",
            "GETECPOLICY",
            "GETECPOLICIES",
            "GETSERVERDEFAULTS",
            "GETLINKTARGET",
            "GETSTATUS",
        }
    ),
    "PUT": frozenset(
        {
            "CREATE",
            "MKDIRS",
            "CREATESYMLINK",
            "RENAME",
            "SETPERMISSION",
            "SETOWNER",
            "SETREPLICATION",
            "SETTIMES",
            "RENEWDELEGATIONTOKEN",
            "CANCELDELEGATIONTOKEN",
            "SETACL",
            "MODIFYACLENTRIES",
            "REMOVEACLENTRIES",
            "REMOVEDEFAULTACL",
            "REMOVEACL",
            "SETXATTR",
            "REMOVEXATTR",
            "ALLOWSNAPSHOT",
            "DISALLOWSNAPSHOT",
            "CREATESNAPSHOT",
            "RENAMESNAPSHOT",
            "SETSTORAGEPOLICY",
            "SATISFYSTORAGEPOLICY",
            "ENABLEECPOLICY",
            "DISABLEECPOLICY",
            "SETECPOLICY",
        }
    ),
    "POST": frozenset({"APPEND", "CONCAT", "TRUNCATE", "UNSETSTORAGEPOLICY", "UNSETECPOLICY"}),
    "DELETE": frozenset({"DELETE", "DELETESNAPSHOT"}),
}
# Ops that change the namespace: refused on a path inside a read-only snapshot.
WRITE_OPS = frozenset(
    {
        "CREATE",
        "MKDIRS",
        "CREATESYMLINK",
        "RENAME",
        "SETPERMISSION",
        "SETOWNER",
        "SETREPLICATION",
        "SETTIMES",
        "SETACL",
        "MODIFYACLENTRIES",
        "REMOVEACLENTRIES",
        "REMOVEDEFAULTACL",
        "REMOVEACL",
        "SETXATTR",
        "REMOVEXATTR",
        "SETSTORAGEPOLICY",
        "SATISFYSTORAGEPOLICY",
        "SETECPOLICY",
        "APPEND",
        "CONCAT",
        "TRUNCATE",
        "UNSETSTORAGEPOLICY",
        "UNSETECPOLICY",
        "DELETE",
        "ALLOWSNAPSHOT",
        "DISALLOWSNAPSHOT",
        "CREATESNAPSHOT",
        "RENAMESNAPSHOT",
        "DELETESNAPSHOT",
    }
)
# Hadoop names the enum of each method's operations after the method.
_OP_ENUM = {
    "GET": "GetOpParam",
    "PUT": "PutOpParam",
    "POST": "PostOpParam",
    "DELETE": "DeleteOpParam",
}


class RemoteError(WordstreamError):
    """An error sent to the client as Hadoop's RemoteException JSON (an IOException: 403)."""

    status = 403
    exception = "IOException"
    java_class = "java.io.IOException"

    def to_json(self) -> dict[str, Any]:
        return {
            "RemoteException": {
                "exception": self.exception,
                "javaClassName": self.java_class,
                "message": str(self),
            }
        }


class FileNotFound(RemoteError):
    status = 404
    exception = "FileNotFoundException"
    java_class = "java.io.FileNotFoundException"


class FileAlreadyExists(RemoteError):
    exception = "FileAlreadyExistsException"
    java_class = "org.apache.hadoop.fs.FileAlreadyExistsException"


class ParentNotDirectory(RemoteError):
    exception = "ParentNotDirectoryException"
    java_class = "org.apache.hadoop.fs.ParentNotDirectoryException"


class PathIsNotEmptyDirectory(RemoteError):
    exception = "PathIsNotEmptyDirectoryException"
    java_class = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"


class AccessControl(RemoteError):
    exception = "AccessControlException"
    java_class = "org.apache.hadoop.security.AccessControlException"


class IllegalArgument(RemoteError):
    status = 400
    exception = "IllegalArgumentException"
    java_class = "java.lang.IllegalArgumentException"


class HadoopIllegalArgument(RemoteError):
    status = 400
    exception = "HadoopIllegalArgumentException"
    java_class = "org.apache.hadoop.HadoopIllegalArgumentException"


class PathIsNotDirectory(RemoteError):
    exception = "PathIsNotDirectoryException"
    java_class = "org.apache.hadoop.fs.PathIsNotDirectoryException"


class SnapshotError(RemoteError):
    exception = "SnapshotException"
    java_class = "org.apache.hadoop.hdfs.protocol.SnapshotException"


class SnapshotAccessControl(RemoteError):
    exception = "SnapshotAccessControlException"
    java_class = "org.apache.hadoop.hdfs.protocol.SnapshotAccessControlException"


class InvalidToken(RemoteError):
    exception = "InvalidToken"
    java_class = "org.apache.hadoop.security.token.SecretManager$InvalidToken"


class UnsupportedOperation(RemoteError):
    status = 400
    exception = "UnsupportedOperationException"
    java_class = "java.lang.UnsupportedOperationException"


def check_op(method: str, op: str) -> str:
    """The upper-cased op if `method` supports it, else Hadoop's enum-lookup error."""
    name = op.upper()
    if name not in OPS.get(method, frozenset()):
        enum = _OP_ENUM.get(method, "HttpOpParam")
        raise IllegalArgument(
            'Invalid value for webhdfs parameter "op": No enum constant '
            f"org.apache.hadoop.hdfs.web.resources.{enum}.Op.{name}"
        )
    return name


# --- Parameters ---------------------------------------------------------------------


def parse_query(query: str) -> dict[str, str]:
    """Query parameters with lower-cased names (Hadoop's ParamFilter does the same)."""
    return {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}


def _invalid(name: str, detail: str) -> IllegalArgument:
    return IllegalArgument(f'Invalid value for webhdfs parameter "{name}": {detail}')


def bool_param(params: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean parameter, case-insensitive (`True` is what the `hdfs` package sends)."""
    raw = params.get(name, "")
    if raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise _invalid(name, f'Failed to parse "{raw}" to Boolean.')


def int_param(
    params: Mapping[str, str], name: str, default: int | None, minimum: int | None = None
) -> int | None:
    """An integer parameter (None if absent and no default); below `minimum` is a 400."""
    raw = params.get(name, "")
    if raw == "" or raw.lower() == "null":
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise _invalid(name, f'Failed to parse "{raw}" as a radix-10 long integer.') from None
    if minimum is not None and value < minimum:
        raise _invalid(name, f'Invalid value: "{name}" = {value} < {minimum}')
    return value


_PERMISSION = re.compile(r"^[01]?[0-7]{3}$")


def permission_param(params: Mapping[str, str], default: str) -> str:
    """An octal permission such as `755` (three digits, optional sticky bit)."""
    raw = params.get("permission", "")
    if raw == "":
        return default
    if not _PERMISSION.match(raw):
        raise _invalid("permission", f'Invalid value: "{raw}" does not match {_PERMISSION.pattern}')
    return raw.lstrip("0").rjust(3, "0") if len(raw) == 4 else raw


def user_param(params: Mapping[str, str]) -> str:
    """The acting user: `doas`, else `user.name`, else Hadoop's static web user."""
    return params.get("doas") or params.get("user.name") or ANONYMOUS_USER


# --- Paths --------------------------------------------------------------------------


def hdfs_path_from_url(raw_path: str) -> str | None:
    """The normalised HDFS path of a raw (still percent-encoded) URL path.

    None if the URL is not under /webhdfs/v1. `.`/`..` components, encoded
    slashes and NUL bytes are refused: each could name something outside the root
    or something else than what a reader of the URL would think.
    """
    if raw_path != PREFIX and not raw_path.startswith(PREFIX + "/"):
        return None
    rest = raw_path[len(PREFIX) :]
    lowered = rest.lower()
    if "%2f" in lowered or "%5c" in lowered:
        raise AccessControl(f"Invalid path {rest!r}: encoded slashes are not allowed")
    try:
        decoded = unquote(rest, errors="strict")
    except UnicodeDecodeError:
        raise IllegalArgument(f"Invalid path {rest!r}: not UTF-8") from None
    return normalize_path(decoded or "/")


def normalize_path(path: str) -> str:
    """An absolute HDFS path without empty components; `.`, `..` and NUL are refused."""
    if not path.startswith("/"):
        raise IllegalArgument(f"Invalid path {path!r}: it must be absolute")
    parts = [p for p in path.split("/") if p]
    for part in parts:
        if part in (".", "..") or "\0" in part:
            raise AccessControl(f"Invalid path {path!r}: it may not contain {part!r}")
    return "/" + "/".join(parts)


def path_parts(hdfs_path: str) -> list[str]:
    """The components of a normalised absolute HDFS path (`/` has none)."""
    return [p for p in hdfs_path.split("/") if p]


def local_path(root: Path, hdfs_path: str, internal: bool = False) -> Path:
    """The file under `root` (a resolved directory) that `hdfs_path` names.

    Refuses the server's sidecar directory (unless `internal`: a path the server
    made itself, such as the copy of a snapshot) and any path through a symbolic
    link, which could lead outside the root.
    """
    parts = path_parts(hdfs_path)
    if parts and parts[0] == SIDECAR and not internal:
        raise AccessControl(f"Permission denied: {hdfs_path} is reserved by the server")
    candidate = root
    for i, part in enumerate(parts):
        candidate = candidate / part
        try:
            is_link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return candidate.joinpath(*parts[i + 1 :])  # nothing further exists to follow
        if is_link:
            raise AccessControl(f"Permission denied: {hdfs_path} goes through a symbolic link")
    return candidate


def parent_path(hdfs_path: str) -> str:
    """The parent of an HDFS path (`/` is its own parent)."""
    parts = path_parts(hdfs_path)
    return "/" + "/".join(parts[:-1])


def join_path(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def is_within(path: str, ancestor: str) -> bool:
    """True if `path` is `ancestor` or lies under it."""
    return ancestor == "/" or path == ancestor or path.startswith(ancestor + "/")


# --- Replies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    """What HDFS keeps about a path that a local file system does not."""

    owner: str
    group: str = DEFAULT_GROUP
    permission: str = "644"
    replication: int = 1
    block_size: int = BLOCK_SIZE
    acl: tuple[str, ...] = ()  # the ACL's feature entries (see devstack.webhdfs.acl)
    xattrs: tuple[tuple[str, str], ...] = ()  # (prefixed name, value as hex), sorted
    atime: int = 0  # a directory's access time (ms); a file's is its inode's
    storage_policy: int = 0  # 0: unspecified (inherited)

    @property
    def mode(self) -> int:
        return int(self.permission, 8)


def permission_string(mode: int) -> str:
    """Octal permission as WebHDFS writes it (`755`, `1777`)."""
    return format(mode & 0o1777, "03o")


def file_status(
    name: str,
    st: os.stat_result,
    meta: Meta,
    children: int = 0,
    snapshot_enabled: bool = False,
    storage_policy: int = 0,
) -> dict[str, Any]:
    """One FileStatus object as Hadoop's JsonUtil writes it (`name` is the pathSuffix)."""
    is_dir = stat.S_ISDIR(st.st_mode)
    status: dict[str, Any] = {
        "accessTime": meta.atime if is_dir else st.st_atime_ns // 1_000_000,
        "blockSize": 0 if is_dir else meta.block_size,
        "childrenNum": children,
        "fileId": st.st_ino,
        "group": meta.group,
        "length": 0 if is_dir else st.st_size,
        "modificationTime": st.st_mtime_ns // 1_000_000,
        "owner": meta.owner,
        "pathSuffix": name,
        "permission": meta.permission,
        "replication": 0 if is_dir else meta.replication,
        "storagePolicy": storage_policy,
        "type": "DIRECTORY" if is_dir else "FILE",
    }
    if meta.acl:
        status["aclBit"] = True
    if snapshot_enabled:
        status["snapshotEnabled"] = True
    return status


def file_statuses(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    return {"FileStatuses": {"FileStatus": statuses}}


def directory_listing(statuses: list[dict[str, Any]], remaining: int) -> dict[str, Any]:
    return {
        "DirectoryListing": {
            "partialListing": file_statuses(statuses),
            "remainingEntries": remaining,
        }
    }


def batch_after(
    names: list[str], start_after: str, limit: int = LIST_LIMIT
) -> tuple[list[str], int]:
    """The next page of sorted `names` after `start_after`, and how many remain after it."""
    rest = [n for n in names if n > start_after] if start_after else names
    return rest[:limit], max(0, len(rest) - limit)


def content_summary(length: int, files: int, dirs: int, replication_bytes: int) -> dict[str, Any]:
    return {
        "ContentSummary": {
            "directoryCount": dirs,
            "fileCount": files,
            "length": length,
            "quota": -1,
            "spaceConsumed": replication_bytes,
            "spaceQuota": -1,
            "typeQuota": {},
        }
    }


def block_ranges(size: int, block_size: int, offset: int, length: int) -> list[tuple[int, int]]:
    """(offset, length) of the blocks of a `size`-byte file overlapping [offset, offset+length)."""
    if block_size <= 0:
        raise ValueError("block_size must be positive")
    end = min(size, offset + length)
    blocks = []
    start = (offset // block_size) * block_size
    while start < end:
        blocks.append((start, min(block_size, size - start)))
        start += block_size
    return blocks


def block_locations(blocks: list[tuple[int, int]], host: str, port: int) -> dict[str, Any]:
    """GETFILEBLOCKLOCATIONS: every block lives on this one server."""
    name = f"{host}:{port}"
    return {
        "BlockLocations": {
            "BlockLocation": [
                {
                    "cachedHosts": [],
                    "corrupt": False,
                    "hosts": [host],
                    "length": length,
                    "names": [name],
                    "offset": offset,
                    "storageIds": ["DS-devstack"],
                    "storageTypes": ["DISK"],
                    "topologyPaths": [f"/default-rack/{name}"],
                }
                for offset, length in blocks
            ]
        }
    }


def _datanode(host: str, port: int) -> dict[str, Any]:
    return {
        "adminState": "NORMAL",
        "blockPoolUsed": 0,
        "cacheCapacity": 0,
        "cacheUsed": 0,
        "capacity": 0,
        "dfsUsed": 0,
        "hostName": host,
        "infoPort": port,
        "infoSecurePort": 0,
        "ipAddr": host,
        "ipcPort": port,
        "lastUpdate": 0,
        "lastUpdateMonotonic": 0,
        "name": f"{host}:{port}",
        "networkLocation": "/default-rack",
        "remaining": 0,
        "storageID": "DS-devstack",
        "xceiverCount": 0,
        "xferPort": port,
    }


def located_blocks(
    file_id: int, size: int, blocks: list[tuple[int, int]], host: str, port: int
) -> dict[str, Any]:
    """GET_BLOCK_LOCATIONS (the older LocatedBlocks shape)."""
    located = [
        {
            "block": {
                "blockId": file_id * 4096 + offset // BLOCK_SIZE,
                "blockPoolId": "BP-devstack",
                "generationStamp": 1,
                "numBytes": length,
            },
            # An empty token, as Token.encodeToUrlString() writes it.
            "blockToken": {"urlString": "AAAAAA"},
            "cachedLocations": [],
            "isCorrupt": False,
            "locations": [_datanode(host, port)],
            "startOffset": offset,
            "storageTypes": ["DISK"],
        }
        for offset, length in blocks
    ]
    return {
        "LocatedBlocks": {
            "fileLength": size,
            "isLastBlockComplete": True,
            "isUnderConstruction": False,
            "lastLocatedBlock": located[-1] if located else None,
            "locatedBlocks": located,
        }
    }


def md5_md5_crc32(data: Iterable[bytes], block_size: int) -> tuple[str, bytes]:
    """HDFS's MD5-of-MD5-of-CRC32 file checksum of a byte stream: (algorithm, bytes).

    CRC32 (not HDFS's default CRC32C, which the standard library lacks) over each
    512-byte chunk; MD5 of each block's CRCs; MD5 of the block MD5s.
    """
    block_md5s = []
    crcs = bytearray()
    in_block = 0
    pending = b""
    for piece in data:
        pending += piece
        while len(pending) >= BYTES_PER_CRC:
            chunk, pending = pending[:BYTES_PER_CRC], pending[BYTES_PER_CRC:]
            crcs += struct.pack(">I", zlib.crc32(chunk))
            in_block += len(chunk)
            if in_block >= block_size:
                block_md5s.append(hashlib.md5(crcs).digest())
                crcs, in_block = bytearray(), 0
    if pending:
        crcs += struct.pack(">I", zlib.crc32(pending))
    if crcs:
        block_md5s.append(hashlib.md5(crcs).digest())
    # Hadoop reports crcPerBlock only for files of more than one block.
    crc_per_block = block_size // BYTES_PER_CRC if len(block_md5s) > 1 else 0
    file_md5 = hashlib.md5(b"".join(block_md5s)).digest()
    algorithm = f"MD5-of-{crc_per_block}MD5-of-{BYTES_PER_CRC}CRC32"
    return algorithm, struct.pack(">iq", BYTES_PER_CRC, crc_per_block) + file_md5


def file_checksum(algorithm: str, raw: bytes) -> dict[str, Any]:
    return {"FileChecksum": {"algorithm": algorithm, "bytes": raw.hex(), "length": len(raw)}}


def boolean(value: bool) -> dict[str, Any]:
    return {"boolean": value}


# --- Extended attributes --------------------------------------------------------------

XATTR_NAMESPACES = ("user", "trusted", "security", "system", "raw")


def xattr_name(raw: str) -> str:
    """A prefixed xattr name with its namespace lower-cased, as the NameNode keeps it."""
    prefix, dot, rest = raw.partition(".")
    if not dot or not rest or prefix.lower() not in XATTR_NAMESPACES:
        raise HadoopIllegalArgument(
            "An XAttr name must be prefixed with user/trusted/security/system/raw, "
            "followed by a '.'"
        )
    return f"{prefix.lower()}.{rest}"


def xattr_decode(raw: str) -> bytes:
    """An `xattr.value`: `"text"`, `0x` hex or `0s` base64 (XAttrCodec.decodeValue)."""
    try:
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            return raw[1:-1].encode()
        if raw[:2].lower() == "0x":
            return bytes.fromhex(raw[2:])
        if raw[:2].lower() == "0s":
            return base64.b64decode(raw[2:], validate=True)
    except ValueError:
        raise IllegalArgument(f'Invalid value for webhdfs parameter "xattr.value": {raw}') from None
    return raw.encode()


def xattr_encode(value: bytes, encoding: str) -> str:
    """A value as GETXATTRS writes it for `encoding` (text, hex or base64)."""
    if encoding == "HEX":
        return "0x" + value.hex()
    if encoding == "BASE64":
        return "0s" + base64.b64encode(value).decode()
    return '"' + value.decode("utf-8", errors="replace") + '"'


# --- Storage policies -----------------------------------------------------------------


@dataclass(frozen=True)
class StoragePolicy:
    """One of HDFS's built-in block storage policies (BlockStoragePolicySuite)."""

    id: int
    name: str
    storage_types: tuple[str, ...]
    creation_fallbacks: tuple[str, ...]
    replication_fallbacks: tuple[str, ...]
    copy_on_create_file: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "copyOnCreateFile": self.copy_on_create_file,
            "creationFallbacks": list(self.creation_fallbacks),
            "id": self.id,
            "name": self.name,
            "replicationFallbacks": list(self.replication_fallbacks),
            "storageTypes": list(self.storage_types),
        }


STORAGE_POLICIES = (
    StoragePolicy(1, "PROVIDED", ("PROVIDED", "DISK"), ("PROVIDED", "DISK"), ("PROVIDED", "DISK")),
    StoragePolicy(2, "COLD", ("ARCHIVE",), (), ()),
    StoragePolicy(5, "WARM", ("DISK", "ARCHIVE"), ("DISK", "ARCHIVE"), ("DISK", "ARCHIVE")),
    StoragePolicy(7, "HOT", ("DISK",), (), ("ARCHIVE",)),
    StoragePolicy(10, "ONE_SSD", ("SSD", "DISK"), ("SSD", "DISK"), ("SSD", "DISK")),
    StoragePolicy(12, "ALL_SSD", ("SSD",), ("DISK",), ("DISK",)),
    StoragePolicy(14, "ALL_NVDIMM", ("NVDIMM",), ("DISK",), ("DISK",)),
    StoragePolicy(15, "LAZY_PERSIST", ("RAM_DISK", "DISK"), ("DISK",), ("DISK",), True),
)
DEFAULT_STORAGE_POLICY = 7  # HOT


def storage_policy(key: int | str) -> StoragePolicy:
    """A built-in policy by id or (case-insensitive) name."""
    for policy in STORAGE_POLICIES:
        if policy.id == key or (isinstance(key, str) and policy.name == key.upper()):
            return policy
    raise HadoopIllegalArgument(f"Cannot find a block policy with the name {key}")


# --- Request bodies -----------------------------------------------------------------


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...


def read_chunked(rfile: Readable) -> Iterator[bytes]:
    """The decoded pieces of an HTTP/1.1 chunked body; a malformed one raises ValueError."""
    while True:
        line = rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise ValueError("truncated chunked body")
        size = int(line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                pass  # trailers carry nothing WebHDFS uses
            return
        remaining = size
        while remaining:
            piece = rfile.read(min(remaining, 1 << 16))
            if not piece:
                raise ValueError("truncated chunked body")
            remaining -= len(piece)
            yield piece
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise ValueError("malformed chunked body")


def read_sized(rfile: Readable, length: int) -> Iterator[bytes]:
    """A body of exactly `length` bytes; a short one raises ValueError."""
    remaining = length
    while remaining:
        piece = rfile.read(min(remaining, 1 << 16))
        if not piece:
            raise ValueError(f"body ended {remaining} bytes short of Content-Length")
        remaining -= len(piece)
        yield piece


# --- Snapshot diffs -------------------------------------------------------------------

SNAPSHOT_DIR = ".snapshot"  # the reserved name under which a directory's snapshots appear


class TreeEntry(NamedTuple):
    """What a snapshot diff compares of one path (relative to the snapshot root)."""

    is_dir: bool
    inode: int  # a file keeps its inode until it is modified (copy-on-write)
    size: int
    mtime_ns: int
    meta: tuple[Any, ...]


class DiffEntry(NamedTuple):
    type: str  # CREATE, MODIFY, DELETE or RENAME
    source: str
    target: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"sourcePath": self.source, "type": self.type}
        if self.target is not None:
            entry["targetPath"] = self.target
        return entry


def _rel_parent(rel: str) -> str:
    return rel.rpartition("/")[0]


def snapshot_diff(old: Mapping[str, TreeEntry], new: Mapping[str, TreeEntry]) -> list[DiffEntry]:
    """HDFS's snapshot diff report of two trees keyed by relative path (`""` is the root).

    Only the topmost created or deleted path of a subtree is reported; a file found
    under another name with the same inode is a rename; the directories holding a
    change are modified.
    """
    deleted = {p for p in old if p not in new}
    created = {p for p in new if p not in old}
    created_files = {new[p].inode: p for p in sorted(created) if not new[p].is_dir}
    renames: dict[str, str] = {}
    for p in sorted(deleted):
        if not old[p].is_dir and old[p].inode in created_files:
            renames[p] = created_files.pop(old[p].inode)
    deleted -= renames.keys()
    created -= set(renames.values())
    deleted = {p for p in deleted if p == "" or _rel_parent(p) not in deleted}
    created = {p for p in created if p == "" or _rel_parent(p) not in created}
    modified = set()
    for p in old.keys() & new.keys():
        a, b = old[p], new[p]
        if a.meta != b.meta or (
            not a.is_dir and (a.inode, a.size, a.mtime_ns) != (b.inode, b.size, b.mtime_ns)
        ):
            modified.add(p)
    for p in (*deleted, *created, *renames, *renames.values()):
        parent = _rel_parent(p)
        if parent in old and parent in new:
            modified.add(parent)
    entries = [(p, 0, DiffEntry("MODIFY", p)) for p in modified]
    entries += [(_rel_parent(p), 1, DiffEntry("CREATE", p)) for p in created]
    entries += [(_rel_parent(p), 2, DiffEntry("DELETE", p)) for p in deleted]
    entries += [(_rel_parent(p), 3, DiffEntry("RENAME", p, q)) for p, q in renames.items()]
    return [e for _, _, e in sorted(entries, key=lambda x: (x[0], x[1], x[2].source))]


# --- Server defaults and erasure coding ------------------------------------------------

SERVER_DEFAULTS: dict[str, Any] = {
    "FsServerDefaults": {
        "blockSize": BLOCK_SIZE,
        "bytesPerChecksum": BYTES_PER_CRC,
        "checksumType": 1,  # DataChecksum.Type.CRC32: what GETFILECHECKSUM computes here
        "defaultStoragePolicyId": 7,
        "encryptDataTransfer": False,
        "fileBufferSize": 4096,
        "keyProviderUri": "",  # no KMS: no encryption zones
        "replication": 1,  # what CREATE gives a file without `replication`
        "trashInterval": 0,  # trash is the client's business (the hdfs package's skip_trash)
        "writePacketSize": 65536,
    }
}
REPLICATION_EC_POLICY = "replication"


def _ec(policy_id: int, name: str, codec: str, data: int, parity: int, cell: int) -> dict[str, Any]:
    return {
        "cellSize": cell,
        "codecName": codec,
        "id": policy_id,
        "name": name,
        "numDataUnits": data,
        "numParityUnits": parity,
        "replicationPolicy": codec == REPLICATION_EC_POLICY,
        "schema": {
            "codecName": codec,
            "extraOptions": {},
            "numDataUnits": data,
            "numParityUnits": parity,
        },
        "systemPolicy": True,
    }


# HDFS's system erasure coding policies. With one DataNode none can be enabled:
# only the replication policy (what every path here has) is.
_EC_SYSTEM_POLICIES = (
    _ec(1, "RS-6-3-1024k", "rs", 6, 3, 1 << 20),
    _ec(2, "RS-3-2-1024k", "rs", 3, 2, 1 << 20),
    _ec(3, "RS-LEGACY-6-3-1024k", "rs-legacy", 6, 3, 1 << 20),
    _ec(4, "XOR-2-1-1024k", "xor", 2, 1, 1 << 20),
    _ec(5, "RS-10-4-1024k", "rs", 10, 4, 1 << 20),
    _ec(63, REPLICATION_EC_POLICY, REPLICATION_EC_POLICY, 1, 2, 1024),
)
EC_POLICIES: dict[str, Any] = {
    "ErasureCodingPolicies": {
        "ErasureCodingPolicyInfo": [
            {
                "policy": p,
                "state": "ENABLED" if p["name"] == REPLICATION_EC_POLICY else "DISABLED",
            }
            for p in _EC_SYSTEM_POLICIES
        ]
    }
}


def ec_policy(name: str) -> dict[str, Any]:
    """A system erasure coding policy by name."""
    for policy in _EC_SYSTEM_POLICIES:
        if policy["name"] == name:
            return policy
    raise HadoopIllegalArgument(f"The policy name {name} does not exist")
