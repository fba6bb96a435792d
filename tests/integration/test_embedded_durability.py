"""An acknowledged event survives kill -9 of the whole embedded process.

The worker runs with no Kafka configured: Tansu (memory only) in its own process, the journal
mirror and the proxy inside the worker. A producer sends 20,000 synthetic events through the
proxy, the address `DATA_DIR/embedded.json` gives, and records every event whose ack came back.
At three random numbers of acks (seeded; the seed is printed, and VENDORWATCH_DURABILITY_SEED
replays it) the worker's process group gets SIGKILL, Tansu dies with it, and a new worker starts
on the same data dir. After each restart:

* every acknowledged event is in the raw topic the new broker restored;
* the producer sends again everything it was not acknowledged for, in file order, as a real
  at-least-once producer would (some of it had reached the journal: duplicates on the raw topic).

Then the worker's `POST /events` takes a few hundred of what is left (202 each time), `vendorwatch
ingest` sends the rest, and the worker is killed the moment ingest exits 0 with "sent N
event(s)" (the issue's own scenario). One last worker must end with every one of the 20,000
events in the history exactly once and the scores of the offline fold.

Why the offline fold still applies after the re-sends: within a raw partition the records that
reached the broker, and those acknowledged, are each a prefix of what was sent (no retries, so
no reordering), and the re-sends repeat the rest in order, so the first copy of every event is
in file order on its partition; later copies are known ids, which the worker does not score or
write again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import importlib.util
import os
import random
import signal
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from tests.conftest import require_tool
from vendorwatch.streams.embedded import group_offsets
from vendorwatch.streams.embedded.ack_gate import AckGate
from vendorwatch.streams.embedded.broker import free_loopback_port
from vendorwatch.streams.embedded.compat_proxy import CompatProxy
from vendorwatch.streams.embedded.journal import Journal, JournalMirror
from vendorwatch.streams.embedded.runtime import save_group_offsets
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.compat import fetch_end_offsets, stop_consumer

from .workers import (
    INGEST_TOKEN,
    PARTITIONS,
    VENDORWATCH,
    WaitTimeout,
    WorkerProcess,
    event_line,
    fresh_broker,
    offline_scores,
    require_tansu,
    score_differences,
    start_worker,
    subject_of,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
N_EVENTS = 20_000
N_VENDORS = 200
KILLS = 3
POSTED = 300
"""Events sent with POST /events (the rest of the last round goes with `vendorwatch ingest`)."""
TP_SCORES = TopicPartition(topics.SCORES, 0)
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"}


def synthetic_lines(n_events: int, n_vendors: int, seed: int) -> list[bytes]:
    """benchmarks/synthetic.py (not a package): valid events of every type, fixed seed."""
    spec = importlib.util.spec_from_file_location(
        "vw_synthetic", REPO / "benchmarks" / "synthetic.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines: list[bytes] = module.generate(n_events, n_vendors, seed=seed)
    return lines


def start_embedded_worker(data_dir: Path, *, ready: bool = True) -> WorkerProcess:
    """`vendorwatch worker` with no Kafka configured, leading its own process group. Returns
    once it is ready, or with ``ready=False`` once its broker is up with the journal restored
    and the journal mirror runs, which is when acks can come (its read view may still be
    catching up)."""
    port = free_loopback_port()
    worker = start_worker(
        None, data_dir, web_port=port, worker_id=f"durable-{port}", new_session=True
    )
    log_path = worker.log_path
    if ready:
        worker.wait_ready(timeout=90)
        return worker

    def restored() -> bool:
        if not worker.alive():
            raise WaitTimeout(f"worker died while starting\n{worker.describe()}")
        marker = orjson.loads((data_dir / "embedded.json").read_bytes())
        return marker["pid"] == worker.pid and b'"journal.mirror_started"' in log_path.read_bytes()

    wait_until(restored, "the journal mirror", timeout=90, interval=0.1, describe=worker.describe)
    return worker


def kill_group(worker: WorkerProcess) -> None:
    """kill -9 of the worker's whole process group (the broker dies with it)."""
    os.killpg(worker.pid, signal.SIGKILL)
    worker.proc.wait(10)


def proxy_address(data_dir: Path) -> str:
    """Where clients reach the embedded broker: the proxy that acknowledges durably."""
    return str(orjson.loads((data_dir / "embedded.json").read_bytes())["bootstrap_servers"])


