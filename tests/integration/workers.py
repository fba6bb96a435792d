"""Real vendorwatch workers for integration tests: subprocesses on a real broker, real HTTP.

Why subprocesses and not a Faust app inside pytest: what the issue promises (kill -9 and restart,
two workers sharing partitions, `/readyz` during recovery, no orphan broker) is about processes,
and a worker inside the test process would share its event loop, signals and Prometheus registry.

Typical use (the fixtures in ``conftest.py`` wrap these):

    with fresh_broker() as broker:
        worker = start_worker(broker.bootstrap_servers, tmp_path / "w1")
        worker.wait_ready()
        produce(broker.bootstrap_servers, topics.RAW, demo_lines())
        wait_until(lambda: worker.get_json("/vendors"), "scores")
        worker.stop()

Every worker writes its log to ``<data_dir>/worker-<port>.log``; failures quote its tail.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.embedded.broker import (
    BrokerError,
    EmbeddedBroker,
    create_topics,
    find_tansu_binary,
    free_loopback_port,
)
from vendorwatch.streams.eventfile import demo_scenario_path, iter_lines
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.partitioning import vendor_partition

T = TypeVar("T")

BIN_DIR = Path(sys.executable).parent
"""The venv's bin directory: the `vendorwatch` script installed next to this interpreter."""
VENDORWATCH = str(BIN_DIR / "vendorwatch")
INGEST_TOKEN = "test-ingest-token-5f2c"
PARTITIONS = 4

COMPARED_FIELDS = (
    "vendor_id",
    "name",
    "score",
    "severity",
    "data_at_stake",
    "likelihood",
    "policy_version",
    "contributions",
    "data_event_ids",
)
"""Fields of a score that the live pipeline must reproduce exactly from the offline fold.

`as_of` and `event_count` are left out on purpose: the scores topic carries a record per *change*
of the explained score, so the live record says "as of the last event that changed it", while
`vendorwatch score` reports "as of the vendor's latest event" (same explanation, later instant).
"""


# --- waiting ---------------------------------------------------------------------------------


class WaitTimeout(AssertionError):
    """A condition did not become true in time; the message says what and the last value."""


def wait_until(
    probe: Callable[[], T | None],
    what: str,
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns something truthy, and return that.

    Exceptions from ``probe`` count as "not yet" (a worker still starting refuses connections)
    but the last one is reported on timeout, with ``describe()`` for context.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # the probe is allowed to fail while the system settles
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f"; last error: {last_error!r}" if last_error else ""
            extra = f"\n{describe()}" if describe is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}{detail}{extra}")
        time.sleep(interval)


# --- brokers and topics ----------------------------------------------------------------------


def require_tansu() -> None:
    """Skip without a Tansu binary; fail instead in CI (same rule as the session ``tansu``)."""
    import pytest

    try:
        find_tansu_binary()
    except BrokerError as exc:
        if os.environ.get("VENDORWATCH_REQUIRE_TOOLS", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"Tansu broker binary missing: {exc}", pytrace=False)
        pytest.skip(f"Tansu broker binary missing: {exc}")


@contextlib.contextmanager
def fresh_broker(partitions: int = PARTITIONS) -> Iterator[EmbeddedBroker]:
    """A new Tansu with vendorwatch's topics: the pipeline's topic and group names are fixed, so
    tests that look at what the pipeline wrote need a broker of their own."""
    with EmbeddedBroker(handle_sigterm=False) as broker:
        create_topics(broker.bootstrap_servers, topics.ALL_TOPICS, partitions)
        yield broker


def subject_of(line: bytes) -> bytes | None:
    """The vendor id of a JSON event line, as a Kafka key (None when there is none)."""
    try:
        subject = orjson.loads(line).get("subject")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return subject.encode() if isinstance(subject, str) and subject else None


def produce(
    bootstrap: str,
    topic: str,
    lines: Iterable[bytes],
    *,
    key_by_subject: bool = True,
    rate_per_s: float | None = None,
) -> int:
    """Send lines with kafka-python (keyed by vendor id, like any sane producer) and wait for the
    acks; ``rate_per_s`` paces the sends. Returns how many were sent."""
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024
    )
    sent = 0
    started = time.monotonic()
    try:
        for line in lines:
            key = subject_of(line) if key_by_subject else None
            producer.send(topic, key=key, value=line)
            sent += 1
            if rate_per_s:
                ahead = started + sent / rate_per_s - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return sent


