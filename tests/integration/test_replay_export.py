"""`vendorwatch export` and `vendorwatch ingest` round-trip the history exactly.

export (broker A) -> events.jsonl -> ingest into a fresh broker B, where a worker writes the
history -> export again: the two files
are byte-identical, and hold every event once (same ids, same canonical bytes of data) ordered
by (event time, vendor), a vendor's events of one instant in log order, whatever partitions
the brokers had.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from vendorwatch.schemas.codec import encode_event, parse_event
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.replay.reader import log_end_offsets

from .conftest import WorkerFactory
from .replay_helpers import demo_history, put_history, run_vw, synthetic_history
from .workers import fresh_broker, produce, wait_until

pytestmark = pytest.mark.integration


def export(bootstrap: str, path: Path, *args: str) -> str:
    done = run_vw("export", "--bootstrap-servers", bootstrap, "--output", str(path), *args)
    assert done.returncode == 0, done.stderr.decode()
    return done.stderr.decode()


def history_size(bootstrap: str) -> int:
    return sum(asyncio.run(log_end_offsets(bootstrap, topics.EVENTS)).values())


def test_export_ingest_export_is_byte_identical(
    fresh_kafka: EmbeddedBroker, tmp_path: Path, worker_factory: WorkerFactory
) -> None:
    source = [*demo_history(), *synthetic_history(5_000, 50, seed=11)]
    # a redelivered event (same id, same bytes) and a non-canonical original: an offset in the
    # time zone, which the validator stores in UTC
    source.append(source[3])
    shifted = orjson.loads(source[10])
    shifted["id"] = "written-by-hand"
    shifted["time"] = parse_event(source[10]).time.astimezone(timezone(timedelta(hours=2)))
    raw = orjson.dumps(shifted, option=orjson.OPT_SORT_KEYS)
    first_a = tmp_path / "a.jsonl"
    put_history(fresh_kafka.bootstrap_servers, source)
    produce(fresh_kafka.bootstrap_servers, topics.EVENTS, [raw])  # not through the validator
    source.append(raw)
    stats = export(fresh_kafka.bootstrap_servers, first_a)
    assert "duplicate ids 1" in stats
    assert "1 stored event(s) were not in canonical form" in stats

    lines = first_a.read_bytes().splitlines()
    expected = {parse_event(line).id: encode_event(parse_event(line)) for line in source}
    assert len(lines) == len(expected) == len(source) - 1
    assert b'"time":"' + shifted["time"].astimezone(UTC).isoformat().replace(
        "+00:00", "Z"
    ).encode() in b"".join(lines)
    assert {parse_event(line).id: line for line in lines} == expected
    keys = [(parse_event(line).time, parse_event(line).subject) for line in lines]
    assert keys == sorted(keys)

    with fresh_broker(partitions=3) as other:  # other partitioning, other arrival order
        # ingest puts events on the raw topic; the worker writes the history
        worker = worker_factory(other.bootstrap_servers, name="b")
        done = run_vw("ingest", str(first_a), "--bootstrap-servers", other.bootstrap_servers)
        assert done.returncode == 0, done.stderr.decode()
        wait_until(
            lambda: history_size(other.bootstrap_servers) == len(lines),
            f"the worker to write {len(lines)} events to the history",
            timeout=120,
            describe=worker.describe,
        )
        second = tmp_path / "b.jsonl"
        export(other.bootstrap_servers, second)
        # stop it while its broker still runs: afterwards it would hang in shutdown until killed
        assert worker.stop() == 0
    assert second.read_bytes() == first_a.read_bytes()


def test_export_window_and_stdout(fresh_kafka: EmbeddedBroker) -> None:
    put_history(fresh_kafka.bootstrap_servers, demo_history())
    done = run_vw(
        "export",
        "--from",
        "2025-06-12",
        "--to",
        "2025-06-14",
        "--bootstrap-servers",
        fresh_kafka.bootstrap_servers,
    )
    assert done.returncode == 0, done.stderr.decode()
    ids = [orjson.loads(line)["id"] for line in done.stdout.splitlines()]
    assert ids == [
        "demo-scale-ai-meta-stake",
        "demo-scale-ai-wang-to-meta",
        "demo-scale-ai-paused-by-google",
        "demo-scale-ai-paused-by-xai",
    ]