def ids_in(bootstrap: str, topic: str) -> list[str]:
    """The event id of every record of ``topic``, read to the end of each partition as the
    broker has it now (ends from a fetch's high watermark: docs/broker.md, deviation 1)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def read() -> list[str]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(tps)
            ends = await fetch_end_offsets(bootstrap, tps)
            ids: list[str] = []
            done = {tp for tp in tps if ends[tp] == 0}
            while len(done) < len(tps):
                for tp, records in (await consumer.getmany(timeout_ms=1000)).items():
                    ids += [
                        str(orjson.loads(r.value)["id"]) for r in records if r.offset < ends[tp]
                    ]
                    if records and records[-1].offset + 1 >= ends[tp]:
                        done.add(tp)
            return ids
        finally:
            await stop_consumer(consumer)

    return asyncio.run(asyncio.wait_for(read(), 60))


def send_until_killed(
    bootstrap: str,
    lines: Sequence[bytes],
    indexes: Sequence[int],
    acked: set[int],
    kill_at: int,
    kill: Any,
) -> None:
    """Send ``lines[i]`` for each index, adding ``i`` to ``acked`` when its ack arrives; once
    ``acked`` holds ``kill_at`` events, call ``kill``."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaTimeoutError

    lock = threading.Lock()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        batch_size=64 * 1024,
        # No retries and no expiry before the kill: a batch that failed or expired while later
        # ones got through would reorder its partition when re-sent, and the offline fold
        # follows the file's order. After the kill, what was in flight fails at once (the
        # connection is gone); what was never sent expires in the background after close().
        retries=0,
        request_timeout_ms=15_000,
        delivery_timeout_ms=20_000,
    )

    def on_ack(index: int) -> Any:
        def record(_metadata: Any) -> None:
            with lock:
                acked.add(index)

        return record

    try:
        for index in indexes:
            producer.send(
                topics.RAW, key=subject_of(lines[index]), value=lines[index]
            ).add_callback(on_ack(index))
            if len(acked) >= kill_at:
                break
        wait_until(lambda: len(acked) >= kill_at, f"{kill_at} acks", timeout=60, interval=0.001)
        with lock:  # no ack can be recorded after this point: they are counted or lost
            kill()
    finally:
        with contextlib.suppress(KafkaTimeoutError):  # unsent batches of a killed broker
            producer.close(timeout=1)


def history_when_complete(bootstrap: str, n_events: int, timeout: float) -> list[str]:
    """The event ids of `vendorwatch.events`, once it holds ``n_events`` distinct ids."""
    found: list[str] = []

    def complete() -> list[str] | None:
        found[:] = ids_in(bootstrap, topics.EVENTS)
        return found if len(set(found)) >= n_events else None

    return wait_until(
        complete,
        f"{n_events} events in the history",
        timeout=timeout,
        interval=2.0,  # each look reads the whole topic: leave the worker the CPU
        describe=lambda: f"{len(set(found))} distinct of {len(found)} records",
    )


@pytest.fixture
def durability_seed() -> int:
    seed = int(
        os.environ.get("VENDORWATCH_DURABILITY_SEED") or random.SystemRandom().getrandbits(32)
    )
    print(f"durability seed {seed} (VENDORWATCH_DURABILITY_SEED={seed} reproduces it)")
    return seed


