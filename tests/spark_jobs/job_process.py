"""The batch job in a process of its own, one Spark application for several runs.

A process holds one SparkContext: the session-scoped local fixture of this test process
would otherwise be the session `spark_session(master)` gets. The child opens the job's own
session (`spark_jobs.wordcount.spark_session`, which ships the code to a cluster's
executors) and calls `run` for each JobOptions the test sends.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import traceback
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

from spark_jobs.options import JobOptions

RUN_TIMEOUT_S = 1200.0


def _serve(master: str, python: str, conn: Connection) -> None:
    # A process group of its own, so the parent can stop the JVM it forks too.
    os.setpgid(0, 0)
    # The executors' interpreter; pyspark reads it when the session starts.
    os.environ["PYSPARK_PYTHON"] = python
    from spark_jobs.wordcount import configure_logging, run, spark_session
    from streamapp.config import Settings

    configure_logging()
    # The driver's JVM options and heap as `wordstream batch run` gives them.
    settings = Settings()
    with spark_session(
        master,
        driver_java_options=settings.spark_driver_java_options,
        driver_memory=settings.spark_driver_memory,
    ) as spark:
        conn.send(("ready", spark.sparkContext.applicationId))
        while (options := conn.recv()) is not None:
            try:
                conn.send(("ok", run(spark, options)))
            except Exception:
                conn.send(("error", traceback.format_exc()))


class JobProcess:
    """`with JobProcess(master, python) as job: summary = job.run(options)`."""

    def __init__(self, master: str, python: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(master, python, child))
        self.application_id = ""

    def __enter__(self) -> JobProcess:
        self._process.start()
        self.application_id = self._receive()
        return self

    def run(self, options: JobOptions) -> dict[str, Any]:
        """One run of the job; its summary."""
        self._conn.send(options)
        summary: dict[str, Any] = self._receive()
        return summary

    def _receive(self) -> Any:
        if not self._conn.poll(RUN_TIMEOUT_S):
            raise TimeoutError(f"the job process said nothing within {RUN_TIMEOUT_S:.0f} s")
        kind, value = self._conn.recv()
        if kind == "error":
            raise AssertionError(f"the job failed in its process:\n{value}")
        return value

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(None)
        self._process.join(120)
        if self._process.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        self._process.join()
