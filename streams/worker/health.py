"""Pipeline health metrics from inside Faust: consumer lag, last commit per partition, rebalances.

Why a sensor: Faust knows what it read and committed per partition, and when it commits; a
consumer that silently stopped (faust-streaming #175) shows as a partition whose last commit
keeps ageing while its lag stays above zero, which the Prometheus rules in deploy/ alert on. The
commit clock starts at assignment, so a partition that never commits at all ages too.
Lag is the fetch high watermark minus the committed offset: the high watermark comes from fetch
responses, so it is right on the embedded broker too (docs/broker.md, deviation 1).
"""

from __future__ import annotations

import time
from typing import Any

import faust

from vendorwatch.streams.worker import metrics


class HealthSensor(faust.Sensor):  # type: ignore[misc]
    """Updates the pipeline gauges on commits and rebalances."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._committed: dict[Any, int | None] = {}

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        now = time.time()
        committed = dict(consumer._committed_offset)  # Faust exposes no getter
        for tp, offset in committed.items():
            if offset is not None and self._committed.get(tp) != offset:
                metrics.LAST_COMMIT_TIMESTAMP.labels(
                    topic=tp.topic, partition=str(tp.partition)
                ).set(now)
        self._committed = committed
        update_lag(consumer)

    def on_rebalance_start(self, app: Any) -> dict[str, Any]:
        metrics.REBALANCES.inc()
        return {"started": time.monotonic()}


def update_lag(consumer: Any) -> None:
    """Set the lag gauge of every assigned partition (high watermark - committed offset)."""
    committed = consumer._committed_offset
    for tp in consumer.assignment():
        highwater = consumer.highwater(tp)
        if highwater is None:
            continue
        done = committed.get(tp) or 0
        metrics.CONSUMER_LAG.labels(topic=tp.topic, partition=str(tp.partition)).set(
            max(0, highwater - done)
        )


def install(app: faust.App, interval_s: float = 5.0) -> None:
    """Register the sensor, the assignment hook and a timer that refreshes lag between commits."""
    app.sensors.add(HealthSensor())

    @app.on_partitions_assigned.connect
    async def start_commit_clocks(app_: Any, assigned: Any, **_: Any) -> None:
        now = time.time()
        for tp in assigned:
            metrics.partition_assigned(tp.topic, tp.partition, now)

    @app.timer(interval_s)
    async def refresh_lag() -> None:
        update_lag(app.consumer)
