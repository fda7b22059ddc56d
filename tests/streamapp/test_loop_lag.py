"""`streamapp.metrics.watch_loop_lag`: a stall of the event loop shows in the histogram."""

from __future__ import annotations

import asyncio
import time

from streamapp.metrics import LOOP_LAG, LOOP_LAG_INTERVAL_S, watch_loop_lag


def _observed_at_least(seconds: float) -> float:
    """How many observations so far were above `seconds` (from the histogram's buckets)."""
    total = above = 0.0
    for sample in LOOP_LAG.collect()[0].samples:
        if sample.name.endswith("_count"):
            total = sample.value
        elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == seconds:
            above = -sample.value
    return total + above


def test_a_blocked_event_loop_is_observed_as_lag() -> None:
    before = _observed_at_least(0.1)

    async def stall() -> None:
        task = asyncio.ensure_future(watch_loop_lag())
        await asyncio.sleep(LOOP_LAG_INTERVAL_S / 2)
        time.sleep(0.4)  # holds the loop: the watcher wakes ~0.35 s late
        await asyncio.sleep(LOOP_LAG_INTERVAL_S * 2)
        task.cancel()

    asyncio.run(stall())
    assert _observed_at_least(0.1) >= before + 1
