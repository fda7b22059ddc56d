"""Stop a dev service only when its clients are done with it.

On the first SIGTERM or SIGINT a dev service (the broker launcher, the WebHDFS server)
keeps serving while any client still holds a TCP connection to its port, for at most
DEV_DRAIN_SECONDS, then stops. A worker told to stop at the same moment (Ctrl-C in
`honcho start`, a container runtime stopping everything) can so finish its last
archive files and offset commits. A second signal ends the wait at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import psutil

# Short enough that a service stops within a fraction of a second after its last
# client leaves; each poll reads only the serving process's own sockets.
POLL_SECONDS = 0.2


def _tcp_connections(pid: int) -> list[Any]:
    try:
        return psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def client_connections(pid: int, port: int) -> int:
    """Established TCP connections that process `pid` accepted on `port`.

    Connections opened by `pid` itself or by the calling process (the broker launcher's
    readiness probe) do not count: they would keep the service from ever finishing
    its drain.
    """
    conns = _tcp_connections(pid)
    own_ends = {c.laddr for c in conns}
    if pid != os.getpid():
        own_ends |= {c.laddr for c in _tcp_connections(os.getpid())}
    return sum(
        1
        for c in conns
        if c.status == psutil.CONN_ESTABLISHED
        and c.laddr
        and c.laddr.port == port
        and c.raddr not in own_ends
    )


class Drain:
    """The stop signals of a dev service and the wait for its clients.

    `install()` takes over SIGTERM and SIGINT; `requested` is set by the first one,
    `cut` by any later one.
    """

    def __init__(
        self,
        name: str,
        clients: Callable[[], int],
        max_seconds: float,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.clients = clients
        self.max_seconds = max_seconds
        self.requested = threading.Event()
        self.cut = threading.Event()
        self._log = log or (lambda line: print(line, flush=True))

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested.is_set():
            self.cut.set()
        self.requested.set()

    def run(self, alive: Callable[[], bool] = lambda: True) -> None:
        """Serve on until no client is connected, the bound passes, a second signal
        arrives or the service dies (`alive` turns false); log when it starts and ends."""
        open_now = self.clients()
        if open_now == 0 or self.max_seconds <= 0:
            self._log(f"{self.name}: stopping ({open_now} client connection(s) open)")
            return
        self._log(
            f"{self.name}: draining: {open_now} client connection(s) still open; serving "
            f"until they close, at most {self.max_seconds:g} s (DEV_DRAIN_SECONDS); "
            "signal again to stop now"
        )
        start = time.monotonic()
        deadline = start + self.max_seconds
        while True:
            if self.cut.wait(POLL_SECONDS):
                reason = "stopped by a second signal"
                break
            if not alive():
                reason = "the service exited"
                break
            open_now = self.clients()
            if open_now == 0:
                reason = "every client has disconnected"
                break
            if time.monotonic() >= deadline:
                reason = f"DEV_DRAIN_SECONDS passed with {open_now} connection(s) still open"
                break
        self._log(
            f"{self.name}: drain ended after {time.monotonic() - start:.1f} s: {reason}; stopping"
        )
