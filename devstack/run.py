"""Run a Procfile as `honcho start` does, but stop it in order and give it time.

    python -m devstack.run [-f Procfile.dev] [--last broker,hdfs] [PROCESS ...]

`make run` uses this. The `--last` processes (the dev services) start first; the
others start once the ports of KAFKA_BOOTSTRAP and HDFS_URL accept connections (or
after --ready-timeout seconds). On Ctrl-C (SIGINT) or SIGTERM, or when one process
exits:

1. every process except the `--last` ones (the dev services) gets SIGTERM;
2. once those have exited, the `--last` ones get SIGTERM, so the broker and the
   WebHDFS server outlive the worker's final flush;
3. whatever still runs DEV_STOP_GRACE_SECONDS (default 90) after step 1 is SIGKILLed.

A second Ctrl-C SIGKILLs every process at once. `honcho start -f Procfile.dev`
still works; it signals every process at the same moment and SIGKILLs the survivors
after 5 s (its manager's fixed KILL_WAIT).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import honcho.manager
from honcho import environ
from honcho.manager import Manager
from honcho.printer import Printer

from devstack.broker import bootstrap_port
from devstack.ports import port_in_use
from streamapp.config import Settings
from streamapp.errors import WordstreamError

# What `make run` stops last: the dev services the others write to.
DEFAULT_LAST = "broker,hdfs"


class OrderedManager(Manager):
    """honcho's Manager with an ordered stop and a grace period of our choosing."""

    returncode: int | None

    def __init__(
        self,
        printer: Printer,
        grace: float,
        last: set[str],
        ready: list[tuple[str, int]] | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        super().__init__(printer)
        self.grace = grace
        self.last = last
        self.ready = ready or []
        self.ready_timeout = ready_timeout
        self._stop_started: float | None = None
        self._last_signalled = False
        self._killed = False
        self._signals = 0
        self._signal_name = ""
        self._held: list[Any] = []

    def loop(self) -> None:
        # honcho reads its SIGKILL delay from this module constant (its CLI cannot set
        # it); our own deadline below takes over, so honcho's must not come first.
        saved = honcho.manager.KILL_WAIT
        honcho.manager.KILL_WAIT = self.grace + 1
        try:
            super().loop()
        finally:
            honcho.manager.KILL_WAIT = saved

    def _start(self) -> None:
        # Manager.loop() installs its signal handlers right before it calls _start():
        # ours replace them to count signals (the second one kills).
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        first = {n: p for n, p in self._processes.items() if self._is_last(n)}
        rest = {n: p for n, p in self._processes.items() if n not in first}
        self._start_some(first)
        if first and rest:
            self._wait_ready(first)
        if self._signals or any(not p["process"].is_alive() for p in first.values()):
            # Stopped, or a service failed, before the services were up: start no more.
            for n in rest:
                del self._processes[n]
            return
        self._start_some(rest)

    def _start_some(self, processes: dict[str, dict[str, Any]]) -> None:
        for name, p in processes.items():
            p["process"] = multiprocessing.Process(
                name=name, target=p["obj"].run, args=(self.events, True)
            )
            p["process"].start()

    def _wait_ready(self, services: dict[str, dict[str, Any]]) -> None:
        """Wait until every `ready` address accepts connections, a signal, a service's
        exit or the timeout."""
        deadline = time.monotonic() + self.ready_timeout
        pending = list(self.ready)
        while pending and not self._signals:
            if any(not p["process"].is_alive() for p in services.values()):
                return
            if time.monotonic() > deadline:
                where = ", ".join(f"{h}:{p}" for h, p in pending)
                self._system_print(
                    f"{where} not up after {self.ready_timeout:g} s; starting the rest anyway\n"
                )
                return
            pending = [(h, p) for h, p in pending if not port_in_use(h, p)]
            self._show_output(0.1)
        for msg in self._held:  # exits: Manager.loop() acts on them
            self.events.put(msg)

    def _show_output(self, timeout: float) -> None:
        """While Manager.loop() has not begun: print the services' lines as they come
        and record their pids, as the loop would; keep their exits for the loop."""
        try:
            msg = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        if msg.type == "line":
            self._printer.write(msg)
        elif msg.type == "start":
            self._processes[msg.name]["pid"] = msg.data["pid"]
            self._system_print(f"{msg.name} started (pid={msg.data['pid']})\n")
        else:
            self._held.append(msg)

    def _is_last(self, name: str) -> bool:
        return name.rsplit(".", 1)[0] in self.last

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signals += 1
        self._signal_name = signal.Signals(signum).name
        if self.returncode is None:
            self.returncode = 128 + signum
        # While processes are starting the loop has no pids yet: _advance() acts later.
        if self._all_started():
            self._act_on_signals()

    def _act_on_signals(self) -> None:
        """The first signal starts the ordered stop; a second one kills everything."""
        if self._signals >= 1 and self._stop_started is None:
            self._system_print(
                f"{self._signal_name} received: stopping the other processes first, then "
                f"{', '.join(sorted(self.last))}; SIGKILL after {self.grace:g} s "
                "(DEV_STOP_GRACE_SECONDS); again to kill now\n"
            )
            self.terminate()
        if self._signals >= 2 and not self._killed:
            self._system_print(f"{self._signal_name} received again: killing every process now\n")
            self.kill()

    def _running(self, last: bool) -> list[str]:
        return [
            n
            for n, p in self._processes.items()
            if "returncode" not in p and self._is_last(n) == last
        ]

    def _signal_all(self, names: list[str], force: bool) -> None:
        for n in names:
            pid = self._processes[n]["pid"]
            self._system_print(f"sending {'SIGKILL' if force else 'SIGTERM'} to {n} (pid {pid})\n")
            if force:
                self._procmgr.kill(pid)
            else:
                self._procmgr.terminate(pid)

    def _killall(self, force: bool = False) -> None:
        """honcho's terminate() and kill() end here: SIGTERM goes to the first group only."""
        if force:
            if self._killed:  # honcho's loop repeats kill() until every process is reaped
                return
            self._killed = True
            self._signal_all(self._running(False) + self._running(True), force=True)
            return
        self._stop_started = time.monotonic()
        self._signal_all(self._running(False), force=False)
        self._advance()

    def _advance(self) -> None:
        """Move the ordered stop on: SIGTERM to the last group once the others are gone,
        SIGKILL to everything once the grace period has passed."""
        if self._signals and self._all_started():
            self._act_on_signals()  # signals that came while the processes were starting
        if self._stop_started is None or self._killed:
            return
        if not self._last_signalled and not self._running(False):
            self._last_signalled = True
            self._signal_all(self._running(True), force=False)
        if time.monotonic() - self._stop_started > self.grace:
            self._system_print(f"still running after {self.grace:g} s (DEV_STOP_GRACE_SECONDS)\n")
            self.kill()

    def _all_stopped(self) -> bool:
        # Manager.loop() asks this on every turn (at least every 0.1 s), after it has
        # recorded the latest exits: the place to move the ordered stop on.
        self._advance()
        return bool(super()._all_stopped())


def service_addresses(settings: Settings) -> list[tuple[str, int]]:
    """Where the dev services listen: KAFKA_BOOTSTRAP's first host and HDFS_URL's."""
    kafka_host = settings.kafka_bootstrap.split(",")[0].strip().rpartition(":")[0] or "localhost"
    hdfs = urlsplit(settings.hdfs_url)
    return [
        (kafka_host, bootstrap_port(settings.kafka_bootstrap)),
        (hdfs.hostname or "localhost", hdfs.port or 9870),
    ]


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.strip().rpartition(":")
    return host or "localhost", int(port)


def build_manager(
    procfile: Path,
    names: list[str],
    last: set[str],
    grace: float,
    printer: Printer | None = None,
    ready: list[tuple[str, int]] | None = None,
    ready_timeout: float = 60.0,
) -> OrderedManager:
    """A manager for the processes of `procfile` (all, or those in `names`), with
    honcho's environment: `.env` next to the Procfile and PORT per process."""
    processes = environ.parse_procfile(procfile.read_text()).processes
    unknown = [n for n in names if n not in processes]
    if unknown:
        raise WordstreamError(f"no process {', '.join(unknown)} in {procfile}")
    if names:
        processes = {n: processes[n] for n in names}
    dotenv = procfile.parent / ".env"
    app_env = environ.parse(dotenv.read_text()) if dotenv.is_file() else {}
    manager = OrderedManager(printer or Printer(sys.stdout), grace, last, ready, ready_timeout)
    port = int(os.environ.get("PORT", "5000"))
    params: Any
    for params in environ.expand_processes(processes, env=app_env, port=port):
        env = {**os.environ, **params.env}
        manager.add_process(params.name, params.cmd, quiet=params.quiet, env=env)
    return manager


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env()
    except WordstreamError as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(
        prog="python -m devstack.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-f", "--procfile", type=Path, default=Path("Procfile.dev"))
    parser.add_argument(
        "--last",
        default=DEFAULT_LAST,
        help=f"comma-separated processes stopped after all others (default: {DEFAULT_LAST})",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=float(settings.dev_stop_grace_seconds),
        help="seconds from the stop signal to SIGKILL (default: DEV_STOP_GRACE_SECONDS)",
    )
    parser.add_argument(
        "--wait-for",
        default=None,
        metavar="HOST:PORT,...",
        help="addresses to wait for before starting the other processes (default: the "
        "ports of KAFKA_BOOTSTRAP and HDFS_URL; empty: none)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=60.0,
        help="longest wait for the dev services' ports before starting the rest (default: 60)",
    )
    parser.add_argument("processes", nargs="*", help="processes to start (default: all)")
    args = parser.parse_args(argv)
    last = {n.strip() for n in args.last.split(",") if n.strip()}
    if args.wait_for is None:
        ready = service_addresses(settings)
    else:
        ready = [_address(a) for a in args.wait_for.split(",") if a.strip()]
    try:
        manager = build_manager(
            args.procfile, args.processes, last, args.grace, None, ready, args.ready_timeout
        )
    except (OSError, WordstreamError) as exc:
        print(f"run: {exc}", file=sys.stderr)
        return 1
    manager.loop()
    return int(manager.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
