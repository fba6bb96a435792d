"""Which Kafka a client command (ingest, silence, replay, ...) talks to, and one-off sends."""

from __future__ import annotations

from pathlib import Path

from vendorwatch.streams.cli.common import fail, settings_from
from vendorwatch.streams.embedded.runtime import NoKafkaError, resolve_bootstrap
from vendorwatch.streams.kafka_io.ingest import make_producer


def client_bootstrap(bootstrap_servers: str | None, data_dir: Path | None) -> str:
    settings = settings_from(bootstrap_servers=bootstrap_servers, data_dir=data_dir)
    try:
        return resolve_bootstrap(settings)
    except NoKafkaError as exc:
        raise fail(str(exc), 2) from None


def _produce(bootstrap: str, topic: str, key: bytes | None, value: bytes) -> None:
    producer = make_producer(bootstrap)
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def produce_one(bootstrap: str, topic: str, key: bytes | None, value: bytes) -> None:
    """Send one record and wait for the broker's acknowledgement."""
    producer = make_producer(bootstrap)
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()
