"""Builders and fakes for the alert-delivery unit tests (imported by name, not a conftest).

A plain module rather than conftest.py so `from delivery_helpers import ...` is unambiguous when
other directories also have a conftest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from vendorwatch.alerts.notification import (
    AlertItem,
    ContributionView,
    Notification,
    Severity,
    max_severity,
)
from vendorwatch.alerts.sink import AttemptOutcome, DeliveryResult

T = TypeVar("T")
T0 = datetime(2025, 6, 12, 9, 0, tzinfo=UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion (these tests do not depend on an async pytest plugin)."""
    return asyncio.run(coro)


def item(
    rule: str = "competitor_stake",
    severity: Severity = "critical",
    *,
    vendor_id: str = "vendor-scale-ai",
    resolved: bool = False,
    summary: str = "Meta took a 49% stake in Scale AI ($14.3B).",
    event_ids: tuple[str, ...] = ("evt-2025-06-12-meta-stake",),
) -> AlertItem:
    return AlertItem(
        fingerprint=hashlib.sha256(f"{vendor_id}|{rule}".encode()).hexdigest()[:16],
        rule=rule,
        severity=severity,
        status="resolved" if resolved else "firing",
        summary=summary,
        starts_at=T0,
        ends_at=T0 + timedelta(days=3) if resolved else None,
        event_ids=event_ids,
    )


def notification(
    *items: AlertItem,
    key: str = "ntf-1",
    vendor_id: str = "vendor-scale-ai",
    vendor_name: str = "Scale AI",
    contributions: tuple[ContributionView, ...] | None = None,
    **overrides: Any,
) -> Notification:
    """A consistent notification; status and severity are derived from the items."""
    alerts = items or (item(vendor_id=vendor_id),)
    if contributions is None:
        contributions = (
            ContributionView(
                signal="competitor_ownership",
                points=38.0,
                event_ids=("evt-2025-06-12-meta-stake",),
                detail="Meta holds 49% ($14.3B)",
            ),
            ContributionView(signal="peer_pauses", points=14.0, event_ids=("evt-p1", "evt-p2")),
        )
    fields: dict[str, Any] = {
        "idempotency_key": key,
        "group_key": vendor_id,
        "vendor_id": vendor_id,
        "vendor_name": vendor_name,
        "status": "firing" if any(a.status == "firing" for a in alerts) else "resolved",
        "severity": max_severity([a.severity for a in alerts]),
        "alerts": alerts,
        "score": 72.4,
        "previous_score": 31.4,
        "score_severity": "critical",
        "previous_score_severity": "high",
        "contributions": contributions,
        "policy_version": "policy-3f9c2a1e",
        "as_of": T0,
    }
    fields.update(overrides)
    return Notification(**fields)


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)  # still yield, so concurrent tasks interleave as in production


@dataclass
class ScriptedSink:
    """A sink stand-in that answers from a script and records when it was called."""

    time: FakeTime
    script: deque[DeliveryResult] = field(default_factory=deque)
    name: str = "test-sink"
    rate_limit_key: str | None = None
    min_interval_s: float = 0.0
    calls: list[tuple[float, str]] = field(default_factory=list)
    send_duration_s: float = 0.0

    async def send(self, n: Notification) -> DeliveryResult:
        self.calls.append((self.time.now, n.idempotency_key))
        if self.send_duration_s:
            await self.time.sleep(self.send_duration_s)
        if self.script:
            return self.script.popleft()
        return ok()


def ok() -> DeliveryResult:
    return DeliveryResult(AttemptOutcome.DELIVERED, "HTTP 200", 200)


def transient(status: int = 500) -> DeliveryResult:
    return DeliveryResult(AttemptOutcome.RETRYABLE, f"HTTP {status}", status)


def throttled(retry_after: float | None) -> DeliveryResult:
    return DeliveryResult(AttemptOutcome.RETRYABLE, "HTTP 429", 429, retry_after)


def permanent(status: int = 400, reason: str = "HTTP 400: invalid_payload") -> DeliveryResult:
    return DeliveryResult(AttemptOutcome.PERMANENT, reason, status)


@dataclass
class RecordingMetrics:
    """`DeliveryMetrics` that keeps calls in lists, to assert on without a registry."""

    outcomes: list[tuple[str, str, float | None]] = field(default_factory=list)
    retries: int = 0
    rate_limits: int = 0

    def sink_registered(self, sink: str) -> None:
        pass

    def outcome(self, sink: str, outcome: str, latency_s: float | None) -> None:
        self.outcomes.append((sink, outcome, latency_s))

    def retried(self, sink: str) -> None:
        self.retries += 1

    def rate_limited(self, sink: str) -> None:
        self.rate_limits += 1
