"""Compaction killed at every step: readers see each message once at every moment."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from streamapp.archive.core import (
    DataFile,
    date_closed,
    parse_data_file_path,
    plan_compactions,
    superseded,
    utc_date,
)
from streamapp.archive.store import ArchiveStore, Compactor
from tests.archive.fakehdfs import Crash, FakeHdfs
from tests.archive.test_protocol import REJECTED, ROOT, T0, messages, run

LATER = T0 + 10 * 86_400_000  # both dates of `messages` are long closed
N = 40  # ten batches of four: about ten small files per root and date


def compactor(fs: FakeHdfs, target: int = 10**9) -> Compactor:
    return Compactor(ROOT, REJECTED, "t", lambda: fs, target_bytes=target, grace_s=3600)


def archived_fs() -> FakeHdfs:
    fs = FakeHdfs()
    run(fs, messages(N), 0)
    return fs


def data_files(fs: FakeHdfs) -> dict[str, DataFile]:
    return {p: f for p in fs.files if (f := parse_data_file_path(p)) is not None}


def read(fs: FakeHdfs, skip_superseded: bool) -> Counter[tuple[int, int]]:
    """(gen, offset) of every line a reader sees, optionally skipping replaced files."""
    files = data_files(fs)
    skip: set[str] = set()
    for root in (ROOT, REJECTED):
        mine = {p: f for p, f in files.items() if p.startswith(root + "/")}
        replaced = superseded(list(mine.values())) if skip_superseded else set()
        skip.update(p for p, f in mine.items() if f in replaced)
    seen: Counter[tuple[int, int]] = Counter()
    for path, f in files.items():
        if path in skip:
            continue
        for line in fs.files[path].splitlines():
            obj = json.loads(line)
            assert f.first <= obj["offset"] <= f.last and utc_date(obj["timestamp"]) == f.date
            seen[(f.gen, obj["offset"])] += 1
    return seen


EVERY_ONCE = Counter({(0, o): 1 for o in range(N)})


def assert_readable(fs: FakeHdfs) -> None:
    """Deduplicating on identity, or skipping replaced files: every message once."""
    assert set(read(fs, skip_superseded=False)) == set(EVERY_ONCE)
    assert read(fs, skip_superseded=True) == EVERY_ONCE


def compaction_mutations() -> int:
    fs = archived_fs()
    fs.mutations = 0
    compactor(fs).run(LATER)
    return fs.mutations


@pytest.mark.parametrize("torn", [False, True])
def test_crash_at_every_step_leaves_the_archive_readable_and_a_rerun_finishes(
    torn: bool,
) -> None:
    base = archived_fs()
    before = len(data_files(base))
    steps = compaction_mutations()
    assert steps > 10
    for crash_at in range(steps):
        fs = copy.deepcopy(base)
        fs.mutations, fs.crash_at, fs.torn = 0, crash_at, torn
        with pytest.raises(Crash):
            compactor(fs).run(LATER)
        assert_readable(fs)
        fs.crash_at = None
        compactor(fs).run(LATER)
        # Finished: no file holds a message another file holds, nothing left under _compact.
        assert read(fs, skip_superseded=False) == EVERY_ONCE, crash_at
        assert not [p for p in fs.files if "/_compact/" in p], crash_at
        assert len(data_files(fs)) < before / 2, crash_at
        # The sink still recovers and replays onto the compacted archive, each offset once.
        run(fs, messages(N), 0)
        assert read(fs, skip_superseded=False) == EVERY_ONCE, crash_at


def test_a_crash_during_the_rerun_is_finished_by_the_next_one() -> None:
    for crash_at in range(compaction_mutations()):
        fs = copy.deepcopy(archived_fs())
        fs.mutations, fs.crash_at = 0, crash_at
        with pytest.raises(Crash):
            compactor(fs).run(LATER)
        for second in range(3):
            fs.mutations, fs.crash_at = 0, second
            try:
                compactor(fs).run(LATER)
            except Crash:
                assert_readable(fs)
        fs.crash_at = None
        compactor(fs).run(LATER)
        assert read(fs, skip_superseded=False) == EVERY_ONCE, crash_at


def test_compaction_keeps_the_files_the_markers_name_and_merges_the_rest() -> None:
    fs = archived_fs()
    done = compactor(fs).run(LATER)
    assert done and all(d.inputs >= 2 for d in done)
    per_dir = Counter((p.rsplit("/", 1)[0]) for p in data_files(fs))
    # One merged file, plus at most the last two batches' files the markers name.
    assert per_dir and all(n <= 3 for n in per_dir.values()), per_dir
    store = ArchiveStore("http://unused", "u", ROOT, REJECTED, client_factory=lambda: fs)
    assert store.recover("t", 0).last == N - 1


def test_open_dates_are_left_alone() -> None:
    fs = archived_fs()
    files = set(data_files(fs))
    # 2025-11-24 ended less than the grace period ago, 2025-11-25 has not ended.
    assert compactor(fs).run(T0 + 3_599_000) == []
    assert set(data_files(fs)) == files
    done = compactor(fs).run(T0 + 3_600_000)
    assert done and {d.output.split("/date=")[1][:10] for d in done} == {"2025-11-24"}


def test_late_messages_committed_during_a_compaction_are_kept_once() -> None:
    base = archived_fs()
    for at in range(compaction_mutations()):
        fs = copy.deepcopy(base)
        late = messages(N + 8)
        # The sink commits late messages (same dates) between two compaction steps.
        fs.mutations = 0
        fs.interleave = (at, lambda fs=fs, late=late: run(fs, late, N))  # type: ignore[misc]
        compactor(fs).run(LATER)
        compactor(fs).run(LATER)
        assert read(fs, skip_superseded=False) == Counter({(0, o): 1 for o in range(N + 8)}), at


def test_plan_cuts_runs_at_the_target_size_and_skips_kept_files() -> None:
    def f(first: int, last: int) -> tuple[str, DataFile, int]:
        d = DataFile(0, "2025-11-25", "t", 0, first, last)
        return (f"/r/gen=0/date=2025-11-25/{first}", d, 10)

    files = [f(0, 9), f(10, 19), f(20, 29), f(30, 39), f(40, 49)]
    plans = plan_compactions(files, keep={files[-1][0]}, target_bytes=20)
    assert [(p.output.first, p.output.last, len(p.inputs)) for p in plans] == [
        (0, 19, 2),
        (20, 39, 2),
    ]


def test_date_closed_after_its_end_plus_grace() -> None:
    end = T0 + 86_400_000  # end of 2025-11-25
    assert not date_closed("2025-11-25", end + 3_599_999, 3600)
    assert date_closed("2025-11-25", end + 3_600_000, 3600)
