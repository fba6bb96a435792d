"""Crash recovery and scale-out of the live pipeline, against offline scoring as the truth.

* kill -9 the worker in the middle of a 100,000-event stream and restart it: the final scores
  equal a clean run's, on the embedded broker. The clean run is the offline fold of the same
  events fed as a scenario-clock worker feeds them (`workers.scenario_fold`), so "equal" covers
  score, severity, contributions with their event ids, data at stake — see
  workers.COMPARED_FIELDS.
* The history that crash left behind keeps one copy of each event, and replays to what the
  restarted worker shows: `replay --as-live` equals every `GET /vendors/{id}` record and the
  firing alerts, and `replay --as-of T` equals offline scoring as of T (test_replay_live.py
  checks the same on the demo). One stream serves both properties: 100,000 events cost the
  worker a minute of a quiet 2-core machine, and sending them twice would add nothing.
* Two workers on 4 partitions give the same final scores as one.

The events are synthetic but realistic (benchmarks/synthetic.py, fixed seed): every event type,
late arrivals, schema-v1 upcasts. The kill test sends its 100,000 with `vendorwatch ingest`
(validated, keyed by vendor, to the raw topic), so the worker's agents and its state rebuild
are what the kill interrupts; the scale-out test produces to the raw topic directly.

Runtime is bound by the worker's throughput (benchmarks/pipeline_bench.py): the kill test takes
a minute or two on a quiet 2-core machine and several on a busy one, hence its own timeout.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import orjson
import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker, free_loopback_port
from vendorwatch.streams.kafka_io import topics

from .replay_helpers import assert_replay_equals_live, canonical, check_as_of, end_of_log, instant
from .workers import (
    VENDORWATCH,
    WorkerProcess,
    offline_scores,
    produce,
    score_differences,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONSUMED = re.compile(
    r'^vendorwatch_events_consumed_total\{topic="vendorwatch\.events\.raw"\} (\S+)$', re.M
)


def synthetic() -> ModuleType:
    """benchmarks/synthetic.py (not a package): the deterministic event generator."""
    spec = importlib.util.spec_from_file_location(
        "vw_synthetic", REPO / "benchmarks" / "synthetic.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_events(path: Path, n_events: int, n_vendors: int, seed: int) -> list[bytes]:
    lines: list[bytes] = synthetic().generate(n_events, n_vendors, seed=seed)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return lines


def consumed_events(worker: WorkerProcess) -> float:
    """How many messages of `vendorwatch.events.raw` this worker's score agent has taken."""
    match = CONSUMED.search(worker.get("/metrics").text)
    return float(match.group(1)) if match else 0.0


def rebuilt_events(worker: WorkerProcess, since: int = 0) -> list[int]:
    """Events folded by each `partition_rebuilt` in the worker's log from byte ``since`` on."""
    counts = []
    for line in worker.log_path.read_bytes()[since:].splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("event") == "partition_rebuilt":
            counts.append(int(record["events"]))
    return counts


def live_details(worker: WorkerProcess, vendors: list[str]) -> dict[str, dict[str, Any]]:
    """GET /vendors/{id} for each vendor, over one keep-alive connection."""
    with httpx.Client(base_url=worker.base_url, timeout=10) as client:
        return {v: client.get(f"/vendors/{v}").json() for v in vendors}


def wait_converged(
    worker: WorkerProcess, expected: dict[str, dict[str, Any]], timeout: float
) -> list[dict[str, Any]]:
    """Wait until GET /vendors lists exactly the expected vendors with the expected score,
    severity and name (the full comparison follows), and return the list."""
    want = [(v["vendor_id"], v["score"], v["severity"], v["name"]) for v in expected.values()]
    want.sort(key=lambda t: (-t[1], t[0]))
    last: list[Any] = []

    def converged() -> list[dict[str, Any]] | None:
        listed = worker.get_json("/vendors")
        last[:] = [(v["vendor_id"], v["score"], v["severity"], v["name"]) for v in listed]
        return listed if last == want else None

    def describe() -> str:
        got = dict((t[0], t) for t in last)
        wrong = [(w, got.get(w[0])) for w in want if got.get(w[0]) != w][:5]
        return f"{len(last)} vendors listed, first differences {wrong}\n{worker.describe()}"

    return wait_until(
        converged,
        "GET /vendors to equal offline scoring",
        timeout=timeout,
        interval=0.25,  # one GET /vendors
        describe=describe,
    )


