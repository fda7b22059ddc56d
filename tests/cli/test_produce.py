import io
from typing import Any

import pytest
from confluent_kafka import KafkaError

from streamapp.cli.produce import (
    DeliveryReport,
    ProduceError,
    choose_source,
    delivery_line,
    failure_message,
    produce_all,
    send_delay,
    strip_newline,
    summary_line,
    to_bytes,
)


def test_arguments_are_messages() -> None:
    source = choose_source(["hello", "wörld"], None)
    assert source.kind == "args"
    assert source.values == [b"hello", "wörld".encode()]


def test_dash_or_file_dash_reads_stdin() -> None:
    assert choose_source(["-"], None).kind == "stdin"
    assert choose_source([], "-").kind == "stdin"


def test_file_source_keeps_the_path() -> None:
    source = choose_source([], "in.txt")
    assert (source.kind, source.path) == ("file", "in.txt")


def test_no_input_or_both_inputs_are_errors() -> None:
    with pytest.raises(ProduceError, match="nothing to produce"):
        choose_source([], None)
    with pytest.raises(ProduceError, match="not both"):
        choose_source(["x"], "in.txt")


def test_undecodable_argument_bytes_survive() -> None:
    # How Python decodes a non-UTF-8 argv entry on POSIX.
    arg = b"caf\xe9".decode("utf-8", "surrogateescape")
    assert to_bytes(arg) == b"caf\xe9"


def test_strip_newline_removes_only_the_terminator() -> None:
    assert strip_newline(b"abc\n") == b"abc"
    assert strip_newline(b"abc") == b"abc"
    assert strip_newline(b"a\r\n") == b"a\r"
    assert strip_newline(b"\n") == b""


def test_send_delay_holds_the_rate() -> None:
    assert send_delay(0, 10, 0.0) == 0.0
    assert send_delay(5, 10, 0.2) == pytest.approx(0.3)
    assert send_delay(5, 10, 0.9) == 0.0  # behind schedule: send at once
    assert send_delay(1000, None, 0.0) == 0.0


def test_report_lines() -> None:
    assert delivery_line("data_stream", 2, 17) == "Message delivered to data_stream [2] @ 17"
    assert summary_line(9, 1) == "9 delivered, 1 failed"
    assert (
        failure_message(1, 10, "boom") == "1 of 10 messages were not delivered (first error: boom)"
    )


class _Msg:
    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return 41


def test_delivery_report_counts_and_prints_when_verbose() -> None:
    out = io.StringIO()
    report = DeliveryReport(verbose=True, out=out)
    report.on_delivery(None, _Msg())
    report.on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    report.on_delivery(KafkaError(KafkaError._TRANSPORT), None)
    assert (report.delivered, report.failed) == (1, 2)
    assert "timed out" in report.first_error.lower()
    lines = out.getvalue().splitlines()
    assert lines[0] == "Message delivered to t [0] @ 41"
    assert lines[1].startswith("Message delivery failed: ")


class _FakeProducer:
    """Stands in for confluent_kafka.Producer: a queue of 2 that fills up."""

    def __init__(self) -> None:
        self.queue: list[tuple[bytes, Any]] = []
        self.sent: list[tuple[bytes, bytes | None, dict[str, Any]]] = []

    def produce(
        self, topic: str, value: bytes, key: bytes | None, on_delivery: Any, **kw: Any
    ) -> None:
        if len(self.queue) >= 2:
            raise BufferError("queue full")
        self.queue.append((value, on_delivery))
        self.sent.append((value, key, kw))

    def poll(self, timeout: float) -> int:
        served = len(self.queue)
        for _, callback in self.queue:
            callback(None, _Msg())
        self.queue.clear()
        return served

    def flush(self, timeout: float) -> int:
        self.poll(timeout)
        return 0


def test_produce_all_waits_out_a_full_queue_and_sends_everything_in_order() -> None:
    producer = _FakeProducer()
    report = DeliveryReport()
    values = [b"v%d" % i for i in range(7)]
    assert produce_all(producer, "t", values, report, key=b"k", timestamp_ms=5) == 7
    assert [v for v, _, _ in producer.sent] == values
    assert all(k == b"k" and kw == {"timestamp": 5} for _, k, kw in producer.sent)
    assert report.delivered == 7
