"""Retrying HDFS calls: backoff, one report per outage edge, aborts (no server)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from streamapp.archive.retry import Retrier
from streamapp.archive.store import CommitAborted


class FakeTime:
    """A monotonic clock that moves only when the retrier sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def failing(times: int, result: str = "done") -> Callable[[], str]:
    """A call that raises OSError `times` times, then returns `result`."""
    calls = 0

    def call() -> str:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise OSError("connection refused")
        return result

    return call


def never() -> bool:
    return False


def test_the_backoff_doubles_up_to_its_cap(executor: ThreadPoolExecutor) -> None:
    fake = FakeTime()
    retrier = Retrier(executor, 1.0, lambda line: None, fake.clock, fake.sleep)
    assert asyncio.run(retrier.run(failing(6), never)) == "done"
    assert fake.sleeps == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]


def test_an_outage_is_reported_when_it_starts_and_when_it_ends_with_its_duration(
    executor: ThreadPoolExecutor,
) -> None:
    fake, reports = FakeTime(), []
    retrier = Retrier(executor, 5.0, reports.append, fake.clock, fake.sleep)

    def timing_out(times: int) -> Callable[[], str]:
        """A call whose first `times` attempts fail after a second; the next answers at once."""
        answer = failing(times)

        def call() -> str:
            try:
                return answer()
            except OSError:
                fake.now += 1.0
                raise

        return call

    async def scenario() -> None:
        # Down from the first failure (at 1.0) to the answer (at 0.2 + 0.4 + 0.8 + 3.0).
        assert await retrier.run(timing_out(3), never) == "done"
        assert await retrier.run(timing_out(0), never) == "done"  # no outage: nothing to say
        assert await retrier.run(timing_out(1), never) == "done"  # a second, shorter outage

    asyncio.run(scenario())
    assert reports == [
        "HDFS unavailable (OSError: connection refused); retrying with backoff",
        "HDFS available again after 3.4 s; archive catching up",
        "HDFS unavailable (OSError: connection refused); retrying with backoff",
        "HDFS available again after 0.2 s; archive catching up",
    ]


def test_a_call_started_before_the_outage_began_does_not_end_it(
    executor: ThreadPoolExecutor,
) -> None:
    fake, reports = FakeTime(), []
    retrier = Retrier(executor, 5.0, reports.append, fake.clock, fake.sleep)
    answered = threading.Event()

    def slow() -> str:
        answered.wait(10)
        return "slow"

    async def scenario() -> None:
        early = asyncio.ensure_future(retrier.run(slow, never))
        await asyncio.sleep(0)  # `early` reads the clock at 0 and waits in the executor
        fake.now = 1.0
        with pytest.raises(CommitAborted):
            await retrier.run(failing(1), lambda: True)  # HDFS went down at 1
        answered.set()
        assert await early == "slow"  # answered, but it was asked before the outage
        assert len(reports) == 1
        assert await retrier.run(failing(0), never) == "done"  # asked during it: ends it

    asyncio.run(scenario())
    assert reports == [
        "HDFS unavailable (OSError: connection refused); retrying with backoff",
        "HDFS available again after 0.2 s; archive catching up",
    ]


def test_an_abort_stops_the_retries(executor: ThreadPoolExecutor) -> None:
    fake = FakeTime()
    retrier = Retrier(executor, 5.0, lambda line: None, fake.clock, fake.sleep)
    # HDFS would answer the fifth attempt, but the partition is revoked after the third.
    with pytest.raises(CommitAborted):
        asyncio.run(retrier.run(failing(4), lambda: len(fake.sleeps) >= 3))
    assert fake.sleeps == [0.2, 0.4, 0.8]  # the last wait ends in the abort, not a call


def test_an_abort_raised_by_the_call_is_not_retried(executor: ThreadPoolExecutor) -> None:
    fake, reports, attempts = FakeTime(), [], []

    def revoked_once() -> str:
        attempts.append(fake.now)
        if len(attempts) == 1:
            raise CommitAborted("partition revoked during the commit")
        return "retried"

    retrier = Retrier(executor, 5.0, reports.append, fake.clock, fake.sleep)
    with pytest.raises(CommitAborted):
        asyncio.run(retrier.run(revoked_once, never))
    assert (len(attempts), fake.sleeps, reports) == (1, [], [])


def test_a_wait_alone_backs_off_and_raises_once_aborted(executor: ThreadPoolExecutor) -> None:
    fake = FakeTime()
    retrier = Retrier(executor, 0.5, lambda line: None, fake.clock, fake.sleep)

    async def scenario() -> None:
        await retrier.backoff(0, never, "revoked")
        await retrier.backoff(4, never, "revoked")
        with pytest.raises(CommitAborted, match="revoked while reading"):
            await retrier.backoff(1, lambda: True, "revoked while reading")

    asyncio.run(scenario())
    assert fake.sleeps == [0.2, 0.5, 0.4]
