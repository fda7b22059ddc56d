"""The `wordstream` console script: one subcommand per step the lab did by hand.

Each subcommand lives in its own module exposing `register(subparsers)`, which adds
its parser and sets `func(args) -> int`. Errors the user can fix are raised as
`WordstreamError` (or a package's own base error) and printed here as one line.
"""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import os
import signal
import sys

from streamapp.errors import WordstreamError

# Module paths, in the order `wordstream --help` lists them. A module that later
# issues add goes here; it must define `register(subparsers)`.
COMMAND_MODULES = [
    "streamapp.cli.topics",
    "streamapp.cli.produce",
    "streamapp.cli.tail",
    "streamapp.cli.status",
    "spark_jobs.cli",
    "streamapp.cli.archive",
    "streamapp.cli.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wordstream", description="Live vs exact word counts over a Kafka stream."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return its exit code (non-zero on any failure)."""
    # `kill -USR1 <pid>` prints every thread's stack to stderr: where a command that
    # seems hung (e.g. a Ctrl-C that does not return) waits, even inside C code.
    # The process's own stderr: a caller may have replaced sys.stderr (tests do).
    if sys.__stderr__ is not None:
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except WordstreamError as exc:
        print(f"wordstream {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Whoever read our output went away (`wordstream tail | head`): stop quietly,
        # with the status a shell gives coreutils killed by SIGPIPE.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
