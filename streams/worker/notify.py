"""The alerting half of the worker: the notify agent, its sinks and the repeat timer.

The score agent publishes alert transitions to `vendorwatch.alerts` (keyed by vendor); the
notify agent here consumes them, groups a vendor's transitions for `group_wait_seconds`, drops
silenced alerts and delivers one notification per vendor to every configured sink. Delivery is
awaited before the batch is acknowledged, so a crash re-reads the batch; the notification's
idempotency key (derived from the transition ids) and the file ledger stop the duplicate.
What never gets through goes to `vendorwatch.alerts.dlq` with the reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust
import httpx
import orjson
import structlog

from vendorwatch.alerts.delivery import Deliverer
from vendorwatch.alerts.ledger import FileDeliveryLedger
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.sinks.alertmanager import AlertmanagerSink
from vendorwatch.alerts.sinks.slack import SlackSink, fallback_text
from vendorwatch.alerts.sinks.webhook import WebhookSink
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.history import read_range
from vendorwatch.streams.worker import metrics
from vendorwatch.streams.worker.grouping import take_grouped
from vendorwatch.streams.worker.pipeline import Pipeline, bytes_topic

log = structlog.get_logger(__name__)

REPEAT_CHECK_S = 30.0


@dataclass
class Alerting:
    """The notify side's state, shared with the demo's terminal panel."""

    notifier: Notifier
    deliverers: list[Deliverer]
    recent: deque[Notification] = field(default_factory=lambda: deque(maxlen=20))
    loaded_partitions: set[int] = field(default_factory=set)
    partition_of: dict[str, int] = field(default_factory=dict)
    on_notification: Callable[[Notification], None] | None = None


def build_deliverers(pipeline: Pipeline, client: httpx.AsyncClient) -> list[Deliverer]:
    """One Deliverer per configured sink, sharing a file ledger under the data dir."""
    settings = pipeline.settings
    ledger = FileDeliveryLedger(settings.data_dir / "deliveries" / str(settings.web_port))
    sinks: list[Any] = []
    if settings.slack_webhook_url is not None:
        sinks.append(SlackSink(settings.slack_webhook_url, client))
    if settings.webhook_url is not None:
        if settings.webhook_secret is None:
            raise ValueError("VENDORWATCH_WEBHOOK_SECRET is required with VENDORWATCH_WEBHOOK_URL")
        sinks.append(WebhookSink(settings.webhook_url, settings.webhook_secret, client))
    if settings.alertmanager_url:
        # Firing alerts are re-posted every repeat interval; hold them a little longer than that
        # so Alertmanager does not resolve them on its own in between.
        hold_s = pipeline.policy.alerts.repeat_interval_hours * 3600 + 2 * 3600
        sinks.append(AlertmanagerSink(settings.alertmanager_url, client, firing_hold_s=hold_s))
    return [Deliverer(sink, ledger=ledger) for sink in sinks]


def register_alerting(pipeline: Pipeline) -> Alerting:
    """Attach the notify agent and the repeat timer to the pipeline's Faust app."""
    app = pipeline.app
    alerts_topic = pipeline.alerts_topic

    dlq_topic = bytes_topic(app, topics.ALERTS_DLQ)
    notifier = Notifier(pipeline.policy, pipeline.view.silences)
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    alerting = Alerting(notifier=notifier, deliverers=build_deliverers(pipeline, client))
    group_wait = pipeline.policy.alerts.group_wait_seconds

    def update_gauge() -> None:
        metrics.ALERTS_ACTIVE.clear()
        for (severity, rule), count in notifier.active_counts().items():
            metrics.ALERTS_ACTIVE.labels(severity=severity, rule=rule).set(count)

    async def send(notification: Notification) -> None:
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
                await dlq_topic.send(key=notification.vendor_id.encode(), value=report.dlq)

    async def send_all(notifications: list[Notification]) -> None:
        """Send several vendors' notifications side by side, and return when all are done.

        One vendor's slow or failing sink (a Slack retrying for minutes) must not hold back
        another vendor's messages on the other sinks. Returning only when every send is over
        keeps the batch's offsets uncommitted until then (at-least-once); the first failure,
        if any, is raised once all have finished, as a single send would have raised it.
        """
        results = await asyncio.gather(*(send(n) for n in notifications), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def load_partition(partition: int, stop: int) -> None:
        """Rebuild what fires in a newly assigned partition (no delivery: it happened)."""
        for record in await read_range(
            pipeline.bootstrap_servers, topics.ALERTS, partition, 0, stop
        ):
            if record.value is not None:
                absorbed = orjson.loads(record.value)
                notifier.absorb(absorbed)
                alerting.partition_of[absorbed["vendor_id"]] = partition
        alerting.loaded_partitions.add(partition)

    @app.agent(alerts_topic, name="notify")
    async def notify(stream: Any) -> None:
        async for batch in take_grouped(stream, 200, within=max(group_wait, 0.001)):
            groups: dict[str, list[dict[str, Any]]] = {}
            for event in batch:
                message = event.message
                metrics.EVENTS_CONSUMED.labels(topic=topics.ALERTS).inc()
                if message.partition not in alerting.loaded_partitions:
                    await load_partition(message.partition, message.offset)
                record = orjson.loads(message.value)
                alerting.partition_of[record["vendor_id"]] = message.partition
                groups.setdefault(record["vendor_id"], []).append(record)
            now = time.time()
            notifications = [notifier.on_batch(v, records, now) for v, records in groups.items()]
            await send_all([n for n in notifications if n is not None])
            update_gauge()

    @app.timer(REPEAT_CHECK_S)
    async def repeat_firing() -> None:
        await send_all(notifier.due_repeats(time.time()))

    @app.on_partitions_revoked.connect
    async def forget(app_: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.ALERTS:
                alerting.loaded_partitions.discard(tp.partition)
                for vendor_id, partition in list(alerting.partition_of.items()):
                    if partition == tp.partition:
                        notifier.vendors.pop(vendor_id, None)
                        del alerting.partition_of[vendor_id]

    @app.service
    class DeliveryClient(faust.Service):  # type: ignore[misc]
        """Closes the shared HTTP client with the worker."""

        async def on_stop(self) -> None:
            await client.aclose()

    _ = DeliveryClient
    return alerting
