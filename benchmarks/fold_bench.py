"""How fast is the scoring fold, from raw JSON bytes to explained risk scores?

What the target (100,000 events/s) is measured on is the fold the issue describes and
`vendorwatch score --events FILE` runs: every message goes through `parse_event` (JSON decoding,
upcasting, validation) and `apply` to its vendor's state, then every vendor gets its explained
`score` as of its latest event. As a ceiling, the same bytes are first decoded with plain
`orjson.loads` in the same run, so the ratio says what validation and scoring cost on top of
reading JSON on this machine, whatever its speed.

Two more rows put that number in context:
- the same fold split over `--jobs N` processes, vendors shared out by a hash of their id as
  Kafka partitions share them out between workers (`vendorwatch replay --jobs` does the same);
- the live path: the explained score after *every* event, which is what the score agent does
  per message to decide what to publish (streams/core/processor.py). It is reported, not targeted:
  that throughput belongs to the pipeline benchmark.

The events are synthetic but valid and realistic (benchmarks/synthetic.py), generated with a
fixed seed before the clock starts. The folds run as the product runs them: the offline fold
inside `heap.bulk_fold` (collector paused, result frozen), the live path with the worker's
tuned collector thresholds.

    python benchmarks/fold_bench.py                 # 1,000,000 events over 10,000 vendors
    python benchmarks/fold_bench.py --events 100000 # a quick run (vendors scale: events / 100)
    python benchmarks/fold_bench.py --profile       # cProfile of the fold, top functions

The digest of the final scores (vendor, score, severity) is printed, and must be the same for
every row: an optimisation can be checked not to change results (same seed and size, same
digest).

Both wall-clock and CPU time (user + system, of the processes doing the work) are reported. On
a shared machine the wall clock also counts time spent waiting for a core; CPU time does not.
With `--repeat N` each row runs N times and the best run counts.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import json
import multiprocessing
import os
import platform
import pstats
import resource
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
from synthetic import generate

from vendorwatch.schemas.codec import parse_event
from vendorwatch.streams.core._incremental import score  # the live path's engine
from vendorwatch.streams.core.heap import tune_collector
from vendorwatch.streams.core.policy import Policy, load_policy
from vendorwatch.streams.core.scoring import Score, score_all
from vendorwatch.streams.core.state import VendorState, apply
from vendorwatch.streams.eventfile import fold_lines

TARGET_EVENTS_PER_SECOND = 100_000
RESULTS = Path(__file__).parent / "results"


Timing = tuple[float, float]
"""(wall-clock seconds, CPU seconds)."""
Fold = Callable[[Sequence[bytes], Policy], tuple[Timing, dict[str, Score]]]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def decode_all(raw: Sequence[bytes]) -> Timing:
    """Time to `orjson.loads` every message: the floor any Python consumer pays."""
    loads = orjson.loads
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        loads(message)
    return time.perf_counter() - wall, _cpu() - cpu


def offline_fold(raw: Sequence[bytes], policy: Policy) -> tuple[Timing, dict[str, Score]]:
    """The targeted fold: parse and apply every message, then score every vendor once."""
    wall, cpu = time.perf_counter(), _cpu()
    folded = fold_lines(raw)
    scores = score_all(folded.states.values(), policy)
    timing = (time.perf_counter() - wall, _cpu() - cpu)
    if folded.errors:
        raise SystemExit(f"synthetic input has invalid events: {folded.errors[:3]}")
    return timing, {s.vendor_id: s for s in scores}


def live_fold(raw: Sequence[bytes], policy: Policy) -> tuple[Timing, dict[str, Score]]:
    """The score agent's per-message work: an explained score after every event."""
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


# --- the same fold over several processes ----------------------------------------------------

_SHARDS: list[bytes] = []
"""Set before the workers fork, so each reads its share from memory instead of a pickle.

Each share is one JSON Lines blob that the child splits itself: a forked child that walked a
list of the parent's million bytes objects would write to their reference counts and copy
every page they sit on (measured: twice the CPU per event). A worker reading a partition from
Kafka also gets its messages in its own memory."""


