"""Secrets stay out of reprs, library logs and structlog output."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr

from vendorwatch.alerts.redact import REDACTED, safe_url_label, scrub, structlog_scrubber
from vendorwatch.alerts.sinks.alertmanager import AlertmanagerSink
from vendorwatch.alerts.sinks.slack import SlackSink
from vendorwatch.alerts.sinks.webhook import WebhookSink

SLACK_URL = "https://hooks.slack.com/services/T0UNIT/B0UNIT/unitTokenAbcdef123456"
HOOK_URL = "https://siem.example/ingest?token=unit-query-token-999"
HOOK_SECRET = "unit-hmac-secret-42"
AM_PASSWORD = "unit-am-password-77"


@pytest.fixture(scope="module")
def sinks() -> list[object]:
    client = httpx.AsyncClient()
    return [
        SlackSink(SLACK_URL, client),
        WebhookSink(SecretStr(HOOK_URL), HOOK_SECRET, client),
        AlertmanagerSink("http://am:9093", client, basic_auth=("vw", AM_PASSWORD)),
    ]


SECRETS = (SLACK_URL, "unitTokenAbcdef123456", "unit-query-token-999", HOOK_SECRET, AM_PASSWORD)


def test_sink_reprs_hide_secrets(sinks: list[object]) -> None:
    for sink in sinks:
        text = repr(sink) + str(sink) + repr(vars(sink))
        for secret in SECRETS:
            assert secret not in text


def test_scrub_removes_registered_values(sinks: list[object]) -> None:
    text = f"POST {SLACK_URL} failed; path /services/T0UNIT/B0UNIT/unitTokenAbcdef123456"
    cleaned = scrub(text)
    assert "unitTokenAbcdef123456" not in cleaned
    assert REDACTED in cleaned
    assert scrub("nothing secret here") == "nothing secret here"


def test_httpx_request_log_lines_are_scrubbed(
    sinks: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = httpx.URL(SLACK_URL)
    # the exact call httpx makes after each request
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK"
    )
    assert "unitTokenAbcdef123456" not in caplog.text
    assert REDACTED in caplog.text


def test_structlog_processor(sinks: list[object]) -> None:
    event = {"event": "x", "url": SLACK_URL, "err": ValueError(f"bad {HOOK_SECRET}"), "n": 3}
    out = structlog_scrubber(None, "info", event)
    assert HOOK_SECRET not in str(out)
    assert SLACK_URL not in str(out)
    assert out["n"] == 3


def test_safe_url_label() -> None:
    assert safe_url_label(SLACK_URL) == "https://hooks.slack.com/…"
