"""The pipeline's command line, run as a user runs it: `vendorwatch ingest`, `demo`, `worker`.

Exit codes (streams/cli/main.py): 0 success, 1 bad input data, 2 misuse or bad configuration.
The demo owns an embedded Tansu; whatever way it is stopped (Ctrl-C, SIGTERM, kill -9) the
broker must not outlive it — it is found as a child process while the demo runs. A demo that
ends on its own (`--until-scored`), its story and its restart are test_demo_story.py's.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker, free_loopback_port
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.replay.rebuild import active_members

from .conftest import WorkerFactory
from .workers import (
    VENDORWATCH,
    demo_lines,
    event_line,
    pid_alive,
    read_topic,
    tansu_children,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

SCALE_AI_CRITICAL = re.compile(r"scale-ai\s*│\s*\d+\.\d\s*│\s*critical")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VENDORWATCH, *args],
        capture_output=True,
        text=True,
        env=env or worker_env(),
        timeout=timeout,
        check=False,
    )


# --- ingest ----------------------------------------------------------------------------------


def write_mixed_file(path: Path) -> tuple[list[bytes], list[int]]:
    """Three valid events and two bad lines (line numbers 2 and 5), plus a blank line."""
    valid = [
        event_line("ing-1", "vendor.registered", "ing-a", {"name": "A"}, "2025-01-01T00:00:00Z"),
        event_line("ing-2", "vendor.registered", "ing-b", {"name": "B"}, "2025-01-01T00:00:00Z"),
        event_line(
            "ing-3",
            "security.incident",
            "ing-a",
            {"title": "leak", "severity": "high"},
            "2025-01-02T00:00:00Z",
        ),
    ]
    lines = [valid[0], b"{not json", valid[1], b"", b'{"type": "vendor.registered"}', valid[2]]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return valid, [2, 5]


def test_ingest_reports_sent_and_rejected_and_exits_1(
    fresh_kafka: EmbeddedBroker, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    _, bad_lines = write_mixed_file(path)
    done = run_cli("ingest", str(path), "--bootstrap-servers", fresh_kafka.bootstrap_servers)
    assert done.returncode == 1, done.stderr
    assert "sent 3 event(s) to vendorwatch.events.raw; rejected 2" in done.stdout
    for number in bad_lines:
        assert f"line {number}:" in done.stderr
    records = read_topic(fresh_kafka.bootstrap_servers, topics.RAW, at_least=3)
    assert sorted(orjson.loads(r.value)["id"] for r in records) == ["ing-1", "ing-2", "ing-3"]
    assert {r.key for r in records} == {b"ing-a", b"ing-b"}  # keyed by vendor id
    by_key: dict[bytes, set[int]] = {}
    for record in records:
        by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in by_key.values())  # one vendor, one partition


def test_ingest_of_a_valid_file_exits_0(fresh_kafka: EmbeddedBroker, tmp_path: Path) -> None:
    path = tmp_path / "demo.jsonl"
    path.write_bytes(b"\n".join(demo_lines()) + b"\n")
    done = run_cli("ingest", str(path), "--bootstrap-servers", fresh_kafka.bootstrap_servers)
    assert done.returncode == 0, done.stderr
    assert f"sent {len(demo_lines())} event(s) to vendorwatch.events.raw; rejected 0" in done.stdout


def test_ingest_raw_sends_every_line_to_the_raw_topic(
    fresh_kafka: EmbeddedBroker, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    write_mixed_file(path)
    done = run_cli(
        "ingest", str(path), "--raw", "--bootstrap-servers", fresh_kafka.bootstrap_servers
    )
    assert done.returncode == 0, done.stderr
    assert "sent 5 event(s) to vendorwatch.events.raw; rejected 0" in done.stdout
    raw = read_topic(fresh_kafka.bootstrap_servers, topics.RAW, at_least=5)
    assert len(raw) == 5
    keys = {r.value: r.key for r in raw}
    assert keys[b"{not json"] is None
    assert keys[b'{"type": "vendor.registered"}'] is None  # claims no vendor
    # a line that names its vendor is keyed by it, so one vendor's lines stay in order
    assert sorted(k for k in keys.values() if k) == [b"ing-a", b"ing-a", b"ing-b"]
    partitions_of_a = {r.partition for r in raw if r.key == b"ing-a"}
    assert len(partitions_of_a) == 1


def test_ingest_history_loads_the_history_only_while_no_worker_runs(
    fresh_kafka: EmbeddedBroker, tmp_path: Path, worker_factory: WorkerFactory
) -> None:
    path = tmp_path / "mixed.jsonl"
    write_mixed_file(path)
    bootstrap = fresh_kafka.bootstrap_servers
    done = run_cli("ingest", str(path), "--history", "--bootstrap-servers", bootstrap)
    assert done.returncode == 1, done.stderr  # two invalid lines, reported, not sent
    assert "sent 3 event(s) to vendorwatch.events; rejected 2" in done.stdout
    records = read_topic(bootstrap, topics.EVENTS, at_least=3)
    assert sorted(orjson.loads(r.value)["id"] for r in records) == ["ing-1", "ing-2", "ing-3"]
    assert {r.key for r in records} == {b"ing-a", b"ing-b"}

    worker = worker_factory(bootstrap)
    wait_until(
        lambda: asyncio.run(active_members(bootstrap, topics.GROUP_ID)),
        "the worker to join its group",
        timeout=60,
        describe=worker.describe,
    )
    done = run_cli("ingest", str(path), "--history", "--bootstrap-servers", bootstrap)
    assert done.returncode == 2, done.stdout
    assert "worker(s) are running" in done.stderr
    assert len(read_topic(bootstrap, topics.EVENTS, at_least=3)) == 3  # nothing more written


def test_ingest_without_kafka_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(demo_lines()[0] + b"\n")
    done = run_cli("ingest", str(path), "--data-dir", str(tmp_path / "nothing-running"))
    assert done.returncode == 2
    assert "no Kafka configured" in done.stderr


# --- configuration and usage -----------------------------------------------------------------


def test_bad_environment_value_exits_2_naming_the_variable() -> None:
    done = run_cli("worker", env=worker_env({"VENDORWATCH_WEB_PORT": "abc"}))
    assert done.returncode == 2
    assert "VENDORWATCH_WEB_PORT" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_bootstrap_servers_exits_2_naming_the_flag() -> None:
    done = run_cli("worker", "--bootstrap-servers", "no-port-here")
    assert done.returncode == 2
    assert "--bootstrap-servers" in done.stderr.lower() or "BOOTSTRAP_SERVERS" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("worker", "--no-such-flag"),
        ("ingest",),
        ("demo", "--web-port", "not-a-number"),
        ("frobnicate",),
    ],
    ids=["unknown-option", "missing-argument", "bad-option-value", "unknown-command"],
)
def test_misuse_exits_2_with_usage(args: tuple[str, ...]) -> None:
    done = run_cli(*args)
    assert done.returncode == 2
    assert "Usage: vendorwatch" in done.stderr


# --- demo ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_no_orphan_broker_when_the_demo_is_stopped(tmp_path: Path, how: signal.Signals) -> None:
    port = free_loopback_port()
    proc = subprocess.Popen(
        [VENDORWATCH, "demo", "--data-dir", str(tmp_path / "demo"), "--web-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=worker_env(),
    )
    try:
        brokers = wait_until(lambda: tansu_children(proc.pid), "the demo's Tansu", timeout=20)
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200,
            "the demo's worker to be ready",
            timeout=30,
        )
        proc.send_signal(how)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    if how is not signal.SIGKILL:
        assert code in (0, 130, 143, -how.value), f"demo exited with {code} on {how.name}"
    wait_until(
        lambda: not any(pid_alive(pid) for pid in brokers),
        f"Tansu {brokers} to exit after the demo got {how.name}",
        timeout=10,
    )
