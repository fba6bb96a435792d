"""Prometheus metrics for notification delivery, and the hook interface the Deliverer calls.

The Deliverer talks to a `DeliveryMetrics` object rather than to prometheus-client directly so
tests and embedders can observe deliveries without a registry. The default implementation writes
to the process-wide default registry that the worker's `/metrics` endpoint serves.

Labels are the sink's configured *name* (validated to look like `slack` or `slack:secops`),
never a URL, so a webhook token cannot reach Prometheus.
"""

from __future__ import annotations

from typing import Literal, Protocol

from prometheus_client import Counter, Histogram

Outcome = Literal["delivered", "duplicate", "failed"]
"""What happened to one notification at one sink; exactly one per `Deliverer.deliver` call."""

OUTCOMES: tuple[Outcome, ...] = ("delivered", "duplicate", "failed")

NOTIFICATIONS = Counter(
    "vendorwatch_notifications_total",
    "Notifications handled per sink, by final outcome (delivered, duplicate, failed).",
    ["sink", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "vendorwatch_delivery_latency_seconds",
    "Time from the first attempt to a successful delivery, retries and waits included.",
    ["sink"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
RETRIES = Counter(
    "vendorwatch_delivery_retries_total",
    "Attempts that failed in a retryable way and were retried.",
    ["sink"],
)
RATE_LIMITED = Counter(
    "vendorwatch_delivery_rate_limited_total",
    "HTTP 429 responses received from a receiver.",
    ["sink"],
)


class DeliveryMetrics(Protocol):
    """What the Deliverer reports; implement it to observe deliveries some other way."""

    def sink_registered(self, sink: str) -> None:
        """A Deliverer for `sink` exists (lets exporters show zeroes before any traffic)."""

    def outcome(self, sink: str, outcome: Outcome, latency_s: float | None) -> None:
        """A notification finished at `sink`; latency is set for delivered notifications."""

    def retried(self, sink: str) -> None:
        """An attempt failed and another one will follow."""

    def rate_limited(self, sink: str) -> None:
        """The receiver answered 429."""


class PrometheusDeliveryMetrics:
    """`DeliveryMetrics` backed by the module's prometheus-client collectors."""

    def sink_registered(self, sink: str) -> None:
        for outcome in OUTCOMES:
            NOTIFICATIONS.labels(sink=sink, outcome=outcome)
        DELIVERY_LATENCY.labels(sink=sink)
        RETRIES.labels(sink=sink)
        RATE_LIMITED.labels(sink=sink)

    def outcome(self, sink: str, outcome: Outcome, latency_s: float | None) -> None:
        NOTIFICATIONS.labels(sink=sink, outcome=outcome).inc()
        if latency_s is not None:
            DELIVERY_LATENCY.labels(sink=sink).observe(latency_s)

    def retried(self, sink: str) -> None:
        RETRIES.labels(sink=sink).inc()

    def rate_limited(self, sink: str) -> None:
        RATE_LIMITED.labels(sink=sink).inc()
