"""Alertmanager v2 delivery: post each alert item so teams can route through what they run.

Alertmanager identifies an alert by its label set, so the labels are exactly the stable identity
(`alertname`, `vendor`, `rule`, `severity`, `fingerprint`); everything that changes between
notifications (summary, score, contributions) goes in annotations.

Alertmanager resolves an alert by time: an alert whose `endsAt` has passed is resolved. So
- a resolved item is sent with `endsAt` = the event time it resolved at, which is in the past
  and resolves the alert at once;
- a firing item is sent with `endsAt` = now + `firing_hold_s`. Alertmanager would otherwise apply
  its `resolve_timeout` (5 min by default) and resolve alerts we only re-send on change or at the
  lifecycle's repeat interval. Keep `firing_hold_s` above that repeat interval.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from vendorwatch.alerts.notification import AlertItem, Notification
from vendorwatch.alerts.redact import install_library_log_filters, register_secret, reveal
from vendorwatch.alerts.sink import DeliveryResult, check_sink_name, post

MAX_ANNOTATION = 2000
DEFAULT_FIRING_HOLD_S = 26 * 3600
"""Above the default policy's 24 h repeat interval, with margin for a late repeat."""


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def contributions_text(n: Notification, top: int = 5) -> str:
    """Short one-line summary of the top contributions: `competitor_stake +38.0; ...`."""
    parts = [f"{c.signal} {c.points:+.1f}" for c in n.contributions[:top]]
    hidden = len(n.contributions) - top
    if hidden > 0:
        parts.append(f"+{hidden} more")
    return "; ".join(parts)


def to_postable_alerts(
    n: Notification,
    now: datetime,
    firing_hold_s: float = DEFAULT_FIRING_HOLD_S,
    generator_url: str | None = None,
) -> list[dict[str, Any]]:
    """The `POST /api/v2/alerts` body for a notification: one entry per alert item."""
    hold = timedelta(seconds=firing_hold_s)
    shared = {
        "vendor_name": n.vendor_name[:MAX_ANNOTATION],
        "score": f"{n.score:.1f} ({n.score_severity})",
        "contributions": contributions_text(n)[:MAX_ANNOTATION],
        "policy_version": n.policy_version,
    }

    def entry(item: AlertItem) -> dict[str, Any]:
        ends_at = item.ends_at if item.ends_at is not None else max(now, item.starts_at) + hold
        alert: dict[str, Any] = {
            "labels": {
                "alertname": item.rule,
                "vendor": n.vendor_id,
                "rule": item.rule,
                "severity": item.severity,
                "fingerprint": item.fingerprint,
            },
            "annotations": {
                "summary": item.summary[:MAX_ANNOTATION],
                "event_ids": ", ".join(item.event_ids)[:MAX_ANNOTATION],
                **shared,
            },
            "startsAt": _iso(item.starts_at),
            "endsAt": _iso(ends_at),
        }
        if generator_url:
            alert["generatorURL"] = generator_url.format(vendor_id=n.vendor_id)
        return alert

    return [entry(item) for item in n.alerts]


def _am_detail(response: httpx.Response) -> str | None:
    """Alertmanager explains a 400 in JSON or text (label validation); keep it short."""
    if response.status_code < 400:
        return None
    return response.text.strip().replace("\n", " ")[:200] or None


class AlertmanagerSink:
    """Posts alert items to an Alertmanager's v2 API (optionally with basic or bearer auth)."""

    def __init__(
        self,
        base_url: str | SecretStr,
        client: httpx.AsyncClient,
        *,
        name: str = "alertmanager",
        basic_auth: tuple[str, str | SecretStr] | None = None,
        bearer_token: str | SecretStr | None = None,
        timeout_s: float = 10.0,
        firing_hold_s: float = DEFAULT_FIRING_HOLD_S,
        generator_url: str | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if basic_auth and bearer_token:
            raise ValueError("use basic_auth or bearer_token, not both")
        self._url = SecretStr(reveal(base_url).rstrip("/") + "/api/v2/alerts")
        register_secret(self._url)
        self._auth_header: SecretStr | None = None
        if basic_auth:
            user, password = basic_auth
            register_secret(password)
            token = base64.b64encode(f"{user}:{reveal(password)}".encode()).decode()
            # the encoded value is as good as the password, so it is registered as a secret too
            self._auth_header = SecretStr(f"Basic {token}")
        elif bearer_token:
            register_secret(bearer_token)
            self._auth_header = SecretStr(f"Bearer {reveal(bearer_token)}")
        if self._auth_header:
            register_secret(self._auth_header)
        install_library_log_filters()
        self.name = check_sink_name(name)
        self._client = client
        self._timeout_s = timeout_s
        self._firing_hold_s = firing_hold_s
        self._generator_url = generator_url
        self._wall_clock = wall_clock
        self.min_interval_s = 0.0
        self.rate_limit_key: str | None = None

    def __repr__(self) -> str:
        auth = ", auth=SecretStr('**********')" if self._auth_header else ""
        return f"AlertmanagerSink(name={self.name!r}, base_url=SecretStr('**********'){auth})"

    async def send(self, n: Notification) -> DeliveryResult:
        """One attempt: POST all the notification's items in one request."""
        now = datetime.fromtimestamp(self._wall_clock(), tz=UTC)
        body = orjson.dumps(to_postable_alerts(n, now, self._firing_hold_s, self._generator_url))
        headers = {"Content-Type": "application/json"}
        if self._auth_header:
            headers["Authorization"] = self._auth_header.get_secret_value()
        return await post(
            self._client,
            self._url.get_secret_value(),
            content=body,
            headers=headers,
            timeout_s=self._timeout_s,
            label="alertmanager",
            detail_from_body=_am_detail,
        )
