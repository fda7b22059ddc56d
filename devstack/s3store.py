"""A local S3 server that keeps its objects across restarts, for BROKER_STORAGE=s3.

Tansu's `s3://` storage engine needs an S3 server that honours conditional PUTs
(`If-Match`, `If-None-Match`). moto's server (`moto[server]`) does, but holds its
objects in memory only. Its recorder appends every request it serves to a file
(JSON lines) and can replay that file into a fresh server: that file is the store.
Each start replays it and then compacts it to one PUT per object, so it grows only
with one session's requests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

from devstack.ports import free_port, wait_for_port
from devstack.service import Service
from streamapp.errors import WordstreamError

BUCKET = "tansu"
LOG_NAME = "s3-requests.jsonl"
# moto accepts any credentials; tansu's S3 client will not start without some.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "dev",
    "AWS_SECRET_ACCESS_KEY": "dev",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class S3StoreError(WordstreamError):
    """The dev S3 server could not be started or its log not replayed."""


class S3Store(Service):
    """moto's S3 server in a child process, its state kept under `directory`."""

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        preexec_fn: Any = None,
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = 0
        self.log_path = log_path
        self.preexec_fn = preexec_fn
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def requests_log(self) -> Path:
        return self.directory / LOG_NAME

    def tansu_env(self) -> dict[str, str]:
        """What tansu's S3 client needs to use this server."""
        return {**CREDENTIALS, "AWS_ENDPOINT": self.endpoint, "AWS_ALLOW_HTTP": "true"}

    def start(self, timeout: float = 30.0) -> S3Store:
        """Start moto, replay the request log and compact it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log, backup = self.requests_log, self._backup
        if backup.exists():  # a compaction was cut short: the log it started from is whole
            backup.replace(log)
        self.port = free_port(self.host)
        env = {
            **os.environ,
            "MOTO_ENABLE_RECORDING": "True",
            "MOTO_RECORDER_FILEPATH": str(log.resolve()),
        }
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=self.preexec_fn,
            )
        finally:
            if not isinstance(out, int):
                out.close()
        if not wait_for_port(self.host, self.port, timeout):
            self.stop()
            raise S3StoreError(f"the dev S3 server (moto) did not listen within {timeout:.0f} s")
        try:
            if log.exists() and log.stat().st_size:
                self._replay(log)
            else:
                self._client().create_bucket(Bucket=BUCKET)
        except Exception as exc:
            self.stop()
            raise S3StoreError(
                f"could not restore the dev broker's data from {log}: {exc}; "
                f"move {self.directory} away to start empty"
            ) from None
        return self

    @property
    def _backup(self) -> Path:
        return self.directory / (LOG_NAME + ".compacting")

    def _client(self) -> Any:
        import boto3  # moto[server] brings it; only BROKER_STORAGE=s3 needs it

        creds = {
            "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
        }
        return boto3.client("s3", endpoint_url=self.endpoint, **creds)

    def _replay(self, log: Path) -> None:
        url = f"{self.endpoint}/moto-api/recorder/replay-recording"
        requests.post(url, timeout=600).raise_for_status()
        client = self._client()
        objects: dict[str, bytes] = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for item in page.get("Contents", []):
                body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
                objects[item["Key"]] = body
        # Compact: keep the replayed log as a backup until the new one holds every object.
        shutil.copyfile(log, self._backup)
        requests.post(f"{self.endpoint}/moto-api/recorder/reset-recording", timeout=30)
        client.create_bucket(Bucket=BUCKET)
        for key, body in objects.items():
            client.put_object(Bucket=BUCKET, Key=key, Body=body)
        self._backup.unlink()

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
