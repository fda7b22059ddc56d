"""`wordstream status`: is every component up? The lab's `jps` step, for this stack.

All probes run in parallel threads, each bounded by PROBE_TIMEOUT_S, so the whole
command answers within a couple of seconds even when everything is down.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any

from streamapp.cli.common import KafkaTarget, add_kafka_options, kafka_target
from streamapp.health import (
    Reply,
    answered,
    batch_state,
    clock_state,
    http_json,
    split_timeout,
    worker_state,
)
from streamapp.lag import LagUnavailable, PartitionLag, read_lag

if TYPE_CHECKING:
    from streamapp.snapshots import LastRun, SnapshotReader

PROBE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    """One component's state; `ok` is False for anything that should fail the exit code."""

    name: str
    address: str
    state: str
    ok: bool
    detail: str = ""


def _down(name: str, address: str, reply: Reply) -> Check:
    reason = reply.error or f"HTTP {reply.status}"
    return Check(name, address, "down", False, reason)


def plain_check(name: str, address: str, reply: Reply) -> Check:
    """Up if the endpoint answers 200."""
    if reply.status == 200:
        return Check(name, address, "up", True)
    return _down(name, address, reply)


def hdfs_check(address: str, reply: Reply) -> Check:
    """Up if GETFILESTATUS on / answers a FileStatus."""
    if reply.status == 200 and isinstance(reply.body, dict) and "FileStatus" in reply.body:
        return Check("hdfs", address, "up", True)
    if reply.status == 200:
        return Check("hdfs", address, "down", False, "not a WebHDFS reply")
    return _down("hdfs", address, reply)


def worker_check(address: str, reply: Reply) -> Check:
    """Up if /health says ok; `starting` (partitions not assigned yet) is not up yet."""
    if not answered(reply):
        return _down("worker", address, reply if reply.status != 200 else Reply(error="bad reply"))
    assigned = reply.body.get("assigned") or []
    detail = "partitions " + (",".join(str(p) for p in assigned) or "none")
    if worker_state(reply.body) == "ok":
        return Check("worker", address, "up", True, detail)
    return Check("worker", address, str(reply.body.get("status", "unknown")), False, detail)


def clock_check(address: str, reply: Reply) -> Check:
    """Up if /health answers; the detail says when the next batch run is due."""
    if clock_state(reply) == "down":
        return _down("clock", address, reply if reply.status != 200 else Reply(error="bad reply"))
    detail = f"next run {reply.body.get('next_run', '?')}"
    if reply.body.get("running"):
        detail = "batch running; " + detail
    return Check("clock", address, "up", True, detail)


def batch_check(address: str, run: LastRun | None) -> Check:
    """The last batch run from `last_run.json`: a failed run is down, no run yet is fine."""
    state = batch_state(run)
    if run is None:
        return Check("batch", address, state, True)
    run_id = run.get("run_id", "?")
    reason = run.get("error") or "no reason given"
    detail = {
        "success": f"{run_id} finished {run.get('finished_at')}",
        "running": f"{run_id} started {run.get('started_at')}",
        "failed": f"{run_id} failed {run.get('finished_at')}: {reason}",
    }.get(state, "last_run.json is not readable")
    return Check("batch", address, state, state in ("success", "running"), detail)


def batch_probe(reader: SnapshotReader) -> Check:
    """`batch_check` of last_run.json as WebHDFS holds it; unknown if it cannot be read."""
    from streamapp.snapshots import SnapshotUnavailable

    address = f"{reader.root}/last_run.json"
    try:
        run = reader.last_run()
    except SnapshotUnavailable as exc:
        return Check("batch", address, "unknown", False, f"HDFS: {exc}")
    return batch_check(address, run)


def exit_code(checks: list[Check]) -> int:
    """0 only if every component is fine."""
    return 0 if all(c.ok for c in checks) else 1


def table_lines(checks: list[Check]) -> list[str]:
    """A fixed-width table, one component per line."""
    header = ("COMPONENT", "STATE", "ADDRESS", "DETAIL")
    rows = [header, *((c.name, c.state, c.address, c.detail) for c in checks)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
        for r in rows
    ]


@dataclass(frozen=True)
class LagReport:
    """Both groups' lag per partition, or why it could not be read."""

    topic: str
    partitions: list[PartitionLag]
    error: str = ""


