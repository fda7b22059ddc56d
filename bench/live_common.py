"""Helpers shared by the live benchmarks: a worker subprocess, topics, a fast producer."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from devstack.worker_env import worker_env

ROOT = Path(__file__).resolve().parent.parent
FAUST = str(Path(sys.executable).with_name("faust"))
VOCAB = [f"w{i}" for i in range(5000)]
WEIGHTS = [1.0 / (i + 1) for i in range(len(VOCAB))]  # Zipf-like, as natural text


def ten_word_messages(n: int, seed: int = 7) -> list[bytes]:
    """`n` messages of 10 words each from a 5,000-word Zipf vocabulary."""
    rng = random.Random(seed)
    return [" ".join(rng.choices(VOCAB, WEIGHTS, k=10)).encode() for _ in range(n)]


def create_topic(bootstrap: str, partitions: int = 4) -> str:
    """A new source topic with `partitions` partitions."""
    topic = f"bench_{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)
    return topic


def producer(bootstrap: str) -> Producer:
    return Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "partitioner": "random"})


def produce_all(bootstrap: str, topic: str, values: list[bytes]) -> None:
    """Send every value as fast as the client allows and wait for delivery."""
    p = producer(bootstrap)
    for value in values:
        while True:
            try:
                p.produce(topic, value)
                break
            except BufferError:
                p.poll(0.05)
    p.flush(60)


def produce_paced(
    bootstrap: str, topic: str, values: list[bytes], rate: float, sent_at: list[float]
) -> None:
    """Send value i at `i / rate` seconds from now; record when each went in `sent_at`."""
    p = producer(bootstrap)
    start = time.monotonic()
    for i, value in enumerate(values):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        sent_at[i] = time.monotonic()
        p.produce(topic, value)
        p.poll(0)
    p.flush(30)


class Worker:
    """A `faust worker` subprocess of bench/live_apps.py in one BENCH_MODE."""

    def __init__(
        self,
        mode: str,
        bootstrap: str,
        topic: str,
        extra: dict[str, str] | None = None,
        app_id: str | None = None,
    ):
        """`app_id`: the group to join (several workers of one app); a new one if None."""
        self.state = tempfile.mkdtemp(prefix="live-bench-")
        self.log = open(Path(self.state) / "worker.log", "wb")  # noqa: SIM115
        env = worker_env(
            bootstrap,
            topic,
            app_id or f"bench_{mode}_{uuid.uuid4().hex[:8]}",
            self.state,
            extra={
                "PYTHONPATH": f"{ROOT / 'bench'}{os.pathsep}{ROOT}",
                "BENCH_MODE": mode,
                **(extra or {}),
            },
        )
        self.port = int(env["WORKER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [FAUST, "-A", "live_apps", "worker", "-l", "warn"],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def get(self, path: str) -> Any:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def metric(self, name: str) -> float:
        """The value of an unlabelled Prometheus sample on the worker's /metrics."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def wait(self, path: str, ok: Any, timeout: float = 60.0) -> Any:
        """Poll `path` until `ok(answer)`; return the answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited; see {self.log.name}")
            try:
                answer = self.get(path)
                if ok(answer):
                    return answer
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{path} not ready within {timeout} s; see {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
