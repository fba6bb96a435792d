"""The embedded broker's lifecycle: ready means answering, failures say why, nothing leaks."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vendorwatch.streams.embedded.broker import (
    TANSU_BIN_ENV,
    BrokerError,
    BrokerStartError,
    EmbeddedBroker,
    find_tansu_binary,
)

pytestmark = pytest.mark.integration


def pid_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def fake_broker(tmp_path: Path, script: str) -> str:
    path = tmp_path / "fake-tansu"
    path.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_start_answers_metadata_and_stop_cleans_up() -> None:
    broker = EmbeddedBroker(handle_sigterm=False)
    with broker:
        assert broker.running
        assert broker.ready_seconds is not None
        assert broker.ready_seconds < 10
        pid, log_path = broker.pid, broker.log_path
        assert pid is not None
        assert log_path is not None
        with socket.create_connection(("127.0.0.1", broker.port), timeout=1):
            pass
    assert not broker.running
    assert pid_gone(pid)
    assert not log_path.exists()  # a temporary log goes with the broker
    broker.stop()  # idempotent


def test_async_context_manager() -> None:
    async def body() -> tuple[int, list[str]]:
        async with EmbeddedBroker(handle_sigterm=False) as broker:
            created = await broker.acreate_topics(["t.async"], partitions=2)
            pid = broker.pid
            assert pid is not None
            return pid, created

    pid, created = asyncio.run(body())
    assert created == ["t.async"]
    assert pid_gone(pid)


def test_a_broker_that_dies_at_start_reports_its_output(tmp_path: Path) -> None:
    binary = fake_broker(tmp_path, 'echo "starting"; echo "boom: no storage engine" >&2; exit 3')
    with pytest.raises(BrokerStartError) as failure:
        EmbeddedBroker(binary=binary, handle_sigterm=False).start()
    message = str(failure.value)
    assert "status 3" in message
    assert "boom: no storage engine" in message


def test_a_broker_that_never_answers_times_out_and_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pid comes from the real Popen the broker calls: on a busy machine the 1 s can run
    # out before the script has run a line, and the process must be gone all the same
    spawned: list[int] = []
    real_popen = subprocess.Popen

    def popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = real_popen(*args, **kwargs)
        spawned.append(proc.pid)
        return proc

    monkeypatch.setattr(subprocess, "Popen", popen)
    binary = fake_broker(tmp_path, 'echo "hung"; exec sleep 60')
    broker = EmbeddedBroker(binary=binary, ready_timeout_s=1.0, handle_sigterm=False)
    with pytest.raises(BrokerStartError, match=r"did not answer metadata within 1\.0s"):
        broker.start()
    monkeypatch.undo()
    (pid,) = spawned
    assert pid_gone(pid)


def test_a_picked_port_taken_before_tansu_binds_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """The free-port race: Tansu logs AddrInUse and exits 0; the broker picks another port."""
    import vendorwatch.streams.embedded.broker as broker_module

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken])
        real = broker_module.free_loopback_port
        monkeypatch.setattr(
            broker_module, "free_loopback_port", lambda host: next(ports, None) or real(host)
        )
        with EmbeddedBroker(handle_sigterm=False) as broker:
            assert broker.port != taken
            assert broker.running


def test_an_explicit_port_in_use_fails_fast(tansu: EmbeddedBroker) -> None:
    with pytest.raises(BrokerStartError, match="already in use"):
        EmbeddedBroker(tansu.port, handle_sigterm=False).start()


def test_binary_override_must_be_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_executable = tmp_path / "tansu"
    not_executable.write_text("", encoding="utf-8")
    monkeypatch.setenv(TANSU_BIN_ENV, str(not_executable))
    with pytest.raises(BrokerError, match=TANSU_BIN_ENV):
        find_tansu_binary()
    monkeypatch.delenv(TANSU_BIN_ENV)
    assert os.access(find_tansu_binary(), os.X_OK)