def read_topic(
    bootstrap: str, topic: str, *, at_least: int = 1, timeout: float = 20.0
) -> list[Any]:
    """Every record of ``topic`` from the beginning, once at least ``at_least`` have arrived
    (kafka-python ConsumerRecords, all partitions, per-partition order)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        partitions = wait_until(
            lambda: consumer.partitions_for_topic(topic), f"partitions of {topic}", timeout=10
        )
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend(batch)
            if len(records) >= at_least:
                # one more short poll so a burst that is still arriving is not cut in half
                for batch in consumer.poll(timeout_ms=200).values():
                    records.extend(batch)
                return records
        raise WaitTimeout(f"{topic}: {len(records)} records after {timeout} s, want {at_least}")
    finally:
        consumer.close()


def demo_lines() -> list[bytes]:
    """The bundled demo scenario's event lines, in file order."""
    return [line for line in demo_scenario_path().read_bytes().splitlines() if line.strip()]


def event_line(
    event_id: str, event_type: str, subject: str, data: Mapping[str, Any], time_: str
) -> bytes:
    """One valid CloudEvents JSON line."""
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:vendorwatch:tests",
            "type": event_type,
            "time": time_,
            "subject": subject,
            "data": dict(data),
        }
    )


# --- offline truth ---------------------------------------------------------------------------


def scenario_fold(
    lines: Iterable[bytes], policy: Path | None = None, partitions: int = PARTITIONS
) -> Processor:
    """What a scenario-clock worker computes from these lines sent in this order: each valid
    event on its vendor's partition, applied at that partition's stream time (the latest event
    time it has seen, in whole milliseconds), with no clock record. The same `Processor` the
    worker runs, fed the way `ScoreStep` feeds it; what the test then checks is that Kafka,
    rerouting, the history and the read view carry the result faithfully."""
    processor = Processor(load_policy(policy))
    for line in lines:
        try:
            event = parse_event(line)
        except InvalidEvent:
            continue
        partition = vendor_partition(event.subject.encode(), partitions)
        now = math.floor(event.time.timestamp() * 1000) / 1000
        processor.process(partition, event, now)
    return processor


def offline_scores(events_file: Path, policy: Path | None = None) -> dict[str, dict[str, Any]]:
    """By vendor id, the score a scenario-clock worker publishes last for this file's events
    (`scenario_fold`): what the live pipeline must show."""
    with events_file.open("rb") as stream:
        lines = [line for _, line in iter_lines(stream)]
    published = scenario_fold(lines, policy).published
    ranked = sorted(published.values(), key=lambda s: (-s.score, s.vendor_id))  # as GET /vendors
    return {score.vendor_id: score.to_dict() for score in ranked}


def comparable(score: Mapping[str, Any], fields: Sequence[str] = COMPARED_FIELDS) -> dict[str, Any]:
    """The part of a score record that live and offline must agree on (COMPARED_FIELDS)."""
    return {name: score.get(name) for name in fields}


def score_differences(
    expected: Mapping[str, Mapping[str, Any]],
    actual: Mapping[str, Mapping[str, Any]],
    fields: Sequence[str] = COMPARED_FIELDS,
) -> list[str]:
    """Human-readable differences between two {vendor: score} maps in `fields`, empty when
    they agree."""
    problems = [f"missing vendor {v}" for v in sorted(set(expected) - set(actual))]
    problems += [f"unexpected vendor {v}" for v in sorted(set(actual) - set(expected))]
    for vendor in sorted(set(expected) & set(actual)):
        want, got = comparable(expected[vendor], fields), comparable(actual[vendor], fields)
        problems += [
            f"{vendor}.{name}: want {want[name]!r}, got {got[name]!r}"
            for name in fields
            if want[name] != got[name]
        ]
    return problems


# --- workers ---------------------------------------------------------------------------------


