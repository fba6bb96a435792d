"""What does one fetch cost the embedded broker, at the end of a small and of a big partition?

Why: in the pipeline benchmark the embedded broker (Tansu, memory storage) used about as much CPU
per event as the worker, and a latency run at 1,000 events/s went slower when it came after
another one, with the broker's CPU per event up and the worker's not. Every consumer of the
pipeline (the score agent, the read view, the notifier, whoever reads the scores) reads at the
end of its partitions, so what a fetch at the end costs, and whether it grows with the
partition, decides how much of the machine the broker takes.

One embedded broker, two one-partition topics filled with records of `--record-bytes` (a
small one and a big one), then `--fetches` fetches of the last few records of each, alternating
small, big, small, big. Reported: wall time per fetch, and the broker process's CPU per fetch
(Linux /proc), which the client's own costs do not touch.

    python benchmarks/broker_fetch_bench.py                   # 1,000 vs 100,000 records of 2 KB
    python benchmarks/broker_fetch_bench.py --big 300000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from procstat import cpu_seconds

from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.logs import configure_logging

RESULTS = Path(__file__).parent / "results"


async def fill(bootstrap: str, topic: str, records: int, size: int) -> None:
    """Write `records` records of `size` bytes to partition 0, in large batches."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024
    )
    await producer.start()
    try:
        value = b"x" * size
        sent = [await producer.send(topic, value, partition=0) for _ in range(records)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def tail_fetches(bootstrap: str, topic: str, end: int, fetches: int) -> float:
    """Seconds per fetch of the last 5 records of partition 0 (each a fresh fetch request)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=1
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        started = time.perf_counter()
        for _ in range(fetches):
            consumer.seek(tp, max(0, end - 5))
            got = await consumer.getmany(tp, timeout_ms=5_000)
            if not got.get(tp):
                raise SystemExit(f"a fetch at the end of {topic} returned nothing")
        return (time.perf_counter() - started) / fetches
    finally:
        await consumer.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=1_000, help="records in the small topic")
    parser.add_argument("--big", type=int, default=100_000, help="records in the big topic")
    parser.add_argument("--record-bytes", type=int, default=2_000)
    parser.add_argument("--fetches", type=int, default=300, help="fetches per measurement")
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    if min(args.small, args.big, args.record_bytes, args.fetches) < 1:
        parser.error("every count must be at least 1")

    configure_logging("console", "warning", stream=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="broker-fetch-bench-"))
    sizes = {"small": args.small, "big": args.big}
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in sizes}
    with EmbeddedBroker(handle_sigterm=False, log_path=workdir / "broker.log") as broker:
        bootstrap, pid = broker.bootstrap_servers, broker.pid
        if pid is None:
            raise SystemExit("the embedded broker did not start")
        create_topics(bootstrap, list(sizes), 1)
        for name, records in sizes.items():
            print(f"filling {name}: {records:,} records", file=sys.stderr)
            asyncio.run(fill(bootstrap, name, records, args.record_bytes))
        for name in ("small", "big", "small", "big"):
            cpu = cpu_seconds(pid)
            wall = asyncio.run(tail_fetches(bootstrap, name, sizes[name], args.fetches))
            rows[name].append((wall, (cpu_seconds(pid) - cpu) / args.fetches))

    result: dict[str, object] = {"bench": "broker_fetch", "record_bytes": args.record_bytes}
    best_cpu: dict[str, float] = {}
    print("| partition | records | wall per fetch | broker CPU per fetch |")
    print("|---|---:|---:|---:|")
    for name, runs in rows.items():
        wall = min(w for w, _ in runs)
        best_cpu[name] = cpu = min(c for _, c in runs)
        result[f"{name}_records"] = sizes[name]
        result[f"{name}_wall_ms_per_fetch"] = round(wall * 1e3, 3)
        result[f"{name}_broker_cpu_ms_per_fetch"] = round(cpu * 1e3, 3)
        print(f"| {name} | {sizes[name]:,} | {wall * 1e3:.2f} ms | {cpu * 1e3:.2f} ms |")
    growth = best_cpu["big"] / max(best_cpu["small"], 1e-9)
    result["big_over_small"] = round(growth, 2)
    print(f"\nBroker CPU per fetch, big / small partition: {growth:.1f}x (best of 2 runs each)")
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "broker_fetch.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