def lag_lines(report: LagReport) -> list[str]:
    """The lag table: one line per group and partition, or one line saying why there is none."""
    if report.error:
        return [f"lag of {report.topic}: unknown ({report.error})"]
    if not report.partitions:
        return [f"lag of {report.topic}: no such topic yet"]
    header = ("GROUP", "ROLE", "PARTITION", "COMMITTED", "END", "LAG")
    rows = [header] + [
        (
            r.group,
            r.role,
            str(r.partition),
            "-" if r.committed is None else str(r.committed),
            str(r.end),
            str(r.lag),
        )
        for r in report.partitions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    # Names left-aligned, numbers right-aligned.
    return [
        "  ".join(
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def json_report(checks: list[Check], lag: LagReport | None = None) -> dict[str, Any]:
    """`--json` output: components, and (when the broker answered) lag per partition."""
    result: dict[str, Any] = {
        "ok": exit_code(checks) == 0,
        "components": [asdict(c) for c in checks],
    }
    if lag is not None:
        result["lag"] = {
            "topic": lag.topic,
            "partitions": [r.as_dict() for r in lag.partitions],
            "error": lag.error or None,
        }
    return result


def http_get(url: str, params: dict[str, str] | None = None) -> Reply:
    """GET `url` within PROBE_TIMEOUT_S; the JSON body if there is one. Never raises."""
    return http_json(url, PROBE_TIMEOUT_S, params)


def broker_probe(target: KafkaTarget) -> Check:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    client = AdminClient(target.client_config())
    try:
        metadata = client.list_topics(timeout=PROBE_TIMEOUT_S)
    except KafkaException:
        return Check("broker", target.bootstrap, "down", False, "no metadata reply")
    detail = f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)"
    return Check("broker", target.bootstrap, "up", True, detail)


def worker_probe(url: str) -> Check:
    return worker_check(url, http_get(f"{url}/health"))


def probes(target: KafkaTarget) -> list[Callable[[], Check]]:
    """One zero-argument probe per component, in display order."""
    from streamapp import snapshots

    s = target.settings
    webhdfs = f"{s.hdfs_url.rstrip('/')}/webhdfs/v1"
    user = {"user.name": s.hdfs_user_name}
    web = f"http://localhost:{s.web_port}"
    clock = s.clock_base_url
    reader = snapshots.SnapshotReader.from_settings(s, split_timeout(PROBE_TIMEOUT_S))
    found: list[Callable[[], Check]] = [
        lambda: broker_probe(target),
        lambda: hdfs_check(s.hdfs_url, http_get(f"{webhdfs}/", {"op": "GETFILESTATUS", **user})),
    ]
    found += [partial(worker_probe, url) for url in s.worker_url_list]
    found += [
        lambda: plain_check("web", web, http_get(f"{web}/healthz")),
        lambda: clock_check(clock, http_get(f"{clock}/health")),
        lambda: batch_probe(reader),
    ]
    return found


def lag_probe(target: KafkaTarget) -> LagReport:
    """Both groups' lag on KAFKA_TOPIC (asked only once the broker answered)."""
    settings = replace(target.settings, kafka_bootstrap=target.bootstrap)
    try:
        return LagReport(settings.topic, read_lag(settings))
    except LagUnavailable as exc:
        return LagReport(settings.topic, [], str(exc))


def run(args: argparse.Namespace) -> int:
    target = kafka_target(args)
    todo = probes(target)
    with ThreadPoolExecutor(max_workers=len(todo)) as pool:
        checks = list(pool.map(lambda probe: probe(), todo))
    # Lag is information, not a failure: it never changes the exit code. Without a
    # broker there is nothing to read, and trying would cost the offset requests' timeout.
    broker_up = any(c.name == "broker" and c.ok for c in checks)
    lag = lag_probe(target) if broker_up else None
    if args.json:
        print(json.dumps(json_report(checks, lag), indent=2))
    else:
        lines = table_lines(checks)
        if lag is not None:
            lines += ["", *lag_lines(lag)]
        print("\n".join(lines))
    return exit_code(checks)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status",
        help="is every component up? (broker, HDFS, worker, web, clock, last batch run, lag)",
        description="Check every component in parallel; exit 0 only if all are up.",
    )
    add_kafka_options(parser, topic=False)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)
