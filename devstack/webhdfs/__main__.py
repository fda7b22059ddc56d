"""Run the dev WebHDFS server.

    python -m devstack.webhdfs [--root DIR] [--port 9870] [--host 127.0.0.1] [--verbose]

Defaults come from streamapp.config: DEV_HDFS_ROOT and the port of HDFS_URL.
SIGTERM or SIGINT: keep serving while clients are connected (at most DEV_DRAIN_SECONDS),
then stop; a second signal stops at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from devstack.drain import Drain, client_connections
from devstack.webhdfs.server import WebHdfsServer
from streamapp.config import Settings
from streamapp.errors import WordstreamError


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except WordstreamError as exc:
        print(f"webhdfs: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="python -m devstack.webhdfs", description="Serve WebHDFS over a local directory."
    )
    parser.add_argument("--root", default=settings.dev_hdfs_root, help="directory to serve")
    parser.add_argument("--port", type=int, default=urlsplit(settings.hdfs_url).port or 9870)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    root = Path(args.root)
    server = WebHdfsServer(root, port=args.port, host=args.host, quiet=not args.verbose)
    try:
        root.mkdir(parents=True, exist_ok=True)
        server.start()
    except (WordstreamError, OSError) as exc:
        print(f"webhdfs: {exc}", file=sys.stderr)
        return 1

    # Stop only when the clients are done: a worker stopping at the same time still
    # commits its archive files here (devstack.drain).
    pid, port = os.getpid(), server.port
    drain = Drain("webhdfs", lambda: client_connections(pid, port), settings.dev_drain_seconds)
    drain.install()
    print(f"webhdfs: serving {root.resolve()} at {server.url}/webhdfs/v1/", flush=True)
    drain.requested.wait()
    drain.run()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