def shard(raw: Sequence[bytes], jobs: int) -> list[bytes]:
    """Split messages by vendor the way a keyed Kafka topic does: one vendor, one share."""
    shards: list[list[bytes]] = [[] for _ in range(jobs)]
    for message in raw:
        subject = orjson.loads(message)["subject"].encode()
        shards[zlib.crc32(subject) % jobs].append(message)
    return [b"\n".join(lines) for lines in shards]


_KEPT: list[Any] = []
"""What a worker folded, kept until it exits. The 1-process row stops its clock before its
states are freed; a worker that freed them piece by piece before exiting would pay for that
(about 2 µs per event, measured) in the parallel row only. A worker process ends with
`os._exit` (multiprocessing's fork start method), so what is kept is never walked."""


def _fold_shard(index: int, policy: Policy, out: Any) -> None:
    folded = fold_lines(_SHARDS[index].split(b"\n"))
    scores = score_all(folded.states.values(), policy)
    _KEPT.append(folded)
    out.send([(s.vendor_id, s.score, s.severity) for s in scores])
    out.close()


def parallel_fold(shards: list[bytes], policy: Policy) -> tuple[Timing, list[Any]]:
    """Fold each share in its own forked process; wall clock from fork to the last result."""
    _SHARDS[:] = shards
    context = multiprocessing.get_context("fork")
    cpu = _children_cpu()
    wall = time.perf_counter()
    pipes, workers = [], []
    for index in range(len(shards)):
        receive, send = context.Pipe(duplex=False)
        worker = context.Process(target=_fold_shard, args=(index, policy, send))
        worker.start()
        pipes.append(receive)
        workers.append(worker)
    rows = [row for pipe in pipes for row in pipe.recv()]
    for worker in workers:
        worker.join()
    timing = (time.perf_counter() - wall, _children_cpu() - cpu)
    _SHARDS.clear()
    return timing, rows


# --- breakdown and results -------------------------------------------------------------------


def parse_all(raw: Sequence[bytes], policy: Policy) -> Timing:
    """Stage 1 of the breakdown: `parse_event` alone, results dropped."""
    wall, cpu = time.perf_counter(), _cpu()
    for message in raw:
        parse_event(message)
    return time.perf_counter() - wall, _cpu() - cpu


def parse_apply_all(raw: Sequence[bytes], policy: Policy) -> Timing:
    """Stage 2 of the breakdown: `parse_event` and `apply` (`fold_lines`), no scoring."""
    wall, cpu = time.perf_counter(), _cpu()
    fold_lines(raw)
    return time.perf_counter() - wall, _cpu() - cpu


def stages(raw: Sequence[bytes], policy: Policy, repeat: int) -> list[tuple[str, Timing]]:
    """Where the time goes: each stage adds one step to the previous one, on the same events."""
    steps: list[tuple[str, Callable[[Sequence[bytes], Policy], Timing]]] = [
        ("orjson.loads", lambda r, _: decode_all(r)),
        ("parse_event (validation)", parse_all),
        ("+ apply (state kept)", parse_apply_all),
        ("+ score every vendor once (the fold)", lambda r, p: offline_fold(r, p)[0]),
    ]
    out = []
    for name, step in steps:
        runs = [step(raw, policy) for _ in range(repeat)]
        out.append((name, (min(w for w, _ in runs), min(c for _, c in runs))))
        gc.collect()
    return out


def digest_rows(rows: Sequence[tuple[str, float, str]]) -> str:
    """A short hash of every vendor's final (score, severity): equal digests, equal results."""
    return hashlib.sha256(orjson.dumps(sorted(rows))).hexdigest()[:16]


def digest(scores: dict[str, Score]) -> str:
    return digest_rows([(v, s.score, s.severity) for v, s in scores.items()])


