"""The demo corpus: French and English sentences plus a few payloads the worker rejects."""

from __future__ import annotations

from importlib import resources

from streamapp.contract import HOUR_MS

# Values that are not valid UTF-8, so `make demo` shows the rejected path too:
# a Latin-1 "é", a truncated two-byte sequence, and bytes no UTF-8 text contains.
REJECTED_PAYLOADS: tuple[bytes, ...] = (b"caf\xe9 cr\xe8me", b"\xc3\x28 broken", b"\xff\xfe\xfd")

# Shown as text on the report page, proving message-derived text is escaped.
MARKUP_MESSAGE = "<script>alert(1)</script> <img src=x onerror=alert(2)>"


def corpus_lines() -> list[str]:
    """The shipped French and English sentences, one message each."""
    lines: list[str] = []
    for name in ("en.txt", "fr.txt"):
        text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
        lines.extend(line for line in text.splitlines() if line.strip())
    return lines


def demo_messages(now_ms: int, rounds: int = 20, hours: int = 4) -> list[tuple[bytes, int]]:
    """(value, timestamp_ms) pairs: the corpus `rounds` times, spread evenly over the last `hours`.

    The last message is stamped one hour before `now_ms`, so every demo hour has ended
    by the time the batch runs and the report can reconcile all of them.
    """
    values: list[bytes] = [line.encode("utf-8") for line in corpus_lines()] * rounds
    values.append(MARKUP_MESSAGE.encode("utf-8"))
    values.extend(REJECTED_PAYLOADS)
    start = now_ms - hours * HOUR_MS
    span = (hours - 1) * HOUR_MS
    step = span // max(len(values) - 1, 1)
    return [(value, start + i * step) for i, value in enumerate(values)]
