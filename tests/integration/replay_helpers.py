"""Helpers for the replay suites: run the CLI, put histories on a broker, read what live wrote.

Workers, brokers and waiting come from ``workers.py`` (the pipeline suites' helpers); this
module adds what only replay needs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from vendorwatch.schemas.codec import encode_event, parse_event
from vendorwatch.streams.cli.score import score_events
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.scoring import score_all
from vendorwatch.streams.core.state import fold
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.replay.reader import log_end_offsets, read_log
from vendorwatch.streams.replay.reports import replay_items
from vendorwatch.streams.replay.run import ReplaySpec, replay

from .workers import (
    VENDORWATCH,
    WorkerProcess,
    comparable,
    demo_lines,
    produce,
    score_differences,
    wait_until,
    worker_env,
)

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
POLICIES = Path(__file__).resolve().parents[2] / "streams" / "data"
DEFAULT_POLICY = POLICIES / "default_policy.yaml"
HIGHER_STAKE_POLICY = POLICIES / "policies" / "higher_stake_threshold.yaml"

SCORE_FIELDS = (
    "vendor_id",
    "name",
    "score",
    "severity",
    "data_at_stake",
    "likelihood",
    "policy_version",
    "as_of",
    "event_count",
    "contributions",
    "data_event_ids",
)
"""Every field of `Score.to_dict()`: replay must reproduce a live score record in all of them."""


def run_vw(
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed `vendorwatch` with a clean environment (no developer VENDORWATCH_*)."""
    return subprocess.run(
        [VENDORWATCH, *args],
        capture_output=True,
        env=worker_env(env),
        timeout=timeout,
        input=stdin,
        check=False,
    )


def ok_json(done: subprocess.CompletedProcess[bytes]) -> Any:
    """The JSON a successful command printed; fails with its stderr otherwise."""
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return orjson.loads(done.stdout)


def canonical(lines: Iterable[bytes]) -> list[bytes]:
    """What the score agent (or `ingest --history`) writes to `vendorwatch.events` per line."""
    return [encode_event(parse_event(line)) for line in lines]


def put_history(bootstrap: str, lines: Sequence[bytes]) -> int:
    """Produce events straight to `vendorwatch.events`, canonical and keyed by vendor id, in
    multi-record batches (linger): what `vendorwatch ingest --history` does, minus the file.
    Only while no worker runs: a running worker is the only writer of its history partitions."""
    return produce(bootstrap, topics.EVENTS, canonical(lines))


def demo_history() -> list[bytes]:
    return canonical(demo_lines())


def synthetic_history(events: int, vendors: int, seed: int = 7) -> list[bytes]:
    """The benchmark's generator (realistic mix, 2% late events), canonical."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    from synthetic import generate  # type: ignore[import-not-found]

    return canonical(generate(events, vendors, seed=seed))


def read_topic_to_end(bootstrap: str, topic: str) -> dict[int, list[Any]]:
    """Every record of `topic` as of now, per partition in offset order (fetch high watermark)."""

    async def run() -> dict[int, list[Any]]:
        ends = await log_end_offsets(bootstrap, topic)
        found: dict[int, list[Any]] = {p: [] for p in ends}
        await read_log(bootstrap, ends, lambda p, chunk: found[p].extend(chunk), topic=topic)
        return found

    return asyncio.run(run())


def json_records(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """A topic's JSON values, partition after partition, each in offset order."""
    by_partition = read_topic_to_end(bootstrap, topic)
    return [
        orjson.loads(r.value)
        for p in sorted(by_partition)
        for r in by_partition[p]
        if r.value is not None
    ]


def record_differences(
    expected: Mapping[str, Mapping[str, Any]], actual: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Differences between {vendor: score record} maps in every Score field; [] when equal."""
    return score_differences(expected, actual, SCORE_FIELDS)


def live_view(worker: WorkerProcess) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """`GET /vendors` and every `GET /vendors/{id}`."""
    with httpx.Client(base_url=worker.base_url, timeout=10) as client:  # one keep-alive socket

        def get_json(path: str) -> Any:
            response = client.get(path)
            response.raise_for_status()
            return response.json()

        summary = get_json("/vendors")
        details = {v["vendor_id"]: get_json(f"/vendors/{v['vendor_id']}") for v in summary}
    return summary, details


def alerts_of(item: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((a["fingerprint"], a["rule"], a["starts_at"]) for a in item["alerts"])


def assert_replay_equals_live(
    bootstrap: str, worker: WorkerProcess, *args: str, timeout: float
) -> None:
    """Replay as live (the CLI, `--as-live`, two jobs, `args`) against the live API, once live
    caught up: every score field of every vendor, `GET /vendors` order, and the firing alerts.
    As live: each event at the stream time the worker scored it at, each partition ending at
    its latest one, so the scores are the ones the worker published (`replay` without it
    answers as of now: scores decayed to now, which the worker publishes only in steps).

    Waiting polls the one-request summary (`GET /vendors`); the per-vendor details are fetched
    only once it agrees. Polling a thousand detail pages every second would steal the worker's
    event loop from the agents it is waiting for.
    """
    replayed = ok_json(
        run_vw(
            "replay", "--as-live", "--json", "--jobs", "2", "--bootstrap-servers", bootstrap, *args
        )
    )
    want = {item["vendor_id"]: item for item in replayed}
    expected = [(i["vendor_id"], i["score"], i["severity"], i["policy_version"]) for i in replayed]

    def summary_equal() -> bool:
        summary = worker.get_json("/vendors")
        return [
            (s["vendor_id"], s["score"], s["severity"], s["policy_version"]) for s in summary
        ] == expected

    wait_until(
        summary_equal,
        "GET /vendors to equal replay",
        timeout=timeout,
        interval=0.2,  # one request: cheap for the worker
        describe=worker.describe,
    )

    def differences() -> list[str]:
        summary, details = live_view(worker)
        problems = record_differences(want, details)
        order = [(s["vendor_id"], s["score"], s["severity"], s["policy_version"]) for s in summary]
        if order != expected:
            problems.append("GET /vendors differs from replay in order or summary fields")
        problems += [
            f"{vendor}: alerts live {alerts_of(details[vendor])} replay {alerts_of(want[vendor])}"
            for vendor in sorted(set(want) & set(details))
            if alerts_of(details[vendor]) != alerts_of(want[vendor])
        ]
        return problems

    last: list[list[str]] = [[]]

    def equal() -> bool:
        last[0] = differences()
        return not last[0]

    # the summary can agree a moment before the last alert record reaches the view
    wait_until(
        equal,
        "every GET /vendors/{id} to equal replay",
        timeout=30,
        interval=0.5,
        describe=lambda: "\n".join(last[0][:20]) + "\n" + worker.describe(),
    )


def end_of_log(bootstrap: str) -> int:
    """How many records `vendorwatch.events` holds (the sum of its partitions' end offsets)."""
    return sum(asyncio.run(log_end_offsets(bootstrap, topics.EVENTS)).values())


def instant(text: str) -> float:
    """An RFC 3339 time (``...Z``) as a POSIX timestamp."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


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
