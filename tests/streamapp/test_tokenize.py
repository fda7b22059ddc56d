from streamapp.tokenize import words


def test_accents_and_case_are_normalised() -> None:
    # Decomposed "é" (e + U+0301) and the composed one are the same word after NFKC.
    assert words("Café CAFE\u0301 café") == ["café", "café", "café"]


def test_casefold_is_full_case_folding() -> None:
    assert words("Straße STRASSE") == ["strasse", "strasse"]


def test_punctuation_splits_and_underscore_joins() -> None:
    assert words("l'été, c'est_bien!") == ["l", "été", "c", "est_bien"]


def test_compatibility_forms_fold() -> None:
    # Full-width letters and the "ﬁ" ligature become plain letters under NFKC.
    assert words("ＡＢＣ ﬁne") == ["abc", "fine"]


def test_empty_and_symbols_only() -> None:
    assert words("") == []
    assert words("🙂 — !!") == []
