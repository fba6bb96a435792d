"""The Alertmanager v2 request body built from a notification."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.alerts.delivery_helpers import T0, item, notification
from vendorwatch.alerts.notification import ContributionView
from vendorwatch.alerts.sinks.alertmanager import contributions_text, to_postable_alerts

NOW = datetime(2025, 6, 16, 10, 30, tzinfo=UTC)


def test_one_entry_per_item_with_identity_labels() -> None:
    a, b = item(), item("peer_pauses", "high", resolved=True)
    alerts = to_postable_alerts(notification(a, b), NOW, firing_hold_s=3600)
    assert len(alerts) == 2
    firing, resolved = alerts
    assert firing["labels"] == {
        "alertname": "competitor_stake",
        "vendor": "vendor-scale-ai",
        "rule": "competitor_stake",
        "severity": "critical",
        "fingerprint": a.fingerprint,
    }
    assert firing["annotations"]["summary"] == a.summary
    assert firing["annotations"]["policy_version"] == "policy-3f9c2a1e"
    assert firing["annotations"]["contributions"] == "competitor_ownership +38.0; peer_pauses +14.0"
    assert firing["startsAt"] == "2025-06-12T09:00:00Z"
    # firing: held open past now, so Alertmanager's resolve_timeout does not close it early
    assert firing["endsAt"] == (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    # resolved: the event time it resolved at, which is in the past, so it resolves at once
    assert resolved["endsAt"] == (T0 + timedelta(days=3)).isoformat().replace("+00:00", "Z")
    assert "generatorURL" not in firing


def test_generator_url_template() -> None:
    alerts = to_postable_alerts(
        notification(), NOW, generator_url="https://vw.example/vendors/{vendor_id}"
    )
    assert alerts[0]["generatorURL"] == "https://vw.example/vendors/vendor-scale-ai"


def test_contributions_text_is_short() -> None:
    cs = tuple(ContributionView(signal=f"s{i}", points=float(i), event_ids=()) for i in range(9))
    text = contributions_text(notification(contributions=cs))
    assert text.startswith("s8 +8.0; s7 +7.0")
    assert text.endswith("+4 more")
