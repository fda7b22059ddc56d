"""The project's one tokenizer, shared by the live worker and the Spark job."""

from __future__ import annotations

import re
import unicodedata

# `\w` in Python's `re` is Unicode-aware for str patterns: letters, digits, marks
# and connector punctuation of every script. Compiled once: this runs per message.
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """Return the words of `text`: NFKC-normalised, casefolded, maximal runs of `\\w`."""
    # NFKC first so compatibility forms (ligatures, full-width letters) and decomposed
    # accents become single letters before `\w` sees them: `re` does not count a lone
    # combining mark as a word character, so "e" + U+0301 would otherwise split a word.
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())
