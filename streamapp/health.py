"""Component health in one vocabulary, shared by `wordstream status` and the report.

A component is `ok`; `warn` when it answers but is not fully there (a worker starting
or catching up, a batch running, a topic missing); `down`; or `unknown` when there is
nothing to judge yet or its source cannot be read. The verdicts are pure functions of
what a component answered; `http_json` is the one HTTP probe, and it never raises.
Each surface words its details itself (the CLI's table, the report's diagram).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from streamapp.snapshots import LastRun

HealthState = Literal["ok", "warn", "down", "unknown"]
# The last batch attempt as last_run.json tells it (`unknown`: a state no writer uses).
BatchState = Literal["never run", "success", "running", "failed", "unknown"]

_WRITTEN_STATES = ("success", "running", "failed")

# A batch that never ran has nothing to judge yet; one that is running is not done.
BATCH_HEALTH: dict[BatchState, HealthState] = {
    "never run": "unknown",
    "success": "ok",
    "running": "warn",
    "failed": "down",
    "unknown": "unknown",
}


@dataclass(frozen=True)
class Health:
    """One component's state in the shared vocabulary, and what it said."""

    state: HealthState
    detail: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {"state": self.state, "detail": self.detail}


@dataclass(frozen=True)
class Reply:
    """What an HTTP probe got: a status code and JSON body, or an error description."""

    status: int | None = None
    body: Any = None
    error: str = ""


def describe_http_error(exc: Exception, timeout: float) -> str:
    """A short reason for a failed HTTP request (requests' own messages are a paragraph)."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:.0f} s"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if "refused" in str(exc).lower() else "cannot connect"
    return type(exc).__name__


def split_timeout(seconds: float) -> tuple[float, float]:
    """requests' timeout for a call bounded by `seconds`: it bounds connecting and each read
    separately, so each gets half."""
    return (seconds / 2, seconds / 2)


def http_json(url: str, timeout: float, params: dict[str, str] | None = None) -> Reply:
    """GET `url` within `timeout` seconds; the JSON body if there is one. Never raises."""
    import requests

    try:
        response = requests.get(url, params=params, timeout=split_timeout(timeout))
    except requests.RequestException as exc:
        return Reply(error=describe_http_error(exc, timeout))
    try:
        body = response.json()
    except ValueError:
        body = None
    return Reply(response.status_code, body)


def answered(reply: Reply) -> bool:
    """True if the component answered 200 with a JSON object."""
    return reply.status == 200 and isinstance(reply.body, dict)


def worker_state(body: Any) -> HealthState:
    """A worker's `/health` answer: ok once its partitions are assigned, warn before."""
    if not isinstance(body, dict):
        return "down"
    return "ok" if body.get("status") == "ok" else "warn"


def clock_state(reply: Reply) -> HealthState:
    """The clock's `/health`: ok whenever it answers (running a batch or waiting for one)."""
    return "ok" if answered(reply) else "down"


def batch_state(run: LastRun | None) -> BatchState:
    """The last attempt's state; `never run` when there is no last_run.json."""
    if run is None:
        return "never run"
    state = run["state"]
    return cast(BatchState, state) if state in _WRITTEN_STATES else "unknown"
