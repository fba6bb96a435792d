"""Generic JSON webhook delivery, signed per the Standard Webhooks specification.

Wire format (docs/integration.md documents it for receivers):

    POST <url>
    Content-Type: application/json
    webhook-id: <notification.idempotency_key>
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<timestamp>.<raw_body>")>
    Idempotency-Key: <notification.idempotency_key>                    (deprecated)
    X-Vendorwatch-Timestamp: <unix seconds>                             (deprecated)
    X-Vendorwatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + raw_body)>
                                                                        (deprecated)
    <Notification JSON>

Why Standard Webhooks: receivers verify with an existing library in their language (the
`standardwebhooks` package signs here) instead of writing a verifier for a scheme of our own.
`webhook-id` is the idempotency key, the same on every retry, so a receiver drops a duplicate by
it. The key is the secret's bytes: a `whsec_<base64>` secret is decoded as the specification
says; any other secret string is used as its UTF-8 bytes, which a receiver's library reads as
`standard_secret(secret)` (`whsec_` + base64 of those bytes), so an existing secret keeps
working. The `X-Vendorwatch-*` headers and `Idempotency-Key` are still sent, for receivers that
verify with `verify_signature`; they are deprecated and go away in the release after next.

The timestamp is inside the signed bytes so a captured request cannot be replayed later than the
receiver's tolerance; each attempt is signed afresh so retries do not go stale. Receivers verify
against the *raw* body, before parsing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from pydantic import SecretStr
from standardwebhooks import Webhook

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.redact import install_library_log_filters, register_secret, reveal
from vendorwatch.alerts.sink import DeliveryResult, check_sink_name, post

WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format marker, not a secret)

# Deprecated: sent for one more release next to the Standard Webhooks headers.
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


def signing_key(secret: SecretLike) -> bytes:
    """The HMAC key of the Standard Webhooks signature: a `whsec_<base64>` secret decoded, any
    other secret as its UTF-8 bytes (see the module docstring)."""
    text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if isinstance(text, bytes):
        return text
    if text.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a whsec_ webhook secret must be base64 after the prefix") from None
        if not key:
            raise ValueError("webhook secret must not be empty")
        return key
    return text.encode()


def standard_secret(secret: SecretLike) -> str:
    """The `whsec_...` form of a secret, for a receiver's Standard Webhooks library."""
    return SECRET_PREFIX + base64.b64encode(signing_key(secret)).decode("ascii")


def standard_signature(secret: SecretLike, msg_id: str, timestamp: int, raw_body: bytes) -> str:
    """The `webhook-signature` value (`v1,<base64>`) for a body sent at `timestamp`."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return Webhook(signing_key(secret)).sign(msg_id, when, raw_body.decode("utf-8"))


def sign(secret: SecretLike, timestamp: int, raw_body: bytes) -> str:
    """The deprecated `X-Vendorwatch-Signature` value for a body sent at `timestamp` (unix s)."""
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
    """POSTs the notification JSON to a URL, signed per Standard Webhooks (and, deprecated, with
    the `X-Vendorwatch-*` headers)."""

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
        signing_key(self._secret)  # refuses a malformed whsec_ secret up front
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
            WEBHOOK_ID_HEADER: n.idempotency_key,
            WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            # the key is derived per attempt so that no attribute holds the secret in the clear
            WEBHOOK_SIGNATURE_HEADER: standard_signature(
                self._secret, n.idempotency_key, timestamp, body
            ),
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
