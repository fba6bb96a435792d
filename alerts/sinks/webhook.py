"""Generic JSON webhook delivery, signed with HMAC-SHA256, and the receiver-side check.

Wire format (what the README documents for receivers):

    POST <url>
    Content-Type: application/json
    Idempotency-Key: <notification.idempotency_key>
    X-Vendorwatch-Timestamp: <unix seconds>
    X-Vendorwatch-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + raw_body)>

    <Notification JSON>

The timestamp is inside the signed bytes so a captured request cannot be replayed later than the
receiver's tolerance; each attempt is signed afresh so retries do not go stale. Receivers verify
with `verify_signature` against the *raw* body, before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from datetime import datetime

import httpx
from pydantic import SecretStr

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.redact import install_library_log_filters, register_secret, reveal
from vendorwatch.alerts.sink import DeliveryResult, check_sink_name, post

TIMESTAMP_HEADER = "X-Vendorwatch-Timestamp"
SIGNATURE_HEADER = "X-Vendorwatch-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_SIGNATURE = re.compile(r"^sha256=([0-9a-f]{64})$")

SecretLike = str | bytes | SecretStr


class SignatureError(ValueError):
    """A webhook request failed verification; the message says why (never echoes the secret)."""


def _key(secret: SecretLike) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: SecretLike, timestamp: int, raw_body: bytes) -> str:
    """The `X-Vendorwatch-Signature` value for a body sent at `timestamp` (unix seconds)."""
    mac = hmac.new(_key(secret), f"{timestamp}.".encode() + raw_body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: SecretLike,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: float | datetime,
    tolerance_s: float = 300,
) -> None:
    """Check a received webhook; return None if genuine, raise `SignatureError` otherwise.

    `now` is the receiver's clock (unix seconds or an aware datetime). Timestamps further than
    `tolerance_s` from it, in either direction, are refused as stale or replayed. The MAC
    comparison is constant-time.
    """
    if not timestamp_header:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not signature_header:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    try:
        timestamp = int(timestamp_header.strip())
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} is not an integer") from None
    now_s = now.timestamp() if isinstance(now, datetime) else float(now)
    skew = now_s - timestamp
    if abs(skew) > tolerance_s:
        direction = "old" if skew > 0 else "in the future"
        raise SignatureError(
            f"timestamp is {abs(skew):.0f} s {direction}, tolerance is {tolerance_s:.0f} s"
        )
    if not _SIGNATURE.match(signature_header.strip()):
        raise SignatureError(f"{SIGNATURE_HEADER} must be sha256=<64 lowercase hex digits>")
    expected = sign(secret, timestamp, raw_body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().encode()):
        raise SignatureError("signature mismatch (wrong secret or modified body)")


class WebhookSink:
    """POSTs the notification JSON to a URL with an HMAC signature and an Idempotency-Key."""

    def __init__(
        self,
        url: str | SecretStr,
        secret: str | SecretStr,
        client: httpx.AsyncClient,
        *,
        name: str = "webhook",
        timeout_s: float = 10.0,
        min_interval_s: float = 0.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = SecretStr(reveal(url))
        self._secret = SecretStr(reveal(secret))
        if not self._secret.get_secret_value():
            raise ValueError("webhook secret must not be empty")
        register_secret(self._url)
        register_secret(self._secret)
        install_library_log_filters()
        self.name = check_sink_name(name)
        self._client = client
        self._timeout_s = timeout_s
        self._wall_clock = wall_clock
        self.min_interval_s = min_interval_s
        self.rate_limit_key: str | None = f"webhook:{name}" if min_interval_s > 0 else None

    def __repr__(self) -> str:
        return (
            f"WebhookSink(name={self.name!r}, url=SecretStr('**********'), "
            "secret=SecretStr('**********'))"
        )

    def signed_headers(self, n: Notification, body: bytes) -> dict[str, str]:
        """Headers for one attempt; the timestamp is the time of this attempt."""
        timestamp = int(self._wall_clock())
        return {
            "Content-Type": "application/json",
            IDEMPOTENCY_HEADER: n.idempotency_key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }

    async def send(self, n: Notification) -> DeliveryResult:
        """One attempt: sign the exact bytes sent and POST them."""
        body = n.to_json_bytes()
        return await post(
            self._client,
            self._url.get_secret_value(),
            content=body,
            headers=self.signed_headers(n, body),
            timeout_s=self._timeout_s,
            label="webhook",
        )
