"""Standard Webhooks signing: what `WebhookSink` sends verifies with the `standardwebhooks`
library, the way a receiver in any language verifies it, and fails it when anything changes."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.alerts.delivery_helpers import notification
from vendorwatch.alerts.sinks.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    WebhookSink,
    sign,
    signing_key,
    standard_secret,
    standard_signature,
)

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
LEGACY = "whsec-7d1f0c9a4b2e8f63"  # a secret that is not in the whsec_<base64> form


def headers_for(secret: str, wall_clock: float) -> tuple[bytes, dict[str, str]]:
    n = notification()
    sink = WebhookSink(
        "http://127.0.0.1:9/hook", secret, httpx.AsyncClient(), wall_clock=lambda: wall_clock
    )
    body = n.to_json_bytes()
    return body, sink.signed_headers(n, body)


@pytest.mark.parametrize("secret", [WHSEC, LEGACY])
def test_the_library_verifies_what_the_sink_signs(secret: str) -> None:
    body, headers = headers_for(secret, time.time())
    assert headers[WEBHOOK_ID_HEADER] == notification().idempotency_key
    assert headers[WEBHOOK_SIGNATURE_HEADER].startswith("v1,")
    parsed = Webhook(standard_secret(secret)).verify(body, headers)
    assert parsed["idempotency_key"] == notification().idempotency_key


def test_a_whsec_secret_is_its_decoded_bytes_and_round_trips() -> None:
    assert signing_key(WHSEC) == b"0123456789abcdef0123456789abcdef"
    assert standard_secret(WHSEC) == WHSEC
    assert signing_key(LEGACY) == LEGACY.encode()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b, h: (b.replace(b'"score":', b'"score":1'), h),
        lambda b, h: (b, {**h, WEBHOOK_ID_HEADER: "another-id"}),
        lambda b, h: (
            b,
            {**h, WEBHOOK_TIMESTAMP_HEADER: str(int(h[WEBHOOK_TIMESTAMP_HEADER]) + 1)},
        ),
    ],
    ids=["body", "id", "timestamp"],
)
def test_the_library_refuses_a_changed_request(tamper) -> None:  # type: ignore[no-untyped-def]
    body, headers = headers_for(WHSEC, time.time())
    body, headers = tamper(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(body, headers)


def test_the_library_refuses_another_secret_and_a_stale_timestamp() -> None:
    body, headers = headers_for(WHSEC, time.time())
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(other).verify(body, headers)
    body, headers = headers_for(WHSEC, time.time() - 600)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(WHSEC).verify(body, headers)


def test_the_deprecated_headers_are_still_sent_and_signed_as_before() -> None:
    body, headers = headers_for(LEGACY, 1_750_000_000)
    assert headers[IDEMPOTENCY_HEADER] == headers[WEBHOOK_ID_HEADER]
    assert headers[TIMESTAMP_HEADER] == headers[WEBHOOK_TIMESTAMP_HEADER] == "1750000000"
    assert headers[SIGNATURE_HEADER] == sign(LEGACY, 1_750_000_000, body)


def test_the_signature_is_the_specified_hmac() -> None:
    """Pinned against the specification's construction, independent of the library."""
    import hashlib
    import hmac

    body = b'{"a":1}'
    mac = hmac.new(b"k" * 24, b"msg_1.1750000000." + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert standard_signature(b"k" * 24, "msg_1", 1_750_000_000, body) == expected


def test_a_malformed_whsec_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="base64") as info:
        WebhookSink("http://127.0.0.1:9/hook", "whsec_not*base64!", httpx.AsyncClient())
    assert "not*base64" not in str(info.value)
