"""The commit clock of a partition starts when the worker is assigned it.

The Prometheus rule VendorwatchConsumerStuck measures "no commit for 10 minutes" from
`vendorwatch_last_commit_timestamp_seconds`; a partition stuck from its assignment never commits,
so the worker sets the gauge when the partition arrives. These tests drive Faust's own
`on_partitions_assigned` signal on a real (never started) app and read the default registry.
"""

from __future__ import annotations

import asyncio
import time

import faust
from faust.types import TP
from prometheus_client import REGISTRY

from vendorwatch.streams.worker import health, metrics

TOPIC = "vw-test-health"


def _commit_time(partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "vendorwatch_last_commit_timestamp_seconds",
        {"topic": TOPIC, "partition": str(partition)},
    )


def _app() -> faust.App:
    return faust.App(
        "vw-test-health",
        broker="kafka://127.0.0.1:1",  # never contacted: the app is not started
        store="memory://",
        web_enabled=False,
        autodiscover=False,
    )


def test_partition_assigned_sets_the_commit_time_and_forget_drops_it() -> None:
    metrics.partition_assigned(TOPIC, 0, 1_700_000_000.0)
    assert _commit_time(0) == 1_700_000_000.0
    metrics.forget_partition(TOPIC, 0)
    assert _commit_time(0) is None


def test_the_assignment_signal_starts_every_assigned_partitions_clock() -> None:
    app = _app()
    health.install(app)
    before = time.time()
    assigned = {TP(TOPIC, 1), TP(TOPIC, 2)}
    asyncio.run(app.on_partitions_assigned.send(assigned))
    after = time.time()
    try:
        for partition in (1, 2):
            stamp = _commit_time(partition)
            assert stamp is not None, partition
            assert before <= stamp <= after
        assert _commit_time(3) is None
    finally:
        for partition in (1, 2):
            metrics.forget_partition(TOPIC, partition)
