"""Future-dated events against a real worker process on a real broker: one event whose year is
a typo (2052) is refused, at the worker and at POST /events, and does not stop its vendor.

The worker judges event time by its clock (here the wall clock) with the default skew of a day;
the fast tests of the rule and its boundary are tests/schemas/test_event_time_bound.py and
tests/streams/worker/test_score_step.py. One worker on its own broker serves the module; each
test uses vendor ids of its own (prefix ``tif-``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from vendorwatch.streams.kafka_io import topics

from .workers import (
    INGEST_TOKEN,
    WorkerProcess,
    event_line,
    fresh_broker,
    produce,
    read_topic,
    require_tansu,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
TYPO = "2052-07-01T00:00:00Z"


@pytest.fixture(scope="module")
def broker_and_worker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, WorkerProcess]]:
    """One ready worker on a broker of its own (the DLQ and alerts topics are read whole)."""
    require_tansu()
    with fresh_broker() as broker:
        worker = start_worker(broker.bootstrap_servers, tmp_path_factory.mktemp("tif-worker"))
        try:
            worker.wait_ready()
            yield broker.bootstrap_servers, worker
        finally:
            worker.stop()


def lines_for(vendor: str) -> tuple[list[bytes], bytes, list[bytes]]:
    """Events before the typo, the typo (a harmless alias dated 2052), and a CTO's move to a
    competitor after it, which fires `key_person_to_competitor`."""
    before = [
        event_line(
            f"{vendor}-reg", "vendor.registered", vendor, {"name": "Tif"}, "2025-03-01T00:00:00Z"
        ),
        event_line(
            f"{vendor}-data",
            "data.shared",
            vendor,
            {"dataset": "ds-1", "classification": "restricted", "records": 10_000},
            "2025-03-02T00:00:00Z",
        ),
    ]
    typo = event_line(f"{vendor}-typo", "vendor.alias_added", vendor, {"alias": "Tif Inc"}, TYPO)
    after = [
        event_line(
            f"{vendor}-cto",
            "person.moved",
            vendor,
            {
                "person": "Pat Doe",
                "role": "CTO",
                "from_org": "Tif",
                "to_org": "OpenAI",
                "seniority": "executive",
            },
            "2025-03-03T00:00:00Z",
        )
    ]
    return before, typo, after


def test_a_2052_event_on_the_raw_topic_is_dead_lettered_and_the_vendor_still_pages(
    broker_and_worker: tuple[str, WorkerProcess],
) -> None:
    bootstrap, worker = broker_and_worker
    vendor = "tif-raw"
    before, typo, after = lines_for(vendor)
    produce(bootstrap, topics.RAW, [*before, typo, *after])

    dead = [orjson.loads(r.value) for r in read_topic(bootstrap, topics.EVENTS_DLQ)]
    (record,) = [d for d in dead if d["reason"] == "time_in_future"]
    assert record["original"] == {"encoding": "utf-8", "value": typo.decode()}
    (error,) = record["errors"]
    assert error["field"] == "time"
    assert TYPO in error["message"]

    def paged() -> list[dict[str, Any]]:
        transitions = [orjson.loads(r.value) for r in read_topic(bootstrap, topics.ALERTS)]
        return [
            t
            for t in transitions
            if t["vendor_id"] == vendor
            and t["rule"] == "key_person_to_competitor"
            and t["status"] == "firing"
        ]

    wait_until(paged, "key_person_to_competitor firing on vendorwatch.alerts", timeout=30)

    def scored() -> dict[str, Any] | None:
        detail = worker.get_json(f"/vendors/{vendor}")
        return detail if detail["caused_by"] == f"{vendor}-cto" else None

    detail = wait_until(scored, f"{vendor} scored after the typo", describe=worker.describe)
    assert not detail["as_of"].startswith("2052")
    assert f"{vendor}-typo" not in [e["id"] for e in detail["recent_events"]]
    metrics = worker.get("/metrics").text
    assert 'vendorwatch_events_rejected_total{reason="time_in_future"} 1.0' in metrics


def test_post_events_with_a_2052_event_is_400_naming_time(
    broker_and_worker: tuple[str, WorkerProcess],
) -> None:
    _, worker = broker_and_worker
    _, typo, _ = lines_for("tif-http")
    response = worker.post("/events", json=orjson.loads(typo), headers=AUTH)
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["index"] == 0
    assert error["reason"] == "time_in_future"
    assert error["error"].startswith("time: ")
    assert TYPO in error["error"]
