"""How fast does `vendorwatch replay` fold the history, compared with just reading it?

One run, one embedded broker, one topic of synthetic events (benchmarks/synthetic.py, fixed
seed, many vendors), produced before any clock starts. Then, on the same topic:

(a) raw: aiokafka consume of every partition to its end + `orjson.loads` of every value, with the
    same consumer settings the replay reader uses (big fetches), so the ratio measures the fold;
(r) reader + `parse_event`: the replay reader (`streams.replay.run.read_log`) decoding and
validating
    every event, no fold: what the reader and the schema cost before any scoring;
(b) replay: reader + `parse_event` + the live `Processor` (apply, score, alert rules), one
    process, and again with one process per core over the partitions (`--jobs`).

Reported: events/s of each and (b)/(a); the target is (b)/(a) >= 0.5. The scores digest of every
replay must be equal (jobs do not change results), and every read must count exactly the events
produced (the end comes from a fetch high watermark: docs/broker.md, deviation 1).

    python benchmarks/replay_bench.py                    # 1,000,000 events, 10,000 vendors
    python benchmarks/replay_bench.py --events 100000    # quick
    python benchmarks/replay_bench.py --jobs 1           # single-process replay only
    python benchmarks/replay_bench.py --profile --events 50000   # cProfile of (b), top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import json
import os
import platform
import pstats
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from kafka.partitioner.default import murmur2
from synthetic import generate

from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.logs import configure_logging
from vendorwatch.streams.replay.reader import log_end_offsets, make_consumer, read_log
from vendorwatch.streams.replay.run import ReplayResult, ReplaySink, ReplaySpec, replay

TARGET_RATIO = 0.5
RESULTS = Path(__file__).parent / "results"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2), as `vendorwatch ingest` and Faust place keys."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def produce(bootstrap: str, lines: Sequence[bytes], partitions: int) -> float:
    """Send every line keyed by its vendor, in multi-record batches; returns seconds taken."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=False,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
        linger_ms=20,
    )
    await producer.start()
    started = time.perf_counter()
    try:
        batches = [producer.create_batch() for _ in range(partitions)]
        pending = []
        for line in lines:
            key = orjson.loads(line)["subject"].encode()
            p = partition_for(key, partitions)
            if batches[p].append(key=key, value=line, timestamp=None) is None:
                pending.append(await producer.send_batch(batches[p], topics.EVENTS, partition=p))
                batches[p] = producer.create_batch()
                batches[p].append(key=key, value=line, timestamp=None)
        for p, batch in enumerate(batches):
            if batch.record_count():
                pending.append(await producer.send_batch(batch, topics.EVENTS, partition=p))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def raw_consume(bootstrap: str, ends: dict[int, int]) -> tuple[int, float]:
    """(a): consume every record below `ends` and orjson-decode its value."""
    consumer = make_consumer(bootstrap)
    await consumer.start()
    loads = orjson.loads
    try:
        tps = {TopicPartition(topics.EVENTS, p): end for p, end in ends.items() if end > 0}
        consumer.assign(list(tps))
        await consumer.seek_to_beginning(*tps)
        count = 0
        started = time.perf_counter()
        pending = dict(tps)
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                end = pending.get(tp)
                if end is None:
                    continue
                for record in records:
                    if record.offset < end:
                        loads(record.value)
                        count += 1
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    consumer.pause(tp)
                    del pending[tp]
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


async def reader_parse(bootstrap: str, ends: dict[int, int]) -> tuple[int, float]:
    """(r): the replay reader + parse_event, no policy (so no fold)."""
    sink = ReplaySink([])
    started = time.perf_counter()
    await read_log(bootstrap, ends, sink.feed)
    seconds = time.perf_counter() - started
    assert sink.stats.invalid == 0, sink.stats.invalid_examples
    return sink.stats.records, seconds


