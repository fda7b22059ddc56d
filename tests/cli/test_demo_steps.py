from streamapp.cli.demo import already_produced, archive_complete


def test_not_produced_without_a_marker() -> None:
    assert not already_produced(None, {0: 10})


def test_produced_while_the_broker_still_holds_the_offsets() -> None:
    marker = {"end_offsets": {"0": 10, "1": 7}}
    assert already_produced(marker, {0: 10, 1: 9})


def test_broker_restart_means_produce_again() -> None:
    # A memory-only broker restarts at offset 0: the recorded offsets are gone.
    assert not already_produced({"end_offsets": {"0": 10}}, {0: 3})


def test_archive_complete_ignores_empty_partitions() -> None:
    assert archive_complete({0: 9}, {0: 10, 1: 0})
    assert not archive_complete({0: 8}, {0: 10})
    assert not archive_complete({}, {0: 1})
