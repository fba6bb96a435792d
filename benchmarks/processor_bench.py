"""What the per-event `Processor` (apply, score, "changed?", alert rules) costs.

Why its own benchmark: the replay benchmark (replay_bench.py) times Kafka, decoding and the fold
together on a broker that shares the machine, and the `Processor` is what decides its ratio.
Here the events are parsed before any clock starts, and two ways of using the `Processor` are
timed against a ceiling measured in the same run, `orjson.loads` of the same events' bytes,
alternating runs so every row sees the same load on a shared machine:

- **replay**: `ReplaySink.feed_events` (`Processor.process` + `PolicyRun.observe` for every
  event, in `heap.bulk_fold`), as `vendorwatch replay` folds a chunk; nothing reads the
  explained scores until the end, when `PolicyResult.of` takes the last ones;
- **live**: `Processor.process` for every event with the worker's collector settings, reading
  `outcome.current` and every transition's record whenever the live agent would publish them.

CPU time of this process (best of `--repeat`), per event. The events: `synthetic.py`, events /
100 vendors, four partitions keyed by vendor. Outcomes are not compared here: the property
tests in tests/streams/core hold them.

    python benchmarks/processor_bench.py                 # 100,000 events
    python benchmarks/processor_bench.py --events 30000 --repeat 5
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from synthetic import generate

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.heap import tune_collector
from vendorwatch.streams.core.policy import Policy, load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.records import score_record
from vendorwatch.streams.replay.run import PolicyResult, ReplaySink

RESULTS = Path(__file__).resolve().parent / "results"


def cpu() -> float:
    return time.process_time()


def replay_way(policy: Policy, parts: Sequence[list[Event]]) -> float:
    """CPU seconds to fold every partition through a ReplaySink and take its result."""
    gc.collect()
    start = cpu()
    sink = ReplaySink([policy])
    for partition, events in enumerate(parts):
        sink.feed_events(partition, events)
    PolicyResult.of(sink.runs[0])
    spent = cpu() - start
    del sink
    gc.unfreeze()  # bulk_fold froze what it built; let the next run start from a clean heap
    gc.collect()
    return spent


def loads_way(lines: Sequence[bytes]) -> float:
    """CPU seconds to decode every event's JSON, the least any per-event step costs."""
    gc.collect()
    start = cpu()
    for line in lines:
        orjson.loads(line)
    return cpu() - start


def live_way(policy: Policy, stream: Sequence[tuple[int, Event]]) -> float:
    """CPU seconds for the live agent's use: process, then build what it publishes."""
    gc.collect()
    proc = Processor(policy)
    start = cpu()
    for partition, event in stream:
        outcome = proc.process(partition, event)
        if outcome.changed:
            score_record(outcome.current, outcome.previous, event.id, published_at=0.0)
        for transition in outcome.transitions:
            transition.to_record()
    spent = cpu() - start
    del proc
    gc.collect()
    return spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per row; the best counts")
    parser.add_argument("--no-write", action="store_true", help="do not write JSON results")
    args = parser.parse_args(argv)

    policy = load_policy(None)
    print(f"generating {args.events:,} events ...", file=sys.stderr, flush=True)
    lines = generate(args.events, max(1, args.events // 100))
    events = [parse_event(raw) for raw in lines]
    stream = [(zlib.crc32(e.subject.encode()) % 4, e) for e in events]
    parts: list[list[Event]] = [[] for _ in range(4)]
    for partition, event in stream:
        parts[partition].append(event)
    tune_collector()

    rows: dict[str, Callable[[], float]] = {
        "`orjson.loads` (ceiling)": lambda: loads_way(lines),
        "replay, this tree": lambda: replay_way(policy, parts),
        "live, this tree": lambda: live_way(policy, stream),
    }
    best: dict[str, float] = {name: float("inf") for name in rows}
    loads: list[float] = []
    for run in range(args.repeat):
        for name, fn in rows.items():  # alternate, so every row sees the same load
            loads.append(os.getloadavg()[0])
            best[name] = min(best[name], fn())
            print(f"run {run + 1}: {name}: {best[name]:.2f} s", file=sys.stderr, flush=True)

    n = len(events)
    print(f"{n:,} events, {n // 100:,} vendors; load average {min(loads):.1f}-{max(loads):.1f}\n")
    print("| Processor use | CPU µs/event | vs `orjson.loads` |")
    print("|---|---:|---:|")
    result: dict[str, Any] = {"events": n, "load": [min(loads), max(loads)], "rows": {}}
    ceiling = best["`orjson.loads` (ceiling)"]
    for name in rows:
        us = best[name] / n * 1e6
        print(f"| {name} | {us:.1f} | {ceiling / best[name]:.3f}x |")
        result["rows"][name] = us
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "processor_bench.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
