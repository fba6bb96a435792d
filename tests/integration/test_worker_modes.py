"""`vendorwatch worker --embedded`: a real worker with its own Tansu, ready and serving, with
Faust's own router and table endpoints closed and its version in /healthz."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from vendorwatch.streams.embedded.broker import free_loopback_port
from vendorwatch.streams.version import package_version

from .workers import VENDORWATCH, WorkerProcess, require_tansu, worker_env


@pytest.fixture
def embedded_worker(tmp_path: Path) -> Iterator[WorkerProcess]:
    require_tansu()
    port = free_loopback_port()
    log_path = tmp_path / f"worker-{port}.log"
    argv = [VENDORWATCH, "worker", "--embedded", "--web-port", str(port)]
    argv += ["--data-dir", str(tmp_path)]
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            # worker_env's tansu profile is what --embedded implies anyway; drop it to show that
            env={k: v for k, v in worker_env().items() if k != "VENDORWATCH_BROKER_PROFILE"},
        )
    worker = WorkerProcess(proc, port, tmp_path, log_path, argv)
    try:
        yield worker
    finally:
        worker.stop()


def test_an_embedded_worker_serves_without_faust_endpoints(embedded_worker: WorkerProcess) -> None:
    embedded_worker.wait_ready(timeout=90)
    assert embedded_worker.get_json("/healthz") == {"status": "ok", "version": package_version()}
    for path in ("/router/", "/table/", "/router", "/table"):
        assert embedded_worker.get(path).status_code == 404, path