def worker_env(
    extra: Mapping[str, str] | None = None, *, broker_profile: str | None = "tansu"
) -> dict[str, str]:
    """The environment of a worker: ours minus any VENDORWATCH_* (a developer's or CI's settings
    must not leak in), plus the test token and ``extra``. ``broker_profile=None`` leaves
    VENDORWATCH_BROKER_PROFILE unset, for a test of what a worker picks by itself."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENDORWATCH_")}
    env["VENDORWATCH_INGEST_TOKEN"] = INGEST_TOKEN
    env["VENDORWATCH_LOG_LEVEL"] = "info"
    # the scenario drives stream time (its events' times and any clock records), so a test's
    # 2025 story is scored in 2025, not today; tests of the wall clock say so explicitly
    env["VENDORWATCH_CLOCK"] = "scenario"
    # the fixture's broker is Tansu: its group timing, fetch wait, one replica, no idempotence
    if broker_profile is not None:
        env["VENDORWATCH_BROKER_PROFILE"] = broker_profile
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


@dataclass
class WorkerProcess:
    """A `vendorwatch worker` subprocess and its HTTP API."""

    proc: subprocess.Popen[bytes]
    web_port: int
    data_dir: Path
    log_path: Path
    argv: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def describe(self) -> str:
        state = "running" if self.alive() else f"exited with {self.proc.returncode}"
        return f"worker :{self.web_port} pid {self.pid} {state}; log tail:\n{self.log_tail()}"

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.base_url + path, timeout=10, **kwargs)

    def get_json(self, path: str) -> Any:
        """GET and decode, failing on a non-2xx answer."""
        response = self.get(path)
        response.raise_for_status()
        return response.json()

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Block until GET /readyz is 200; returns how long it took. Fails fast if it died."""
        started = time.monotonic()

        def ready() -> bool:
            if not self.alive():
                raise WaitTimeout(f"worker died before it was ready\n{self.describe()}")
            return self.get("/readyz").status_code == 200

        deadline = started + timeout
        while True:
            try:
                if ready():
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise WaitTimeout(f"worker not ready after {timeout} s\n{self.describe()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait (SIGKILL if it hangs); returns the exit status."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no shutdown code runs, nothing is flushed or committed."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def start_worker(
    bootstrap: str | None,
    data_dir: Path,
    *,
    web_port: int | None = None,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    worker_id: str | None = None,
    broker_profile: str | None = "tansu",
    new_session: bool = False,
) -> WorkerProcess:
    """Start `vendorwatch worker` against ``bootstrap``, or with ``bootstrap=None`` as
    `worker --embedded`: its own broker, journalled in ``data_dir`` (does not wait; see
    wait_ready).

    ``broker_profile``: VENDORWATCH_BROKER_PROFILE, None to leave it unset (see worker_env).
    ``new_session``: the worker leads a process group of its own, so a test can kill it with
    everything it started (an embedded worker's broker) at once, as a crashed host would."""
    port = web_port or free_loopback_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"worker-{port}.log"
    broker = ["--embedded"] if bootstrap is None else ["--bootstrap-servers", bootstrap]
    argv = [
        VENDORWATCH,
        "worker",
        *broker,
        "--web-port",
        str(port),
        "--data-dir",
        str(data_dir),
        *args,
    ]
    extra = dict(env or {})
    extra.setdefault("VENDORWATCH_WORKER_ID", worker_id or f"test-worker-{port}")
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=worker_env(extra, broker_profile=broker_profile),
            start_new_session=new_session,
        )
    return WorkerProcess(proc, port, data_dir, log_path, argv)


def wait_for_demo_scored(worker: WorkerProcess, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Wait until the worker's GET /vendors shows every demo vendor with scale-ai critical."""
    wanted = {orjson.loads(line)["subject"] for line in demo_lines()}

    def scored() -> list[dict[str, Any]] | None:
        vendors = worker.get_json("/vendors")
        by_id = {v["vendor_id"]: v for v in vendors}
        if wanted <= set(by_id) and by_id["scale-ai"]["severity"] == "critical":
            return vendors
        return None

    return wait_until(
        scored, "the demo scenario to be scored", timeout=timeout, describe=worker.describe
    )


def pids_of(executable_name: str) -> set[int]:
    """PIDs whose executable's base name is ``executable_name`` (read from /proc, no pkill)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            cmdline
            and cmdline[0]
            and Path(cmdline[0].decode(errors="replace")).name == executable_name
        ):
            found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, grandchildren, ...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it is only waiting to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def tansu_children(pid: int) -> set[int]:
    """Tansu processes below ``pid`` (a demo's broker, found while the demo runs)."""
    found: set[int] = set()
    for child in descendants(pid):
        try:
            exe = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if Path(exe.decode(errors="replace")).name == "tansu":
            found.add(child)
    return found
