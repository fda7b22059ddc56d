"""Long loops on the worker's event loop, in slices: the views answer between them.

The worker counts, writes rows and answers its HTTP views on one asyncio event loop.
A loop over tens of thousands of words (an update record of a large vocabulary, a
write-behind flush) that never awaits holds every view still until it ends. `in_turns`
hands the loop back after every `size` items; the caller re-checks, after each item,
whatever another task may have changed meanwhile (e.g. a rebalance's revocation).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

Item = TypeVar("Item")


async def in_turns(items: Iterable[Item], size: int) -> AsyncIterator[Item]:
    """Each of `items`, with a turn of the event loop after every `size` of them."""
    if size < 1:
        raise ValueError(f"size={size} must be at least 1")
    left = size
    for item in items:
        if not left:
            await asyncio.sleep(0)  # the one await that lets other tasks run
            left = size
        left -= 1
        yield item