@pytest.mark.timeout(240)
def test_acknowledged_events_survive_kill_9_of_the_embedded_worker(
    tmp_path: Path, durability_seed: int
) -> None:
    require_tansu()
    rng = random.Random(durability_seed)
    lines = synthetic_lines(N_EVENTS, N_VENDORS, seed=20261203)
    all_ids = [str(orjson.loads(line)["id"]) for line in lines]
    events_file = tmp_path / "events.jsonl"
    events_file.write_bytes(b"\n".join(lines) + b"\n")
    expected = offline_scores(events_file)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    kill_points = sorted(rng.sample(range(N_EVENTS // 20, N_EVENTS * 19 // 20), KILLS))
    print(f"kill -9 after {kill_points} acknowledged events")

    acked: set[int] = set()
    worker = start_embedded_worker(data_dir)
    workers = [worker]
    try:
        for kill_at in kill_points:
            unacked = [i for i in range(N_EVENTS) if i not in acked]
            send_until_killed(
                proxy_address(data_dir),
                lines,
                unacked,
                acked,
                kill_at,
                functools.partial(kill_group, worker),
            )
            # the last one takes POST /events next, so it must be ready
            worker = start_embedded_worker(data_dir, ready=kill_at == kill_points[-1])
            workers.append(worker)
            restored = set(ids_in(proxy_address(data_dir), topics.RAW))
            lost = sorted(i for i in acked if all_ids[i] not in restored)
            assert not lost, (
                f"seed {durability_seed}: {len(lost)} of {len(acked)} acknowledged events "
                f"are not in the restored raw topic after kill -9 at {kill_at}: first {lost[:5]}"
            )

        # the scenario: POST /events answers 202 and ingest exits 0, kill -9 at once
        rest = [lines[i] for i in range(N_EVENTS) if i not in acked]
        posted, rest = rest[:POSTED], rest[POSTED:]
        for start in range(0, len(posted), 100):
            body = b"[" + b",".join(posted[start : start + 100]) + b"]"
            answer = worker.post("/events", content=body, headers=AUTH)
            assert answer.status_code == 202, answer.text
        rest_file = tmp_path / "rest.jsonl"
        rest_file.write_bytes(b"\n".join(rest) + b"\n")
        done = subprocess.run(
            [VENDORWATCH, "ingest", str(rest_file), "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=120,
            env=worker_env(),
        )
        assert done.returncode == 0, done.stderr
        assert f"sent {len(rest)} event(s)" in done.stdout
        kill_group(worker)

        worker = start_embedded_worker(data_dir, ready=False)
        workers.append(worker)
        history = history_when_complete(proxy_address(data_dir), N_EVENTS, timeout=120)
        copies = collections.Counter(history)
        assert set(copies) == set(all_ids), f"seed {durability_seed}: history differs"
        twice = [i for i, n in copies.items() if n > 1]
        assert not twice, f"seed {durability_seed}: {len(twice)} events twice, e.g. {twice[:5]}"

        wait_until(
            lambda: len(worker.get_json("/vendors")) == len(expected),
            "every vendor scored",
            timeout=60,
            describe=worker.describe,
        )
        live = wait_converged(worker, expected)
        assert score_differences(expected, live)[:20] == []
    finally:
        for w in workers:
            if w.alive():
                kill_group(w)


def wait_converged(
    worker: WorkerProcess, expected: dict[str, dict[str, Any]], timeout: float = 60
) -> dict[str, dict[str, Any]]:
    """Each vendor's live explained score (GET /vendors/{id}), once all equal the offline ones."""
    last: dict[str, dict[str, Any]] = {}

    def converged() -> dict[str, dict[str, Any]] | None:
        with httpx.Client(base_url=worker.base_url, timeout=10) as client:
            last.clear()
            last.update({v: client.get(f"/vendors/{v}").json() for v in expected})
        return dict(last) if not score_differences(expected, last) else None

    try:
        return wait_until(converged, "live scores equal to the offline fold", timeout=timeout)
    except WaitTimeout:
        return last


@pytest.mark.parametrize("client", ["aiokafka", "kcat"])
def test_the_proxy_holds_an_ack_until_the_journal_has_it(tmp_path: Path, client: str) -> None:
    """No mirror, no ack: a produce through the gated proxy stays unacknowledged while nothing
    journals it, and is acknowledged once the mirror has written and fsynced it. With aiokafka
    (what vendorwatch's clients speak) and kcat (librdkafka 2.0, another Produce version)."""
    require_tansu()
    kcat = require_tool("kcat") if client == "kcat" else ""
    line = event_line(
        "held-1", "vendor.registered", "acme", {"name": "Acme"}, "2025-01-01T00:00:00Z"
    )
    journal = Journal(tmp_path / "journal")
    gate = AckGate(topics.PERSISTED_IN_EMBEDDED_MODE)

    async def produce_held(bootstrap: str, proxy: str) -> None:
        ack = asyncio.create_task(send(proxy))
        await asyncio.sleep(1.0)
        assert not ack.done(), "acknowledged before anything journaled it"
        mirror = JournalMirror(journal, bootstrap, gate=gate, fetch_max_wait_ms=25)
        await mirror.start()
        try:
            await asyncio.wait_for(ack, 10)
            on_disk = mirror.positions[TopicPartition(topics.RAW, 0)]
            assert on_disk == 1, "acknowledged before the journal's fsync"
        finally:
            await mirror.stop()
        assert [r.value for r in journal.read(topics.RAW, 0)] == [line]

    async def send(proxy: str) -> None:
        if client == "kcat":
            process = await asyncio.create_subprocess_exec(
                kcat,
                "-P",
                "-b",
                proxy,
                "-t",
                topics.RAW,
                "-p",
                "0",
                "-X",
                "request.required.acks=all",
                stdin=subprocess.PIPE,
            )
            await process.communicate(line + b"\n")
            assert process.returncode == 0
            return
        producer = AIOKafkaProducer(bootstrap_servers=proxy, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topics.RAW, line, partition=0)
        finally:
            await producer.stop()

    with fresh_broker() as broker, CompatProxy(broker.host, broker.port, gate=gate) as proxy:
        asyncio.run(produce_held(broker.bootstrap_servers, proxy.bootstrap_servers))


def test_saved_group_offsets_never_run_ahead_of_the_journal(tmp_path: Path) -> None:
    """An offset the group committed past what the journal holds is saved capped at the
    journal's length, and only once the mirror has caught up with the broker."""
    require_tansu()
    journal = Journal(tmp_path / "journal")
    path = tmp_path / "journal" / group_offsets.FILENAME
    raw0 = TopicPartition(topics.RAW, 0)
    events0 = TopicPartition(topics.EVENTS, 0)

    async def scenario(bootstrap: str) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        mirror = JournalMirror(journal, bootstrap, fetch_max_wait_ms=25)
        await mirror.start()
        try:
            for i in range(5):
                await producer.send_and_wait(topics.RAW, b"r%d" % i, partition=0)
            await producer.send_and_wait(topics.EVENTS, b"e", partition=0)
            # raw: the group is at 3 of 5; events: an offset past the end (cannot be journaled)
            await save_group_offsets(mirror, path, "g", {raw0: 3, events0: 9, TP_SCORES: None})
            assert mirror.positions[raw0] == 5
        finally:
            await mirror.stop()
            await producer.stop()

    with fresh_broker() as broker:
        asyncio.run(scenario(broker.bootstrap_servers))
    assert group_offsets.load(path) == ("g", {raw0: 3, events0: 1})
