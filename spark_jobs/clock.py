"""The clock process: runs the batch job on a cron schedule and on demand.

    python -m spark_jobs.clock [--port CLOCK_PORT] [--host 127.0.0.1]

Serves `GET /health` (contract section 4) and `POST /run` (start a run now: 202, or
409 while one is running). Each run is a child process (`python -m spark_jobs.wordcount`)
so a crashing JVM cannot take the clock down; never two at once.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from spark_jobs.errors import BatchError
from spark_jobs.snapshot import iso
from streamapp.config import Settings
from streamapp.errors import WordstreamError

log = logging.getLogger("spark_jobs.clock")

JOB_COMMAND = (sys.executable, "-m", "spark_jobs.wordcount")
# Merges closed dates' small archive files first (docs/archive.md, "Compaction"), in
# turn with the job, so the job never lists a file that compaction then deletes.
COMPACT_COMMAND = (sys.executable, "-m", "streamapp.cli", "archive", "compact")


def check_schedule(cron: str, tz: str) -> None:
    """Raise BatchError if the cron expression or the time zone is not usable."""
    if not croniter.is_valid(cron):
        raise BatchError(f"BATCH_CRON={cron!r} is not a cron expression (e.g. '0 2 * * *')")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BatchError(
            f"BATCH_TZ={tz!r} is not a time zone name (e.g. UTC, Europe/Paris)"
        ) from None


def next_run(cron: str, tz: str, after: datetime) -> datetime:
    """The first time strictly after `after` that `cron` (read in zone `tz`) fires, in UTC."""
    local = after.astimezone(ZoneInfo(tz))
    return croniter(cron, local).get_next(datetime).astimezone(UTC)


def run_job_process(
    command: Sequence[str] = JOB_COMMAND, compact: Sequence[str] | None = COMPACT_COMMAND
) -> int:
    """Compact, then run the job, as child processes (output to the clock's); its exit code.

    A failed compaction is logged and the job runs anyway: it reads a compacted,
    uncompacted or half-compacted archive alike.
    """
    if compact is not None and (code := subprocess.run(list(compact), check=False).returncode):
        log.warning("archive compaction failed (exit %d); running the batch job anyway", code)
    return subprocess.run(list(command), check=False).returncode


class Clock:
    """Schedule and on-demand trigger around one job runner, at most one run at a time."""

    def __init__(
        self,
        cron: str,
        tz: str,
        runner: Callable[[], int] = run_job_process,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        check_schedule(cron, tz)
        self.cron = cron
        self.tz = tz
        self._runner = runner
        self._now = now
        self._lock = threading.Lock()
        self._running = False
        self._worker: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._running

    def health(self) -> dict[str, Any]:
        """The `GET /health` document of contract section 4."""
        return {
            "status": "ok",
            "cron": self.cron,
            "timezone": self.tz,
            "next_run": iso(next_run(self.cron, self.tz, self._now())),
            "running": self._running,
        }

    def trigger(self, reason: str) -> bool:
        """Start a run in the background; False (and nothing started) if one is running."""
        with self._lock:
            if self._running:
                log.info("%s run skipped: a run is already in progress", reason)
                return False
            self._running = True
        self._worker = threading.Thread(
            target=self._run, args=(reason,), name="batch-run", daemon=True
        )
        self._worker.start()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for the current run (if any) to finish; False on timeout."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self._running

    def _run(self, reason: str) -> None:
        started = time.monotonic()
        log.info("%s run starting", reason)
        try:
            code = self._runner()
        except Exception as exc:  # the runner itself failed (e.g. cannot exec): log, go on
            log.error("%s run could not start: %s", reason, exc)
            code = -1
        finally:
            self._running = False
        outcome = "succeeded" if code == 0 else f"failed (exit {code})"
        log.info("%s run %s after %.1f s", reason, outcome, time.monotonic() - started)

    def serve_schedule(self, stop: threading.Event) -> None:
        """Trigger a run at every cron time until `stop` is set."""
        due = next_run(self.cron, self.tz, self._now())
        log.info("next scheduled run at %s", iso(due))
        while not stop.is_set():
            # Wake at least once a minute: wall-clock jumps then shift the wait too.
            remaining = (due - self._now()).total_seconds()
            if remaining > 0:
                stop.wait(min(remaining, 60.0))
                continue
            self.trigger("scheduled")
            due = next_run(self.cron, self.tz, max(due, self._now()))
            log.info("next scheduled run at %s", iso(due))


def _handler(clock: Clock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/health":
                self._json(200, clock.health())
            else:
                self._json(404, {"error": f"no such view {self.path}; try /health"})

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/run":
                self._json(404, {"error": f"no such action {self.path}; try POST /run"})
            elif clock.trigger("on-demand"):
                self._json(202, {"started": True})
            else:
                self._json(409, {"error": "a batch run is already in progress"})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    return Handler


def serve(clock: Clock, host: str, port: int, stop: threading.Event) -> None:
    """Serve HTTP and the schedule until `stop` is set, then wait for a running job."""
    try:
        httpd = ThreadingHTTPServer((host, port), _handler(clock))
    except OSError as exc:
        raise BatchError(
            f"cannot listen on {host}:{port} ({exc.strerror}); set CLOCK_PORT to a free port"
        ) from None
    http_thread = threading.Thread(target=httpd.serve_forever, name="clock-http", daemon=True)
    http_thread.start()
    log.info("clock on http://%s:%d (cron %r, %s)", host, port, clock.cron, clock.tz)
    try:
        clock.serve_schedule(stop)
    finally:
        httpd.shutdown()
        httpd.server_close()
        if clock.running:
            log.info("waiting for the running batch job to finish")
            clock.wait_idle()


def add_clock_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve HTTP on")
    parser.add_argument("--port", type=int, help="HTTP port (default: CLOCK_PORT)")
    parser.add_argument("--cron", help="cron expression (default: BATCH_CRON)")
    parser.add_argument("--tz", help="time zone of the cron expression (default: BATCH_TZ)")


def run_clock(args: argparse.Namespace) -> int:
    """Run the clock until SIGTERM/SIGINT; bad settings raise WordstreamError."""
    settings = Settings.from_env()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    clock = Clock(args.cron or settings.batch_cron, args.tz or settings.batch_tz)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    serve(clock, args.host, args.port or settings.clock_port, stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m spark_jobs.clock`: one line and exit 1 on a bad setting or busy port."""
    try:
        parser = argparse.ArgumentParser(
            prog="python -m spark_jobs.clock",
            description="Run the batch job on a schedule and on demand.",
        )
        add_clock_arguments(parser)
        return run_clock(parser.parse_args(argv))
    except WordstreamError as exc:
        print(f"clock: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
