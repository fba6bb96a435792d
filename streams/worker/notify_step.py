"""The notify agent's work, without Faust: group a batch of alert transitions per vendor, build
the notifications, deliver them to every sink, dead-letter what never got through, repeat what
stays firing, and forget revoked partitions.

Why a step apart from the agent: these are the decisions people notice (one message per vendor,
silences respected, a repeat once per interval, nothing lost when a sink is down), and here they
run in a test with in-memory history and fake sinks. `streams.worker.notify` keeps only the
Faust wiring: the agent with its group wait, the repeat timer, the revoke hook and the HTTP
client's lifetime.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from vendorwatch.alerts.delivery import Deliverer
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.sinks.slack import fallback_text
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker import metrics
from vendorwatch.streams.worker.score_step import RawMessage, RecordSink

# The logger keeps the name it had when this code lived in the agent's module: log queries and
# dashboards select the notify lines by it.
log = structlog.get_logger("vendorwatch.streams.worker.notify")

AlertsLoader = Callable[[int, int], Awaitable[Iterable[bytes | None]]]
"""The values of one `vendorwatch.alerts` partition from offset 0 up to (not including) a stop
offset, in order (the live one reads them with `kafka_io.history.read_range`)."""


@dataclass
class Alerting:
    """The notify side's state, shared with the demo's terminal panel (`recent`, `deliverers`)
    and its `on_notification` hook."""

    notifier: Notifier
    deliverers: list[Deliverer]
    recent: deque[Notification] = field(default_factory=lambda: deque(maxlen=20))
    loaded_partitions: set[int] = field(default_factory=set)
    partition_of: dict[str, int] = field(default_factory=dict)
    on_notification: Callable[[Notification], None] | None = None


class NotifyStep:
    """Alert transitions in, notifications out, for the partitions this worker owns.

    `dlq` receives the `vendorwatch.alerts.dlq` records of deliveries that failed; `clock` is
    the wall clock the group and repeat decisions use.
    """

    def __init__(
        self,
        alerting: Alerting,
        load_alerts: AlertsLoader,
        dlq: RecordSink,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.alerting = alerting
        self.notifier = alerting.notifier
        self.load_alerts = load_alerts
        self.dlq = dlq
        self.clock = clock

    async def handle(self, batch: Sequence[RawMessage]) -> None:
        """One group wait's batch: notify, wait for every delivery, update the active gauge.
        Returns only when all sends are over, so the caller acks the batch after them."""
        await self.send_all(await self.on_batch(batch))
        self.update_gauge()

    async def on_batch(self, batch: Sequence[RawMessage]) -> list[Notification]:
        """Group a batch's transitions per vendor (a new partition's history absorbed first)
        and return one notification per vendor that has something unsilenced to say."""
        alerting = self.alerting
        groups: dict[str, list[dict[str, Any]]] = {}
        for message in batch:
            metrics.EVENTS_CONSUMED.labels(topic=topics.ALERTS).inc()
            if message.partition not in alerting.loaded_partitions:
                await self.load_partition(message.partition, message.offset)
            record = orjson.loads(message.value)  # type: ignore[arg-type]
            alerting.partition_of[record["vendor_id"]] = message.partition
            groups.setdefault(record["vendor_id"], []).append(record)
        now = self.clock()
        notifications = [self.notifier.on_batch(v, records, now) for v, records in groups.items()]
        return [n for n in notifications if n is not None]

    async def load_partition(self, partition: int, stop: int) -> None:
        """Rebuild what fires in a newly assigned partition (no delivery: it happened)."""
        for value in await self.load_alerts(partition, stop):
            if value is not None:
                absorbed = orjson.loads(value)
                self.notifier.absorb(absorbed)
                self.alerting.partition_of[absorbed["vendor_id"]] = partition
        self.alerting.loaded_partitions.add(partition)

    async def repeat(self) -> None:
        """Send again what stayed firing for a repeat interval (the timer's tick)."""
        await self.send_all(self.notifier.due_repeats(self.clock()))

    async def send(self, notification: Notification) -> None:
        """Show, log and deliver one notification to every sink; DLQ what failed."""
        alerting = self.alerting
        alerting.recent.appendleft(notification)
        if alerting.on_notification is not None:
            alerting.on_notification(notification)
        log.info(
            "notification",
            status=notification.status,
            severity=notification.severity,
            text=fallback_text(notification),
            **notification.log_fields(),
        )
        # Sinks are independent: one being down must not delay the others.
        reports = await asyncio.gather(*(d.deliver(notification) for d in alerting.deliverers))
        for report in reports:
            if report.dlq is not None:
                metrics.DLQ_MESSAGES.labels(topic=topics.ALERTS_DLQ).inc()
                await self.dlq.add(topics.ALERTS_DLQ, report.dlq, notification.vendor_id.encode())

    async def send_all(self, notifications: list[Notification]) -> None:
        """Send several vendors' notifications side by side, and return when all are done.

        One vendor's slow or failing sink (a Slack retrying for minutes) must not hold back
        another vendor's messages on the other sinks. Returning only when every send is over
        keeps the batch's offsets uncommitted until then (at-least-once); the first failure,
        if any, is raised once all have finished, as a single send would have raised it.
        """
        results = await asyncio.gather(
            *(self.send(n) for n in notifications), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def update_gauge(self) -> None:
        """`vendorwatch_alerts_active` from what fires now in this worker's partitions."""
        metrics.ALERTS_ACTIVE.clear()
        for (severity, rule), count in self.notifier.active_counts().items():
            metrics.ALERTS_ACTIVE.labels(severity=severity, rule=rule).set(count)

    def forget(self, partition: int) -> None:
        """Drop a revoked partition's vendors: its new owner loads them from the history."""
        alerting = self.alerting
        alerting.loaded_partitions.discard(partition)
        for vendor_id, owner in list(alerting.partition_of.items()):
            if owner == partition:
                self.notifier.vendors.pop(vendor_id, None)
                del alerting.partition_of[vendor_id]
