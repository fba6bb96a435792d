"""The Notification contract other components code against."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.alerts.delivery_helpers import T0, item, notification
from vendorwatch.alerts.notification import (
    AlertItem,
    ContributionView,
    Notification,
    max_severity,
    severity_rank,
)


def test_json_round_trip_is_lossless() -> None:
    n = notification(item(), item("peer_pauses", "high", resolved=True))
    data = n.to_json_bytes()
    assert isinstance(data, bytes)
    assert Notification.from_json_bytes(data) == n
    assert Notification.from_json_bytes(data.decode()) == n


def test_is_frozen() -> None:
    n = notification()
    with pytest.raises(ValidationError):
        n.score = 1.0  # type: ignore[misc]


def test_contributions_are_ordered_by_points_descending() -> None:
    cs = tuple(ContributionView(signal=f"s{p}", points=p, event_ids=()) for p in (1, 30, -4, 12))
    n = notification(contributions=cs)
    assert [c.points for c in n.contributions] == [30, 12, 1, -4]


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValidationError):
        notification(as_of=datetime(2025, 6, 12, 9, 0))  # naive on purpose


def test_status_and_severity_must_match_the_items() -> None:
    with pytest.raises(ValidationError, match="status must be 'firing'"):
        notification(item(), status="resolved")
    with pytest.raises(ValidationError, match="severity must be 'critical'"):
        notification(item(), severity="high")


@pytest.mark.parametrize(
    ("status", "ends_at", "message"),
    [
        ("resolved", None, "needs ends_at"),
        ("firing", T0 + timedelta(hours=1), "must not have ends_at"),
        ("resolved", T0 - timedelta(hours=1), "before starts_at"),
    ],
)
def test_alert_item_end_time_is_consistent(
    status: str, ends_at: datetime | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertItem(
            fingerprint="f",
            rule="r",
            severity="low",
            status=status,  # type: ignore[arg-type]
            summary="",
            starts_at=T0,
            ends_at=ends_at,
            event_ids=(),
        )


def test_non_finite_scores_are_rejected() -> None:
    # orjson would write NaN as null, which could never be read back
    with pytest.raises(ValidationError):
        notification(score=float("nan"))


@pytest.mark.parametrize("key", ["", "has space", "new\nline", "x" * 201, "clé"])
def test_idempotency_key_must_be_a_header_safe_token(key: str) -> None:
    with pytest.raises(ValidationError):
        notification(key=key)


def test_severity_helpers() -> None:
    assert severity_rank("info") < severity_rank("critical")
    assert max_severity(["low", "critical", "medium"]) == "critical"


def test_firing_and_resolved_views() -> None:
    a, b = item(), item("peer_pauses", "high", resolved=True)
    n = notification(a, b)
    assert n.firing == (a,)
    assert n.resolved == (b,)
