"""The one faust.App of wordstream; topics, tables, agents and views import `app` from here.

Run a worker with:  faust -A streamapp.app worker -l info
"""

from __future__ import annotations

import faust

from streamapp.config import Settings

settings = Settings.from_env()

app = faust.App(
    settings.app_id,
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="rocksdb://",
    datadir=settings.state_dir,
    web_host=settings.worker_host,
    web_port=settings.worker_port,
    processing_guarantee=settings.processing_guarantee,
    topic_partitions=settings.topic_partitions,
    # Modules that register agents, tables and views on `app` when the worker starts.
    autodiscover=["streamapp.agents", "streamapp.views", "streamapp.archive.agent"],
    origin="streamapp",
)

# The input topic: raw bytes, because values that are not valid UTF-8 must be seen
# (and rejected) by the worker rather than failing inside a deserializer.
source_topic = app.topic(settings.topic, key_type=bytes, value_type=bytes, value_serializer="raw")
