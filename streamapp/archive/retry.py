"""Retrying the sink's blocking HDFS calls with backoff, reporting each outage once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from streamapp.archive.core import Outage, backoff_delay
from streamapp.archive.store import CommitAborted

R = TypeVar("R")


class Retrier:
    """Runs blocking calls in `executor` until they succeed or their partition is revoked.

    `report` gets one line when an outage starts and one when it ends, not one per retry;
    `clock` and `sleep` are the monotonic clock and the wait between attempts.
    """

    def __init__(
        self,
        executor: Executor,
        cap_s: float,
        report: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.executor = executor
        self.cap_s = cap_s
        self.report = report
        self.clock = clock
        self.sleep = sleep
        self.outage = Outage()
        self.outage_edge_at = float("-inf")  # clock time the outage state last changed

    async def run(self, call: Callable[[], R], aborted: Callable[[], bool]) -> R:
        """The result of `call`, retried after any error but `CommitAborted`."""
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            started = self.clock()
            try:
                result = await loop.run_in_executor(self.executor, call)
            except CommitAborted:
                raise
            except Exception as exc:
                self._outage_edge(started, self.outage.failed, exc)
                await self.backoff(attempt, aborted, "partition revoked during retries")
                attempt += 1
                continue
            self._outage_edge(started, self.outage.succeeded)
            return result

    async def backoff(self, attempt: int, aborted: Callable[[], bool], reason: str) -> None:
        """Wait before retry number `attempt` (0-based); raise `CommitAborted` if aborted."""
        await self.sleep(backoff_delay(attempt, cap=self.cap_s))
        if aborted():
            raise CommitAborted(reason) from None

    def _outage_edge(self, started: float, edge: Callable[..., str | None], *args: Any) -> None:
        """Report an outage's start or end, on evidence from calls started after the last edge.

        Several HDFS calls run at once: one started before HDFS went down may succeed
        after another failed, and one started before it came back may fail after
        another succeeded. Neither says anything new, and each would report a line.
        """
        if started < self.outage_edge_at:
            return
        if (line := edge(self.clock(), *args)) is not None:
            self.outage_edge_at = self.clock()
            self.report(line)
