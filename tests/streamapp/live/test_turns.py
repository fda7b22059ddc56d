"""`streamapp.live.turns.in_turns`: other tasks run between slices, and only between them."""

from __future__ import annotations

import asyncio

import pytest

from streamapp.live.turns import in_turns


async def _turns_of_other_task_during(items: int, size: int) -> list[int]:
    """For each item handed out, how many turns a concurrent task had had by then."""
    turns = 0
    stop = False

    async def other() -> None:
        nonlocal turns
        while not stop:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(other())
    await asyncio.sleep(0)  # the other task starts: one turn
    seen = []
    async for _ in in_turns(range(items), size):
        seen.append(turns)
    stop = True
    await task
    return seen


def test_other_tasks_run_after_every_slice_and_not_within_one() -> None:
    seen = asyncio.run(_turns_of_other_task_during(items=10, size=3))
    # Slices [0, 3), [3, 6), [6, 9), [9]: the other task runs once between slices.
    assert seen == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]


def test_every_item_in_order() -> None:
    async def collect() -> list[int]:
        return [i async for i in in_turns(iter(range(7)), 2)]

    assert asyncio.run(collect()) == list(range(7))


def test_a_slice_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="size=0"):
        asyncio.run(_turns_of_other_task_during(items=1, size=0))
