"""CloudEvents binary content mode end to end: the CloudEvents SDK's Kafka binding builds the
message, kafka-python sends it with its `ce_*` headers to the raw topic of a real worker, and the
worker scores it like a structured event (and dead-letters a bad one with its headers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from kafka import KafkaProducer

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .workers import read_topic, wait_until


def send_binary(bootstrap: str, events: list[CloudEvent]) -> None:
    """What a producer using the SDK's defaults does: binary mode, keyed by the subject."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for event in events:
            message = ce_kafka.to_binary_event(event, key_mapper=lambda e: e.get_subject())
            key = message.key.encode() if isinstance(message.key, str) else message.key
            producer.send(
                topics.RAW, key=key, value=message.value, headers=list(message.headers.items())
            )
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def cloud_event(event_id: str, event_type: str, subject: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        attributes={
            "id": event_id,
            "source": "urn:vendorwatch:sdk-test",
            "type": event_type,
            "subject": subject,
            "time": datetime(2025, 7, 1, 12, 0, tzinfo=UTC),
        },
        data=data,
    )


def test_a_binary_mode_cloudevent_is_scored(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    worker = worker_factory(fresh_kafka.bootstrap_servers)
    worker.wait_ready()
    vendor = "binary-mode-co"
    send_binary(
        fresh_kafka.bootstrap_servers,
        [
            cloud_event("bin-1", "vendor.registered", vendor, {"name": "Binary Mode Co"}),
            cloud_event(
                "bin-2",
                "data.shared",
                vendor,
                {"dataset": "ds-bin", "classification": "restricted", "records": 50_000},
            ),
            cloud_event("bin-3", "vendor.exploded", vendor, {"name": "no such type"}),
        ],
    )

    def scored() -> dict[str, Any] | None:
        response = worker.get(f"/vendors/{vendor}")
        if response.status_code != 200:
            return None
        detail = response.json()
        ids = {e["id"] for e in detail["recent_events"]}
        return detail if {"bin-1", "bin-2"} <= ids and detail["data_at_stake"] > 0 else None

    detail = wait_until(scored, "the binary-mode events scored", describe=worker.describe)
    assert detail["name"] == "Binary Mode Co"
    assert "bin-2" in detail["data_event_ids"]

    history = [
        orjson.loads(r.value)
        for r in read_topic(fresh_kafka.bootstrap_servers, topics.EVENTS, at_least=2)
    ]
    assert [e["id"] for e in history] == ["bin-1", "bin-2"]  # structured, canonical form
    (dead,) = [
        orjson.loads(r.value) for r in read_topic(fresh_kafka.bootstrap_servers, topics.EVENTS_DLQ)
    ]
    assert dead["reason"] == "unknown_type"
    headers = {h["name"]: h["value"] for h in dead["headers"]}
    assert headers["ce_type"] == "vendor.exploded"
    assert headers["ce_id"] == "bin-3"
    assert orjson.loads(dead["original"]["value"]) == {"name": "no such type"}
