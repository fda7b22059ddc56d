"""The job's session settings and the options they come from (no JVM started here)."""

from __future__ import annotations

import argparse

from spark_jobs.options import add_job_arguments, options_from_args
from spark_jobs.wordcount import session_config
from streamapp.config import Settings

DRIVER = "spark.driver.extraJavaOptions"
MEMORY = "spark.driver.memory"


def test_the_job_gives_its_own_driver_the_configured_jvm_options_and_heap() -> None:
    config = session_config("-XX:TieredStopAtLevel=1", {}, "2g")
    assert config[DRIVER] == "-XX:TieredStopAtLevel=1"
    assert config[MEMORY] == "2g"
    assert config["spark.sql.session.timeZone"] == "UTC"


def test_no_jvm_options_or_heap_under_spark_submit_or_when_empty() -> None:
    # spark-submit started the JVM already: its own options apply.
    under_submit = session_config("-XX:TieredStopAtLevel=1", {"PYSPARK_GATEWAY_PORT": "1"}, "2g")
    assert DRIVER not in under_submit and MEMORY not in under_submit
    empty = session_config("", {}, "")
    assert DRIVER not in empty and MEMORY not in empty


def test_the_options_come_from_spark_driver_java_options_and_memory() -> None:
    parser = argparse.ArgumentParser()
    add_job_arguments(parser)
    args = parser.parse_args([])
    default = options_from_args(args, Settings())
    assert default.driver_java_options == "-XX:TieredStopAtLevel=1"
    assert default.driver_memory == "2g"
    cleared = options_from_args(
        args, Settings(spark_driver_java_options="", spark_driver_memory="")
    )
    assert (cleared.driver_java_options, cleared.driver_memory) == ("", "")
