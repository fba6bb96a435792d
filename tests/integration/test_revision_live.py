"""Taking facts back and counting each fact once, on a real worker.

The same cases as tests/streams/core/test_revision.py, through Kafka: a real embedded broker, a
real `vendorwatch worker` on the scenario clock, and a real local HTTP server receiving its
signed webhooks. The worker must publish what the offline `Processor` computes from the same
lines (`scenario_fold`), resolve the alerts whose facts were taken back with resolved
notifications, and keep every event, withdrawn or not, in the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import WorkerFactory
from tests.integration.receivers import WEBHOOK_PATH, Receiver, receiving
from tests.integration.workers import produce, read_topic, scenario_fold, wait_until
from vendorwatch.alerts.notification import Notification
from vendorwatch.schemas.events import iso
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

pytestmark = pytest.mark.integration

SECRET = "revision-live-webhook-secret-41d0"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
FEED, NEWS, WIRE = "urn:acme:risk-feed", "urn:news:outlet-a", "urn:news:outlet-b"


def line(
    event_id: str,
    kind: str,
    vendor: str,
    data: dict[str, Any],
    day: float,
    *,
    source: str = FEED,
    replaces: str | None = None,
) -> bytes:
    raw: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": kind,
        "time": iso((T0 + timedelta(days=day)).timestamp()),
        "subject": vendor,
        "data": data,
    }
    if replaces is not None:
        raw["replaces"] = replaces
    return orjson.dumps(raw)


def vendor_with_data(vendor: str) -> list[bytes]:
    return [
        line(f"{vendor}-reg", "vendor.registered", vendor, {"name": vendor.title()}, 0),
        line(
            f"{vendor}-data",
            "data.shared",
            vendor,
            {"dataset": "ds-1", "classification": "restricted", "records": 2_000_000},
            0.01,
        ),
    ]


def cto(vendor: str, to_org: str, from_org: str) -> dict[str, Any]:
    return {
        "person": "Dana Wu",
        "role": "CTO",
        "seniority": "executive",
        "from_org": from_org,
        "to_org": to_org,
    }


def scenario() -> list[bytes]:
    stake = {"investor": "Meta", "stake_pct": 30}
    return [
        # A stake that its feed retracts: competitor_stake fires, then resolves.
        *vendor_with_data("retracted"),
        line("stake-1", "ownership.stake_acquired", "retracted", stake, 1),
        line("retract-1", "event.retracted", "retracted", {"id": "stake-1"}, 2),
        # A mistyped 3% corrected to 30%: the correction fires, quoting 30%.
        *vendor_with_data("corrected"),
        line("stake-2", "ownership.stake_acquired", "corrected", {**stake, "stake_pct": 3}, 1),
        line("stake-2b", "ownership.stake_acquired", "corrected", stake, 1, replaces="stake-2"),
        # One CTO move reported by two outlets: the score of one report, both cited.
        *vendor_with_data("twice"),
        line("m-1", "person.moved", "twice", cto("twice", "OpenAI", "Twice"), 1, source=NEWS),
        line("m-1", "person.moved", "twice", cto("twice", "OpenAI", "Twice"), 1, source=WIRE),
        # An incident reported critical, then updated to low.
        *vendor_with_data("incident"),
        line(
            "inc-a",
            "security.incident",
            "incident",
            {"incident_id": "INC-7", "title": "Leak", "severity": "critical"},
            1,
        ),
        line(
            "inc-b",
            "security.incident",
            "incident",
            {"incident_id": "INC-7", "title": "Leak", "severity": "low"},
            2,
        ),
        # A CTO who leaves for OpenAI and comes back: the key-person alert resolves.
        *vendor_with_data("returns"),
        line("r-1", "person.moved", "returns", cto("returns", "OpenAI", "Returns"), 1),
        line("r-2", "person.moved", "returns", cto("returns", "Returns", "OpenAI"), 20),
    ]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiving(path=WEBHOOK_PATH) as receiver:
        yield receiver


def alert_items(hook: Receiver) -> list[tuple[str, str, str, str]]:
    """(vendor, rule, status, summary) of every alert item the webhook received."""
    items = []
    for record in hook.snapshot():
        notification = Notification.from_json_bytes(record.body)
        for alert in notification.alerts:
            items.append((notification.vendor_id, alert.rule, alert.status, alert.summary))
    return items


def test_a_live_worker_takes_facts_back_and_counts_each_fact_once(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, hook: Receiver
) -> None:
    worker = worker_factory(
        fresh_kafka.bootstrap_servers,
        env={"VENDORWATCH_WEBHOOK_URL": hook.url, "VENDORWATCH_WEBHOOK_SECRET": SECRET},
    )
    worker.wait_ready()
    lines = scenario()
    produce(fresh_kafka.bootstrap_servers, topics.RAW, lines)
    expected = {s.vendor_id: s.to_dict() for s in scenario_fold(lines).published.values()}

    def live() -> dict[str, Any] | None:
        scores = {}
        for vendor, want in expected.items():
            reply = httpx.get(f"{worker.base_url}/vendors/{vendor}", timeout=5)
            if reply.status_code != 200 or reply.json()["event_count"] != want["event_count"]:
                return None
            scores[vendor] = reply.json()
        return scores

    scores = wait_until(live, "every event scored", timeout=60, describe=worker.describe)
    for vendor, want in expected.items():
        got = scores[vendor]
        for name in ("score", "severity", "contributions", "event_count", "notes"):
            assert got[name] == want[name], (vendor, name, got[name], want[name])

    # The retracted stake counts for nothing; the corrected one says 30%.
    assert scores["retracted"]["score"] == 0
    (owned,) = scores["corrected"]["contributions"]
    assert owned["event_ids"] == ["stake-2b"]
    assert owned["detail"] == "Meta (competitor) holds 30%"
    # Two outlets' reports of one move: cited both, counted once.
    (moved,) = scores["twice"]["contributions"]
    assert moved["event_ids"] == ["m-1", "m-1"]
    assert moved["detail"].endswith("(2 reports)")
    assert scores["returns"]["score"] == 0
    (incident,) = scores["incident"]["contributions"]
    assert incident["detail"] == "low incident: Leak (2 reports)"

    def notified() -> list[tuple[str, str, str, str]] | None:
        items = alert_items(hook)
        wanted = {
            ("retracted", "competitor_stake", "resolved"),
            ("returns", "key_person_to_competitor", "resolved"),
            ("corrected", "competitor_stake", "firing"),
        }
        return items if wanted <= {i[:3] for i in items} else None

    items = wait_until(notified, "the resolved notifications", timeout=30, describe=worker.describe)
    corrected = [i for i in items if i[0] == "corrected" and i[1] == "competitor_stake"]
    assert [i[2] for i in corrected] == ["firing"]  # the 3% never fired
    assert "30%" in corrected[0][3]

    # Every event is in the history once, the withdrawn ones and both "m-1" included.
    history = read_topic(fresh_kafka.bootstrap_servers, topics.EVENTS, at_least=len(lines))
    kept = sorted((orjson.loads(r.value)["source"], orjson.loads(r.value)["id"]) for r in history)
    assert kept == sorted((orjson.loads(x)["source"], orjson.loads(x)["id"]) for x in lines)
