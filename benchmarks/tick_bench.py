"""What a clock tick costs the `Processor`: only the vendors whose deadline has come, or all?

Why its own benchmark: the time model (`core.deadlines`, `Processor.advance`) promises that a
tick touches only the vendors whose deadline falls in it (a heap per partition), so a quiet tick
costs next to nothing and a busy one costs per *due* vendor, not per vendor. The target (issue
of the time model): a tick over 100,000 vendors costs at most 1 s of CPU, and ticks in which no
deadline falls cost close to nothing. The reference in the same run is what a naive monitor
would do at every tick: re-score every vendor (`figures(state, policy, t)` for all).

Input, per vendor (`--vendors`, 10,000 and 100,000 by default; four partitions keyed by a hash
of the vendor id): a restricted or confidential dataset shared, a security incident (decays
with a 90-day half-life) and, for one vendor in three, a senior or executive move to a
competitor (a key-person alert that ends 90 days later), dated over the 90 days before T0 and
folded at stream time = event time. Then, from T0, one after the other on the same processor:

- (a) a tick 1 s later, in which (nearly) no deadline falls;
- (b) a tick one minute after that;
- (c) ticks one day, one week and 90 days on, in which many fall (expiries, band and
  `refresh_points` crossings): the number of vendors due, the CPU per tick and per due vendor;
- (d) the naive re-score of every vendor at the last tick's instant.

CPU time of this process (`time.process_time`: `procstat.cpu_seconds` counts in clock ticks of
10 ms, too coarse for a tick that takes microseconds; it is printed for the whole run as a
cross-check). Every row is the best of `--repeat` runs on a fresh copy of the folded processor.

    python benchmarks/tick_bench.py                        # 10,000 and 100,000 vendors
    python benchmarks/tick_bench.py --vendors 20000 --repeat 1 --profile
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import gc
import json
import os
import pstats
import random
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from procstat import cpu_seconds

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event, iso
from vendorwatch.streams.core._incremental import figures
from vendorwatch.streams.core.heap import bulk_fold, tune_collector
from vendorwatch.streams.core.policy import Policy, load_policy
from vendorwatch.streams.core.processor import Processor

RESULTS = Path(__file__).resolve().parent / "results"
DAY = 86_400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the stream time every tick starts from
PARTITIONS = 4
TICKS: tuple[tuple[str, float], ...] = (
    ("(a) +1 s", 1.0),
    ("(b) +1 min", 60.0),
    ("(c) +1 day", DAY),
    ("(c) +1 week", 7 * DAY),
    ("(c) +90 days", 90 * DAY),
)
"""Each tick's name and how far after the previous one it comes."""


def cpu() -> float:
    return time.process_time()


def vendor_events(vendors: int, policy: Policy, seed: int) -> list[Event]:
    """Each vendor's few events (data, an incident, sometimes a key-person move), in time order."""
    rng = random.Random(seed)
    competitors = [c.name for c in policy.competitors]
    raws: list[dict[str, Any]] = []
    for v in range(vendors):
        vendor = f"vendor-{v:06d}"
        shared_at = T0 - rng.uniform(60, 90) * DAY
        incident_at = T0 - rng.uniform(0, 60) * DAY
        raws.append(
            _raw(
                vendor,
                "data.shared",
                shared_at,
                f"{vendor}-d",
                {
                    "dataset": "crm",
                    "classification": rng.choice(["confidential", "restricted"]),
                    "records": rng.randint(10_000, 10_000_000),
                },
            )
        )
        raws.append(
            _raw(
                vendor,
                "security.incident",
                incident_at,
                f"{vendor}-i",
                {
                    "title": "Credential leak",
                    "severity": rng.choice(["medium", "high", "critical"]),
                },
            )
        )
        if v % 3 == 0:
            raws.append(
                _raw(
                    vendor,
                    "person.moved",
                    T0 - rng.uniform(0, 89) * DAY,
                    f"{vendor}-m",
                    {
                        "person": "A. Person",
                        "role": "CTO",
                        "from_org": vendor,  # only moves from the vendor count
                        "to_org": rng.choice(competitors),
                        "seniority": rng.choice(["senior", "executive"]),
                    },
                )
            )
    raws.sort(key=lambda r: (r["time"], r["id"]))
    return [parse_event(orjson.dumps(raw)) for raw in raws]


def _raw(vendor: str, kind: str, t: float, event_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "urn:vendorwatch:bench:tick",
        "type": kind,
        "time": iso(float(int(t))),
        "subject": vendor,
        "data": data,
    }


def partition_of(vendor: str) -> int:
    return zlib.crc32(vendor.encode()) % PARTITIONS


