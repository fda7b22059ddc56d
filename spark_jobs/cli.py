"""`wordstream batch ...`: run the job now, show the last run, trigger or run the clock.

wordstream batch run [--archive URI] [--report-root URI] [--master URL] [--force]
wordstream batch status      last_run.json, latest and the clock's health
wordstream batch trigger     ask the running clock to start a run (POST /run)
wordstream batch clock       run the clock process (same as python -m spark_jobs.clock)
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from spark_jobs.errors import BatchError, ClockUnavailable
from spark_jobs.options import add_job_arguments, options_from_args
from streamapp.config import Settings

if TYPE_CHECKING:
    from streamapp.snapshots import LastRun, LatestPointer

HTTP_TIMEOUT_S = 3.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("batch", help="the nightly Spark job: run, status, clock")
    sub = parser.add_subparsers(dest="batch_command", required=True, metavar="ACTION")

    run = sub.add_parser("run", help="run the batch job now, in this process")
    add_job_arguments(run)
    run.set_defaults(func=_run)

    status = sub.add_parser("status", help="show the last attempt, the latest run and the clock")
    status.set_defaults(func=_status)

    trigger = sub.add_parser("trigger", help="ask the clock process to start a run now")
    trigger.set_defaults(func=_trigger)

    clock = sub.add_parser("clock", help="run the clock (cron schedule + /health + /run)")
    from spark_jobs.clock import add_clock_arguments

    add_clock_arguments(clock)
    clock.set_defaults(func=_clock)


def _run(args: argparse.Namespace) -> int:
    # Imported here: pyspark takes a second to import, other subcommands need none of it.
    from spark_jobs.wordcount import configure_logging, execute

    options = options_from_args(args, Settings.from_env())
    configure_logging()
    return execute(options)


def _clock(args: argparse.Namespace) -> int:
    from spark_jobs.clock import run_clock

    return run_clock(args)


def _status(args: argparse.Namespace) -> int:
    from streamapp.snapshots import SnapshotReader, SnapshotUnavailable

    settings = Settings.from_env()
    reader = SnapshotReader.from_settings(settings, timeout=None)
    try:
        last, latest = reader.last_run(), reader.latest()
    except SnapshotUnavailable as exc:
        raise BatchError(
            f"cannot read {settings.report_root} over WebHDFS at {settings.hdfs_url} "
            f"({exc}); is HDFS up and HDFS_URL right?"
        ) from None
    print(describe_status(last, latest, _clock_health(settings)))
    return 1 if last and last["state"] == "failed" else 0


def _clock_health(settings: Settings) -> dict[str, Any] | str:
    import requests

    try:
        reply = requests.get(f"{settings.clock_base_url}/health", timeout=HTTP_TIMEOUT_S)
        return dict(reply.json())
    except (requests.RequestException, ValueError) as exc:
        return f"not answering at {settings.clock_base_url} ({type(exc).__name__})"


def describe_status(
    last_run: LastRun | None,
    latest: LatestPointer | None,
    clock: dict[str, Any] | str,
) -> str:
    """Three lines: last attempt, latest complete run, clock."""
    if last_run is None:
        attempt = "last run: none yet"
    else:
        attempt = (
            f"last run: {last_run.get('run_id')} {last_run.get('state')} "
            f"(started {last_run.get('started_at')}, finished {last_run.get('finished_at')})"
        )
        if last_run.get("error"):
            attempt += f": {last_run['error']}"
    newest = (
        f"latest:   {latest.get('run_id')} at {latest.get('path')}"
        if latest
        else "latest:   no complete run yet"
    )
    if isinstance(clock, str):
        clock_line = f"clock:    {clock}"
    else:
        clock_line = (
            f"clock:    {clock.get('status')}, cron {clock.get('cron')!r} "
            f"({clock.get('timezone')}), next run {clock.get('next_run')}, "
            f"running: {'yes' if clock.get('running') else 'no'}"
        )
    return "\n".join((attempt, newest, clock_line))


def _trigger(args: argparse.Namespace) -> int:
    import requests

    settings = Settings.from_env()
    try:
        reply = requests.post(f"{settings.clock_base_url}/run", timeout=HTTP_TIMEOUT_S)
    except requests.RequestException as exc:
        raise ClockUnavailable(
            f"the clock does not answer at {settings.clock_base_url} ({type(exc).__name__}); "
            "start it with `python -m spark_jobs.clock`, or run the job here with "
            "`wordstream batch run`"
        ) from None
    if reply.status_code == 202:
        print("batch run started by the clock; see `wordstream batch status`")
        return 0
    print(f"wordstream batch trigger: {reply.json().get('error', reply.text)}")
    return 1
