"""Fixtures that run real vendorwatch workers (subprocesses) on a real Tansu broker.

* ``fresh_kafka``: a new embedded broker with vendorwatch's topics, for one test. The pipeline's
  topic and consumer-group names are fixed, so a test that reads what the pipeline wrote cannot
  share a broker with another pipeline test.
* ``worker_factory``: start workers on it; every worker started is stopped (or reaped) at teardown.
* ``running_worker`` / ``running_worker_url`` / ``running_worker_metrics_url``: one ready worker
  that has scored the bundled demo scenario (scale-ai critical), function-scoped. The alerts and
  observability suites use the URL ones to scrape a live ``/metrics``.

Helpers to use inside tests live in ``workers.py`` next to this file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .workers import (
    WorkerProcess,
    demo_lines,
    fresh_broker,
    produce,
    require_tansu,
    start_worker,
    wait_for_demo_scored,
)


@pytest.fixture
def fresh_kafka() -> Iterator[EmbeddedBroker]:
    """A Tansu broker of this test's own, topics created (4 partitions); stopped afterwards."""
    require_tansu()
    with fresh_broker() as broker:
        yield broker


WorkerFactory = Callable[..., WorkerProcess]


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[WorkerFactory]:
    """``worker_factory(bootstrap, name="w1", **start_worker_kwargs)`` starts a worker with data
    dir ``tmp_path/name``; all of them are stopped at teardown (killed if they hang)."""
    started: list[WorkerProcess] = []

    def make(bootstrap: str, name: str = "w1", **kwargs: Any) -> WorkerProcess:
        worker = start_worker(bootstrap, tmp_path / name, **kwargs)
        started.append(worker)
        return worker

    yield make
    for worker in started:
        worker.stop(timeout=15)


@pytest.fixture
def running_worker(fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory) -> WorkerProcess:
    """A ready worker on its own broker that has scored the demo scenario."""
    worker = worker_factory(fresh_kafka.bootstrap_servers)
    worker.wait_ready()
    produce(fresh_kafka.bootstrap_servers, topics.RAW, demo_lines())
    wait_for_demo_scored(worker)
    return worker


@pytest.fixture
def running_worker_url(running_worker: WorkerProcess) -> str:
    """Base URL (``http://127.0.0.1:PORT``) of a worker that has scored the demo scenario."""
    return running_worker.base_url


@pytest.fixture
def running_worker_metrics_url(running_worker: WorkerProcess) -> str:
    """``/metrics`` URL of a worker that has scored the demo scenario (Prometheus text)."""
    return running_worker.base_url + "/metrics"
