"""How fast is the scoring fold, from raw JSON bytes to an explained score?

What is timed is exactly what the live pipeline does per message (see streams/processor.py):
`parse_event` (JSON decoding, upcasting, validation) -> `apply` to the vendor's state ->
`score(state, policy)` of that vendor as of its latest event. As a ceiling, the same bytes are
first decoded with plain `orjson.loads` in the same run, so the ratio says what validation and
scoring cost on top of reading JSON on this machine, whatever its speed.

The events are synthetic but valid and realistic (benchmarks/synthetic.py), generated with a
fixed seed before the clock starts. The garbage collector is left on, as in the worker.

    python benchmarks/fold_bench.py                 # 1,000,000 events over 10,000 vendors
    python benchmarks/fold_bench.py --events 100000 # a quick run (vendors scale: events / 100)
    python benchmarks/fold_bench.py --profile       # cProfile of the fold, top functions

The digest of the final scores (vendor, score, severity) is printed so that an optimisation can
be checked not to change results: same seed and size, same digest.

Both wall-clock and CPU time (user + system, of this process) are reported. On a shared machine
the wall clock also counts time spent waiting for a core; CPU time does not, so it is the fairer
measure of the code when other work is running, and the wall clock the honest one when not.
With `--repeat N` each phase runs N times and the best run counts.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import os
import platform
import pstats
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from synthetic import generate

from vendorwatch.schemas.codec import parse_event
from vendorwatch.streams.heap import tune_collector
from vendorwatch.streams.policy import Policy, load_policy
from vendorwatch.streams.scoring import Score, score
from vendorwatch.streams.state import VendorState, apply

TARGET_EVENTS_PER_SECOND = 100_000
RESULTS = Path(__file__).parent / "results"


Timing = tuple[float, float]
"""(wall-clock seconds, CPU seconds)."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def decode_all(raw: Sequence[bytes]) -> Timing:
    """Time to `orjson.loads` every message: the floor any Python consumer pays."""
    loads = orjson.loads
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        loads(message)
    return time.perf_counter() - wall, _cpu() - cpu


def fold_all(raw: Sequence[bytes], policy: Policy) -> tuple[Timing, dict[str, Score]]:
    """Time for the live pipeline's per-message work, and the last score of every vendor."""
    states: dict[str, VendorState] = {}
    published: dict[str, Score] = {}
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        event = parse_event(message)
        state = states.get(event.subject)
        if state is None:
            state = states[event.subject] = VendorState(event.subject)
        apply(state, event)
        published[event.subject] = score(state, policy)
    return (time.perf_counter() - wall, _cpu() - cpu), published


def parse_all(raw: Sequence[bytes], policy: Policy) -> Timing:
    """Stage 1 of the breakdown: `parse_event` alone, results dropped."""
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        parse_event(message)
    return time.perf_counter() - wall, _cpu() - cpu


def parse_apply_all(raw: Sequence[bytes], policy: Policy) -> Timing:
    """Stage 2 of the breakdown: `parse_event` and `apply`, states kept, no scoring."""
    states: dict[str, VendorState] = {}
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        event = parse_event(message)
        state = states.get(event.subject)
        if state is None:
            state = states[event.subject] = VendorState(event.subject)
        apply(state, event)
    return time.perf_counter() - wall, _cpu() - cpu


def fold_without_gc(raw: Sequence[bytes], policy: Policy) -> Timing:
    """The full fold with the cyclic garbage collector off: what the collector costs."""
    gc.disable()
    try:
        return fold_all(raw, policy)[0]
    finally:
        gc.enable()
        gc.collect()


def stages(raw: Sequence[bytes], policy: Policy, repeat: int) -> list[tuple[str, Timing]]:
    """Where the time goes: each stage adds one step to the previous one, on the same events."""
    steps: list[tuple[str, Callable[[Sequence[bytes], Policy], Timing]]] = [
        ("orjson.loads", lambda r, _: decode_all(r)),
        ("parse_event (validation)", parse_all),
        ("+ apply (state kept)", parse_apply_all),
        ("+ score (full fold)", lambda r, p: fold_all(r, p)[0]),
        ("full fold, GC off", fold_without_gc),
    ]
    out = []
    for name, step in steps:
        runs = [step(raw, policy) for _ in range(repeat)]
        out.append((name, (min(w for w, _ in runs), min(c for _, c in runs))))
        gc.collect()
    return out


