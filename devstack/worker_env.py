"""The environment of a wordstream worker process on the dev stack (tests, benchmarks)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from devstack.ports import free_port


def worker_env(
    bootstrap: str,
    topic: str,
    app_id: str,
    state_dir: str,
    hdfs_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """`os.environ` plus the settings that place one worker on the given broker and topic.

    It gets a free `WORKER_PORT` on 127.0.0.1 and its own dead-letter topic; `extra`
    overrides anything. Without `hdfs_url`, `HDFS_URL` stays as the environment has it.
    """
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "KAFKA_TOPIC": topic,
        "DLQ_TOPIC": f"{topic}.rejected",
        "APP_ID": app_id,
        "WORKER_HOST": "127.0.0.1",
        "WORKER_PORT": str(free_port()),
        "STATE_DIR": state_dir,
    }
    if hdfs_url is not None:
        env["HDFS_URL"] = hdfs_url
    return env | dict(extra or {})
