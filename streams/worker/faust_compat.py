"""What Faust does not let an app configure: the worker consumer's fetch wait (docs/broker.md,
deviation 8) and an idempotent producer outside transactions; applied with the aiokafka
workarounds of `streams.kafka_io.compat`.

Both are per app (`tune_app`): the broker profile of the worker's settings decides them.
Kept out of `kafka_io` so that Kafka I/O, replay and the offline commands never import Faust.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from vendorwatch.streams.kafka_io.compat import apply_aiokafka_workarounds

FAUST_FETCH_MAX_WAIT_MS: Final[int] = 40
"""The worker consumer's ``fetch_max_wait_ms`` on the embedded broker (Faust's is 1500 and not
configurable; `VENDORWATCH_FETCH_MAX_WAIT_MS` sets it per worker, see `tune_app`).

On Tansu it bounds how long records sit in the broker before a worker sees them: with 100 ms
an idle pipeline's produced-to-score p50 was 46 ms, with 40 ms 23-28 ms. On Kafka a long poll
returns as soon as records arrive, so there the only cost is the empty fetches of an idle
worker; its CPU stayed at ~7.8% of a core with either value (measured over 30 s).
"""
_STOCK_CREATE_WORKER_CONSUMER: Callable[..., Any] | None = None
_STOCK_PRODUCER_SETTINGS_EXTRA: Callable[..., Mapping[str, Any]] | None = None
_TUNING_ATTRIBUTE = "_vendorwatch_client_tuning"


@dataclass(frozen=True)
class ClientTuning:
    """The client options of one Faust app that Faust itself has no setting for."""

    fetch_max_wait_ms: int = FAUST_FETCH_MAX_WAIT_MS
    producer_idempotence: bool = False


def tune_app(app: Any, tuning: ClientTuning) -> None:
    """Give `app`'s worker consumer and producer these options (read when they are built)."""
    setattr(app, _TUNING_ATTRIBUTE, tuning)


def app_tuning(app: Any) -> ClientTuning:
    """The options `tune_app` gave `app` (the embedded broker's when none were given)."""
    tuning = getattr(app, _TUNING_ATTRIBUTE, None)
    return tuning if isinstance(tuning, ClientTuning) else ClientTuning()


def _shorten_faust_fetch_wait() -> None:
    global _STOCK_CREATE_WORKER_CONSUMER
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    if _STOCK_CREATE_WORKER_CONSUMER is not None:
        return
    stock = AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = stock(self, transport)
        # read by start() for its fetcher
        consumer._fetch_max_wait_ms = app_tuning(self.app).fetch_max_wait_ms
        return consumer

    _STOCK_CREATE_WORKER_CONSUMER = stock
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]


def _producer_idempotence() -> None:
    """Faust asks for an idempotent producer only inside transactions; an app tuned with
    `producer_idempotence` gets one always (aiokafka then also sets acks=all)."""
    global _STOCK_PRODUCER_SETTINGS_EXTRA
    from faust.transport.drivers.aiokafka import Producer

    if _STOCK_PRODUCER_SETTINGS_EXTRA is not None:
        return
    stock = Producer._settings_extra

    def _settings_extra(self: Any) -> Mapping[str, Any]:
        extra = dict(stock(self))
        if app_tuning(self.app).producer_idempotence:
            extra.update(enable_idempotence=True, acks="all")
        return extra

    _STOCK_PRODUCER_SETTINGS_EXTRA = stock
    Producer._settings_extra = _settings_extra  # type: ignore[method-assign]


def apply_faust_workarounds() -> None:
    """Everything a Faust worker needs (also right on Apache Kafka): aiokafka's clean LeaveGroup
    in generation 0 and the per-app fetch wait and producer idempotence. Idempotent."""
    apply_aiokafka_workarounds()
    _shorten_faust_fetch_wait()
    _producer_idempotence()
