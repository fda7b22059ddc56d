"""Run the dev WebHDFS server.

    python -m devstack.webhdfs [--root DIR] [--port 9870] [--host 127.0.0.1] [--verbose]

Defaults come from streamapp.config: DEV_HDFS_ROOT and the port of HDFS_URL.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

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

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(f"webhdfs: serving {root.resolve()} at {server.url}/webhdfs/v1/", flush=True)
    while not stopping.wait(1.0):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
