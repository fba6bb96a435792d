"""What do durable acknowledgements cost `vendorwatch ingest` on the embedded broker?

Why: an ack from the embedded broker now means "journaled and fsynced" (docs/broker.md,
"Durable acknowledgements"): the proxy in front of Tansu holds each Produce response until the
journal mirror has fetched the records, written them and fsynced the file. That adds a proxy
hop, a mirror round trip and an fsync to every produce request. This measures the cost against
the path without it, in the same run on the same machine:

* ``direct``: the producer talks to Tansu itself; the mirror journals behind it, fsyncing every
  0.2 s, and nothing waits for it (the non-durable path: an ack could be lost by kill -9);
* ``proxy``: the same through the proxy with no gate (what the hop alone costs);
* ``durable``: through the proxy with the gate, as a worker or `vendorwatch broker` runs it.

Each run gets a fresh broker and journal and sends the same synthetic events with the producer
`vendorwatch ingest` uses (`streams.kafka_io.ingest`), in two ways: ``raw`` (no validation: the
transport alone) and ``validated`` (what `vendorwatch ingest` does without ``--raw``); both keep
many produces in flight, so the wait for the journal is hidden as long as the mirror keeps up.
A third way, ``one-by-one``, waits for each ack before the next send (a producer that sends an
event at a time, like one `POST /events` after another): there every ack's extra delay is paid
in full, so its events/s and the ack latency percentiles are the worst case.

The three paths alternate, ``--repeat`` times. On a shared machine a run is
slowed by whatever else runs then, so the best run of each path (its ceiling) is reported beside
the median, each with its ratio to ``direct``.

    python benchmarks/durable_ingest_bench.py                 # 20,000 events, 5 repeats
    python benchmarks/durable_ingest_bench.py --events 50000 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from synthetic import generate

from vendorwatch.streams.embedded.ack_gate import AckGate
from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.embedded.compat_proxy import CompatProxy
from vendorwatch.streams.embedded.journal import JournalMirror
from vendorwatch.streams.embedded.runtime import GATED_FETCH_MAX_WAIT_MS
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.logs import configure_logging

RESULTS = Path(__file__).parent / "results"
PATHS = ("direct", "proxy", "durable")
PARTITIONS = 4


class _LoopThread:
    """An asyncio loop in a thread: the mirror runs on it, as on a worker's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@contextlib.contextmanager
def embedded(path: str, journal: Path) -> Iterator[str]:
    """A fresh broker with its journal mirror; yields where the producer should connect."""
    gated = path == "durable"
    gate = AckGate(topics.PERSISTED_IN_EMBEDDED_MODE) if gated else None
    with EmbeddedBroker(handle_sigterm=False) as broker:
        create_topics(broker.bootstrap_servers, topics.ALL_TOPICS, PARTITIONS)
        loop = _LoopThread()
        mirror = JournalMirror(
            journal,
            broker.bootstrap_servers,
            gate=gate,
            fetch_max_wait_ms=GATED_FETCH_MAX_WAIT_MS if gated else 500,
        )
        loop.run(mirror.start())
        try:
            if path == "direct":
                yield broker.bootstrap_servers
            else:
                with CompatProxy(broker.host, broker.port, gate=gate) as proxy:
                    yield proxy.bootstrap_servers
        finally:
            loop.run(mirror.stop())
            loop.close()


_PRODUCER = """
import json, sys, time
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.ingest import ingest_lines, make_producer
bootstrap, path, mode, count = sys.argv[1:5]
lines = open(path, "rb").read().splitlines()[: int(count)]
producer = make_producer(bootstrap)
# connections and metadata first: a fresh broker's first answers are slow, whatever the path
producer.partitions_for(topics.RAW)
producer.send(topics.RAW, b"warm-up").get(timeout=30)
latencies = []
started = time.perf_counter()
if mode == "one-by-one":  # a producer that waits for each ack before the next send
    for line in lines:
        sent_at = time.perf_counter()
        producer.send(topics.RAW, line).get(timeout=30)
        latencies.append(time.perf_counter() - sent_at)
    sent = len(lines)
else:
    sent = ingest_lines(producer, lines, raw=mode == "raw").sent
seconds = time.perf_counter() - started
print(json.dumps({"sent": sent, "seconds": seconds, "latencies": latencies}))
producer.close()
"""