def assert_equal_to_offline(worker: WorkerProcess, expected: dict[str, dict[str, Any]]) -> None:
    listed = worker.get_json("/vendors")
    assert [v["vendor_id"] for v in listed] == [
        s["vendor_id"]
        for s in sorted(expected.values(), key=lambda s: (-s["score"], s["vendor_id"]))
    ]
    assert score_differences(expected, live_details(worker, list(expected)))[:20] == []


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_9_mid_stream_then_restart_gives_the_clean_run_scores_and_replay_equals_live(
    fresh_kafka: EmbeddedBroker, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    """100,000 events over 1,000 vendors sent with `vendorwatch ingest` while the worker scores
    them; kill -9 once it is well into the stream; restart it on the same data dir and port.
    Then the history on `vendorwatch.events` replays to what the restarted worker shows."""
    bootstrap = fresh_kafka.bootstrap_servers
    port = free_loopback_port()
    first = worker_factory(bootstrap, "worker", web_port=port)
    events_file = tmp_path / "events.jsonl"
    lines = write_events(events_file, 100_000, 1_000, seed=20250612)  # while the worker starts
    first.wait_ready()
    ingest = subprocess.Popen(
        [VENDORWATCH, "ingest", str(events_file), "--bootstrap-servers", bootstrap],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=worker_env(),
    )
    expected = offline_scores(events_file)  # while the stream flows
    assert len(expected) == 1_000

    at_kill = wait_until(
        lambda: (n := consumed_events(first)) >= 20_000 and n,
        "the first worker to be well into the stream",
        timeout=600,
        interval=1.0,  # /metrics with 1,000 vendors is not free: do not slow the worker down
        describe=first.describe,
    )
    first.kill()
    assert at_kill < 100_000, "killed too late to be mid-stream"

    log_size = first.log_path.stat().st_size  # the restarted worker appends to the same log
    second = worker_factory(bootstrap, "worker", web_port=port)  # same data dir and port
    second.wait_ready()
    out, err = ingest.communicate(timeout=600)
    assert ingest.returncode == 0, err.decode(errors="replace")
    assert b"sent 100000 event(s)" in out

    wait_converged(second, expected, timeout=900)
    assert_equal_to_offline(second, expected)
    assert sum(rebuilt_events(second, since=log_size)) > 0, "the restart rebuilt nothing"

    # the history the crash left behind: one copy of each event id, replaying to live
    ids = len({orjson.loads(line)["id"] for line in lines})
    wait_until(
        lambda: end_of_log(bootstrap) == ids,
        "the history to hold one copy of each event id",
        timeout=60,
        interval=0.5,  # each probe is a new Kafka client
        describe=second.describe,
    )
    assert_replay_equals_live(bootstrap, second, timeout=120)
    # as of an instant mid-stream: each instant replays the whole log and scores the file
    # offline (about 15 s of CPU here); more instants on smaller histories are in
    # test_replay_live.py and the property tests
    first_t, last_t = (instant(orjson.loads(lines[i])["time"]) for i in (0, -1))
    assert check_as_of(bootstrap, canonical(lines), [(first_t + last_t) / 2]) > 500


def test_two_workers_on_four_partitions_equal_offline_and_one_worker(
    fresh_kafka: EmbeddedBroker, worker_factory: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    first_file = tmp_path / "first.jsonl"
    lines = write_events(first_file, 12_000, 200, seed=7)
    head, tail = lines[:8_000], lines[8_000:]
    first_file.write_bytes(b"\n".join(head) + b"\n")
    all_file = tmp_path / "all.jsonl"
    all_file.write_bytes(b"\n".join(lines) + b"\n")

    one = worker_factory(bootstrap, "w1")
    two = worker_factory(bootstrap, "w2")
    one.wait_ready()
    two.wait_ready()
    produce(bootstrap, topics.RAW, head)
    expected_head = offline_scores(first_file)

    # both workers did part of the scoring, and each answers for every vendor
    for worker in (one, two):
        wait_converged(worker, expected_head, timeout=120)
    for worker in (one, two):
        assert 0 < consumed_events(worker) < len(head), "the partitions were not shared"
        assert_equal_to_offline(worker, expected_head)

    # scale down to one worker: it takes over all partitions and carries on alone
    assert two.stop() == 0
    produce(bootstrap, topics.RAW, tail)
    expected_all = offline_scores(all_file)
    wait_converged(one, expected_all, timeout=180)
    assert_equal_to_offline(one, expected_all)
