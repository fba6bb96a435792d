"""Kafka topic names and their roles, in one place so every adapter agrees on them."""

from __future__ import annotations

from dataclasses import dataclass

GROUP_ID = "vendorwatch"
"""The Faust app id, which is also the workers' Kafka consumer group."""

RAW = "vendorwatch.events.raw"
"""Anything producers send; the score agent validates it, writes the history and scores it."""
EVENTS = "vendorwatch.events"
"""Validated events keyed by vendor id; the history, never expires."""
EVENTS_DLQ = "vendorwatch.events.dlq"
"""Rejected input with the reason, the original bytes and where it came from."""
SCORES = "vendorwatch.scores"
"""Score changes with contributions and the policy version."""
ALERTS = "vendorwatch.alerts"
"""Alert notifications (firing / resolved) before delivery."""
ALERTS_DLQ = "vendorwatch.alerts.dlq"
"""Notifications that never got through, with the reason."""
SILENCES = "vendorwatch.silences"
"""Silence created / expired events; part of the history."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: its name, whether it is the per-vendor history, and its retention."""

    name: str
    keyed_by_vendor: bool
    retention_ms: int  # -1 keeps forever


ALL_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(RAW, keyed_by_vendor=False, retention_ms=7 * 24 * 3600 * 1000),
    TopicSpec(EVENTS, keyed_by_vendor=True, retention_ms=-1),
    TopicSpec(EVENTS_DLQ, keyed_by_vendor=False, retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(SCORES, keyed_by_vendor=True, retention_ms=30 * 24 * 3600 * 1000),
    TopicSpec(ALERTS, keyed_by_vendor=True, retention_ms=-1),
    TopicSpec(ALERTS_DLQ, keyed_by_vendor=True, retention_ms=-1),
    TopicSpec(SILENCES, keyed_by_vendor=False, retention_ms=-1),
)
"""Every topic vendorwatch uses; `vendorwatch broker` and the compose setup job create these."""

PERSISTED_IN_EMBEDDED_MODE: tuple[str, ...] = (
    RAW,
    EVENTS,
    EVENTS_DLQ,
    SCORES,
    ALERTS,
    ALERTS_DLQ,
    SILENCES,
)
"""Topics the embedded broker journals to disk (Tansu is memory-only): every topic. The raw topic
is what producers were acknowledged for, so it must survive a kill -9 until the workers have
processed it; scores are derived but kept so that a restart resumes from the saved group offsets
with its read view intact instead of re-running (and re-alerting on) the whole history."""
