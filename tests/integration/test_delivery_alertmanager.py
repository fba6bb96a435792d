"""Alertmanager delivery against the real `prometheus-alertmanager` binary (Debian package).

The fixture starts Alertmanager on a free loopback port with clustering off and a config whose
only receiver does nothing, so the test observes what Alertmanager *stores* through its own v2
API: firing alerts are active with our labels; a resolved notification makes them disappear
from the active list.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_tool
from vendorwatch.alerts.delivery import Deliverer, DeliveryReport, RetryPolicy
from vendorwatch.alerts.notification import AlertItem, ContributionView, Notification
from vendorwatch.alerts.sinks.alertmanager import AlertmanagerSink

from .receivers import alertmanager as run_alertmanager

pytestmark = pytest.mark.integration

BINARY = "prometheus-alertmanager"


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """Base URL of a fresh Alertmanager (the launcher the end-to-end alert tests share)."""
    with run_alertmanager(require_tool(BINARY), tmp_path) as base:
        yield base


T0 = datetime(2025, 6, 12, 9, 0, tzinfo=UTC)


def alert_item(rule: str, severity: str, resolved: bool) -> AlertItem:
    return AlertItem(
        fingerprint=hashlib.sha256(f"vendor-scale-ai|{rule}".encode()).hexdigest()[:16],
        rule=rule,
        severity=severity,  # type: ignore[arg-type]
        status="resolved" if resolved else "firing",
        summary=f"{rule} for Scale AI: Meta 49% stake ($14.3B)",
        starts_at=T0,
        ends_at=T0 + timedelta(days=5) if resolved else None,
        event_ids=("evt-2025-06-12-meta-stake",),
    )


def notification(key: str, resolved: bool) -> Notification:
    items = (
        alert_item("competitor_stake", "critical", resolved),
        alert_item("key_person_to_competitor", "high", resolved),
    )
    return Notification(
        idempotency_key=key,
        group_key="vendor-scale-ai",
        vendor_id="vendor-scale-ai",
        vendor_name="Scale AI",
        status="resolved" if resolved else "firing",
        severity="critical",
        alerts=items,
        score=25.0 if resolved else 78.6,
        previous_score=78.6 if resolved else 31.4,
        score_severity="low" if resolved else "critical",
        previous_score_severity="critical" if resolved else "medium",
        contributions=(
            ContributionView(signal="competitor_ownership", points=38.0, event_ids=("e1",)),
        ),
        policy_version="policy-3f9c2a1e",
        as_of=T0 + timedelta(days=5) if resolved else T0,
    )


def deliver(base: str, n: Notification) -> DeliveryReport:
    async def scenario() -> DeliveryReport:
        async with httpx.AsyncClient() as client:
            sink = AlertmanagerSink(base, client, firing_hold_s=3600)
            return await Deliverer(sink, policy=RetryPolicy(max_attempts=2)).deliver(n)

    return asyncio.run(scenario())


def active_alerts(base: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/api/v2/alerts",
        params={"active": "true", "filter": 'vendor="vendor-scale-ai"'},
        timeout=5,
    )
    response.raise_for_status()
    return response.json()


def wait_for(predicate: Any, base: str, timeout_s: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        alerts = active_alerts(base)
        if predicate(alerts) or time.monotonic() > deadline:
            return alerts
        time.sleep(0.1)


def test_firing_then_resolved_reaches_alertmanager(alertmanager: str) -> None:
    firing = notification("ntf-am-1", resolved=False)
    assert deliver(alertmanager, firing).outcome == "delivered"

    alerts = wait_for(
        lambda a: len(a) == 2 and all(x["status"]["state"] == "active" for x in a), alertmanager
    )
    by_rule = {a["labels"]["rule"]: a for a in alerts}
    assert set(by_rule) == {"competitor_stake", "key_person_to_competitor"}
    stake = by_rule["competitor_stake"]
    assert stake["labels"] == {
        "alertname": "competitor_stake",
        "vendor": "vendor-scale-ai",
        "rule": "competitor_stake",
        "severity": "critical",
        "fingerprint": firing.alerts[0].fingerprint,
    }
    assert stake["status"]["state"] == "active"
    assert stake["annotations"]["summary"] == firing.alerts[0].summary
    assert stake["annotations"]["policy_version"] == "policy-3f9c2a1e"
    assert stake["annotations"]["contributions"] == "competitor_ownership +38.0"
    assert datetime.fromisoformat(stake["startsAt"]) == T0
    # held open into the future rather than left to Alertmanager's 5-minute resolve_timeout
    ends = datetime.fromisoformat(stake["endsAt"])
    assert ends > datetime.now(UTC) + timedelta(minutes=50)

    resolved = notification("ntf-am-2", resolved=True)
    assert deliver(alertmanager, resolved).outcome == "delivered"
    assert wait_for(lambda a: a == [], alertmanager) == []
    everything = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
    assert [a for a in everything if a["labels"].get("vendor") == "vendor-scale-ai"] == []


def test_a_wrong_path_is_a_permanent_failure(alertmanager: str) -> None:
    report = deliver(f"{alertmanager}/not-alertmanager", notification("ntf-am-3", False))
    assert report.outcome == "failed"
    assert report.attempts == 1
    assert "HTTP 404" in report.reason
