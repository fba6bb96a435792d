"""Which pipeline alerts deploy/alertmanager/alertmanager.yml mutes, on the real Alertmanager.

`amtool` checks routes but not inhibitions, so the alerts are posted to a running
`prometheus-alertmanager` (Debian package) with the deployed configuration, and its API says
which of them are suppressed and by what. VendorwatchDeliveryFailing must stay active next to
VendorwatchAlertsDLQGrowing: it names the failing sink and fires while retries are still under way.
The stuck-partition pair shows that inhibition is in force in the same run, and the configuration
in tests/deploy/fixtures/blind.alertmanager.yml shows that this test catches a muting rule.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import require_tool

from .receivers import alertmanager as run_alertmanager

REPO = Path(__file__).resolve().parents[2]
DEPLOYED = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
BLIND = REPO / "tests" / "deploy" / "fixtures" / "blind.alertmanager.yml"

PIPELINE = {"service": "vendorwatch", "component": "pipeline"}
ALERTS: dict[str, dict[str, str]] = {
    "VendorwatchAlertsDLQGrowing": {"severity": "critical", "topic": "vendorwatch.alerts.dlq"},
    "VendorwatchDeliveryFailing": {"severity": "warning", "sink": "slack"},
    "VendorwatchConsumerStuck": {
        "severity": "critical",
        "topic": "vendorwatch.events",
        "partition": "2",
    },
    "VendorwatchConsumerLagGrowing": {
        "severity": "warning",
        "topic": "vendorwatch.events",
        "partition": "2",
    },
}


@pytest.fixture(params=[DEPLOYED, BLIND], ids=["deployed", "blind"])
def config(request: pytest.FixtureRequest) -> Path:
    return Path(request.param)


@pytest.fixture
def alertmanager(tmp_path: Path, config: Path) -> Iterator[str]:
    binary = require_tool("prometheus-alertmanager")
    with run_alertmanager(binary, tmp_path, config.read_text(encoding="utf-8")) as base:
        yield base


def _statuses(base: str) -> dict[str, dict[str, Any]]:
    """Alert name -> Alertmanager's status of it, once every posted alert is known."""
    deadline = time.monotonic() + 15
    while True:
        listed = httpx.get(f"{base}/api/v2/alerts", timeout=5).json()
        statuses = {a["labels"]["alertname"]: a["status"] for a in listed}
        settled = set(statuses) == set(ALERTS) and all(
            s["state"] != "unprocessed" for s in statuses.values()
        )
        if settled:
            return statuses
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


def test_delivery_failing_is_not_muted_by_the_dlq_alert(alertmanager: str, config: Path) -> None:
    posted = [
        {"labels": {"alertname": name, **PIPELINE, **labels}, "annotations": {"summary": name}}
        for name, labels in ALERTS.items()
    ]
    httpx.post(f"{alertmanager}/api/v2/alerts", json=posted, timeout=5).raise_for_status()
    statuses = _statuses(alertmanager)

    lag = statuses["VendorwatchConsumerLagGrowing"]
    assert lag["state"] == "suppressed", statuses
    assert lag["inhibitedBy"], statuses
    for source in ("VendorwatchAlertsDLQGrowing", "VendorwatchConsumerStuck"):
        assert statuses[source]["state"] == "active", statuses

    failing = statuses["VendorwatchDeliveryFailing"]
    if config == DEPLOYED:
        assert failing["state"] == "active", statuses
        assert failing["inhibitedBy"] == [], statuses
    else:
        assert failing["state"] == "suppressed", statuses
        assert failing["inhibitedBy"], statuses