def digest(result: ReplayResult) -> str:
    rows = sorted(
        (v, s.score, s.severity, sorted(result.result.firing.get(v, {})))
        for v, s in result.result.scores.items()
    )
    return hashlib.sha256(orjson.dumps(rows)).hexdigest()[:16]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--vendors", type=int, default=None, help="default: events / 100")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--jobs",
        default=None,
        help="comma-separated job counts to time (b) with (default: 1 and one per core)",
    )
    parser.add_argument("--seed", type=int, default=20250612)
    parser.add_argument("--profile", action="store_true", help="cProfile (b) with one job")
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    configure_logging("console", "warning", stream=sys.stderr)  # stdout is the report
    vendors = args.vendors or max(1, args.events // 100)
    cores = os.cpu_count() or 1
    job_counts = (
        [int(j) for j in args.jobs.split(",")]
        if args.jobs
        else sorted({1, min(cores, args.partitions)})
    )
    policy = load_policy()

    started = time.perf_counter()
    lines = generate(args.events, vendors, seed=args.seed, policy=policy)
    megabytes = sum(map(len, lines)) / 1e6
    log(
        f"generated {len(lines):,} events over {vendors:,} vendors ({megabytes:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    with EmbeddedBroker(handle_sigterm=False) as broker:
        bootstrap = broker.bootstrap_servers
        create_topics(bootstrap, [topics.EVENTS], args.partitions)
        produce_s = asyncio.run(produce(bootstrap, lines, args.partitions))
        produced = len(lines)
        del lines
        log(f"produced in {produce_s:.1f} s ({produced / produce_s:,.0f}/s)")
        ends = asyncio.run(log_end_offsets(bootstrap))
        assert sum(ends.values()) == produced, f"end offsets {ends} != {produced} produced"

        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            replay(ReplaySpec(bootstrap, (policy,)), ends=ends, jobs=1)
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
            return 0

        raw_count, raw_s = asyncio.run(raw_consume(bootstrap, ends))
        assert raw_count == produced, f"raw consume read {raw_count}, produced {produced}"
        raw_rate = raw_count / raw_s
        log(f"(a) raw consume + orjson: {raw_rate:,.0f} ev/s")
        parse_count, parse_s = asyncio.run(reader_parse(bootstrap, ends))
        assert parse_count == produced
        parse_rate = parse_count / parse_s
        log(f"(r) reader + parse_event: {parse_rate:,.0f} ev/s")
        runs: list[dict[str, Any]] = []
        digests = set()
        for jobs in job_counts:
            result = replay(ReplaySpec(bootstrap, (policy,)), ends=ends, jobs=jobs)
            assert result.stats.records == produced, (result.stats.records, produced)
            rate = result.stats.records / result.seconds
            digests.add(digest(result))
            runs.append(
                {
                    "jobs": result.jobs,
                    "events_per_s": round(rate),
                    "seconds": round(result.seconds, 2),
                    "ratio_to_raw": round(rate / raw_rate, 3),
                    "vendors": len(result.result.scores),
                    "firing_alerts": sum(len(f) for f in result.result.firing.values()),
                }
            )
            log(f"(b) replay, {result.jobs} job(s): {rate:,.0f} ev/s ({rate / raw_rate:.3f}x raw)")
        assert len(digests) == 1, f"replays disagree: digests {digests}"

    best = max(runs, key=lambda r: r["events_per_s"])
    ok = best["ratio_to_raw"] >= TARGET_RATIO
    result_json: dict[str, Any] = {
        "bench": "replay",
        "events": produced,
        "vendors": vendors,
        "partitions": args.partitions,
        "seed": args.seed,
        "cores": cores,
        "produce_events_per_s": round(produced / produce_s),
        "raw_consume_events_per_s": round(raw_rate),
        "reader_parse_events_per_s": round(parse_rate),
        "replay": runs,
        "best_ratio_to_raw": best["ratio_to_raw"],
        "target_ratio": TARGET_RATIO,
        "target_met": ok,
        "scores_digest": digests.pop(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print("| path | events | ev/s | vs raw |")
    print("|---|---:|---:|---:|")
    print(f"| (a) raw aiokafka consume + orjson.loads | {produced:,} | {raw_rate:,.0f} | 1.00x |")
    print(
        f"| (r) replay reader + parse_event (no fold) | {produced:,} | {parse_rate:,.0f} "
        f"| {parse_rate / raw_rate:.2f}x |"
    )
    for run in runs:
        print(
            f"| (b) replay: reader + parse + Processor, {run['jobs']} job(s) | {produced:,} "
            f"| {run['events_per_s']:,} | {run['ratio_to_raw']:.3f}x |"
        )
    print(
        f"\ntarget (b)/(a) >= {TARGET_RATIO}: {'met' if ok else 'MISSED'} "
        f"(best {best['ratio_to_raw']:.3f}x); {vendors:,} vendors, {args.partitions} partitions, "
        f"{cores} cores; scores digest {result_json['scores_digest']}"
    )
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"replay-{produced}.json"
        out.write_text(json.dumps(result_json, indent=2) + "\n")
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
