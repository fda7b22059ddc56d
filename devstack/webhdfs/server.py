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
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from devstack.webhdfs.core import (
    BLOCK_SIZE,
    PREFIX,
    IllegalArgument,
    Meta,
    RemoteError,
    bool_param,
    check_op,
    hdfs_path_from_url,
    int_param,
    normalize_path,
    parse_query,
    permission_param,
    read_chunked,
    read_sized,
    user_param,
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
        self.ns.status(path)
        self._send(200)

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
        result = self.ns.rename(path, normalize_path(destination), options)
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

    # --- POST and DELETE --------------------------------------------------------------

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


class WebHdfsServer:
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

    def __enter__(self) -> WebHdfsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
