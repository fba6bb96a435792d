"""The alerting half of the worker, Faust side: the notify agent, the repeat timer, the revoke
hook and the HTTP client's lifetime, around `streams.worker.notify_step.NotifyStep`.

The score agent publishes alert transitions to `vendorwatch.alerts` (keyed by vendor); the
notify agent here consumes them, groups a vendor's transitions for `group_wait_seconds`, drops
silenced alerts and delivers one notification per vendor to every configured sink (all of it in
the step). Delivery is awaited before the batch is acknowledged, so a crash re-reads the batch;
the notification's idempotency key (derived from the transition ids) and the file ledger stop
the duplicate. What never gets through goes to `vendorwatch.alerts.dlq` with the reason.
"""

from __future__ import annotations

from typing import Any

import faust
import httpx

from vendorwatch.alerts.delivery import Deliverer
from vendorwatch.alerts.ledger import FileDeliveryLedger
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.sinks.alertmanager import AlertmanagerSink
from vendorwatch.alerts.sinks.slack import SlackSink
from vendorwatch.alerts.sinks.webhook import WebhookSink
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.history import read_range
from vendorwatch.streams.kafka_io.outbox import Headers
from vendorwatch.streams.worker.grouping import take_grouped
from vendorwatch.streams.worker.notify_step import Alerting, NotifyStep
from vendorwatch.streams.worker.pipeline import Pipeline, bytes_topic
from vendorwatch.streams.worker.score_step import RawMessage

__all__ = ["Alerting", "build_deliverers", "register_alerting"]

REPEAT_CHECK_S = 30.0


class TopicSink:
    """The step's record sink over one Faust topic: `send` queues the record with Faust's
    producer (the alerts DLQ is rare, so its per-record cost does not matter)."""

    def __init__(self, topic: Any) -> None:
        self._topic = topic

    async def add(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers = (),
    ) -> None:
        if topic != self._topic.get_topic_name():
            raise ValueError(f"this sink writes {self._topic.get_topic_name()}, not {topic}")
        await self._topic.send(key=key, value=value)


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

    dlq = TopicSink(bytes_topic(app, topics.ALERTS_DLQ))
    notifier = Notifier(pipeline.policy, pipeline.view.silences)
    client = httpx.AsyncClient(timeout=httpx.Timeout(10.0), follow_redirects=False)
    alerting = Alerting(notifier=notifier, deliverers=build_deliverers(pipeline, client))
    group_wait = pipeline.policy.alerts.group_wait_seconds

    async def load_alerts(partition: int, stop: int) -> list[bytes | None]:
        records = await read_range(pipeline.bootstrap_servers, topics.ALERTS, partition, 0, stop)
        return [record.value for record in records]

    step = NotifyStep(alerting, load_alerts, dlq)

    @app.agent(alerts_topic, name="notify")
    async def notify(stream: Any) -> None:
        async for batch in take_grouped(stream, 200, within=max(group_wait, 0.001)):
            await step.handle([RawMessage.of(event.message) for event in batch])

    @app.timer(REPEAT_CHECK_S)
    async def repeat_firing() -> None:
        await step.repeat()

    @app.on_partitions_revoked.connect
    async def forget(app_: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            if tp.topic == topics.ALERTS:
                step.forget(tp.partition)

    @app.service
    class DeliveryClient(faust.Service):  # type: ignore[misc]
        """Closes the shared HTTP client with the worker."""

        async def on_stop(self) -> None:
            await client.aclose()

    _ = DeliveryClient
    return alerting
