"""The Deliverer's decisions, on a fake clock: retry, wait, give up, deduplicate, rate limit."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque

import orjson
import pytest
from prometheus_client import REGISTRY

from tests.alerts.delivery_helpers import (
    FakeTime,
    RecordingMetrics,
    ScriptedSink,
    notification,
    ok,
    permanent,
    run,
    throttled,
    transient,
)
from vendorwatch.alerts.delivery import DLQ_SCHEMA, Deliverer, RetryPolicy, dlq_record
from vendorwatch.alerts.ledger import InMemoryDeliveryLedger
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.sink import DeliveryResult


def make(
    *script: DeliveryResult,
    policy: RetryPolicy | None = None,
    rng: float = 1.0,
    ledger: InMemoryDeliveryLedger | None = None,
    **sink_kwargs: object,
) -> tuple[Deliverer, ScriptedSink, FakeTime, RecordingMetrics]:
    t = FakeTime()
    sink = ScriptedSink(time=t, script=deque(script), **sink_kwargs)  # type: ignore[arg-type]
    metrics = RecordingMetrics()
    deliverer = Deliverer(
        sink,
        ledger=ledger if ledger is not None else InMemoryDeliveryLedger(),
        policy=policy or RetryPolicy(base_delay_s=1.0, max_delay_s=60.0),
        metrics=metrics,
        sleep=t.sleep,
        clock=t.clock,
        wall_clock=lambda: 1_750_000_000.0,
        rng=lambda: rng,
    )
    return deliverer, sink, t, metrics


def test_delivered_on_first_try() -> None:
    d, _, t, metrics = make(ok())
    report = run(d.deliver(notification()))
    assert report.outcome == "delivered"
    assert report.attempts == 1
    assert report.dlq is None
    assert t.sleeps == []
    assert metrics.outcomes == [("test-sink", "delivered", 0.0)]


def test_server_errors_are_retried_with_exponential_backoff() -> None:
    d, _, t, metrics = make(transient(500), transient(502), transient(503), ok())
    report = run(d.deliver(notification()))
    assert report.outcome == "delivered"
    assert report.attempts == 4
    assert t.sleeps == [1.0, 2.0, 4.0]  # rng=1.0 shows the jitter ceiling
    assert metrics.retries == 3
    assert metrics.outcomes == [("test-sink", "delivered", 7.0)]


def test_full_jitter_stays_under_the_capped_ceiling() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, max_attempts=8, max_elapsed_s=1e9)
    d, _, t, _ = make(*[transient()] * 7, ok(), policy=policy, rng=0.5)
    run(d.deliver(notification()))
    assert t.sleeps == [0.5, 1.0, 2.0, 2.5, 2.5, 2.5, 2.5]


def test_429_waits_exactly_retry_after() -> None:
    d, _, t, metrics = make(throttled(7.0), ok())
    report = run(d.deliver(notification()))
    assert report.outcome == "delivered"
    assert t.sleeps == [7.0]
    assert metrics.rate_limits == 1
    assert metrics.retries == 1


def test_retry_after_is_capped_and_missing_retry_after_falls_back_to_backoff() -> None:
    policy = RetryPolicy(retry_after_cap_s=300.0, max_elapsed_s=10_000.0)
    d, _, t, _ = make(throttled(86_400.0), throttled(None), ok(), policy=policy)
    run(d.deliver(notification()))
    assert t.sleeps == [300.0, 2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_client_errors_are_permanent_at_once(status: int) -> None:
    d, sink, t, metrics = make(permanent(status, f"slack HTTP {status}: channel_not_found"))
    n = notification()
    report = run(d.deliver(n))
    assert report.outcome == "failed"
    assert report.attempts == 1
    assert len(sink.calls) == 1
    assert t.sleeps == []
    assert report.dlq is not None
    record = orjson.loads(report.dlq)
    assert record["schema"] == DLQ_SCHEMA
    assert record["sink"] == "test-sink"
    assert record["reason"] == f"slack HTTP {status}: channel_not_found"
    assert record["attempts"] == 1
    assert Notification.model_validate(record["notification"]) == n
    assert metrics.outcomes == [("test-sink", "failed", None)]


def test_gives_up_after_max_attempts() -> None:
    d, sink, _, _ = make(*[transient(500)] * 10, policy=RetryPolicy(max_attempts=3))
    report = run(d.deliver(notification()))
    assert report.outcome == "failed"
    assert len(sink.calls) == 3
    assert report.reason == "gave up after 3 attempts; last: HTTP 500"


def test_gives_up_when_the_next_wait_would_pass_max_elapsed() -> None:
    policy = RetryPolicy(base_delay_s=10.0, max_delay_s=100.0, max_elapsed_s=25.0)
    d, sink, t, _ = make(*[transient(503)] * 10, policy=policy)
    report = run(d.deliver(notification()))
    assert report.outcome == "failed"
    assert t.sleeps == [10.0]  # the next wait (20 s) would end past 25 s
    assert len(sink.calls) == 2
    assert "limit 25 s" in report.reason


def test_the_same_key_is_delivered_once() -> None:
    ledger = InMemoryDeliveryLedger()
    d, sink, _, metrics = make(ledger=ledger)
    n = notification(key="ntf-dup")
    first, second = run(d.deliver(n)), run(d.deliver(n))
    assert (first.outcome, second.outcome) == ("delivered", "duplicate")
    assert len(sink.calls) == 1
    # a fresh Deliverer (a restarted worker) sharing the ledger also skips it
    d2, sink2, _, _ = make(ledger=ledger)
    assert run(d2.deliver(n)).outcome == "duplicate"
    assert sink2.calls == []
    assert [o for _, o, _ in metrics.outcomes] == ["delivered", "duplicate"]


def test_ledger_is_per_sink() -> None:
    ledger = InMemoryDeliveryLedger()
    d1, _, _, _ = make(ledger=ledger, name="slack")
    d2, sink2, _, _ = make(ledger=ledger, name="webhook")
    n = notification()
    run(d1.deliver(n))
    assert run(d2.deliver(n)).outcome == "delivered"
    assert len(sink2.calls) == 1


def test_concurrent_deliveries_of_one_key_send_once() -> None:
    d, sink, _, _ = make(send_duration_s=0.5)
    n = notification(key="ntf-race")

    async def scenario() -> list[str]:
        reports = await asyncio.gather(*(d.deliver(n) for _ in range(3)))
        return sorted(r.outcome for r in reports)

    assert run(scenario()) == ["delivered", "duplicate", "duplicate"]
    assert len(sink.calls) == 1


def test_a_failed_delivery_is_not_recorded_so_redelivery_tries_again() -> None:
    d, sink, _, _ = make(permanent(), ok())
    n = notification()
    assert run(d.deliver(n)).outcome == "failed"
    assert run(d.deliver(n)).outcome == "delivered"
    assert len(sink.calls) == 2


def test_rate_limit_spaces_requests_per_endpoint() -> None:
    d, sink, _, _ = make(rate_limit_key="slack:abc", min_interval_s=1.0, send_duration_s=0.25)

    async def scenario() -> None:
        await asyncio.gather(*(d.deliver(notification(key=f"k{i}")) for i in range(4)))

    run(scenario())
    starts = [at for at, _ in sink.calls]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) == 4
    # one second from the end of one request to the start of the next
    assert all(gap >= 1.25 - 1e-9 for gap in gaps), gaps


def test_retries_also_respect_the_rate_limit() -> None:
    d, sink, _, _ = make(transient(), ok(), rate_limit_key="k", min_interval_s=1.0, rng=0.0)
    run(d.deliver(notification()))
    (t1, _), (t2, _) = sink.calls
    assert t2 - t1 >= 1.0


def test_a_crashing_sink_becomes_a_permanent_failure() -> None:
    class Broken(ScriptedSink):
        async def send(self, n: Notification) -> DeliveryResult:
            raise KeyError("template field")

    t = FakeTime()
    d = Deliverer(Broken(time=t), sleep=t.sleep, clock=t.clock, metrics=RecordingMetrics())
    report = run(d.deliver(notification()))
    assert report.outcome == "failed"
    assert "KeyError" in report.reason
    assert report.dlq is not None


def test_cancellation_propagates_and_records_nothing() -> None:
    ledger = InMemoryDeliveryLedger()
    d, _, _, _ = make(*[transient()] * 5, ledger=ledger)

    async def scenario() -> None:
        task = asyncio.create_task(d.deliver(notification()))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(scenario())
    assert len(ledger) == 0


def test_dlq_record_shape() -> None:
    n = notification(key="ntf-9")
    record = orjson.loads(dlq_record(n, "slack", "slack HTTP 400: invalid_payload", attempts=1))
    assert set(record) == {
        "schema",
        "idempotency_key",
        "vendor_id",
        "sink",
        "reason",
        "attempts",
        "failed_at",
        "notification",
    }
    assert record["idempotency_key"] == "ntf-9"


def test_prometheus_metrics_are_exported_with_sink_labels_only() -> None:
    t = FakeTime()
    sink = ScriptedSink(time=t, script=deque([transient(), throttled(1.0), ok()]), name="unit-prom")
    d = Deliverer(sink, sleep=t.sleep, clock=t.clock, rng=lambda: 0.0)

    def value(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"sink": "unit-prom", **labels}) or 0.0

    assert value("vendorwatch_notifications_total", outcome="failed") == 0.0  # pre-registered
    run(d.deliver(notification()))
    assert value("vendorwatch_notifications_total", outcome="delivered") == 1.0
    assert value("vendorwatch_delivery_retries_total") == 2.0
    assert value("vendorwatch_delivery_rate_limited_total") == 1.0
    assert value("vendorwatch_delivery_latency_seconds_count") == 1.0
    assert value("vendorwatch_delivery_latency_seconds_sum") == pytest.approx(1.0)
