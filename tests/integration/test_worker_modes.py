"""`vendorwatch worker --embedded`: a real worker with its own Tansu, ready and serving, with
Faust's own router and table endpoints closed and its version in /healthz."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vendorwatch.streams.version import package_version

from .workers import WorkerProcess, require_tansu, start_worker


@pytest.fixture
def embedded_worker(tmp_path: Path) -> Iterator[WorkerProcess]:
    require_tansu()
    # worker_env's tansu profile is what --embedded implies anyway; leave it unset to show that
    worker = start_worker(None, tmp_path, broker_profile=None)
    try:
        yield worker
    finally:
        worker.stop()


def test_an_embedded_worker_serves_without_faust_endpoints(embedded_worker: WorkerProcess) -> None:
    embedded_worker.wait_ready(timeout=90)
    assert embedded_worker.get_json("/healthz") == {"status": "ok", "version": package_version()}
    for path in ("/router/", "/table/", "/router", "/table"):
        assert embedded_worker.get(path).status_code == 404, path
