"""Fixtures that run real vendorwatch workers (subprocesses) on a real Tansu broker.

* ``fresh_kafka``: a new embedded broker with vendorwatch's topics, for one test. The pipeline's
  topic and consumer-group names are fixed, so a test that reads what the pipeline wrote cannot
  share a broker with another pipeline test.
* ``worker_factory``: start workers on it; every worker started is stopped (or reaped) at teardown.
* ``running_worker`` / ``running_worker_url`` / ``running_worker_metrics_url``: one ready worker
  that has scored the bundled demo scenario (scale-ai critical), function-scoped. The alerts and
  observability suites use the URL ones to scrape a live ``/metrics``.
* ``demo_worker``: the same, but one for the whole session, for tests that only *read* from it
  (HTTP GETs, reading topics, replay): a worker start costs seconds. A test that sends it events,
  restarts it or joins its group must use ``running_worker`` instead.
* ``api_worker``: the same as ``demo_worker`` but one per test module, for a module whose tests
  send it events (the HTTP API suites).

Every test collected below this directory is marked ``integration`` here
(``pytest_collection_modifyitems``), so ``make check`` (``-m "not integration"``) never starts a
broker or a server, whether or not a module remembers its own ``pytestmark``.

Helpers to use inside tests live in ``workers.py`` next to this file.
"""

from __future__ import annotations

import contextlib
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

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in tests/integration ``integration``. The hook sees the whole session's
    items (a conftest hook is not limited to its directory), hence the path check."""
    for item in items:
        if item.path.resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


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


@contextlib.contextmanager
def demo_scored_worker(data_dir: Path) -> Iterator[WorkerProcess]:
    """A ready worker on a broker of its own that has scored the demo scenario; the worker is
    stopped before the broker (a broker stopped first leaves it hanging on shutdown)."""
    require_tansu()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(fresh_broker())
        worker = start_worker(broker.bootstrap_servers, data_dir)
        stack.callback(worker.stop, 15)
        worker.wait_ready()
        produce(broker.bootstrap_servers, topics.RAW, demo_lines())
        wait_for_demo_scored(worker)
        yield worker


@pytest.fixture(scope="session")
def demo_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """A ready worker on its own broker that has scored the demo scenario, shared by the session:
    read-only use only (see the module docstring)."""
    with demo_scored_worker(tmp_path_factory.mktemp("demo-worker")) as worker:
        yield worker


@pytest.fixture(scope="module")
def api_worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """The same as ``demo_worker``, but one per test module: for the API suites, which send it
    events (``POST /events``)."""
    with demo_scored_worker(tmp_path_factory.mktemp("api-worker")) as worker:
        yield worker


def bootstrap_of(worker: WorkerProcess) -> str:
    """The ``--bootstrap-servers`` a worker was started with."""
    return worker.argv[worker.argv.index("--bootstrap-servers") + 1]


@pytest.fixture
def running_worker_url(running_worker: WorkerProcess) -> str:
    """Base URL (``http://127.0.0.1:PORT``) of a worker that has scored the demo scenario."""
    return running_worker.base_url


@pytest.fixture
def running_worker_metrics_url(running_worker: WorkerProcess) -> str:
    """``/metrics`` URL of a worker that has scored the demo scenario (Prometheus text)."""
    return running_worker.base_url + "/metrics"
