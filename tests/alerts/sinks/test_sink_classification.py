"""How HTTP answers and transport errors map to retry decisions (no network needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from vendorwatch.alerts.sink import (
    AttemptOutcome,
    ConfigError,
    check_sink_name,
    classify_response,
    error_code,
    parse_retry_after,
    transport_failure,
)

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, AttemptOutcome.DELIVERED),
        (204, AttemptOutcome.DELIVERED),
        (301, AttemptOutcome.PERMANENT),
        (400, AttemptOutcome.PERMANENT),
        (403, AttemptOutcome.PERMANENT),
        (404, AttemptOutcome.PERMANENT),
        (408, AttemptOutcome.RETRYABLE),
        (410, AttemptOutcome.PERMANENT),
        (429, AttemptOutcome.RETRYABLE),
        (500, AttemptOutcome.RETRYABLE),
        (503, AttemptOutcome.RETRYABLE),
    ],
)
def test_status_classes(status: int, outcome: AttemptOutcome) -> None:
    result = classify_response(httpx.Response(status), label="slack", now=lambda: NOW)
    assert result.outcome is outcome
    assert result.status_code == status


def test_429_carries_retry_after_seconds() -> None:
    response = httpx.Response(429, headers={"Retry-After": "1"})
    result = classify_response(response, label="slack", now=lambda: NOW)
    assert result.retry_after_s == 1.0


def test_retry_after_forms() -> None:
    date = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert parse_retry_after(date, NOW, 300) == pytest.approx(30)
    assert parse_retry_after("2.5", NOW, 300) == 2.5
    assert parse_retry_after("99999", NOW, 300) == 300
    assert parse_retry_after("-4", NOW, 300) == 0
    assert parse_retry_after("soon", NOW, 300) is None
    assert parse_retry_after("nan", NOW, 300) is None
    assert parse_retry_after(None, NOW, 300) is None


def test_transport_errors() -> None:
    request = httpx.Request("POST", "https://hooks.slack.com/services/T/B/secret-token-1234")
    refused = transport_failure(httpx.ConnectError("refused", request=request), label="slack")
    timeout = transport_failure(httpx.ReadTimeout("slow", request=request), label="slack")
    scheme = transport_failure(httpx.UnsupportedProtocol("ftp", request=request), label="slack")
    assert refused.outcome is AttemptOutcome.RETRYABLE
    assert timeout.outcome is AttemptOutcome.RETRYABLE
    assert scheme.outcome is AttemptOutcome.PERMANENT
    for result in (refused, timeout, scheme):
        assert "secret-token" not in result.reason


def test_error_codes_are_only_taken_from_bare_codes() -> None:
    assert error_code("invalid_payload\n") == "invalid_payload"
    assert error_code("<html>Bad gateway</html>") is None


@pytest.mark.parametrize("name", ["slack", "slack:secops", "webhook.siem-1"])
def test_sink_names_accepted(name: str) -> None:
    assert check_sink_name(name) == name


@pytest.mark.parametrize("name", ["", "Slack", "https://hooks.slack.com/services/T/B/x", "a" * 65])
def test_sink_names_that_could_be_urls_are_refused(name: str) -> None:
    with pytest.raises(ConfigError):
        check_sink_name(name)
