"""The one faust.App of wordstream; topics, tables, agents and views import `app` from here.

Run a worker with:  faust -A streamapp.app worker -l info
"""

from __future__ import annotations

import gc
import ssl
from collections.abc import Awaitable, Callable

import faust
from faust.auth import Credentials, SASLCredentials, SSLCredentials

from streamapp.config import Settings
from streamapp.live.standby import TableManager
from streamapp.transport import broker_url

settings = Settings.from_env()


def broker_credentials(s: Settings) -> Credentials | None:
    """faust credentials for KAFKA_SECURITY_PROTOCOL (None for PLAINTEXT)."""
    protocol = s.kafka_security_protocol
    context = None
    if protocol.endswith("SSL"):
        context = ssl.create_default_context(cafile=s.kafka_ssl_cafile or None)
    if protocol.startswith("SASL"):
        return SASLCredentials(
            username=s.kafka_sasl_username,
            password=s.kafka_sasl_password,
            ssl_context=context,
            mechanism=s.kafka_sasl_mechanism,
        )
    if protocol == "SSL":
        return SSLCredentials(context)
    return None


# Coroutines a clean stop runs first (docs/live.md, "Stopping"), in order.
before_stop: list[Callable[[], Awaitable[None]]] = []


class WordstreamApp(faust.App):
    """faust.App whose stop runs `before_stop` while agents, tables and the consumer
    still work: faust's own stop begins by revoking the tables' partitions."""

    async def on_stop(self) -> None:
        for hook in before_stop:
            await hook()
        await super().on_stop()


app = WordstreamApp(
    settings.app_id,
    # kafka:// with a configurable fetch wait (see streamapp/transport.py).
    broker=broker_url(settings),
    # faust reads some settings straight from unprefixed environment variables, and
    # its WEB_PORT would override WORKER_PORT with the report page's port. With a
    # prefix, streamapp.config stays the only reader of wordstream's variables.
    env_prefix="FAUST_",
    store="rocksdb://",
    datadir=settings.state_dir,
    web_host=settings.worker_host,
    web_port=settings.worker_port,
    broker_credentials=broker_credentials(settings),
    processing_guarantee=settings.processing_guarantee,
    # 1 MB messages: aiokafka's producer refuses requests above 1,000,000 bytes by default.
    consumer_max_fetch_size=settings.kafka_max_message_bytes,
    broker_max_poll_records=settings.kafka_max_poll_records,
    producer_max_request_size=settings.kafka_max_message_bytes,
    topic_partitions=settings.topic_partitions,
    # Standby copies of the live tables (faust's default is 1, set here so it has one
    # documented setting): a standby applies its partitions' changelogs as they are
    # written, so a worker's death moves its partitions without a full changelog replay,
    # and the views answer from the standby meanwhile (streamapp.live.shares).
    table_standby_replicas=settings.live_standby_replicas,
    # faust's own drops the standby records fetched while a rebalance completes
    # (streamapp.live.standby): the copies then silently lacked rows.
    TableManager=TableManager,
    # A large vocabulary writes a table changelog record per changed word: batched, not
    # a produce request per few records (docs/live.md, "Memory and a large vocabulary").
    producer_linger=settings.kafka_producer_linger_ms / 1000,
    producer_max_batch_size=settings.kafka_producer_batch_bytes,
    # Group join time: the dev broker (tansu) holds every JoinGroup for half the
    # session timeout before answering, so faust's 60 s default meant a 30 s start.
    # Heartbeats must stay well under the session timeout (Kafka's rule: < 1/3).
    broker_session_timeout=settings.kafka_session_timeout_s,
    broker_rebalance_timeout=settings.kafka_session_timeout_s,
    broker_heartbeat_interval=max(settings.kafka_session_timeout_s / 6, 0.5),
    # What a dead worker had not committed, its partitions' next owner reads again:
    # source messages and update records, also those it had counted and written.
    broker_commit_interval=settings.kafka_commit_interval_ms / 1000,
    # Static membership (opt-in, docs/live.md): after a kill -9 the restarted worker
    # replaces its dead member at once instead of waiting for its session to expire.
    consumer_group_instance_id=settings.worker_instance_id or None,
    # Do not wait for every in-flight event to be acked before a rebalance or shutdown:
    # the live agent acks only once its write-behind rows are written, which would stall
    # the whole group. Unacked events are simply replayed (live counts: offset marks).
    # The archive sink has its own consumer and group (streamapp/archive/agent.py).
    stream_wait_empty=False,
    # After a rebalance the dev broker reports a changelog highwater one below the offset
    # faust persisted from its own writes, and faust refuses to recover the partition
    # (ConsistencyError). Recovery still starts from the persisted offset; the check only
    # guards against a recreated topic, which the app id in every topic name rules out.
    recovery_consistency_check=False,
    # Modules that register agents, tables and views on `app` when the worker starts.
    # No `origin`: faust would add it to this list and import every module of the
    # package, including `streamapp.cli.__main__`, which runs the CLI on import.
    autodiscover=[
        "streamapp.live.agents",
        "streamapp.live.views",
        "streamapp.live.peer_watch",
        "streamapp.archive.agent",
        "streamapp.lag_metrics",
    ],
)

# The input topic: raw bytes, because values that are not valid UTF-8 must be seen
# (and rejected) by the worker rather than failing inside a deserializer.
source_topic = app.topic(settings.topic, key_type=bytes, value_type=bytes, value_serializer="raw")


@app.task
async def freeze_startup_objects() -> None:
    """Move everything allocated at startup out of the cyclic GC's reach.

    Modules, faust's services and the app's objects live as long as the worker, yet
    every full collection scanned them: with faust's per-event allocations that was
    ~7% of the event loop's time under load (measured with gc.callbacks while
    bench/live_throughput.py ran), ~1% after `gc.freeze()`.
    """
    gc.freeze()
