"""Getting a notification to a sink: retries, backoff, rate limiting, idempotency, the DLQ call.

`Deliverer.deliver` is the one call the delivery agent makes per (notification, sink). It
returns a `DeliveryReport`; when the outcome is "failed" the report carries the bytes to publish
on `vendorwatch.alerts.dlq`. The decision rules:

- 2xx: delivered; the key goes into the ledger so redelivery is a no-op ("duplicate").
- 5xx, 408, timeouts, refused connections: retry with exponential backoff and full jitter.
- 429 (and 503 with Retry-After): wait exactly what Retry-After says, capped.
- other 4xx, 3xx, bad URL: permanent at once; repeating an identical request cannot succeed.
- a bounded number of attempts and a maximum elapsed time turn a long outage into "failed".

Time is injected (`sleep`, `clock`, `wall_clock`, `rng`) so unit tests run instantly and
deterministically; production uses the real functions.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import structlog

from vendorwatch.alerts.ledger import DeliveryLedger, InMemoryDeliveryLedger
from vendorwatch.alerts.metrics import DeliveryMetrics, Outcome, PrometheusDeliveryMetrics
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.redact import scrub
from vendorwatch.alerts.sink import AttemptOutcome, DeliveryResult, Sink

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

DLQ_SCHEMA = "vendorwatch.alerts.dlq/v1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. The defaults ride out a ~10 minute outage at a few requests a minute."""

    max_attempts: int = 12
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_elapsed_s: float = 900.0
    retry_after_cap_s: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay_s, self.max_delay_s, self.max_elapsed_s) < 0:
            raise ValueError("delays and max_elapsed_s must not be negative")

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2^(attempt-1))].

        Full jitter spreads the retries of many workers that failed together, so a recovering
        receiver is not hit by all of them at the same instant.
        """
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** min(attempt - 1, 62))
        return rng() * ceiling


class RateLimiter:
    """At most one request per `interval` per key, measured from the end of the previous one.

    Holding the slot for the whole request means two messages to the same Slack webhook reach
    it at least `interval` apart even when the first one was slow to connect.
    """

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._free_at: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, key: str | None, interval_s: float) -> AsyncIterator[float]:
        """Wait for the key's turn; yields how long it waited."""
        if key is None or interval_s <= 0:
            yield 0.0
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            wait = self._free_at.get(key, float("-inf")) - self._clock()
            if wait > 0:
                await self._sleep(wait)
            try:
                yield max(wait, 0.0)
            finally:
                self._free_at[key] = self._clock() + interval_s


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What happened to one notification at one sink. `dlq` is set exactly when it failed."""

    sink: str
    idempotency_key: str
    outcome: Outcome
    attempts: int
    reason: str
    elapsed_s: float
    last_status: int | None = None
    dlq: bytes | None = None


def dlq_record(
    n: Notification,
    sink_name: str,
    reason: str,
    attempts: int = 0,
    failed_at: datetime | None = None,
) -> bytes:
    """The `vendorwatch.alerts.dlq` message for a notification that never got through.

    It carries the whole notification (so it can be re-driven), which sink failed, why and after
    how many attempts; it never carries the endpoint URL or any secret, and the reason is
    scrubbed once more in case a library put one there.
    """
    record = {
        "schema": DLQ_SCHEMA,
        "idempotency_key": n.idempotency_key,
        "vendor_id": n.vendor_id,
        "sink": sink_name,
        "reason": scrub(reason),
        "attempts": attempts,
        "failed_at": (failed_at or datetime.now(UTC)).isoformat(),
        "notification": n.model_dump(mode="json"),
    }
    return orjson.dumps(record)


class Deliverer:
    """Delivers notifications to one sink with retries, rate limiting and deduplication.

    One Deliverer per sink per worker. Concurrent `deliver` calls are fine: calls for the same
    idempotency key wait for the one in flight and report "duplicate"; calls for different keys
    share the sink's rate limit slot.
    """

    def __init__(
        self,
        sink: Sink,
        *,
        ledger: DeliveryLedger | None = None,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        metrics: DeliveryMetrics | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.sink = sink
        self.ledger: DeliveryLedger = ledger if ledger is not None else InMemoryDeliveryLedger()
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self._limiter = limiter or RateLimiter(clock=clock, sleep=sleep)
        self._metrics: DeliveryMetrics = metrics or PrometheusDeliveryMetrics()
        self._metrics.sink_registered(sink.name)
        self._in_flight: dict[str, asyncio.Event] = {}

    async def deliver(self, n: Notification) -> DeliveryReport:
        """Deliver once (at most once per idempotency key and sink); never raises for I/O."""
        key = n.idempotency_key
        running = self._in_flight.get(key)
        if running is not None:
            await running.wait()
            return self._duplicate(n, "handled by a concurrent delivery of the same key")
        # claim the key before the first await, so a concurrent call cannot slip in between
        done = asyncio.Event()
        self._in_flight[key] = done
        try:
            if await self.ledger.seen(key, self.sink.name):
                return self._duplicate(n, "already delivered")
            return await self._attempts(n)
        finally:
            del self._in_flight[key]
            done.set()

    def _log(self, level: str, event: str, n: Notification, **fields: object) -> None:
        # Looked up per call, not bound once: a logger bound at construction would keep the
        # structlog configuration of that moment and miss the application's later setup.
        getattr(log, level)(event, sink=self.sink.name, **n.log_fields(), **fields)

    def _duplicate(self, n: Notification, reason: str) -> DeliveryReport:
        self._metrics.outcome(self.sink.name, "duplicate", None)
        self._log("info", "delivery.duplicate", n, reason=reason)
        return DeliveryReport(self.sink.name, n.idempotency_key, "duplicate", 0, reason, 0.0)

    async def _remember(self, n: Notification) -> None:
        """Record a delivery; a ledger failure must not turn a delivered message into an error.

        If the write fails the message still got through; the cost is that a redelivery of the
        same key could reach the receiver again, which the error log makes visible.
        """
        try:
            await self.ledger.record(n.idempotency_key, self.sink.name)
        except Exception as exc:
            self._log("error", "delivery.ledger_write_failed", n, error=type(exc).__name__)

    async def _attempt(self, n: Notification) -> DeliveryResult:
        async with self._limiter.slot(self.sink.rate_limit_key, self.sink.min_interval_s):
            try:
                return await self.sink.send(n)
            except Exception as exc:  # a bug in a sink must not kill the worker's loop
                # only the type and scrubbed text: a traceback could carry request details
                reason = scrub(f"{self.sink.name} internal error: {type(exc).__name__}: {exc}")
                return DeliveryResult(AttemptOutcome.PERMANENT, reason[:300])

    async def _attempts(self, n: Notification) -> DeliveryReport:
        policy, sink = self.policy, self.sink.name
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            result = await self._attempt(n)
            elapsed = self._clock() - started
            if result.ok:
                await self._remember(n)
                self._metrics.outcome(sink, "delivered", elapsed)
                self._log(
                    "info",
                    "delivery.delivered",
                    n,
                    attempts=attempt,
                    elapsed_s=round(elapsed, 3),
                )
                return DeliveryReport(
                    sink,
                    n.idempotency_key,
                    "delivered",
                    attempt,
                    result.reason,
                    elapsed,
                    result.status_code,
                )
            if result.status_code == 429:
                self._metrics.rate_limited(sink)
            if result.outcome is AttemptOutcome.PERMANENT:
                return self._failed(n, attempt, result, result.reason, elapsed)
            if result.retry_after_s is not None:
                delay = min(result.retry_after_s, policy.retry_after_cap_s)
            else:
                delay = policy.backoff(attempt, self._rng)
            if attempt >= policy.max_attempts:
                why = f"gave up after {attempt} attempts; last: {result.reason}"
                return self._failed(n, attempt, result, why, elapsed)
            if elapsed + delay > policy.max_elapsed_s:
                why = (
                    f"gave up after {attempt} attempts in {elapsed:.1f} s "
                    f"(limit {policy.max_elapsed_s:.0f} s); last: {result.reason}"
                )
                return self._failed(n, attempt, result, why, elapsed)
            self._metrics.retried(sink)
            self._log(
                "warning",
                "delivery.retry",
                n,
                attempt=attempt,
                reason=result.reason,
                status=result.status_code,
                retry_in_s=round(delay, 3),
            )
            await self._sleep(delay)

    def _failed(
        self, n: Notification, attempts: int, result: DeliveryResult, reason: str, elapsed: float
    ) -> DeliveryReport:
        sink = self.sink.name
        reason = scrub(reason)
        self._metrics.outcome(sink, "failed", None)
        self._log(
            "error",
            "delivery.failed",
            n,
            attempts=attempts,
            reason=reason,
            status=result.status_code,
        )
        failed_at = datetime.fromtimestamp(self._wall_clock(), tz=UTC)
        return DeliveryReport(
            sink,
            n.idempotency_key,
            "failed",
            attempts,
            reason,
            elapsed,
            result.status_code,
            dlq=dlq_record(n, sink, reason, attempts, failed_at),
        )
