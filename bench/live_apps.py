"""The faust apps the live benchmarks compare, one per BENCH_MODE (run with `faust -A`).

- `full`: wordstream's live layer itself (`streamapp.live.agents` + `streamapp.live.views`), without
  the archive agent, which has its own benchmark.
- `bare`: an agent that only iterates the source topic: faust's ceiling.
- `per_word`: the design of faust's own word_count example: one repartition send per
  word, one table update per word.

`bare` and `per_word` serve `GET /count` -> `{"messages": n}` (messages fully counted).
"""

from __future__ import annotations

import os
from typing import Any

import faust
from faust import web

from streamapp.config import Settings
from streamapp.tokenize import words
from streamapp.transport import broker_url

MODE = os.environ["BENCH_MODE"]

if MODE == "full":
    from streamapp.app import app

    app.conf.autodiscover = [
        "streamapp.live.agents",
        "streamapp.live.views",
        "streamapp.live.peer_watch",
    ]
else:
    settings = Settings.from_env()
    app = faust.App(
        settings.app_id,
        broker=broker_url(settings),  # the same consumer settings as the worker
        store="rocksdb://",
        datadir=settings.state_dir,
        web_host=settings.worker_host,
        web_port=settings.worker_port,
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_rebalance_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=1.0,
        topic_partitions=settings.live_partitions,
    )
    source = app.topic(settings.topic, key_type=bytes, value_type=bytes, value_serializer="raw")
    done = {"messages": 0}

    @app.page("/count")
    async def count(self: web.View, request: web.Request) -> web.Response:
        return self.json(done)

    if MODE == "bare":

        @app.agent(source)
        async def iterate(stream: Any) -> None:
            async for _ in stream:
                done["messages"] += 1

    elif MODE == "per_word":
        words_topic = app.topic(
            f"{settings.app_id}-words", key_type=str, value_type=str, internal=True
        )
        word_counts = app.Table("word_counts", default=int, partitions=settings.live_partitions)
        # The word_count example counts words; a message is done when its last word is,
        # so the final message count is read off the table: total words / words per message.
        words_per_message = int(os.environ.get("BENCH_WORDS_PER_MESSAGE", "10"))
        applied = {"words": 0}

        @app.agent(source)
        async def split(stream: Any) -> None:
            async for value in stream:
                for word in words(value.decode()):
                    await words_topic.send(key=word, value=word)

        @app.agent(words_topic)
        async def count_words(stream: Any) -> None:
            async for word in stream:
                word_counts[word] += 1
                applied["words"] += 1
                done["messages"] = applied["words"] // words_per_message
    else:
        raise SystemExit(f"BENCH_MODE={MODE!r}: use full, bare or per_word")
