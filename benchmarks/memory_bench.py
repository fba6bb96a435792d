"""How much memory does a vendor's history cost a worker, per event?

A worker keeps the whole history of its partitions in memory: the fold is a pure function of
every event a vendor ever had, and the state is rebuilt from `vendorwatch.events` at start
(streams/core/processor.py). So a worker's memory grows with the number of events it owns, and
sizing a deployment needs that number. This benchmark measures it on synthetic events
(benchmarks/synthetic.py, fixed seed), for what each process keeps:

- **fold state**: `vendorwatch score` and the offline fold (`eventfile.fold_lines`): each event
  filed as a fact, with its validated payload;
- **worker state**: the live score agent's `Processor` (the same facts, plus the scoring caches
  that make a score after each event cheap, the last published score and the alert state per
  vendor), fed as the agent feeds it: parse, `process`, and the explained score read whenever
  it changed, as `publish` reads it.

Each is measured twice, in its own forked process so one's garbage is not the next one's
baseline: with `tracemalloc` (bytes Python allocated and still holds, net of what was freed),
and as the growth of the process's resident set without tracing (what the machine pays,
allocator overhead included; Linux only).

    python benchmarks/memory_bench.py                          # 200,000 events, 100 per vendor
    python benchmarks/memory_bench.py --events-per-vendor 400  # longer histories

Prints a markdown table on stdout and writes JSON to benchmarks/results/memory.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import platform
import sys
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from procstat import rss_bytes
from synthetic import generate

from vendorwatch.schemas.codec import parse_event
from vendorwatch.streams.core.heap import tune_collector
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import fold_lines

RESULTS = Path(__file__).parent / "results"
PARTITIONS = 4

_INPUT: list[bytes] = []
"""Set before the measuring processes fork, so they read the events from memory."""


def keep_fold_state(raw: Sequence[bytes]) -> Any:
    """What `vendorwatch score` holds: every vendor's facts after `fold_lines`."""
    return fold_lines(raw).states


def keep_worker_state(raw: Sequence[bytes]) -> Any:
    """What the score agent holds: a `Processor` fed one event at a time, publishes read."""
    processor = Processor(load_policy())
    processor.states.update({p: {} for p in range(PARTITIONS)})  # as after a rebuild
    for message in raw:
        event = parse_event(message)
        partition = zlib.crc32(event.subject.encode()) % PARTITIONS
        outcome = processor.process(partition, event)
        if outcome.changed:
            _ = outcome.current  # the explained score `publish` writes to vendorwatch.scores
    return processor


def _measure(keep: Callable[[Sequence[bytes]], Any], traced: bool, out: Any) -> None:
    """In a forked child: memory held after `keep` ran on the input, and nothing else."""
    gc.collect()
    if traced:
        tracemalloc.start()
    held: Callable[[], int | None] = (
        (lambda: tracemalloc.get_traced_memory()[0]) if traced else rss_bytes
    )
    before = held()
    kept = keep(_INPUT)
    gc.collect()
    after = held()  # `kept` is still referenced here: what it holds is counted
    out.send(None if before is None or after is None else after - before)
    out.close()
    del kept


def measure(keep: Callable[[Sequence[bytes]], Any], traced: bool) -> int | None:
    """Bytes held after `keep`, measured in a fresh fork of this process."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_measure, args=(keep, traced, send))
    child.start()
    held = receive.recv()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"measuring {keep.__name__} failed (exit {child.exitcode})")
    return held


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--events-per-vendor", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    if args.events < 1 or args.events_per_vendor < 1:
        parser.error("--events and --events-per-vendor must be at least 1")

    vendors = max(1, args.events // args.events_per_vendor)
    _INPUT[:] = generate(args.events, vendors, seed=args.seed)
    gc.collect()
    gc.freeze()  # the input is shared with the children, not measured
    tune_collector()  # as the worker and `vendorwatch score` run
    n = len(_INPUT)
    print(f"{n:,} events over {vendors:,} vendors", file=sys.stderr)

    rows = [
        ("fold state (`vendorwatch score`, offline fold)", "fold", keep_fold_state),
        ("worker state (score agent's Processor)", "worker", keep_worker_state),
    ]
    result: dict[str, Any] = {
        "bench": "memory",
        "events": n,
        "vendors": vendors,
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print("| what is kept | bytes per event (Python heap) | bytes per event (RSS growth) |")
    print("|---|---:|---:|")
    for label, key, keep in rows:
        print(f"measuring {key}", file=sys.stderr)
        traced = measure(keep, traced=True)
        rss = measure(keep, traced=False)
        per_traced = traced / n if traced is not None else None
        per_rss = rss / n if rss is not None else None
        result[f"{key}_bytes_per_event"] = round(per_traced) if per_traced else None
        result[f"{key}_rss_bytes_per_event"] = round(per_rss) if per_rss else None
        rss_cell = f"{per_rss:,.0f}" if per_rss is not None else "n/a"
        print(f"| {label} | {per_traced or 0:,.0f} | {rss_cell} |")
    worker = result["worker_rss_bytes_per_event"] or result["worker_bytes_per_event"]
    print(
        f"\n{n:,} events over {vendors:,} vendors ({args.events_per_vendor} per vendor). "
        f"A worker holding the history of 1,000,000 events needs about "
        f"{worker * 1_000_000 / 2**30:.1f} GiB for its scoring state."
    )
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "memory.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
