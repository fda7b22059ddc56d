"""faust's aiokafka transport with a configurable fetch wait (KAFKA_FETCH_MAX_WAIT_MS).

faust builds its consumer with `fetch_max_wait_ms=1500` and no setting to change it.
A Kafka broker answers a fetch as soon as `fetch_min_bytes` (1) are there, so the wait
only bounds idle polls; the dev broker (tansu) holds every fetch for the whole wait
(measured with aiokafka: produce-to-consume p50 0.378 s at 1,500 ms, 0.002 s at
100 ms), and the worker fetches twice on the way to a view (the source topic, then its
update topic). The app selects this transport with the `wordstream-kafka://` scheme.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers import TRANSPORTS
from faust.transport.drivers import aiokafka as faust_aiokafka

from streamapp.config import Settings

SCHEME = "wordstream-kafka"


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_max_wait_ms: int = 500

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # Read by AIOKafkaConsumer.start() when it builds its fetcher.
        consumer._fetch_max_wait_ms = self.fetch_max_wait_ms
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer


def broker_url(settings: Settings) -> str:
    """The faust broker URL for KAFKA_BOOTSTRAP, through this transport."""
    ConsumerThread.fetch_max_wait_ms = settings.kafka_fetch_max_wait_ms
    return f"{SCHEME}://{settings.kafka_bootstrap}"


TRANSPORTS.aliases[SCHEME] = f"{__name__}:Transport"
