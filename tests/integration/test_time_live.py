"""Time moves for a quiet vendor, on a real worker: alerts end on time and say so.

A risk monitor is watched continuously, so a vendor with no new events must still decay and its
alerts must end when their time is up. These tests run `vendorwatch worker` against a real
embedded broker with a real local HTTP server standing in for the signed-webhook receiver:
- on the wall clock with a fast tick, an executive's move to a competitor pages, then resolves
  `active_days` after the move with a resolved notification, and no new event for the vendor;
- the same story posted long after it happened raises nothing and scores near zero;
- on a scenario clock (as the demo and replays of a timeline run), a clock record brings the
  partition's stream time forward and the alert ends at exactly `active_days` after the move.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from tests.integration.conftest import WorkerFactory
from tests.integration.receivers import WEBHOOK_PATH, Receiver, receiving
from tests.integration.workers import event_line, produce, read_topic, wait_until
from vendorwatch.alerts.notification import Notification
from vendorwatch.schemas.events import iso
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.partitioning import vendor_partition
from vendorwatch.streams.worker.score_step import CLOCK_HEADER

pytestmark = pytest.mark.integration

SECRET = "time-live-webhook-secret-9a7e1c"
ACTIVE_DAYS = 90  # the shipped policy's key_person_to_competitor.active_days


def labelco(moved: datetime, prefix: str) -> list[bytes]:
    """LabelCo holds restricted data; its CTO joins OpenAI (a competitor); nothing more."""
    before = moved - timedelta(days=30)
    return [
        event_line(
            f"{prefix}-registered",
            "vendor.registered",
            "labelco",
            {"name": "LabelCo"},
            iso(before.timestamp()),
        ),
        event_line(
            f"{prefix}-data",
            "data.shared",
            "labelco",
            {"dataset": "ds-train", "classification": "restricted", "records": 2_000_000},
            iso((before + timedelta(hours=1)).timestamp()),
        ),
        event_line(
            f"{prefix}-cto",
            "person.moved",
            "labelco",
            {
                "person": "Sam Ito",
                "role": "CTO",
                "seniority": "executive",
                "from_org": "LabelCo",
                "to_org": "OpenAI",
            },
            iso(moved.timestamp()),
        ),
    ]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiving(path=WEBHOOK_PATH) as receiver:
        yield receiver


def notifications(hook: Receiver) -> list[Notification]:
    return [Notification.from_json_bytes(r.body) for r in hook.snapshot()]


def vendor(worker_url: str, vendor_id: str) -> dict:
    """GET /vendors/{id}: the latest score record, its firing alerts and recent events ({} while
    the vendor is unknown)."""
    reply = httpx.get(f"{worker_url}/vendors/{vendor_id}", timeout=5)
    return reply.json() if reply.status_code == 200 else {}


def test_a_quiet_vendors_key_person_alert_resolves_on_the_wall_clock(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, hook: Receiver
) -> None:
    """The move is dated so that its `active_days` run out a few seconds after it is posted."""
    worker = worker_factory(
        fresh_kafka.bootstrap_servers,
        env={
            "VENDORWATCH_CLOCK": "wall",
            "VENDORWATCH_TICK_SECONDS": "0.5",
            "VENDORWATCH_WEBHOOK_URL": hook.url,
            "VENDORWATCH_WEBHOOK_SECRET": SECRET,
        },
    )
    worker.wait_ready()
    moved = datetime.now(UTC) - timedelta(days=ACTIVE_DAYS) + timedelta(seconds=8)
    produce(fresh_kafka.bootstrap_servers, topics.RAW, labelco(moved, "wall"))

    def alerts(status: str) -> list[str]:
        return [
            a.rule
            for n in notifications(hook)
            for a in (n.firing if status == "firing" else n.resolved)
        ]

    wait_until(
        lambda: "key_person_to_competitor" in alerts("firing"),
        "the key-person page",
        timeout=30,
        describe=worker.describe,
    )
    wait_until(
        lambda: "key_person_to_competitor" in alerts("resolved"),
        "the key-person resolution, with no new event",
        timeout=40,
        describe=worker.describe,
    )
    resolved = next(
        a for n in notifications(hook) for a in n.resolved if a.rule == "key_person_to_competitor"
    )
    expiry = moved + timedelta(days=ACTIVE_DAYS)
    assert resolved.ends_at is not None
    assert abs(resolved.ends_at.timestamp() - round(expiry.timestamp(), 3)) < 0.002
    # the history holds the three events only: the resolution came from the clock
    history = read_topic(fresh_kafka.bootstrap_servers, topics.EVENTS, at_least=3)
    assert [orjson.loads(r.value)["id"] for r in history] == [
        "wall-registered",
        "wall-data",
        "wall-cto",
    ]


def test_the_same_story_posted_today_raises_nothing_and_scores_near_zero(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    """Live is now: a move in February 2024, learnt of today, is long past its `active_days`
    and its weight has halved about five times (180-day half-life)."""
    worker = worker_factory(fresh_kafka.bootstrap_servers, env={"VENDORWATCH_CLOCK": "wall"})
    worker.wait_ready()
    produce(
        fresh_kafka.bootstrap_servers,
        topics.RAW,
        labelco(datetime(2024, 2, 1, tzinfo=UTC), "old"),
    )
    wait_until(
        lambda: vendor(worker.base_url, "labelco").get("event_count") == 3,
        "labelco scored",
        timeout=30,
        describe=worker.describe,
    )
    found = vendor(worker.base_url, "labelco")
    assert found["score"] < 5, found
    assert abs(datetime.fromisoformat(found["as_of"]).timestamp() - time.time()) < 120
    assert found["alerts"] == [], found  # the view lists the alerts firing now


def test_a_scenario_clock_record_ends_the_alert_at_active_days(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    """LabelCo on a scenario clock: by a stream time of 2024-06-01 the alert has resolved, at
    2024-05-01 exactly, and the vendor's score shows the decay."""
    worker = worker_factory(fresh_kafka.bootstrap_servers, env={"VENDORWATCH_CLOCK": "scenario"})
    worker.wait_ready()
    bootstrap = fresh_kafka.bootstrap_servers
    produce(bootstrap, topics.RAW, labelco(datetime(2024, 2, 1, tzinfo=UTC), "sc"))
    wait_until(
        lambda: vendor(worker.base_url, "labelco").get("event_count") == 3,
        "labelco scored",
        timeout=30,
        describe=worker.describe,
    )
    fired = vendor(worker.base_url, "labelco")["score"]

    from kafka import KafkaProducer

    june = round(datetime(2024, 6, 1, tzinfo=UTC).timestamp() * 1000)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        partitions = producer.partitions_for(topics.RAW)
        assert vendor_partition(b"labelco", len(partitions)) in partitions
        for partition in partitions:  # every partition keeps its own stream time
            producer.send(
                topics.RAW,
                value=b"",
                partition=partition,
                headers=[(CLOCK_HEADER, str(june).encode())],
            )
        producer.flush()
    finally:
        producer.close()

    def resolved() -> list[dict]:
        records = read_topic(bootstrap, topics.ALERTS, at_least=1)
        return [
            orjson.loads(r.value) for r in records if orjson.loads(r.value)["status"] == "resolved"
        ]

    wait_until(lambda: resolved(), "the resolution", timeout=30, describe=worker.describe)
    (ended,) = [a for a in resolved() if a["rule"] == "key_person_to_competitor"]
    assert ended["ends_at"] == "2024-05-01T00:00:00Z"
    assert ended["caused_by"] == "time:2024-05-01T00:00:00Z"
    wait_until(
        lambda: vendor(worker.base_url, "labelco")["score"] < fired,
        "the decayed score in the view",
        timeout=30,
        describe=worker.describe,
    )
    # no clock record went to the DLQ: it is a tick, not an event
    assert not read_topic(bootstrap, topics.EVENTS_DLQ, at_least=0, timeout=2)
