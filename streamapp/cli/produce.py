"""`wordstream produce`: send messages to the topic, like the lab's produce.py.

Values are bytes end to end: a file or stdin is read in binary and split on b"\\n",
so a line that is not valid UTF-8 reaches the topic unchanged (the worker must see
and reject it, not this tool).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from streamapp.cli.common import (
    add_kafka_options,
    fetch_metadata,
    kafka_target,
    positive_float,
    positive_int,
    require_topic,
)
from streamapp.errors import WordstreamError

# librdkafka retries a delivery for 5 minutes by default; a CLI should give up sooner.
DELIVERY_TIMEOUT_MS = 30_000


class ProduceError(WordstreamError):
    """Bad produce arguments, an unreadable input, or messages that were not delivered."""


@dataclass(frozen=True)
class Source:
    """Where the messages come from: `args` (values given), `file` (path) or `stdin`."""

    kind: str
    values: list[bytes] = field(default_factory=list)
    path: str = ""


def to_bytes(text: str) -> bytes:
    """Encode an argument back to the bytes the shell passed (undecodable bytes survive)."""
    return text.encode("utf-8", "surrogateescape")


def choose_source(messages: list[str], file: str | None) -> Source:
    """Decide the input from the positional messages and --file; `-` means stdin."""
    if file is not None and messages:
        raise ProduceError("give messages as arguments or --file PATH, not both")
    if file == "-" or messages == ["-"]:
        return Source("stdin")
    if file is not None:
        return Source("file", path=file)
    if not messages:
        raise ProduceError(
            "nothing to produce: give messages as arguments, --file PATH, or - to read stdin"
        )
    return Source("args", values=[to_bytes(m) for m in messages])


def strip_newline(line: bytes) -> bytes:
    """A line as read from a binary file, without its terminating b"\\n"."""
    return line[:-1] if line.endswith(b"\n") else line


def send_delay(sent: int, rate: float | None, elapsed: float) -> float:
    """Seconds to wait before sending message number `sent` (0-based) to hold `rate` msgs/s."""
    if not rate:
        return 0.0
    return max(0.0, sent / rate - elapsed)


def delivery_line(topic: str, partition: int, offset: int) -> str:
    """The per-message report of the lab's produce.py, with the offset added."""
    return f"Message delivered to {topic} [{partition}] @ {offset}"


def summary_line(delivered: int, failed: int) -> str:
    return f"{delivered} delivered, {failed} failed"


def failure_message(failed: int, total: int, first_error: str) -> str:
    """The one error line when some messages were not delivered."""
    return f"{failed} of {total} messages were not delivered (first error: {first_error})"


@dataclass
class DeliveryReport:
    """Counts delivery callbacks; with `verbose`, prints one line per message."""

    verbose: bool = False
    out: IO[str] | None = None  # None: whatever sys.stdout is when a line is printed
    delivered: int = 0
    failed: int = 0
    first_error: str = ""

    def fail(self, error: str) -> None:
        self.failed += 1
        self.first_error = self.first_error or error
        if self.verbose:
            print(f"Message delivery failed: {error}", file=self.out)

    def on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.fail(err.str())
            return
        self.delivered += 1
        if self.verbose:
            print(delivery_line(msg.topic(), msg.partition(), msg.offset()), file=self.out)


def _lines(stream: IO[bytes], progress: Any) -> Iterator[bytes]:
    for line in stream:  # binary mode: splits on b"\n" only
        progress.update(len(line))
        yield strip_newline(line)


def _open_input(source: Source) -> IO[bytes]:
    if source.kind == "stdin":
        return sys.stdin.buffer
    try:
        return open(source.path, "rb")  # closed by the caller
    except OSError as exc:
        raise ProduceError(f"cannot read {source.path}: {exc.strerror}") from None


def produce_all(
    producer: Any,
    topic: str,
    values: Iterable[bytes],
    report: DeliveryReport,
    key: bytes | None = None,
    timestamp_ms: int | None = None,
    rate: float | None = None,
) -> int:
    """Queue every value (librdkafka batches them), wait for all deliveries; return the count."""
    extra: dict[str, Any] = {} if timestamp_ms is None else {"timestamp": timestamp_ms}
    start = time.monotonic()
    sent = 0
    for value in values:
        while (wait := send_delay(sent, rate, time.monotonic() - start)) > 0:
            producer.poll(wait)  # serves delivery callbacks while we hold the rate
        while True:
            try:
                producer.produce(topic, value, key, on_delivery=report.on_delivery, **extra)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)
            except Exception as exc:  # KafkaException, e.g. a message over the size limit
                report.fail(f"message {sent + 1}: {exc}")
                break
        sent += 1
        producer.poll(0)
    while producer.flush(1.0):  # short rounds keep Ctrl-C responsive
        pass
    return sent


def run(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer
    from tqdm import tqdm

    target = kafka_target(args)
    source = choose_source(args.messages, args.file)
    stream = None if source.kind == "args" else _open_input(source)
    try:
        producer = Producer(target.client_config(**{"message.timeout.ms": DELIVERY_TIMEOUT_MS}))
        require_topic(fetch_metadata(producer, target.bootstrap), target.topic, target.bootstrap)
        report = DeliveryReport(verbose=args.verbose)
        key = None if args.key is None else to_bytes(args.key)
        if stream is None:
            values: Iterable[bytes] = source.values
            progress = None
        else:
            size = os.fstat(stream.fileno()).st_size if source.kind == "file" else 0
            total = size or None  # a pipe or device reports size 0: no known total
            # disable=None: a bar only on a terminal, never in pipes or logs.
            progress = tqdm(total=total, unit="B", unit_scale=True, disable=None, leave=False)
            values = _lines(stream, progress)
        try:
            sent = produce_all(
                producer, target.topic, values, report, key, args.timestamp_ms, args.rate
            )
        finally:
            if progress is not None:
                progress.close()
    finally:
        if stream is not None and stream is not sys.stdin.buffer:
            stream.close()
    print(summary_line(report.delivered, report.failed))
    lost = sent - report.delivered
    if lost:
        raise ProduceError(failure_message(lost, sent, report.first_error or "no report"))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "produce",
        help="send messages (arguments, a file, or stdin) to the topic",
        description="Send messages to the topic: each argument, each line of --file, "
        "or each line of stdin (-) is one message.",
    )
    add_kafka_options(parser)
    parser.add_argument("messages", nargs="*", metavar="MESSAGE", help="messages; - reads stdin")
    parser.add_argument("--file", metavar="PATH", help="one message per line (- for stdin)")
    parser.add_argument("--key", help="key of every message (default: none)")
    parser.add_argument("--rate", type=positive_float, metavar="N", help="at most N msgs/s")
    parser.add_argument(
        "--timestamp-ms",
        type=positive_int,  # librdkafka reads a timestamp of 0 as "now"
        metavar="MS",
        help="record timestamp in ms since the epoch (default: now)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print a delivery report per message"
    )
    parser.set_defaults(func=run)
