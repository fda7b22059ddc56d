from streamapp.demo import HOUR_MS, REJECTED_PAYLOADS, corpus_lines, demo_messages


def test_corpus_has_both_languages_and_is_valid_utf8() -> None:
    lines = corpus_lines()
    assert any("été" in line for line in lines)
    assert any("the" in line.split() for line in lines)


def test_demo_messages_spread_over_past_hours_and_include_rejects() -> None:
    now = 1_764_000_000_000
    msgs = demo_messages(now, rounds=2, hours=4)
    stamps = [ts for _, ts in msgs]
    assert stamps == sorted(stamps)
    assert stamps[0] == now - 4 * HOUR_MS
    assert stamps[-1] <= now - HOUR_MS
    # Messages land in at least three distinct hours, so the report has hours to compare.
    assert len({ts // HOUR_MS for ts in stamps}) >= 3
    invalid = []
    for value, _ in msgs:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            invalid.append(value)
    assert invalid == list(REJECTED_PAYLOADS)
