"""The Faust side of the embedded broker's deviations: a short fetch long poll for the worker
consumer (docs/broker.md, deviation 8), applied with the aiokafka workarounds of
`streams.kafka_io.compat`.

Kept out of `kafka_io` so that Kafka I/O, replay and the offline commands never import Faust.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from vendorwatch.streams.kafka_io.compat import apply_aiokafka_workarounds

FAUST_FETCH_MAX_WAIT_MS: Final[int] = 40
"""The worker consumer's ``fetch_max_wait_ms`` (Faust's is 1500 and not configurable).

On Tansu it bounds how long records sit in the broker before a worker sees them: with 100 ms
an idle pipeline's produced-to-score p50 was 46 ms, with 40 ms 23-28 ms. On Kafka a long poll
returns as soon as records arrive, so there the only cost is the empty fetches of an idle
worker; its CPU stayed at ~7.8% of a core with either value (measured over 30 s).
"""
_STOCK_CREATE_WORKER_CONSUMER: Callable[..., Any] | None = None


def _shorten_faust_fetch_wait() -> None:
    global _STOCK_CREATE_WORKER_CONSUMER
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if _STOCK_CREATE_WORKER_CONSUMER is not None:
        return
    stock = AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = stock(self, transport)
        consumer._fetch_max_wait_ms = FAUST_FETCH_MAX_WAIT_MS  # read by start() for its fetcher
        return consumer

    _STOCK_CREATE_WORKER_CONSUMER = stock
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def apply_faust_workarounds() -> None:
    """Everything a Faust worker needs on the embedded broker (also right on Apache Kafka):
    aiokafka's clean LeaveGroup in generation 0 and the short worker fetch wait. Idempotent."""
    apply_aiokafka_workarounds()
    _shorten_faust_fetch_wait()