def digest(scores: dict[str, Score]) -> str:
    """A short hash of every vendor's final (score, severity): equal digests, equal results."""
    rows = sorted((v, s.score, s.severity) for v, s in scores.items())
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to fold")
    parser.add_argument("--vendors", type=int, default=None, help="default: events / 100")
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; the best counts")
    parser.add_argument("--profile", action="store_true", help="cProfile the fold instead")
    parser.add_argument(
        "--stages", action="store_true", help="also time each step on its own (a breakdown)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    parser.add_argument(
        "--gc",
        choices=("default", "tuned"),
        default="default",
        help="collector thresholds: CPython's, or vendorwatch.streams.heap.tune_collector()",
    )
    args = parser.parse_args(argv)
    vendors = args.vendors or max(1, args.events // 100)

    policy = load_policy()
    gen_start = time.perf_counter()
    raw = generate(args.events, vendors, seed=args.seed, policy=policy)
    generated_in = time.perf_counter() - gen_start
    megabytes = sum(map(len, raw)) / 1e6
    print(
        f"generated {len(raw):,} events over {vendors:,} vendors ({megabytes:.0f} MB) "
        f"in {generated_in:.1f} s",
        file=sys.stderr,
    )

    gc.collect()
    gc.freeze()  # the generated input is not what is measured: keep it out of every collection
    if args.gc == "tuned":
        tune_collector()

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(fold_all, raw, policy)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
        return 0

    decodes = [decode_all(raw) for _ in range(args.repeat)]
    folds = []
    for _ in range(args.repeat):
        timing, published = fold_all(raw, policy)
        folds.append(timing)
    decode = (min(w for w, _ in decodes), min(c for _, c in decodes))
    fold = (min(w for w, _ in folds), min(c for _, c in folds))
    n = len(raw)
    rates = {
        "wall": (n / decode[0], n / fold[0]),
        "cpu": (n / decode[1], n / fold[1]),
    }
    ok = rates["wall"][1] >= TARGET_EVENTS_PER_SECOND
    result: dict[str, Any] = {
        "bench": "fold",
        "events": n,
        "vendors": vendors,
        "seed": args.seed,
        "repeat": args.repeat,
        "gc": args.gc,
        "target_events_per_s": TARGET_EVENTS_PER_SECOND,
        "target_met": ok,
        "scores_digest": digest(published),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }
    print("| clock | orjson.loads ev/s | fold ev/s | fold µs/event | ratio |")
    print("|---|---:|---:|---:|---:|")
    for clock, (decode_rate, fold_rate) in rates.items():
        result[f"orjson_events_per_s_{clock}"] = round(decode_rate)
        result[f"fold_events_per_s_{clock}"] = round(fold_rate)
        result[f"ratio_{clock}"] = round(decode_rate / fold_rate, 2)
        print(
            f"| {clock} | {decode_rate:,.0f} | {fold_rate:,.0f} | {1e6 / fold_rate:.2f} "
            f"| {decode_rate / fold_rate:.1f}x |"
        )
    print(
        f"\n{n:,} events over {vendors:,} vendors, {args.gc} GC thresholds; "
        f"target {TARGET_EVENTS_PER_SECOND:,} ev/s "
        f"(wall): {'met' if ok else 'MISSED'}; load average {result['load_average_1m']:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(f"scores digest {result['scores_digest']}", file=sys.stderr)
    if args.stages:
        del published
        gc.collect()
        breakdown = stages(raw, policy, args.repeat)
        print("\n| stage | wall µs/event | CPU µs/event | CPU ev/s |")
        print("|---|---:|---:|---:|")
        for name, (wall_s, cpu_s) in breakdown:
            print(f"| {name} | {1e6 * wall_s / n:.2f} | {1e6 * cpu_s / n:.2f} | {n / cpu_s:,.0f} |")
        result["stages_cpu_us_per_event"] = {
            name: round(1e6 * cpu_s / n, 2) for name, (_, cpu_s) in breakdown
        }
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"fold-{len(raw)}-{args.gc}-gc.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
