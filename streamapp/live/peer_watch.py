"""A dead worker leaves the group as soon as its port refuses connections.

Every `LIVE_PEER_CHECK_MS` each worker asks the others the assignor lists for their
group member id (`/_local/member`). When one's port refuses the connection, its
process is gone: this worker removes that member from the group (`streamapp.live.peers`,
`transport.remove_member`), and the group rebalances without waiting for the member's
session to time out. Off with static membership (`WORKER_INSTANCE_ID`), whose point
is that a restarted worker takes its member back without a rebalance. docs/live.md,
"Failover".
"""

from __future__ import annotations

import asyncio
import errno
import logging
from typing import Any, cast

import aiohttp
from aiokafka.errors import KafkaError
from faust import web
from prometheus_client import Counter

from streamapp.app import app, before_stop, settings
from streamapp.live.peers import Peers
from streamapp.transport import Consumer

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 2.0

MEMBERS_REMOVED = Counter(
    "wordstream_live_members_removed",
    "Group members this worker removed because their worker's port refused connections",
)

peers = Peers()


def _consumer() -> Consumer:
    return cast(Consumer, app.consumer)


# Set when a clean stop begins: the worker then leaves the group on its own.
_stopping = False


async def _announce_stop() -> None:
    global _stopping
    _stopping = True


# First of the stop hooks: while the worker drains and stops, the others see no member
# id, so the refused connections after its web server closed remove nothing (its own
# LeaveGroup has; on the dev broker a second one would cost another rebalance).
before_stop.insert(0, _announce_stop)


@app.page("/_local/member")
async def local_member(self: web.View, request: web.Request) -> web.Response:
    """Internal: this worker's member id in the consumer group (null before it joined,
    and once it is stopping)."""
    return self.json({"member_id": None if _stopping else _consumer().member_id()})


def _refused(exc: aiohttp.ClientConnectorError) -> bool:
    error = exc.os_error
    return isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED


async def _check(session: Any, url: str) -> None:
    """Remember `url`'s member id, or remove that member if its port refuses us."""
    timeout = aiohttp.ClientTimeout(total=CHECK_TIMEOUT_S)
    try:
        async with session.get(f"{url}/_local/member", timeout=timeout) as resp:
            if resp.status == 200:
                peers.announced(url, (await resp.json()).get("member_id"))
        return
    except aiohttp.ClientConnectorError as exc:
        if not _refused(exc):
            return
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return  # slow or odd, not gone: its session timeout decides
    except RuntimeError:
        return  # faust closed its HTTP client meanwhile (a clean stop)
    member = peers.refused(url)
    if member is None:
        return
    try:
        outcome = await _consumer().remove_member(member)
    except (KafkaError, OSError) as exc:
        # An exception in a faust timer stops the worker; the session timeout remains.
        log.warning("live: could not remove the member of %s (%s): %r", url, member, exc)
        return
    if outcome == "NoError":
        MEMBERS_REMOVED.inc()
    log.warning(
        "live: worker %s refuses connections: removed its member %s from the group (%s)",
        url,
        member,
        outcome,
    )


if settings.live_peer_check_ms and not settings.worker_instance_id:

    @app.timer(interval=settings.live_peer_check_ms / 1000)
    async def watch_peers() -> None:
        """Check every other worker the assignor lists (see the module docstring)."""
        me = str(app.conf.canonical_url).rstrip("/")
        others = [str(h).rstrip("/") for h in app.router.tables_metadata()]
        others = [h for h in others if h != me]
        peers.keep(others)
        session = app.http_client
        if not others or getattr(session, "closed", False):
            return  # alone, or stopping (faust closes its HTTP client first)
        await asyncio.gather(*(_check(session, url) for url in others))
