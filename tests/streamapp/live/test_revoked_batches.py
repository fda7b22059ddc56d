"""The counting agent's work on a batch it took before a revocation (the worker runs with
faust's `stream_wait_empty=False`, so a revocation does not wait for it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from streamapp.contract import Source
from streamapp.live import agents, counting

RECORDS = {Source(0, 1): [counting.SourceRecord(5, 0, b"un deux", None)]}


def test_a_batch_prepared_across_a_revocation_sends_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[int, bytes]] = []

    async def send_prepared(batch: Any, payloads: dict[int, bytes], n_messages: int) -> None:
        sent.append(payloads)

    prepare = agents._prepare

    def prepared_while_revoked(records: Any) -> Any:
        agents.write_behind.drop()  # the revocation, while the batch is prepared in its thread
        return prepare(records)

    monkeypatch.setattr(agents, "_send_prepared", send_prepared)
    monkeypatch.setattr(agents, "_prepare", prepared_while_revoked)
    assert asyncio.run(agents._send_batch(RECORDS, agents.write_behind.generation)) is False
    assert sent == []

    monkeypatch.setattr(agents, "_prepare", prepare)
    assert asyncio.run(agents._send_batch(RECORDS, agents.write_behind.generation)) is True
    assert len(sent) == 1


def test_a_lineage_dropped_by_a_revocation_is_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    # The revocation cleared the lineages while the batch was being sent; storing one
    # then crashed the agent (KeyError), and faust's restarted agent never took its
    # partitions' events again.
    monkeypatch.setattr(agents, "lineages", {})
    event = SimpleNamespace(message=SimpleNamespace(partition=3))
    agents._remember([event])  # type: ignore[list-item]
    assert agents.lineages == {}