def one_run(path: str, events_file: Path, count: int, mode: str) -> tuple[float, list[float]]:
    """Events per second of one ingest of the file's first ``count`` events over ``path``, and
    the ack latencies of a one-by-one run. The producer runs in its own process, as `vendorwatch
    ingest` does, so it does not share a GIL with the proxy and the mirror."""
    with (
        tempfile.TemporaryDirectory(prefix="vw-durable-bench-") as tmp,
        embedded(path, Path(tmp) / "journal") as bootstrap,
    ):
        argv = [sys.executable, "-c", _PRODUCER, bootstrap, str(events_file), mode, str(count)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=True)
    result = json.loads(done.stdout)
    if result["sent"] != count:
        raise SystemExit(f"{path}: sent {result['sent']} of {count}")
    return count / result["seconds"], result["latencies"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--vendors", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--one-by-one", type=int, default=300, help="events sent waiting for each ack"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write results JSON")
    args = parser.parse_args(argv)
    configure_logging("console", "warning")
    lines = generate(args.events, args.vendors)
    events_file = Path(tempfile.mkstemp(prefix="vw-durable-bench-", suffix=".jsonl")[1])
    events_file.write_bytes(b"\n".join(lines) + b"\n")
    load_before = os.getloadavg()[0]
    rates: dict[str, dict[str, list[float]]] = {
        mode: {p: [] for p in PATHS} for mode in ("raw", "validated", "one-by-one")
    }
    latencies: dict[str, list[float]] = {p: [] for p in PATHS}
    try:
        for _ in range(args.repeat):
            for mode, per_path in rates.items():
                count = args.one_by_one if mode == "one-by-one" else len(lines)
                for path in PATHS:
                    rate, waits = one_run(path, events_file, count, mode)
                    per_path[path].append(rate)
                    latencies[path] += waits
    finally:
        events_file.unlink()
    load_after = os.getloadavg()[0]

    result: dict[str, Any] = {
        "events": args.events,
        "repeat": args.repeat,
        "load": [round(load_before, 2), round(load_after, 2)],
        "modes": {},
    }
    print(f"## durable_ingest_bench: {args.events:,} events x {args.repeat}")
    print(f"\nload average {load_before:.2f} before, {load_after:.2f} after\n")
    print("| ingest | path | best events/s | vs direct | median | vs direct |")
    print("|---|---|---:|---:|---:|---:|")
    for mode, per_path in rates.items():
        best_base = max(per_path["direct"])
        median_base = statistics.median(per_path["direct"])
        result["modes"][mode] = {}
        for path in PATHS:
            best, median = max(per_path[path]), statistics.median(per_path[path])
            print(
                f"| {mode} | {path} | {best:,.0f} | {best / best_base:.2f}x "
                f"| {median:,.0f} | {median / median_base:.2f}x |"
            )
            result["modes"][mode][path] = {
                "best": round(best),
                "median": round(median),
                "runs": [round(r) for r in per_path[path]],
                "best_ratio": round(best / best_base, 3),
                "median_ratio": round(median / median_base, 3),
            }
    print("\n| path | ack latency one by one: p50 ms | p90 ms | p99 ms |")
    print("|---|---:|---:|---:|")
    result["ack_latency_ms"] = {}
    for path in PATHS:
        waits = sorted(latencies[path])
        pct = {
            q: waits[min(len(waits) - 1, int(q / 100 * len(waits)))] * 1000 for q in (50, 90, 99)
        }
        print(f"| {path} | {pct[50]:.1f} | {pct[90]:.1f} | {pct[99]:.1f} |")
        result["ack_latency_ms"][path] = {f"p{q}": round(v, 2) for q, v in pct.items()}
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "durable_ingest_bench.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
