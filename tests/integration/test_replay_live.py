"""Replay equals live: the property event sourcing promises, checked against a running worker.

* At the end of the log, `vendorwatch replay --json` equals what the live read API shows:
  `GET /vendors` (order and summary) and every `GET /vendors/{id}` record in every score field,
  with the same firing alerts.
* `replay --as-of T` equals the same events scored offline as of T (`vendorwatch score`'s code
  path) and the reference scoring of the events known at T, every field but the instant.
* A late event makes "what live had at T" and "what happened by T" differ on purpose: replay
  as of T includes an event reported after T about a time before it (the better-informed
  answer), the live record of that moment could not.

Here on the demo scenario. The same checks on 100,000 events over 1,000 vendors (2% of them
late), after a kill -9 of the worker in the middle of that stream, are part of
test_pipeline_recovery.py: one 100,000-event stream serves both properties.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.replay.reports import replay_items
from vendorwatch.streams.replay.run import ReplaySpec, replay

from .conftest import bootstrap_of
from .replay_helpers import (
    assert_replay_equals_live,
    check_as_of,
    demo_history,
    end_of_log,
    instant,
    json_records,
)
from .workers import (
    WorkerProcess,
    demo_lines,
    event_line,
    produce,
    start_worker,
    wait_until,
)


def live_at(records: Sequence[dict[str, Any]], t: float) -> dict[str, dict[str, Any]]:
    """Per vendor, the last score record (log order) whose as_of <= t: what live showed then."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        if instant(record["as_of"]) <= t:
            found[record["vendor_id"]] = record
    return found


def test_replay_equals_live_on_the_demo(demo_worker: WorkerProcess) -> None:
    bootstrap = bootstrap_of(demo_worker)
    wait_until(lambda: end_of_log(bootstrap) == len(demo_lines()), "the demo on the events topic")
    assert_replay_equals_live(bootstrap, demo_worker, timeout=60)
    history = demo_history()
    times = sorted({instant(orjson.loads(line)["time"]) for line in history})
    between = [(a + b) / 2 for a, b in itertools.pairwise(times)]
    compared = check_as_of(bootstrap, history, [*times, *between])
    assert compared > 100  # 6 vendors x ~40 instants, minus those not known yet


def test_late_event_replay_knows_better_than_live_did(
    fresh_kafka: EmbeddedBroker, tmp_path: Any
) -> None:
    """An incident reported after a newer event: replay as of a time between them includes it
    (it happened by then); the live record of that moment could not. Documented behaviour."""
    bootstrap = fresh_kafka.bootstrap_servers
    worker = start_worker(bootstrap, tmp_path / "w1")
    try:
        worker.wait_ready()
        restricted = {"dataset": "d", "classification": "restricted", "records": 1_000_000}
        lines = [
            event_line("l-1", "data.shared", "late-co", restricted, "2025-01-01T00:00:00Z"),
            event_line(
                "l-2",
                "security.incident",
                "late-co",
                {"title": "leak", "severity": "high"},
                "2025-03-01T00:00:00Z",
            ),
            event_line(
                "l-3",
                "security.incident",
                "late-co",
                {"title": "older leak", "severity": "critical"},
                "2025-02-01T00:00:00Z",
            ),
        ]
        produce(bootstrap, topics.RAW, lines)
        wait_until(lambda: end_of_log(bootstrap) == 3, "three events validated")
        assert_replay_equals_live(bootstrap, worker, timeout=60)
        t = datetime(2025, 2, 15, tzinfo=UTC).timestamp()
        result = replay(ReplaySpec(bootstrap, (load_policy(),), horizon=t), jobs=1)
        (item,) = replay_items(result.result)
        assert item["as_of"] == "2025-02-15T00:00:00Z"  # as of T: decayed to T
        assert "l-3" in str(item["contributions"])
        live_then = live_at(json_records(bootstrap, topics.SCORES), t)["late-co"]
        assert live_then["as_of"] == "2025-01-01T00:00:00Z"  # live had not heard of l-3 yet
        assert live_then["score"] < item["score"]
    finally:
        worker.stop()
