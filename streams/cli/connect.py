"""Which Kafka a client command (ingest, silence, replay, ...) talks to, and one-off sends."""

from __future__ import annotations

import logging
from pathlib import Path

from vendorwatch.streams.cli.common import fail, settings_from
from vendorwatch.streams.embedded.runtime import NoKafkaError, resolve_bootstrap
from vendorwatch.streams.kafka_io.ingest import make_producer


def quiet_client_logs() -> None:
    """Keep the Kafka clients' own log records off a command's stderr: a command reports a
    broker it cannot reach in one line of its own (`common.describe_failure`), not with the
    clients' retries and connection errors before it."""
    for name in ("kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def client_bootstrap(bootstrap_servers: str | None, data_dir: Path | None) -> str:
    """Where a client command connects (flag, variable, or a running embedded broker)."""
    quiet_client_logs()
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
