"""Unit tests of the detector both layers use to tell replays from a log that started again."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamapp.live.lineage import Lineage, Seen

Msg = tuple[int, str]  # (offset, content): the content is the fingerprint


def content(m: Msg) -> str:
    return m[1]


def feed(
    lineage: Lineage[Msg], log: list[Msg], highwater: int | None
) -> list[tuple[str, int, Msg]]:
    """Offer `log`; return (verdict, generation, message) in the order they settle."""
    settled: list[tuple[str, int, Msg]] = []
    for m in log:
        gen = lineage.gen
        out = lineage.offer(m[0], m, highwater)
        settled += [("replay", gen, r) for r in out.replayed]
        settled += [("new", lineage.gen, t) for t in out.taken]
    return settled


def test_new_offsets_are_taken_in_the_stored_generation() -> None:
    lineage = Lineage(Seen(gen=2, last=4, fingerprint="e"), content)
    assert feed(lineage, [(5, "f"), (6, "g")], highwater=7) == [
        ("new", 2, (5, "f")),
        ("new", 2, (6, "g")),
    ]
    assert lineage.seen() == Seen(2, 6, "g")


def test_a_replay_from_the_committed_offset_is_held_until_the_last_offset_matches() -> None:
    lineage = Lineage(Seen(gen=0, last=3, fingerprint="d"), content)
    log = [(1, "b"), (2, "c"), (3, "d"), (4, "e")]
    assert feed(lineage, log[:2], highwater=10) == []
    assert lineage.held == [(1, (1, "b")), (2, (2, "c"))]
    assert feed(lineage, log[2:], highwater=10) == [
        ("replay", 0, (1, "b")),
        ("replay", 0, (2, "c")),
        ("replay", 0, (3, "d")),
        ("new", 0, (4, "e")),
    ]


def test_a_log_that_ends_below_the_last_offset_is_a_new_generation() -> None:
    lineage = Lineage(Seen(gen=0, last=1232, fingerprint="x"), content)
    assert feed(lineage, [(0, "a"), (1, "b")], highwater=2) == [
        ("new", 1, (0, "a")),
        ("new", 1, (1, "b")),
    ]
    assert lineage.seen() == Seen(1, 1, "b")


def test_another_message_at_the_last_offset_is_a_new_generation() -> None:
    # The new log already grew past the old one: only the content tells.
    lineage = Lineage(Seen(gen=0, last=2, fingerprint="c"), content)
    assert feed(lineage, [(0, "x"), (1, "y"), (2, "z")], highwater=50) == [
        ("new", 1, (0, "x")),
        ("new", 1, (1, "y")),
        ("new", 1, (2, "z")),
    ]


def test_a_skipped_last_offset_releases_the_held_messages_as_replays() -> None:
    lineage = Lineage(Seen(gen=0, last=5, fingerprint="f"), content)
    assert feed(lineage, [(4, "e"), (7, "h")], highwater=9) == [
        ("replay", 0, (4, "e")),
        ("new", 0, (7, "h")),
    ]


def test_the_fingerprint_is_computed_only_when_a_verdict_needs_it() -> None:
    calls: list[Msg] = []

    def counted(m: Msg) -> str:
        calls.append(m)
        return m[1]

    lineage = Lineage(Seen(), counted)
    feed(lineage, [(i, str(i)) for i in range(100)], highwater=None)
    assert calls == []
    assert lineage.seen() == Seen(0, 99, "99") and calls == [(99, "99")]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_message_of_every_log_is_new_exactly_once(data: st.DataObject) -> None:
    """Logs replaced at random (each with fresh content), consumers restarted at random
    from any offset they had reached, stored state reloaded after each restart: every
    message of every log is taken as new once, in its log's generation."""
    logs: list[list[Msg]] = []
    seen = Seen()
    new: list[tuple[int, Msg]] = []
    for log_no in range(data.draw(st.integers(1, 3), label="logs")):
        size = data.draw(st.integers(1, 12), label="size")
        log = [(i, f"{log_no}:{i}") for i in range(size)]
        logs.append(log)
        reached = 0
        for _ in range(data.draw(st.integers(1, 3), label="restarts")):
            start = data.draw(st.integers(0, reached), label="start")
            stop = data.draw(st.integers(start, size), label="stop")
            lineage = Lineage(seen, content)
            for verdict, gen, m in feed(lineage, log[start:stop], highwater=size):
                if verdict == "new":
                    new.append((gen, m))
            reached = max(reached, stop) if not lineage.held else reached
            seen = lineage.seen() if not lineage.held else seen
        lineage = Lineage(seen, content)
        for verdict, gen, m in feed(lineage, log[reached:] if reached else log, highwater=size):
            if verdict == "new":
                new.append((gen, m))
        seen = lineage.seen()
    expected = [m for log in logs for m in log]
    assert sorted(m for _, m in new) == sorted(expected)
    # One generation per log, in order.
    gens = {m[1].split(":")[0]: gen for gen, m in new}
    assert list(gens.values()) == sorted(gens.values())
    assert len(set(gens.values())) == len(logs)


def test_held_messages_are_settled_by_a_high_watermark_learned_later() -> None:
    # A short new log arrived while the high watermark was unknown: its messages wait.
    lineage = Lineage(Seen(gen=0, last=99, fingerprint="z"), content)
    assert feed(lineage, [(0, "a"), (1, "b")], highwater=None) == []
    assert lineage.settle(None).taken == [] and lineage.settle(500).taken == []
    out = lineage.settle(2)  # the log ends at 2, below 99: a new log
    assert out.regressed and out.taken == [(0, "a"), (1, "b")]
    assert lineage.seen() == Seen(1, 1, "b") and lineage.held == []