def fold(events: list[Event], policy: Policy) -> tuple[Processor, float]:
    """A processor with every event applied at its own time; and the CPU seconds it took."""
    processor = Processor(policy)
    start = cpu()
    with bulk_fold():
        for event in events:
            processor.process(partition_of(event.subject), event, event.time.timestamp())
    spent = cpu() - start
    processor.advance_all(T0)  # every partition at T0, whatever its latest event
    return processor, spent


def due_count(processor: Processor, now: float) -> int:
    """Vendors whose next deadline falls by `now` (what a tick at `now` will evaluate)."""
    return sum(1 for t in processor.deadlines.values() if t <= now)


def measure_ticks(base: Processor, repeat: int) -> list[dict[str, Any]]:
    """The ticks of TICKS one after the other, best CPU of `repeat` runs on copies of `base`."""
    rows: list[dict[str, Any]] = []
    for run in range(repeat):
        processor = copy.deepcopy(base)
        gc.collect()
        now = T0
        for i, (name, step) in enumerate(TICKS):
            now += step
            due = due_count(processor, now)
            start = cpu()
            outcomes = processor.advance_all(now)
            spent = cpu() - start
            if run == 0:
                rows.append({"tick": name, "at": now, "due": due, "published": 0, "cpu_s": spent})
            rows[i]["cpu_s"] = min(rows[i]["cpu_s"], spent)
            rows[i]["published"] = len(outcomes)
        del processor
    return rows


def naive(processor: Processor, policy: Policy, at: float, repeat: int) -> float:
    """CPU seconds to re-score every vendor at `at`: a monitor without deadlines, per tick."""
    best = float("inf")
    for _ in range(repeat):
        start = cpu()
        for state in processor.vendors():
            figures(state, policy, at)
        best = min(best, cpu() - start)
    return best


def profile(fn: Callable[[], object], label: str) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    print(f"\n{label}:\n", file=sys.stderr)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(18)


def run(vendors: int, policy: Policy, args: argparse.Namespace) -> dict[str, Any]:
    print(f"{vendors:,} vendors: building events ...", file=sys.stderr, flush=True)
    events = vendor_events(vendors, policy, args.seed)
    gc.collect()
    if args.profile:
        profile(lambda: fold(events, policy), f"fold of {len(events):,} events")
    processor, fold_s = fold(events, policy)
    print(f"folded {len(events):,} events in {fold_s:.1f} s CPU", file=sys.stderr, flush=True)
    if args.profile:
        big = copy.deepcopy(processor)
        profile(lambda: big.advance_all(T0 + 90 * DAY), "one tick 90 days on")
        del big
    ticks = measure_ticks(processor, args.repeat)
    rescore = naive(processor, policy, ticks[-1]["at"], args.repeat)
    del processor
    gc.collect()
    return {
        "vendors": vendors,
        "events": len(events),
        "fold_cpu_s": fold_s,
        "fold_us_per_event": fold_s / len(events) * 1e6,
        "ticks": ticks,
        "naive_rescore_cpu_s": rescore,
    }


def report(result: dict[str, Any]) -> None:
    vendors, rescore = result["vendors"], result["naive_rescore_cpu_s"]
    print(
        f"\n{vendors:,} vendors, {result['events']:,} events (fold: "
        f"{result['fold_us_per_event']:.0f} µs CPU per event, deadlines included)\n"
    )
    print("| tick | vendors due | outcomes | CPU per tick | CPU per due vendor | vs naive |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in result["ticks"]:
        per_due = f"{row['cpu_s'] / row['due'] * 1e6:.0f} µs" if row["due"] else "-"
        print(
            f"| {row['tick']} | {row['due']:,} | {row['published']:,} | "
            f"{_seconds(row['cpu_s'])} | {per_due} | {row['cpu_s'] / rescore:.4f}x |"
        )
    print(
        f"| (d) naive: re-score all | {vendors:,} | - | {_seconds(rescore)} | "
        f"{rescore / vendors * 1e6:.0f} µs | 1x |"
    )


def _seconds(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vendors", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=2, help="runs per row; the best counts")
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--profile", action="store_true", help="cProfile the fold and a tick")
    parser.add_argument("--no-write", action="store_true", help="do not write JSON results")
    args = parser.parse_args(argv)

    policy = load_policy(None)
    tune_collector()
    load = os.getloadavg()[0]
    whole = cpu_seconds(os.getpid())
    results = [run(vendors, policy, args) for vendors in args.vendors]
    print(f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    for result in results:
        report(result)
    whole = cpu_seconds(os.getpid()) - whole
    print(f"\n(whole run: {whole:.1f} s CPU by /proc)", file=sys.stderr)
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "tick_bench.json").write_text(
            json.dumps({"load": load, "runs": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
