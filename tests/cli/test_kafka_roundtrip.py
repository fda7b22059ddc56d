"""produce -> tail through the real dev broker, with the CLI's own main()."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from devstack.broker import Broker
from streamapp.cli import main
from streamapp.cli.tail import INVALID_FLAG

pytestmark = pytest.mark.integration

VERBOSE_LINE = re.compile(r"^(\S+) \[(\d+)\] @ (\d+): (.*)$")


def _lines(count: int) -> list[str]:
    """Numbered lines (to check order) of mixed scripts, plus repeated ones (a multiset)."""
    rnd = random.Random(7)
    vocab = ["kafka", "été", "naïve", "straße", "東京", "мир", "🙂", "a-b", "x_y", "ﬁne"]
    out = []
    for i in range(count):
        if i % 100 == 0:
            out.append("the same line again")
        else:
            out.append(f"{i:06d} " + " ".join(rnd.choices(vocab, k=rnd.randint(0, 8))))
    return out


def _create(broker: Broker, topic: str, partitions: int) -> None:
    args = ["topics", "create", "--bootstrap", broker.bootstrap, "--topic", topic]
    assert main([*args, "--partitions", str(partitions)]) == 0


def test_100k_lines_come_back_complete_and_in_partition_order(
    broker: Broker, topic_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(100_000)
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _create(broker, topic_name, 3)
    capsys.readouterr()

    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    assert main(["produce", *kafka, "--file", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "100000 delivered, 0 failed"

    code = main(["tail", *kafka, "--from-earliest", "--max-messages", "100000", "--verbose"])
    assert code == 0
    out = capsys.readouterr().out.splitlines()
    parsed = [VERBOSE_LINE.match(line) for line in out]
    assert all(parsed), [line for line, m in zip(out, parsed, strict=True) if not m][:3]
    values = [m.group(4) for m in parsed if m]
    assert Counter(values) == Counter(lines)

    by_partition: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for m in parsed:
        assert m is not None
        numbered = m.group(4)[:6]
        if numbered.isdigit():
            by_partition[int(m.group(2))].append((int(m.group(3)), int(numbered)))
    assert len(by_partition) > 1  # the lines were spread over several partitions
    for seen in by_partition.values():
        offsets = [o for o, _ in seen]
        numbers = [n for _, n in seen]
        assert offsets == sorted(offsets)
        assert numbers == sorted(numbers)


def test_invalid_utf8_lines_are_produced_as_bytes_and_shown_flagged(
    broker: Broker, topic_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"caf\xc3\xa9\ncaf\xe9\n\xff\xfe\n")
    _create(broker, topic_name, 1)
    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    assert main(["produce", *kafka, "--file", str(path)]) == 0
    capsys.readouterr()
    assert main(["tail", *kafka, "--from-earliest", "--max-messages", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "café",
        INVALID_FLAG + "caf\\xe9",
        INVALID_FLAG + "\\xff\\xfe",
    ]


def test_arguments_key_and_timestamp_reach_the_topic(
    broker: Broker, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from confluent_kafka import TIMESTAMP_CREATE_TIME, Consumer, TopicPartition

    _create(broker, topic_name, 2)
    capsys.readouterr()
    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    args = ["produce", *kafka, "--key", "k1", "--timestamp-ms", "1700000000123", "-v", "a", "b"]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[-1] == "2 delivered, 0 failed"
    assert all(line.startswith(f"Message delivered to {topic_name} [") for line in out[:2])

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "check"})
    try:
        consumer.assign([TopicPartition(topic_name, p, 0) for p in range(2)])
        got = consumer.consume(2, 10)
    finally:
        consumer.close()
    assert sorted(m.value() for m in got) == [b"a", b"b"]
    assert {m.key() for m in got} == {b"k1"}
    # One key -> one partition, in order.
    assert len({m.partition() for m in got}) == 1
    assert {m.timestamp() for m in got} == {(TIMESTAMP_CREATE_TIME, 1700000000123)}


def test_topics_create_is_idempotent_and_refuses_another_partition_count(
    broker: Broker, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create(broker, topic_name, 2)
    assert capsys.readouterr().out.startswith(f"created topic {topic_name} with 2 partitions")
    _create(broker, topic_name, 2)
    assert capsys.readouterr().out.strip() == f"topic {topic_name} already exists with 2 partitions"

    args = ["topics", "create", "--bootstrap", broker.bootstrap, "--topic", topic_name]
    assert main([*args, "--partitions", "5"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "2 partitions, not 5" in err[0]

    assert main(["topics", "list", "--bootstrap", broker.bootstrap]) == 0
    assert f"{topic_name}\t2" in capsys.readouterr().out.splitlines()
    assert main(["topics", "describe", "--bootstrap", broker.bootstrap, "--topic", topic_name]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == f"{topic_name}: 2 partitions, 0 messages retained"
    )


def test_tail_with_a_group_commits_so_the_next_run_starts_after(
    broker: Broker, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create(broker, topic_name, 1)
    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    group = ["--group", f"g_{topic_name}", "--from-earliest"]
    assert main(["produce", *kafka, "one", "two"]) == 0
    assert main(["tail", *kafka, *group, "--max-messages", "2"]) == 0
    assert main(["produce", *kafka, "three"]) == 0
    capsys.readouterr()
    assert main(["tail", *kafka, *group, "--max-messages", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == ["three"]


def test_tail_idle_timeout_ends_an_empty_tail(
    broker: Broker, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create(broker, topic_name, 1)
    capsys.readouterr()
    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    assert main(["tail", *kafka, "--from-earliest", "--timeout", "0.5"]) == 0
    assert capsys.readouterr().out == ""


@contextmanager
def tail_in_its_loop(broker: Broker, topic_name: str) -> Iterator[subprocess.Popen[str]]:
    """`wordstream tail` in a process of its own, having printed a first message (it is
    in its loop then); killed on the way out if it still runs."""
    _create(broker, topic_name, 1)
    kafka = ["--bootstrap", broker.bootstrap, "--topic", topic_name]
    assert main(["produce", *kafka, "first"]) == 0
    tail = subprocess.Popen(
        [sys.executable, "-m", "streamapp.cli", "tail", *kafka, "--from-earliest"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # Ctrl-C as a terminal delivers it: a test runner's worker may ignore SIGINT,
        # and a child inherits that (Python then installs no KeyboardInterrupt).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert tail.stdout is not None
        assert tail.stdout.readline() == "first\n"
        yield tail
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()


def test_ctrl_c_stops_tail_cleanly(broker: Broker, topic_name: str) -> None:
    with tail_in_its_loop(broker, topic_name) as tail:
        tail.send_signal(signal.SIGINT)
        try:
            _, err = tail.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Still running: ask for its threads' stacks (the CLI's SIGUSR1 dump).
            tail.send_signal(signal.SIGUSR1)
            time.sleep(2)
            tail.kill()
            _, err = tail.communicate()
            pytest.fail(f"tail did not stop within 30 s of Ctrl-C; its stacks:\n{err}")
    assert tail.returncode in (0, 130)
    assert err == ""


def test_sigusr1_prints_where_a_running_command_is_and_it_goes_on(
    broker: Broker, topic_name: str
) -> None:
    with tail_in_its_loop(broker, topic_name) as tail:
        tail.send_signal(signal.SIGUSR1)
        time.sleep(1)
        assert tail.poll() is None, "the stack dump stopped the command"
        tail.send_signal(signal.SIGINT)
        _, err = tail.communicate(timeout=30)
    assert "Current thread" in err and "streamapp/cli/tail.py" in err, err


def test_describe_counts_every_message_of_batched_produces(
    broker: Broker, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The dev broker's ListOffsets is a batch short after batched produces; the
    # retained count must still be exact.
    _create(broker, topic_name, 2)
    values = [f"m{i}" for i in range(500)]
    assert main(["produce", "--bootstrap", broker.bootstrap, "--topic", topic_name, *values]) == 0
    capsys.readouterr()
    assert main(["topics", "describe", "--bootstrap", broker.bootstrap, "--topic", topic_name]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1]
        == f"{topic_name}: 2 partitions, 500 messages retained"
    )
