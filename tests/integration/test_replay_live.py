"""Replay equals live: the property event sourcing promises, checked against a running worker.

* At the end of the log, `vendorwatch replay --json` equals what the live read API shows:
  `GET /vendors` (order and summary) and every `GET /vendors/{id}` record in every score field,
  with the same firing alerts.
* `replay --as-of T` equals what the live pipeline had after the last event with time <= T: the
  last record per vendor on `vendorwatch.scores` with `as_of <= T` (every field) and the alerts
  firing on `vendorwatch.alerts` as of T; and, on the explained score, the offline fold over
  the events <= T (`vendorwatch score`'s code path).

On the demo scenario and on a generated history of 100,000 events over 1,000 vendors, 2% of
them late (reported days after newer events). A late event makes "what live had at T" and "what
happened by T" differ on purpose (replay is the better-informed answer), so the comparison with
the live records at T covers the vendors whose history arrived in order around T; the test
asserts they are most of them, and compares all vendors with the offline fold.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from vendorwatch.schemas.codec import parse_event
from vendorwatch.streams.cli.score import score_events
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.scoring import score_all
from vendorwatch.streams.core.state import fold
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.replay.reader import log_end_offsets
from vendorwatch.streams.replay.reports import replay_items
from vendorwatch.streams.replay.run import ReplaySpec, replay

from .conftest import bootstrap_of
from .replay_helpers import (
    assert_replay_equals_live,
    demo_history,
    json_records,
    synthetic_history,
)
from .workers import (
    WorkerProcess,
    comparable,
    demo_lines,
    event_line,
    produce,
    start_worker,
    wait_until,
)

pytestmark = pytest.mark.integration


def end_of_log(bootstrap: str) -> int:
    import asyncio

    return sum(asyncio.run(log_end_offsets(bootstrap, topics.EVENTS)).values())


def live_at(records: Sequence[dict[str, Any]], t: float) -> dict[str, dict[str, Any]]:
    """Per vendor, the last score record (log order) whose as_of <= t: what live showed then."""
    found: dict[str, dict[str, Any]] = {}
    for record in records:
        if _t(record["as_of"]) <= t:
            found[record["vendor_id"]] = record
    return found


def _t(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def in_order_vendors(history: Sequence[bytes], t: float) -> set[str]:
    """Vendors none of whose events with time <= t arrived after one with time > t."""
    crossed: set[str] = set()
    beyond: set[str] = set()
    vendors: set[str] = set()
    for line in history:
        event = orjson.loads(line)
        vendor, when = event["subject"], _t(event["time"])
        vendors.add(vendor)
        if when > t:
            beyond.add(vendor)
        elif vendor in beyond:
            crossed.add(vendor)
    return vendors - crossed


def check_as_of(bootstrap: str, history: Sequence[bytes], instants: Sequence[float]) -> int:
    """`replay --as-of T` read from Kafka against the same events scored offline as of T
    (`score --as-of T`: the file in order through the same Processor, then every deadline to
    T) and against the reference scoring of the events known at T; returns how many vendor
    answers were compared (so a caller can see it is not 0).

    The live worker's records are compared as a whole by `assert_replay_equals_live` (as live);
    that live decisions equal replayed ones whatever the ticks is a property test
    (tests/streams/core/test_time_properties.py)."""
    policy = load_policy()
    events = [parse_event(line) for line in history]
    compared = 0
    for t in instants:
        result = replay(ReplaySpec(bootstrap, (policy,), horizon=t), jobs=1)
        items = {i["vendor_id"]: i for i in replay_items(result.result)}
        offline = {i["vendor_id"]: i for i in replay_items(score_events(events, policy, t))}
        assert items == offline, datetime.fromtimestamp(t, UTC)
        reference = {
            s.vendor_id: s.to_dict()
            for s in score_all(
                fold([e for e in events if e.time.timestamp() <= t]).values(), policy, t
            )
        }
        assert set(items) == set(reference), t
        for vendor, item in items.items():
            assert comparable(item) == comparable(reference[vendor]), (t, vendor)
        compared += len(items)
    return compared


def test_replay_equals_live_on_the_demo(demo_worker: WorkerProcess) -> None:
    bootstrap = bootstrap_of(demo_worker)
    wait_until(lambda: end_of_log(bootstrap) == len(demo_lines()), "the demo on the events topic")
    assert_replay_equals_live(bootstrap, demo_worker, timeout=60)
    history = demo_history()
    times = sorted({_t(orjson.loads(line)["time"]) for line in history})
    between = [(a + b) / 2 for a, b in itertools.pairwise(times)]
    compared = check_as_of(bootstrap, history, [*times, *between])
    assert compared > 100  # 6 vendors x ~40 instants, minus those not known yet


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_replay_equals_live_on_a_generated_history_of_100k_events(
    fresh_kafka: EmbeddedBroker, tmp_path: Any
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    worker = start_worker(bootstrap, tmp_path / "w1")
    try:
        # generate and send while the worker starts (seconds of Faust start-up): it reads the
        # raw topic from the earliest offset, so it takes the backlog and then the rest live
        history = synthetic_history(100_000, 1_000)
        produce(bootstrap, topics.RAW, history)  # keyed by vendor, as `vendorwatch ingest` does
        worker.wait_ready()
        ids = len({orjson.loads(line)["id"] for line in history})
        wait_until(
            lambda: end_of_log(bootstrap) == ids,
            "the worker to write the history (one copy per id)",
            timeout=600,
            interval=0.5,  # each probe is a new Kafka client: do not compete with the worker
            describe=worker.describe,
        )
        assert_replay_equals_live(bootstrap, worker, timeout=600)
        first, last = (_t(orjson.loads(history[i])["time"]) for i in (0, -1))
        instants = [first + (last - first) * f for f in (0.25, 0.6)]
        assert check_as_of(bootstrap, history, instants) > 1_000
    finally:
        worker.stop()


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
