"""The HTTP edge: a threaded server that maps WebHDFS requests onto a Namespace."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from devstack.service import Service
from devstack.webhdfs.acl import (
    AclEntry,
    modify_acl_entries,
    parse_fsaction,
    parse_spec,
    remove_acl,
    remove_acl_entries,
    remove_default_acl,
    set_acl,
)
from devstack.webhdfs.core import (
    BLOCK_SIZE,
    EC_POLICIES,
    PREFIX,
    REPLICATION_EC_POLICY,
    SERVER_DEFAULTS,
    STORAGE_POLICIES,
    WRITE_OPS,
    HadoopIllegalArgument,
    IllegalArgument,
    InvalidToken,
    Meta,
    RemoteError,
    UnsupportedOperation,
    bool_param,
    check_op,
    ec_policy,
    hdfs_path_from_url,
    int_param,
    normalize_path,
    parse_query,
    permission_param,
    read_chunked,
    read_sized,
    user_param,
    xattr_decode,
)
from devstack.webhdfs.namespace import Namespace
from streamapp.errors import WordstreamError


class PortInUse(WordstreamError):
    """The port the server should listen on is taken."""


class _Internal(RemoteError):
    status = 500
    exception = "RuntimeException"
    java_class = "java.lang.RuntimeException"


class _Aborted(Exception):
    """The client stopped sending a request body halfway."""


def _process_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # no passwd entry, e.g. in a bare container
        return "webhdfs"


class _HttpServer(ThreadingHTTPServer):
    # Handler threads are joined on close, so stop() returns only when no
    # request is still touching the namespace.
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True  # SO_REUSEADDR: a restart may reuse the port at once

    namespace: Namespace

    def __init__(self, address: tuple[str, int], quiet: bool) -> None:
        self.quiet = quiet
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-request (a killed worker, a closed keep-alive
        # connection) is routine for a server, not a fault worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def drop_connections(self) -> None:
        """Cut every open connection, so clients see an outage rather than a hang."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, chunked uploads
    server: _HttpServer
    ns: Namespace
    timeout = 120  # an idle or stalled client frees its thread after this
    # Headers and body go out in separate writes; with Nagle's algorithm the body
    # would wait for the client's delayed ACK (tens of ms per request).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_message(format, *args)

    # --- plumbing -------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        self._body_read = not self._has_body()
        url = urlsplit(self.path)
        try:
            params = parse_query(url.query)
            path = hdfs_path_from_url(url.path)
            if path is None:
                self._send(404, f"Not a WebHDFS URL: use {PREFIX}/<path>?op=...\n".encode())
                return
            op = check_op(method, params.get("op", ""))
            self.ns = self.server.namespace
            self._query = url.query
            if op in WRITE_OPS:
                self.ns.check_writable(path)
            handler: Callable[[str, dict[str, str]], None] = getattr(self, "_op_" + op.lower())
            handler(path, params)
        except RemoteError as exc:
            self._json(exc.status, exc.to_json())
        except _Aborted:
            self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            self._json(500, _Internal(f"{type(exc).__name__}: {exc}").to_json())
        finally:
            if not self._body_read:
                # The body was not read (an early error, or data sent with step
                # one of a two-step op): the connection cannot be reused.
                self.close_connection = True

    def _has_body(self) -> bool:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return True
        length = self.headers.get("Content-Length") or "0"
        return not length.isdigit() or int(length) > 0

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection or not self._body_read:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _json(self, status: int, obj: dict[str, Any]) -> None:
        # No Content-Type on JSON replies, errors included. WebHdfsFileSystem.jsonParse
        # checks a Content-Type, when there is one, with javax.ws.rs MediaType; the
        # shaded hadoop-client-api in pip's pyspark has no JAX-RS implementation for
        # it, so every reply that names its type fails there with "Response decoding
        # failure: ClassNotFoundException: org.apache.hadoop.shaded.org.glassfish.
        # jersey.internal.RuntimeDelegateImpl". Without the header it parses the JSON.
        self._send(status, json.dumps(obj).encode())

    def _host(self) -> str:
        """host:port as the client reached us (the address redirects point to)."""
        host = self.headers.get("Host")
        if host:
            return host
        return f"{self.server.server_name}:{self.server.server_port}"

    def _hostname(self) -> str:
        return urlsplit("//" + self._host()).hostname or self.server.server_name

    def _redirect(self, path: str, params: dict[str, str]) -> None:
        """Step one of a two-step op: point the client at the data URL (this server)."""
        query = urlencode({**params, "data": "true"})
        location = f"http://{self._host()}{PREFIX}{quote(path, safe='/=')}?{query}"
        if bool_param(params, "noredirect", False):
            self._json(200, {"Location": location})
        else:
            self._send(307, headers={"Location": location})

    def _body(self) -> Iterator[bytes]:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = self.headers.get("Content-Length") or "0"
        if not chunked and not length.isdigit():
            raise IllegalArgument(f"Invalid Content-Length: {length!r}")
        try:
            if chunked:
                yield from read_chunked(self.rfile)
            else:
                yield from read_sized(self.rfile, int(length))
        except (ValueError, ConnectionError, TimeoutError) as exc:
            raise _Aborted(str(exc)) from exc
        self._body_read = True

    def _receive(self) -> Path:
        """The whole request body in a fsynced hidden temp file (removed on any failure)."""
        tmp, f = self.ns.new_temp()
        try:
            with f:
                for piece in self._body():
                    f.write(piece)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    # --- GET ------------------------------------------------------------------------

    def _op_open(self, path: str, params: dict[str, str]) -> None:
        offset = int_param(params, "offset", 0, minimum=0) or 0
        length = int_param(params, "length", None, minimum=0)
        int_param(params, "buffersize", None, minimum=1)
        f, count = self.ns.open_range(path, offset, length)
        with f:
            if not bool_param(params, "data", False):
                self._redirect(path, params)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(count))
            self.end_headers()
            if count:
                self.connection.sendfile(f, offset, count)

    def _op_getfilestatus(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.status(path))

    def _op_liststatus(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.list_status(path))

    def _op_liststatus_batch(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.list_status_batch(path, params.get("startafter", "")))

    def _op_getcontentsummary(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.content_summary(path))

    def _op_getfilechecksum(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.checksum(path))

    def _block_locations(self, path: str, params: dict[str, str], legacy: bool) -> None:
        offset = int_param(params, "offset", 0, minimum=0) or 0
        length = int_param(params, "length", None, minimum=0)
        port = int(self.server.server_address[1])
        self._json(
            200, self.ns.block_locations(path, offset, length, self._hostname(), port, legacy)
        )

    def _op_getfileblocklocations(self, path: str, params: dict[str, str]) -> None:
        self._block_locations(path, params, legacy=False)

    def _op_get_block_locations(self, path: str, params: dict[str, str]) -> None:
        self._block_locations(path, params, legacy=True)

    def _op_gethomedirectory(self, path: str, params: dict[str, str]) -> None:
        self._json(200, {"Path": f"/user/{user_param(params)}"})

    def _op_gettrashroot(self, path: str, params: dict[str, str]) -> None:
        self._json(200, {"Path": f"/user/{user_param(params)}/.Trash"})

    def _op_getaclstatus(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.acl_status(path))

    def _op_checkaccess(self, path: str, params: dict[str, str]) -> None:
        wanted = parse_fsaction(params.get("fsaction", ""))
        self.ns.check_access(path, user_param(params), wanted)
        self._send(200)

    def _op_getfilelinkstatus(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.status(path))  # no symbolic links: every path is itself

    def _op_getlinktarget(self, path: str, params: dict[str, str]) -> None:
        self.ns.status(path)
        raise RemoteError(f"Path {path} is not a symbolic link")

    def _op_getquotausage(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.quota_usage(path))

    def _op_getdelegationtoken(self, path: str, params: dict[str, str]) -> None:
        # Without security the NameNode runs no secret manager and hands out no token.
        self._json(200, {"Token": None})

    def _all(self, name: str) -> list[str]:
        """Every value of a repeated parameter (e.g. `xattr.name`)."""
        return [v for k, v in parse_qsl(self._query, keep_blank_values=True) if k.lower() == name]

    def _op_getxattrs(self, path: str, params: dict[str, str]) -> None:
        encoding = params.get("encoding", "").upper()
        if encoding not in ("", "TEXT", "HEX", "BASE64"):
            raise IllegalArgument(f'Invalid value for webhdfs parameter "encoding": {encoding}')
        names = [n for n in self._all("xattr.name") if n]
        self._json(200, self.ns.get_xattrs(path, names, encoding, user_param(params)))

    def _op_listxattrs(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.list_xattrs(path, user_param(params)))

    def _op_getallstoragepolicy(self, path: str, params: dict[str, str]) -> None:
        policies = [p.to_json() for p in STORAGE_POLICIES]
        self._json(200, {"BlockStoragePolicies": {"BlockStoragePolicy": policies}})

    def _op_getstoragepolicy(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.get_storage_policy(path))

    def _snapshot_names(self, params: dict[str, str]) -> tuple[str, str]:
        return params.get("oldsnapshotname", ""), params.get("snapshotname", "")

    def _op_getsnapshotdiff(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.snapshot_diff_report(path, *self._snapshot_names(params)))

    def _op_getsnapshotdifflisting(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.snapshot_diff_listing(path, *self._snapshot_names(params)))

    def _op_getsnapshottabledirectorylist(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.snapshottable_directories(user_param(params)))

    def _op_getsnapshotlist(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.snapshot_list(path))

    def _op_getecpolicy(self, path: str, params: dict[str, str]) -> None:
        self.ns.status(path)
        self._json(200, {"ErasureCodingPolicy": None})  # every path is replicated

    def _op_getecpolicies(self, path: str, params: dict[str, str]) -> None:
        self._json(200, EC_POLICIES)

    def _op_getserverdefaults(self, path: str, params: dict[str, str]) -> None:
        self._json(200, SERVER_DEFAULTS)

    def _op_getstatus(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.fs_status())

    # --- PUT ------------------------------------------------------------------------

    def _op_create(self, path: str, params: dict[str, str]) -> None:
        overwrite = bool_param(params, "overwrite", False)
        meta = Meta(
            owner=user_param(params),
            permission=permission_param(params, "644"),
            replication=int_param(params, "replication", 1, minimum=1) or 1,
            block_size=int_param(params, "blocksize", BLOCK_SIZE, minimum=1) or BLOCK_SIZE,
        )
        int_param(params, "buffersize", None, minimum=1)
        if not bool_param(params, "data", False):
            self.ns.check_create(path, overwrite)
            self._redirect(path, params)
            return
        tmp = self._receive()
        try:
            self.ns.commit_create(path, tmp, overwrite, meta)
        finally:
            tmp.unlink(missing_ok=True)
        self._send(201)

    def _op_mkdirs(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.mkdirs(path, user_param(params), permission_param(params, "755")))

    def _op_rename(self, path: str, params: dict[str, str]) -> None:
        destination = params.get("destination", "")
        if not destination.startswith("/"):
            raise IllegalArgument(f"Invalid parameter value: destination = {destination!r}")
        options = None
        if "renameoptions" in params:
            options = {o.strip().upper() for o in params["renameoptions"].split(",") if o.strip()}
            unknown = options - {"NONE", "OVERWRITE", "TO_TRASH"}
            if unknown:
                raise IllegalArgument(
                    f'Invalid value for webhdfs parameter "renameoptions": {sorted(unknown)}'
                )
        destination = normalize_path(destination)
        self.ns.check_writable(destination)
        result = self.ns.rename(path, destination, options)
        if result is None:
            self._send(200)
        else:
            self._json(200, result)

    def _op_setpermission(self, path: str, params: dict[str, str]) -> None:
        self.ns.set_permission(path, permission_param(params, "755"))
        self._send(200)

    def _op_setowner(self, path: str, params: dict[str, str]) -> None:
        self.ns.set_owner(path, params.get("owner", ""), params.get("group", ""))
        self._send(200)

    def _op_setreplication(self, path: str, params: dict[str, str]) -> None:
        replication = int_param(params, "replication", None, minimum=1)
        self._json(200, self.ns.set_replication(path, replication))

    def _op_settimes(self, path: str, params: dict[str, str]) -> None:
        mtime = int_param(params, "modificationtime", -1, minimum=-1)
        atime = int_param(params, "accesstime", -1, minimum=-1)
        self.ns.set_times(path, -1 if mtime is None else mtime, -1 if atime is None else atime)
        self._send(200)

    def _op_createsymlink(self, path: str, params: dict[str, str]) -> None:
        # FileSystem.areSymlinksEnabled() is false by default on a NameNode.
        raise UnsupportedOperation("Symlinks not supported")

    def _op_renewdelegationtoken(self, path: str, params: dict[str, str]) -> None:
        raise InvalidToken(f"Renewal request for unknown token {params.get('token', '')}")

    def _op_canceldelegationtoken(self, path: str, params: dict[str, str]) -> None:
        raise InvalidToken(f"Token not found {params.get('token', '')}")

    def _aclspec(self, params: dict[str, str], with_permissions: bool = True) -> list[AclEntry]:
        return parse_spec(params.get("aclspec", ""), with_permissions)

    def _op_setacl(self, path: str, params: dict[str, str]) -> None:
        spec = self._aclspec(params)
        self.ns.change_acl(path, lambda acl, is_dir: set_acl(acl, spec, is_dir))
        self._send(200)

    def _op_modifyaclentries(self, path: str, params: dict[str, str]) -> None:
        spec = self._aclspec(params)
        self.ns.change_acl(path, lambda acl, is_dir: modify_acl_entries(acl, spec, is_dir))
        self._send(200)

    def _op_removeaclentries(self, path: str, params: dict[str, str]) -> None:
        spec = self._aclspec(params, with_permissions=False)
        self.ns.change_acl(path, lambda acl, is_dir: remove_acl_entries(acl, spec, is_dir))
        self._send(200)

    def _op_removedefaultacl(self, path: str, params: dict[str, str]) -> None:
        self.ns.change_acl(path, lambda acl, is_dir: remove_default_acl(acl))
        self._send(200)

    def _op_removeacl(self, path: str, params: dict[str, str]) -> None:
        self.ns.change_acl(path, lambda acl, is_dir: remove_acl(acl))
        self._send(200)

    def _op_setxattr(self, path: str, params: dict[str, str]) -> None:
        flags = {f.strip().upper() for f in params.get("flag", "").split(",") if f.strip()}
        if flags - {"CREATE", "REPLACE"}:
            raise IllegalArgument(f'Invalid value for webhdfs parameter "flag": {params["flag"]}')
        value = xattr_decode(params.get("xattr.value", ""))
        name = params.get("xattr.name", "")
        self.ns.set_xattr(path, name, value, flags, user_param(params))
        self._send(200)

    def _op_removexattr(self, path: str, params: dict[str, str]) -> None:
        self.ns.remove_xattr(path, params.get("xattr.name", ""), user_param(params))
        self._send(200)

    def _op_allowsnapshot(self, path: str, params: dict[str, str]) -> None:
        self.ns.allow_snapshot(path)
        self._send(200)

    def _op_disallowsnapshot(self, path: str, params: dict[str, str]) -> None:
        self.ns.disallow_snapshot(path)
        self._send(200)

    def _op_createsnapshot(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.create_snapshot(path, params.get("snapshotname") or None))

    def _op_renamesnapshot(self, path: str, params: dict[str, str]) -> None:
        old, new = self._snapshot_names(params)
        self.ns.rename_snapshot(path, old, new)
        self._send(200)

    def _op_setstoragepolicy(self, path: str, params: dict[str, str]) -> None:
        name = params.get("storagepolicy", "")
        if not name:
            raise IllegalArgument("Policy name cannot be null or empty")
        self.ns.set_storage_policy(path, name)
        self._send(200)

    def _op_satisfystoragepolicy(self, path: str, params: dict[str, str]) -> None:
        self.ns.status(path)
        raise RemoteError(
            "Cannot request to satisfy storage policy when storage policy satisfier feature "
            "has been disabled by admin. Seek for an admin help to enable it or use Mover tool."
        )

    def _op_enableecpolicy(self, path: str, params: dict[str, str]) -> None:
        raise UnsupportedOperation(
            "Erasure coding needs several DataNodes; this dev server has one: "
            f"cannot enable {params.get('ecpolicy', '')}"
        )

    def _op_disableecpolicy(self, path: str, params: dict[str, str]) -> None:
        ec_policy(params.get("ecpolicy", ""))
        self._send(200)  # already disabled: nothing to do

    def _op_setecpolicy(self, path: str, params: dict[str, str]) -> None:
        self.ns.status(path)
        name = params.get("ecpolicy", "")
        if ec_policy(name)["name"] != REPLICATION_EC_POLICY:
            raise HadoopIllegalArgument(
                f"Policy '{name}' does not match any enabled erasure coding policies: "
                f"[{REPLICATION_EC_POLICY}]. An erasure coding policy can be enabled by "
                "enableErasureCodingPolicy API."
            )
        self._send(200)  # the replication policy: what every path has anyway

    # --- POST and DELETE --------------------------------------------------------------

    def _op_concat(self, path: str, params: dict[str, str]) -> None:
        sources = [normalize_path(s) for s in params.get("sources", "").split(",") if s]
        self.ns.concat(path, sources)
        self._send(200)

    def _op_unsetstoragepolicy(self, path: str, params: dict[str, str]) -> None:
        self.ns.set_storage_policy(path, None)
        self._send(200)

    def _op_unsetecpolicy(self, path: str, params: dict[str, str]) -> None:
        self.ns.status(path)
        raise RemoteError(f"No erasure coding policy explicitly set on {path}")

    def _op_deletesnapshot(self, path: str, params: dict[str, str]) -> None:
        self.ns.delete_snapshot(path, params.get("snapshotname", ""))
        self._send(200)

    def _op_append(self, path: str, params: dict[str, str]) -> None:
        int_param(params, "buffersize", None, minimum=1)
        if not bool_param(params, "data", False):
            self.ns.check_append(path)
            self._redirect(path, params)
            return
        with self.ns.spool() as body:
            for piece in self._body():
                body.write(piece)
            self.ns.commit_append(path, body)
        self._send(200)

    def _op_truncate(self, path: str, params: dict[str, str]) -> None:
        new_length = int_param(params, "newlength", None, minimum=0)
        if new_length is None:
            raise IllegalArgument('Invalid value for webhdfs parameter "newlength": missing')
        self._json(200, self.ns.truncate(path, new_length))

    def _op_delete(self, path: str, params: dict[str, str]) -> None:
        self._json(200, self.ns.delete(path, bool_param(params, "recursive", False)))


class WebHdfsServer(Service):
    """A WebHDFS server over `root`, run in background threads.

    Use as a context manager or call start()/stop(); port 0 picks a free port.
    """

    def __init__(
        self, root: Path, port: int = 9870, host: str = "127.0.0.1", quiet: bool = True
    ) -> None:
        self.root = Path(root)
        self.port = port
        self.host = host
        self.quiet = quiet
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> WebHdfsServer:
        if self._httpd is not None:
            return self
        try:
            httpd = _HttpServer((self.host, self.port), self.quiet)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {self.port} on {self.host} is already in use; start the server "
                    "with --port N and point clients at it with HDFS_URL=http://HOST:N"
                ) from None
            raise
        try:
            httpd.namespace = Namespace(self.root, default_owner=_process_user())
        except BaseException:
            httpd.server_close()
            raise
        self.port = int(httpd.server_address[1])
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"webhdfs-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, cut open connections and wait for running requests."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        httpd.namespace.close()