def best(runs: Sequence[Timing]) -> Timing:
    return min(w for w, _ in runs), min(c for _, c in runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events to fold")
    parser.add_argument("--vendors", type=int, default=None, help="default: events / 100")
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the best counts")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes for the parallel row"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the fold instead")
    parser.add_argument(
        "--stages", action="store_true", help="also time each step on its own (a breakdown)"
    )
    parser.add_argument(
        "--skip-live", action="store_true", help="leave out the per-event live-path row"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    vendors = args.vendors or max(1, args.events // 100)

    policy = load_policy()
    gen_start = time.perf_counter()
    raw = generate(args.events, vendors, seed=args.seed, policy=policy)
    shards = shard(raw, args.jobs) if args.jobs > 1 else []
    generated_in = time.perf_counter() - gen_start
    megabytes = sum(map(len, raw)) / 1e6
    print(
        f"generated {len(raw):,} events over {vendors:,} vendors ({megabytes:.0f} MB) "
        f"in {generated_in:.1f} s",
        file=sys.stderr,
    )

    gc.collect()
    gc.freeze()  # the generated input is not what is measured: keep it out of every collection
    tune_collector()  # as the worker and replay run

    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(offline_fold, raw, policy)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
        return 0

    n = len(raw)
    rows: list[tuple[str, str, Timing]] = []
    decode = best([decode_all(raw) for _ in range(args.repeat)])
    rows.append(("orjson.loads (ceiling)", "loads", decode))
    folds = []
    for _ in range(args.repeat):
        timing, final = offline_fold(raw, policy)
        folds.append(timing)
        gc.collect()
    fold = best(folds)
    digests = {"fold": digest(final)}
    del final
    rows.append(("fold: validate + apply, score each vendor once (1 process)", "fold", fold))
    if shards:
        parallel = []
        for _ in range(args.repeat):
            timing, final_rows = parallel_fold(shards, policy)
            parallel.append(timing)
        digests["parallel"] = digest_rows(final_rows)
        rows.append(
            (
                f"the same fold in {args.jobs} processes (vendors split as by partition)",
                "fold_parallel",
                best(parallel),
            )
        )
    if not args.skip_live:
        timing, published = live_fold(raw, policy)
        digests["live"] = digest(published)
        del published
        gc.collect()
        rows.append(("live path: explained score after every event (1 process)", "live", timing))

    same = len(set(digests.values())) == 1
    fastest = min(wall for _, key, (wall, _) in rows if key.startswith("fold"))
    ok = n / fastest >= TARGET_EVENTS_PER_SECOND and same
    result: dict[str, Any] = {
        "bench": "fold",
        "events": n,
        "vendors": vendors,
        "seed": args.seed,
        "repeat": args.repeat,
        "jobs": args.jobs,
        "target_events_per_s": TARGET_EVENTS_PER_SECOND,
        "target_met": ok,
        "scores_digests": digests,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }
    print("| what | ev/s (wall) | µs/event (wall) | CPU µs/event | vs orjson.loads |")
    print("|---|---:|---:|---:|---:|")
    for label, key, (wall_s, cpu_s) in rows:
        rate = n / wall_s
        result[f"{key}_events_per_s_wall"] = round(rate)
        result[f"{key}_cpu_us_per_event"] = round(1e6 * cpu_s / n, 2)
        result[f"{key}_ratio_to_orjson"] = round(rate / (n / decode[0]), 4)
        print(
            f"| {label} | {rate:,.0f} | {1e6 * wall_s / n:.2f} | {1e6 * cpu_s / n:.2f} "
            f"| {rate / (n / decode[0]):.3f}x |"
        )
    print(
        f"\n{n:,} events over {vendors:,} vendors; target {TARGET_EVENTS_PER_SECOND:,} ev/s "
        f"(wall) for the fold: {'met' if ok else 'MISSED'} (best fold row "
        f"{n / fastest:,.0f} ev/s); load average {result['load_average_1m']:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    print(
        f"scores digests {digests}: {'all equal' if same else 'DIFFERENT (a bug)'}",
        file=sys.stderr,
    )
    if args.stages:
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
        out = RESULTS / f"fold-{n}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
