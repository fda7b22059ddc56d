"""Validation of request parameters shared by the page and the JSON API."""

from __future__ import annotations

import unicodedata

from streamapp.contract import TOP_MAX
from streamapp.errors import WordstreamError
from streamapp.tokenize import words

DEFAULT_TOP = 10
MAX_WORD_CHARS = 200


class BadParameter(WordstreamError):
    """A request parameter cannot be used; the message says which and why (HTTP 400)."""


def parse_n(raw: str | None) -> int:
    """The top-N size: a whole number from 1 to 1,000, default 10."""
    if raw is None or raw == "":
        return DEFAULT_TOP
    if not raw.isascii() or not raw.isdigit():
        raise BadParameter(f"n must be a whole number from 1 to {TOP_MAX}, not {raw[:20]!r}")
    n = int(raw)
    if not 1 <= n <= TOP_MAX:
        raise BadParameter(f"n must be from 1 to {TOP_MAX}, not {n}")
    return n


def parse_word(raw: str) -> str:
    """Normalise a searched word with the tokenizer; anything but exactly one word is refused.

    The whole input must be one word (surrounding blanks aside): "Straße" becomes
    "strasse", but "../etc", "a/b" or "two words" are refused rather than silently
    searched as a piece of themselves.
    """
    text = raw.strip()
    if not text:
        raise BadParameter("word is empty; type one word")
    if len(text) > MAX_WORD_CHARS:
        raise BadParameter(f"word is longer than {MAX_WORD_CHARS} characters")
    tokens = words(text)
    if tokens != [unicodedata.normalize("NFKC", text).casefold()]:
        raise BadParameter(
            "search for exactly one word (letters, digits or _), "
            f"not {len(tokens)} word(s) with other characters"
        )
    return tokens[0]
