"""Test corpus for the live worker and its plain-Python recount (the expected values)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from streamapp.live.counting import hour_of
from streamapp.tokenize import words

# French with accents (composed and decomposed), English, emoji, RTL scripts,
# punctuation and digits: the tokenizer's hard cases.
_VOCAB_SEED = (  # noqa: SIM905 (one readable line of text beats a list of 70 strings)
    "été ÉTÉ e\u0301te\u0301 garçon naïve cœur Œuvre déjà-vu aujourd'hui où ça "
    "l'hôpital Ça très Noël façade crème brûlée fiancée rôle château forêt "
    "hello world streaming kafka faust spark hdfs word count live batch "
    "😀 🎉🎉 👍🏽 ❤️ naïve_café snake_case x² ﬁne \uff26\uff35\uff2c\uff2c "
    "مرحبا بالعالم كلمة שלום עולם מילה 東京 日本語 Straße ΣΊΣΥΦΟΣ "
    "42 3.14 1,000 -- ... ?! « » — “quoted” (paren) [brackets] {braces}"
).split()


@dataclass
class Corpus:
    """Raw values, their timestamps and the recount of what a worker must report."""

    values: list[bytes] = field(default_factory=list)
    timestamps_ms: list[int] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    messages: int = 0
    words: int = 0
    rejected: int = 0
    hours: dict[str, list[int]] = field(default_factory=dict)
    hour_counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (word, hour)

    def add(self, value: bytes, timestamp_ms: int) -> None:
        """Append one message and recount it the plain way."""
        self.values.append(value)
        self.timestamps_ms.append(timestamp_ms)
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            self.rejected += 1
            return
        found = words(text)
        self.counts.update(found)
        self.hour_counts.update((w, hour_of(timestamp_ms)) for w in found)
        self.messages += 1
        self.words += len(found)
        slot = self.hours.setdefault(hour_of(timestamp_ms), [0, 0])
        slot[0] += 1
        slot[1] += len(found)

    def extend(self, other: Corpus) -> None:
        """Append every message of `other`."""
        for value, ts in zip(other.values, other.timestamps_ms, strict=True):
            self.add(value, ts)


def make_corpus(n: int, seed: int, now_ms: int, big: int = 3, invalid: int = 25) -> Corpus:
    """`n` messages: short mixed-script text, some empty, `big` of ~1 MB, `invalid` not UTF-8."""
    rng = random.Random(seed)
    vocab = _VOCAB_SEED + [f"mot{i}" for i in range(600)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]  # Zipf-like
    corpus = Corpus()
    special = {rng.randrange(n): "big" for _ in range(big)}
    special.update({rng.randrange(n): "invalid" for _ in range(invalid)})
    for i in range(n):
        # Event time over the last five hours, not in offset order.
        ts = now_ms - rng.randrange(5 * 3_600_000)
        kind = special.get(i)
        if kind == "big":
            chunk = " ".join(rng.choices(vocab, weights, k=1000)).encode()
            value = (chunk + b" ") * (1_000_000 // (len(chunk) + 1))
        elif kind == "invalid":
            value = rng.choice(
                [b"\xff\xfe", b"caf\xe9 latin-1", b"\xc3(", b"ok \xed\xa0\x80 surrogate"]
            )
        elif i % 50 == 0:
            value = b""
        else:
            k = rng.randrange(1, 15)
            sep = rng.choice([" ", ", ", "  ", "\t", " - ", "\n"])
            value = sep.join(rng.choices(vocab, weights, k=k)).encode()
        corpus.add(value, ts)
    return corpus
