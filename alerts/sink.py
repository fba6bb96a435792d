"""What every delivery sink shares: the result of one attempt and how HTTP answers map to it.

A sink makes exactly one attempt per `send` call and says whether it worked, may work later
(retryable, possibly with a server-given wait), or never will (permanent). Retrying, backoff,
rate limiting and idempotency live in `delivery.Deliverer`, so each sink stays a thin adapter.

Sinks never raise for HTTP or network trouble and never put a URL in a result: httpx exception
text and tracebacks can contain the request URL, which for Slack *is* the credential.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import httpx

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.redact import scrub

SINK_NAME = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
"""Sink names become metric labels and ledger keys; this shape rules out URLs."""

USER_AGENT = "vendorwatch-alerts/0.1"


class AttemptOutcome(StrEnum):
    """How one HTTP attempt ended."""

    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """The result of one attempt. `reason` is safe to log and to put in the DLQ."""

    outcome: AttemptOutcome
    reason: str
    status_code: int | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is AttemptOutcome.DELIVERED


class Sink(Protocol):
    """A delivery target. `rate_limit_key` is an opaque per-endpoint key, never the URL."""

    name: str
    rate_limit_key: str | None
    min_interval_s: float

    async def send(self, n: Notification) -> DeliveryResult:
        """Make one delivery attempt."""
        ...


class ConfigError(ValueError):
    """A sink was configured wrongly (the message never contains the secret values)."""


def check_sink_name(name: str) -> str:
    """Validate a sink name (lowercase, short, no slashes) so it is safe as a metric label."""
    if not SINK_NAME.match(name):
        raise ConfigError(
            "sink name must match [a-z0-9][a-z0-9_.:-]{0,63} (it is a metric label, not a URL)"
        )
    return name


def parse_retry_after(value: str | None, now: float, cap_s: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; capped.

    Returns None when the header is absent or unparseable, so the caller falls back to backoff.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap_s)


_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def error_code(body: str) -> str | None:
    """An error code such as Slack's `invalid_payload` if the body is just that, else None."""
    text = body.strip()
    return text if _CODE.match(text) else None


def classify_response(
    response: httpx.Response,
    *,
    label: str,
    detail: str | None = None,
    now: Callable[[], float] = time.time,
    retry_after_cap_s: float = 300.0,
) -> DeliveryResult:
    """Map an HTTP response to an attempt outcome.

    2xx delivered; 429 retryable with its Retry-After; 408 and 5xx retryable (503 may also say
    Retry-After); 3xx and other 4xx permanent because repeating the same request cannot help.
    `detail` is a short, already safe description of the error (e.g. Slack's error code).
    """
    status = response.status_code
    suffix = f": {detail}" if detail else ""
    reason = f"{label} HTTP {status}{suffix}"
    if 200 <= status < 300:
        return DeliveryResult(AttemptOutcome.DELIVERED, f"{label} HTTP {status}", status)
    if status == 429 or status == 503:
        wait = parse_retry_after(response.headers.get("Retry-After"), now(), retry_after_cap_s)
        return DeliveryResult(AttemptOutcome.RETRYABLE, reason, status, wait)
    if status == 408 or status >= 500:
        return DeliveryResult(AttemptOutcome.RETRYABLE, reason, status)
    return DeliveryResult(AttemptOutcome.PERMANENT, reason, status)


def transport_failure(exc: httpx.HTTPError, *, label: str) -> DeliveryResult:
    """Map an httpx exception to an outcome with a URL-free reason.

    Timeouts and connection problems are retryable; a malformed URL or unsupported scheme is
    a configuration error that retrying cannot fix. Only the exception *type* is reported:
    httpx messages may quote the URL.
    """
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return DeliveryResult(AttemptOutcome.RETRYABLE, f"{label} timeout ({kind})")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return DeliveryResult(AttemptOutcome.PERMANENT, f"{label} bad endpoint URL ({kind})")
    if isinstance(exc, httpx.TransportError):
        return DeliveryResult(AttemptOutcome.RETRYABLE, f"{label} connection error ({kind})")
    return DeliveryResult(AttemptOutcome.RETRYABLE, f"{label} HTTP error ({kind})")


async def post(
    client: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    label: str,
    detail_from_body: Callable[[httpx.Response], str | None] | None = None,
) -> DeliveryResult:
    """POST `content` once and classify the answer; never raises for HTTP or network trouble."""
    try:
        response = await client.post(
            url,
            content=content,
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=timeout_s,
        )
    except httpx.InvalidURL:
        # raised while building the request; not an HTTPError subclass in every httpx version
        return DeliveryResult(AttemptOutcome.PERMANENT, f"{label} bad endpoint URL (InvalidURL)")
    except httpx.HTTPError as exc:
        return transport_failure(exc, label=label)
    detail = detail_from_body(response) if detail_from_body else None
    return classify_response(response, label=label, detail=scrub(detail) if detail else None)
