"""Replay: rebuild any view of the past from `vendorwatch.events` with the live pipeline's code.

The events topic is the truth; scores and alerts are derived from it. Replay reads the topic
and runs every event, partition by partition in offset order, through the same
`streams.processor.Processor` the live score agent uses. So replay publishes (in memory) exactly
the score records and alert transitions the live pipeline published, whatever the event order:
"what did we know, when" and "what would a different policy have done" are one mechanism.

Three rules keep it honest:

* **The end of the log comes from a fetch high watermark, never ListOffsets.** On the embedded
  broker ListOffsets(latest) reports the last batch's base offset + 1 (BROKER.md deviation 1), so
  a reader that trusts it silently drops the tail of the last batch. The end is taken once, at
  the start of the read (`kafka_compat.fetch_end_offsets`), or given explicitly, and the read
  stops exactly there: events that arrive while it runs are not half-included.
* **Time ranges use the event time in the payload**, not Kafka's time index (deviation 3 makes
  `offsets_for_times` answer 0, and the broker's timestamps are arrival times anyway). So every
  read covers the whole log and filters after decoding; late events land where they belong.
* **A horizon T means "the events that happened by T"**: events with event time > T are left out
  and the rest are processed in offset order. When events arrive in event-time order per vendor
  (the normal case) that is exactly what the live pipeline had after the last event <= T. When a
  report arrives late, replay is the better-informed answer (live at that moment lacked it).

Partitions are independent (the history is keyed by vendor), so a long replay can fold them in
several processes (`jobs`), as the live pipeline scales by partitions across workers. Results
are merged per vendor and are the same whatever the number of jobs.

Everything here except the reader is pure: `ReplaySink.feed` takes records and updates
processors, and the report builders take results and return data. No Faust imports (the worker
processes of a parallel replay import only this module).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.protocol import admin as admin_protocol
from aiokafka.protocol.api import Request

from vendorwatch.alerts.rules import Firing, Transition
from vendorwatch.schemas.codec import InvalidEvent, encode_event, parse_event
from vendorwatch.schemas.events import Event, unix_seconds
from vendorwatch.streams import topics
from vendorwatch.streams.heap import bulk_fold
from vendorwatch.streams.history import HistoryReadError
from vendorwatch.streams.kafka_compat import fetch_end_offsets
from vendorwatch.streams.policy import Policy
from vendorwatch.streams.processor import Outcome, Processor
from vendorwatch.streams.scoring import DAY, Score

log = structlog.get_logger(__name__)

EVENTS_TOPIC = topics.EVENTS

FETCH_MAX_BYTES = 64 * 1024 * 1024
"""Bytes per fetch response: big fetches amortise the per-request cost of a full-log read."""
PARTITION_FETCH_MAX_BYTES = 16 * 1024 * 1024
"""Bytes per partition per fetch (Kafka's default of 1 MiB makes ~4,000 small requests per 1M
events; 16 MiB makes a few hundred)."""
STALL_TIMEOUT_S = 30.0
"""A read that makes no progress for this long, before its end offset, is an error."""
PARALLEL_MIN_RECORDS = 200_000
"""Below this many records a second process costs more (start-up, imports) than it saves."""


class ReplayError(RuntimeError):
    """The history cannot be read as asked (no such topic, broker unreachable, stalled read)."""


# --- time windows ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """An inclusive range of event time in unix seconds; None is open-ended."""

    start: float | None = None
    end: float | None = None

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None) -> Window:
        return cls(start.timestamp() if start else None, end.timestamp() if end else None)

    def contains(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.end is None or t <= self.end)


def iso(t: float | None) -> str | None:
    """Unix seconds as the ISO-8601 UTC form the score records use ('...Z')."""
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# --- reading the log ---------------------------------------------------------------------------


def make_consumer(bootstrap_servers: str, **overrides: Any) -> AIOKafkaConsumer:
    """A group-less consumer tuned for reading a whole log: large fetches, no commits.

    `max_records` is given per `getmany` call. The benchmark uses the same settings for its raw
    baseline, so the replay/raw ratio measures the fold, not a better-tuned reader.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "max_partition_fetch_bytes": PARTITION_FETCH_MAX_BYTES,
        "fetch_max_wait_ms": 50,
        "client_id": "vendorwatch-replay",
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


async def topic_partitions(
    bootstrap_servers: str, topic: str = EVENTS_TOPIC, *, timeout_s: float = 10.0
) -> list[int]:
    """The partition numbers of `topic`; ReplayError if it does not exist or Kafka is down."""
    consumer = make_consumer(bootstrap_servers, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
        await consumer.topics()  # fetches metadata for every topic
        partitions = consumer.partitions_for_topic(topic)
    except (KafkaError, TimeoutError, OSError) as exc:
        raise ReplayError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    finally:
        await consumer.stop()
    if not partitions:
        raise ReplayError(f"topic {topic} does not exist on {bootstrap_servers}")
    return sorted(partitions)


async def log_end_offsets(
    bootstrap_servers: str, topic: str = EVENTS_TOPIC, partitions: Iterable[int] | None = None
) -> dict[int, int]:
    """Each partition's end offset as of now, from a fetch high watermark (deviation 1)."""
    numbers = (
        list(partitions)
        if partitions is not None
        else await topic_partitions(bootstrap_servers, topic)
    )
    try:
        ends = await fetch_end_offsets(
            bootstrap_servers, [TopicPartition(topic, p) for p in numbers]
        )
    except KafkaError as exc:
        raise ReplayError(f"cannot read the end offsets of {topic}: {exc}") from None
    return {tp.partition: end for tp, end in sorted(ends.items(), key=lambda i: i[0].partition)}


RecordSink = Callable[[int, list[ConsumerRecord]], None]


async def read_log(
    bootstrap_servers: str,
    ends: Mapping[int, int],
    on_records: RecordSink,
    *,
    topic: str = EVENTS_TOPIC,
    on_progress: Callable[[int], None] | None = None,
    stall_timeout_s: float = STALL_TIMEOUT_S,
) -> int:
    """Deliver every record of `topic` below `ends[partition]`, per partition in offset order.

    `on_records(partition, records)` is called with consecutive chunks of one partition;
    chunks of different partitions interleave (they are independent). Records at or past the
    end are dropped, so the read covers the log exactly as it was when `ends` was taken. Returns
    how many records were delivered. One consumer reads every partition with large fetches:
    on a 2-core machine a second connection only competes with the fold for the CPU.
    """
    wanted = {TopicPartition(topic, p): end for p, end in ends.items() if end > 0}
    if not wanted:
        return 0
    consumer = make_consumer(bootstrap_servers)
    delivered = 0
    try:
        await consumer.start()
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        pending = dict(wanted)
        last_progress = time.monotonic()
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            got = 0
            for tp, records in batches.items():
                end = pending.get(tp)
                if end is None or not records:
                    continue
                if records[-1].offset >= end:
                    records = [r for r in records if r.offset < end]
                if records:
                    on_records(tp.partition, records)
                    got += len(records)
            for tp in list(pending):
                # the position (next offset to fetch) also covers offsets a compacted or
                # transactional log skips, where no record carries offset end - 1
                if await consumer.position(tp) >= pending[tp]:
                    consumer.pause(tp)
                    del pending[tp]
            if got:
                delivered += got
                last_progress = time.monotonic()
                if on_progress is not None:
                    on_progress(got)
            elif pending and time.monotonic() - last_progress > stall_timeout_s:
                where = {tp.partition: await consumer.position(tp) for tp in pending}
                raise HistoryReadError(
                    f"{topic}: no progress for {stall_timeout_s:.0f} s at positions {where}, "
                    f"before end offsets { {tp.partition: e for tp, e in pending.items()} }"
                )
    except KafkaError as exc:
        raise ReplayError(f"reading {topic} from {bootstrap_servers} failed: {exc}") from None
    finally:
        await consumer.stop()
    return delivered


# --- folding: the same Processor as the live score agent --------------------------------------


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert transition reduced to what reports need (small enough to ship between jobs)."""

    vendor_id: str
    rule: str
    status: str  # "firing" | "resolved"
    severity: str
    at: float
    """Event time of the transition (the score's as_of)."""
    starts_at: float
    summary: str
    caused_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "rule": self.rule,
            "status": self.status,
            "severity": self.severity,
            "at": iso(self.at),
            "starts_at": iso(self.starts_at),
            "summary": self.summary,
            "caused_by": self.caused_by,
        }


@dataclass(frozen=True, slots=True)
class ScoreChange:
    """The last score change the live agent published for a vendor, and what caused it."""

    current: Score
    previous: Score | None
    caused_by: str


@dataclass(frozen=True, slots=True)
class Step:
    """One event of a vendor's timeline: where it sat in the log and what it did."""

    partition: int
    offset: int
    event: Event
    score: Score
    """The vendor's score after the event (published or not)."""
    previous: Score | None
    """The score last published before the event."""
    changed: bool
    duplicate: bool
    transitions: tuple[Transition, ...]


@dataclass(slots=True)
class PolicyRun:
    """One policy's processor over the history, with what the reports need from it."""

    policy: Policy
    processor: Processor = field(init=False)
    changes: dict[str, Outcome] = field(default_factory=dict)
    """Per vendor, the outcome that last changed its published score (ScoreChange later: this
    runs for every event, and keeping the Outcome the processor made anyway costs nothing)."""
    opening: dict[str, Transition] = field(default_factory=dict)
    """The transition that started each alert still firing, by fingerprint."""
    marks: list[AlertMark] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    collect_marks: bool = False
    collect_steps: bool = False
    mark_window: Window = field(default_factory=Window)

    def __post_init__(self) -> None:
        self.processor = Processor(self.policy)

    def observe(self, partition: int, offset: int, outcome: Outcome) -> None:
        if outcome.changed:
            self.changes[outcome.event.subject] = outcome
        for transition in outcome.transitions:
            if transition.status == "firing":
                self.opening[transition.fingerprint] = transition
            else:
                self.opening.pop(transition.fingerprint, None)
            if self.collect_marks and self.mark_window.contains(transition.as_of):
                self.marks.append(
                    AlertMark(
                        transition.vendor_id,
                        transition.rule,
                        transition.status,
                        transition.severity,
                        transition.as_of,
                        transition.starts_at,
                        transition.summary,
                        transition.caused_by,
                    )
                )
        if self.collect_steps:
            self.steps.append(
                Step(
                    partition,
                    offset,
                    outcome.event,
                    outcome.current,
                    outcome.previous,
                    outcome.changed,
                    outcome.duplicate,
                    tuple(outcome.transitions),
                )
            )


@dataclass(slots=True)
class SinkStats:
    """What a replay read: records seen, events folded, and what it left out and why."""

    records: int = 0
    events: int = 0
    after_horizon: int = 0
    other_vendors: int = 0
    invalid: int = 0
    invalid_examples: list[str] = field(default_factory=list)

    def merge(self, other: SinkStats) -> None:
        self.records += other.records
        self.events += other.events
        self.after_horizon += other.after_horizon
        self.other_vendors += other.other_vendors
        self.invalid += other.invalid
        self.invalid_examples.extend(other.invalid_examples[: 5 - len(self.invalid_examples)])


class ReplaySink:
    """Folds records of the events topic through one Processor per policy. Pure: no I/O.

    Each record is decoded once and handed to every policy's processor, in the order the reader
    delivers it (per partition: offset order, as the live agent sees it). An invalid record is
    counted and skipped, exactly as the live score agent logs and skips it.
    """

    def __init__(
        self,
        policies: Sequence[Policy],
        *,
        horizon: float | None = None,
        vendor: str | None = None,
        mark_window: Window | None = None,
        collect_marks: bool = False,
        collect_steps: bool = False,
    ) -> None:
        self.runs = [
            PolicyRun(
                policy,
                collect_marks=collect_marks,
                collect_steps=collect_steps,
                mark_window=mark_window or Window(),
            )
            for policy in policies
        ]
        self.horizon = horizon
        self.vendor = vendor
        self._vendor_key = vendor.encode() if vendor is not None else None
        self.stats = SinkStats()

    def feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        """Fold a chunk of one partition's records (in offset order)."""
        with bulk_fold():
            self._feed(partition, records)

    def _feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        stats = self.stats
        runs = self.runs
        horizon = self.horizon
        vendor_key = self._vendor_key
        for record in records:
            stats.records += 1
            value = record.value
            if value is None:
                continue
            if vendor_key is not None and record.key is not None and record.key != vendor_key:
                stats.other_vendors += 1  # keyed by vendor id: no need to decode it
                continue
            try:
                event = parse_event(value)
            except InvalidEvent as exc:
                stats.invalid += 1
                if len(stats.invalid_examples) < 5:
                    stats.invalid_examples.append(f"[{partition}]@{record.offset}: {exc}")
                continue
            if self.vendor is not None and event.subject != self.vendor:
                stats.other_vendors += 1
                continue
            if horizon is not None and unix_seconds(event.time) > horizon:
                stats.after_horizon += 1
                continue
            stats.events += 1
            for run in runs:
                run.observe(partition, record.offset, run.processor.process(partition, event))

    def feed_events(self, partition: int, events: Iterable[Event]) -> None:
        """Fold already-parsed events (tests, files): offsets are their positions."""
        with bulk_fold():
            self._feed_events(partition, events)

    def _feed_events(self, partition: int, events: Iterable[Event]) -> None:
        for offset, event in enumerate(events):
            self.stats.records += 1
            if self.horizon is not None and unix_seconds(event.time) > self.horizon:
                self.stats.after_horizon += 1
                continue
            self.stats.events += 1
            for run in self.runs:
                run.observe(partition, offset, run.processor.process(partition, event))


# --- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PolicyResult:
    """What one policy made of the history: the live agent's published scores and alerts."""

    policy: Policy
    scores: dict[str, Score] = field(default_factory=dict)
    """Per vendor, the last score published (what `GET /vendors/{id}` shows)."""
    firing: dict[str, dict[str, Firing]] = field(default_factory=dict)
    """Per vendor, the alerts firing at the end, by rule."""
    changes: dict[str, ScoreChange] = field(default_factory=dict)
    opening: dict[str, Transition] = field(default_factory=dict)
    marks: list[AlertMark] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    last_event: dict[str, float] = field(default_factory=dict)
    """Per vendor, the latest event time folded."""
    window_vendors: set[str] = field(default_factory=set)
    """Vendors with at least one event inside the report window."""

    @classmethod
    def of(cls, run: PolicyRun, window: Window | None = None) -> PolicyResult:
        processor = run.processor
        last_event: dict[str, float] = {}
        window_vendors: set[str] = set()
        for state in processor.vendors():
            if state.last_t is not None:
                last_event[state.vendor_id] = max(
                    state.last_t, last_event.get(state.vendor_id, state.last_t)
                )
            if window is not None and window.start is not None and _has_event_in(state, window):
                window_vendors.add(state.vendor_id)
        return cls(
            policy=run.policy,
            scores=dict(processor.published),
            firing={v: dict(a.firing) for v, a in processor.alerts.items() if a.firing},
            changes={
                v: ScoreChange(o.current, o.previous, o.event.id) for v, o in run.changes.items()
            },
            # settled: a result may travel between processes (parallel jobs) and outlive the
            # states, and an unexplained transition would carry the vendor's facts with it
            opening={f: t.settled() for f, t in run.opening.items()},
            marks=list(run.marks),
            steps=[
                replace(s, transitions=tuple(t.settled() for t in s.transitions))
                if s.transitions
                else s
                for s in run.steps
            ],
            last_event=last_event,
            window_vendors=window_vendors,
        )

    def merge(self, other: PolicyResult) -> None:
        """Add another job's partitions. A vendor found in both (only if some producer did not
        key by vendor id) keeps the later score in event time, then the other job's."""
        for vendor, score in other.scores.items():
            mine = self.scores.get(vendor)
            if mine is None or score.as_of >= mine.as_of:
                self.scores[vendor] = score
                if vendor in other.changes:
                    self.changes[vendor] = other.changes[vendor]
                if vendor in other.firing:
                    self.firing[vendor] = other.firing[vendor]
        self.opening.update(other.opening)
        self.marks.extend(other.marks)
        self.steps.extend(other.steps)
        for vendor, t in other.last_event.items():
            self.last_event[vendor] = max(t, self.last_event.get(vendor, t))
        self.window_vendors |= other.window_vendors

    def sorted_scores(self) -> list[Score]:
        """Highest first, ties by vendor id (the order of `vendorwatch score`)."""
        return sorted(self.scores.values(), key=lambda s: (-s.score, s.vendor_id))


def _has_event_in(state: Any, window: Window) -> bool:
    groups = (
        *state.by_type.values(),
        *state.datasets.values(),
        *state.stakes.values(),
        *state.clients.values(),
    )
    return any(window.contains(f.t) for facts in groups for f in facts)


@dataclass(slots=True)
class ReplayResult:
    """A replay of the history: one result per policy, what was read and up to where."""

    results: list[PolicyResult]
    stats: SinkStats
    ends: dict[int, int]
    seconds: float
    jobs: int = 1

    @property
    def result(self) -> PolicyResult:
        return self.results[0]

    @property
    def events_per_second(self) -> float:
        return self.stats.records / self.seconds if self.seconds > 0 else 0.0


# --- running a replay ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """Everything a replay (or one of its jobs) needs; picklable for worker processes."""

    bootstrap_servers: str
    policies: tuple[Policy, ...]
    topic: str = EVENTS_TOPIC
    horizon: float | None = None
    vendor: str | None = None
    window: Window = field(default_factory=Window)
    collect_marks: bool = False
    collect_steps: bool = False

    def sink(self) -> ReplaySink:
        return ReplaySink(
            self.policies,
            horizon=self.horizon,
            vendor=self.vendor,
            mark_window=self.window,
            collect_marks=self.collect_marks,
            collect_steps=self.collect_steps,
        )


async def replay_async(
    spec: ReplaySpec,
    ends: Mapping[int, int],
    on_progress: Callable[[int], None] | None = None,
) -> tuple[list[PolicyResult], SinkStats]:
    """Read the partitions in `ends` and fold them in this process."""
    sink = spec.sink()
    await read_log(
        spec.bootstrap_servers, ends, sink.feed, topic=spec.topic, on_progress=on_progress
    )
    return [PolicyResult.of(run, spec.window) for run in sink.runs], sink.stats


_progress_slots: Any = None


def _init_job(slots: Any) -> None:
    global _progress_slots
    _progress_slots = slots


def _run_job(
    spec: ReplaySpec, ends: dict[int, int], slot: int
) -> tuple[list[PolicyResult], SinkStats]:
    """Entry point of a worker process: fold some partitions, report progress in a shared slot."""
    slots = _progress_slots

    def progress(n: int) -> None:
        if slots is not None:
            slots[slot] += n

    return asyncio.run(replay_async(spec, ends, progress))


def plan_jobs(ends: Mapping[int, int], jobs: int) -> list[dict[int, int]]:
    """Split partitions into `jobs` groups of about equal record counts (largest first)."""
    groups: list[dict[int, int]] = [{} for _ in range(max(1, jobs))]
    loads = [0] * len(groups)
    for partition, end in sorted(ends.items(), key=lambda item: (-item[1], item[0])):
        if end <= 0:
            continue
        i = loads.index(min(loads))
        groups[i][partition] = end
        loads[i] += end
    return [g for g in groups if g] or [{}]


def auto_jobs(ends: Mapping[int, int]) -> int:
    """One process per core, at most one per non-empty partition, for long histories only."""
    total = sum(ends.values())
    busy = sum(1 for end in ends.values() if end > 0)
    if total < PARALLEL_MIN_RECORDS:
        return 1
    return max(1, min(os.cpu_count() or 1, busy))


def replay(
    spec: ReplaySpec,
    *,
    ends: Mapping[int, int] | None = None,
    jobs: int | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Replay the events topic up to `ends` (default: its end as of now) under every policy.

    `on_start(total_records)` is called once the size is known, then `on_progress(n)` as records
    are folded (for a progress bar). `jobs=None` picks a number of processes (`auto_jobs`).
    More than one job starts worker processes with multiprocessing's "spawn", which imports the
    caller's `__main__` again: a script calling this needs the `if __name__ == "__main__":`
    guard (the console script has it).
    """
    started = time.perf_counter()
    if ends is None:
        ends = asyncio.run(log_end_offsets(spec.bootstrap_servers, spec.topic))
    ends = dict(sorted(ends.items()))
    if on_start is not None:
        on_start(sum(ends.values()))
    n_jobs = auto_jobs(ends) if jobs is None else max(1, jobs)
    if spec.collect_steps or spec.vendor is not None:
        n_jobs = 1  # a single vendor lives in one partition: nothing to share out
    groups = plan_jobs(ends, n_jobs)
    if len(groups) <= 1:
        results, stats = asyncio.run(replay_async(spec, groups[0], on_progress))
    else:
        results, stats = _replay_parallel(spec, groups, on_progress)
    return ReplayResult(results, stats, ends, time.perf_counter() - started, len(groups))


def _replay_parallel(
    spec: ReplaySpec,
    groups: list[dict[int, int]],
    on_progress: Callable[[int], None] | None,
) -> tuple[list[PolicyResult], SinkStats]:
    import multiprocessing

    # spawn, not fork: the parent may hold an event loop and Kafka sockets; a child needs neither
    ctx = multiprocessing.get_context("spawn")
    slots = ctx.Array("q", len(groups), lock=False)
    with ProcessPoolExecutor(
        max_workers=len(groups), mp_context=ctx, initializer=_init_job, initargs=(slots,)
    ) as pool:
        futures: list[Future[tuple[list[PolicyResult], SinkStats]]] = [
            pool.submit(_run_job, spec, group, i) for i, group in enumerate(groups)
        ]
        reported = 0
        remaining = set(futures)
        while remaining:
            done, remaining = wait(remaining, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # raise a job's error now, not after the others finish
            if on_progress is not None:
                total = sum(slots)
                if total > reported:
                    on_progress(total - reported)
                    reported = total
        parts = [f.result() for f in futures]
    results, stats = parts[0][0], SinkStats()
    for _, part_stats in parts:
        stats.merge(part_stats)
    for part_results, _ in parts[1:]:
        for mine, theirs in zip(results, part_results, strict=True):
            mine.merge(theirs)
    return results, stats


# --- replay output -----------------------------------------------------------------------------


def firing_dict(firing: Firing) -> dict[str, Any]:
    """A firing alert as JSON (the fields of an alert record that describe the alert itself)."""
    return {
        "rule": firing.rule,
        "fingerprint": firing.fingerprint,
        "severity": firing.severity,
        "summary": firing.summary,
        "starts_at": iso(firing.starts_at),
        "event_ids": list(firing.event_ids),
    }


def replay_items(
    result: PolicyResult, *, vendor: str | None = None, window: Window | None = None
) -> list[dict[str, Any]]:
    """`replay --json`: `vendorwatch score --json` items plus `alerts` (firing at the horizon)
    and, with a `--from` window, `transitions` (alerts that fired or resolved inside it)."""
    items = []
    marks_by_vendor: dict[str, list[AlertMark]] = {}
    for mark in result.marks:
        marks_by_vendor.setdefault(mark.vendor_id, []).append(mark)
    for score in result.sorted_scores():
        if vendor is not None and score.vendor_id != vendor:
            continue
        windowed = window is not None and window.start is not None
        if windowed and score.vendor_id not in result.window_vendors:
            continue
        item = score.to_dict()
        firing = result.firing.get(score.vendor_id, {})
        item["alerts"] = [
            firing_dict(f) for f in sorted(firing.values(), key=lambda f: (f.starts_at, f.rule))
        ]
        if windowed:
            marks = sorted(marks_by_vendor.get(score.vendor_id, []), key=lambda m: (m.at, m.rule))
            item["transitions"] = [m.to_dict() for m in marks]
        items.append(item)
    return items


def score_record(change: ScoreChange, published_at: float | None = None) -> dict[str, Any]:
    """The record the live score agent publishes on `vendorwatch.scores` for a change (same
    fields as `streams.app.score_record`, which needs the Faust app; a test keeps them equal)."""
    record = change.current.to_dict()
    record["updated_at"] = record["as_of"]
    record["caused_by"] = change.caused_by
    previous = change.previous
    record["previous_score"] = previous.score if previous else None
    record["previous_severity"] = previous.severity if previous else None
    record["published_at"] = time.time() if published_at is None else published_at
    return record


# --- backtest ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstAlert:
    """When a vendor first alerted under each policy, and the difference in days (B - A)."""

    vendor_id: str
    a: AlertMark | None
    b: AlertMark | None

    @property
    def days_later(self) -> float | None:
        """How many days after A policy B alerted (negative: earlier); None if one never did."""
        if self.a is None or self.b is None:
            return None
        return round((self.b.at - self.a.at) / DAY, 2)

    @property
    def first(self) -> str:
        """'A', 'B', 'same', or 'none'."""
        if self.a is None and self.b is None:
            return "none"
        if self.b is None:
            return "A"
        if self.a is None:
            return "B"
        if self.a.at == self.b.at:
            return "same"
        return "A" if self.a.at < self.b.at else "B"

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "first": self.first,
            "days_later": self.days_later,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
        }


@dataclass(slots=True)
class BacktestReport:
    """Two policies over the same history, side by side."""

    policies: tuple[Policy, Policy]
    window: Window
    first_alerts: list[FirstAlert]
    rule_firsts: dict[str, dict[str, tuple[float | None, float | None]]]
    """vendor -> rule -> (first firing under A, under B), only where they differ."""
    monthly: list[tuple[str, int, int]]
    """(YYYY-MM, firing alerts under A, under B) for every month with any."""
    severity_differences: list[tuple[str, Score | None, Score | None]]
    totals: tuple[int, int]
    fired_only: tuple[list[str], list[str]]
    """Vendors that alerted only under A, only under B."""

    @property
    def differences(self) -> int:
        """0 when the two policies behave the same on this history."""
        return (
            sum(1 for f in self.first_alerts if f.first not in {"same", "none"})
            + sum(len(rules) for rules in self.rule_firsts.values())
            + sum(1 for _, a, b in self.monthly if a != b)
            + len(self.severity_differences)
        )

    def to_dict(self) -> dict[str, Any]:
        a, b = self.policies
        return {
            "policies": [
                {"label": p.label, "version": p.version, "role": r} for p, r in ((a, "A"), (b, "B"))
            ],
            "from": iso(self.window.start),
            "to": iso(self.window.end),
            "alerts_fired": {"A": self.totals[0], "B": self.totals[1]},
            "differences": self.differences,
            "first_alerts": [f.to_dict() for f in self.first_alerts],
            "rule_first_firing": {
                vendor: {
                    rule: {"A": iso(ta), "B": iso(tb), "days_later": _days(ta, tb)}
                    for rule, (ta, tb) in sorted(rules.items())
                }
                for vendor, rules in sorted(self.rule_firsts.items())
            },
            "monthly": [{"month": m, "A": ca, "B": cb} for m, ca, cb in self.monthly],
            "severity_differences": [
                {
                    "vendor_id": vendor,
                    "A": {"score": sa.score, "severity": sa.severity} if sa else None,
                    "B": {"score": sb.score, "severity": sb.severity} if sb else None,
                }
                for vendor, sa, sb in self.severity_differences
            ],
            "alerted_only_under": {"A": self.fired_only[0], "B": self.fired_only[1]},
        }


def _days(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((b - a) / DAY, 2)


def _month(t: float) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def backtest_report(a: PolicyResult, b: PolicyResult, window: Window) -> BacktestReport:
    """Compare the alerts two policies fired within `window` and their scores at its end.

    Pure: it only looks at the two results (both from the same read of the history).
    """
    fired_a = [m for m in a.marks if m.status == "firing" and window.contains(m.at)]
    fired_b = [m for m in b.marks if m.status == "firing" and window.contains(m.at)]

    def firsts(marks: list[AlertMark]) -> tuple[dict[str, AlertMark], dict[tuple[str, str], float]]:
        by_vendor: dict[str, AlertMark] = {}
        by_rule: dict[tuple[str, str], float] = {}
        for mark in sorted(marks, key=lambda m: (m.at, m.rule)):
            by_vendor.setdefault(mark.vendor_id, mark)
            by_rule.setdefault((mark.vendor_id, mark.rule), mark.at)
        return by_vendor, by_rule

    first_a, rules_a = firsts(fired_a)
    first_b, rules_b = firsts(fired_b)
    vendors = sorted(set(first_a) | set(first_b))
    first_alerts = [FirstAlert(v, first_a.get(v), first_b.get(v)) for v in vendors]
    rule_firsts: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    for key in sorted(set(rules_a) | set(rules_b)):
        ta, tb = rules_a.get(key), rules_b.get(key)
        if ta != tb:
            rule_firsts.setdefault(key[0], {})[key[1]] = (ta, tb)
    months_a = Counter(_month(m.at) for m in fired_a)
    months_b = Counter(_month(m.at) for m in fired_b)
    monthly = [(m, months_a[m], months_b[m]) for m in sorted(set(months_a) | set(months_b))]
    severity_differences = []
    for vendor in sorted(set(a.scores) | set(b.scores)):
        sa, sb = a.scores.get(vendor), b.scores.get(vendor)
        if (sa.severity if sa else None) != (sb.severity if sb else None):
            severity_differences.append((vendor, sa, sb))
    return BacktestReport(
        policies=(a.policy, b.policy),
        window=window,
        first_alerts=first_alerts,
        rule_firsts=rule_firsts,
        monthly=monthly,
        severity_differences=severity_differences,
        totals=(len(fired_a), len(fired_b)),
        fired_only=(sorted(set(first_a) - set(first_b)), sorted(set(first_b) - set(first_a))),
    )


# --- history of one vendor ---------------------------------------------------------------------


def event_summary(event: Event) -> str:
    """A one-line description of an event's payload for timelines."""
    data = event.data.model_dump(exclude_none=True, exclude_defaults=True)
    parts = []
    for key, value in data.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if len(text) > 60:
            text = text[:59] + "…"
        parts.append(f"{key}={text}")
    return " ".join(parts)


def timeline_items(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """`history --json`: every event of the vendor in log order, with the score it led to."""
    items = []
    for step in steps:
        items.append(
            {
                "partition": step.partition,
                "offset": step.offset,
                "event": step.event.model_dump(mode="json", exclude_none=True),
                "score": step.score.score,
                "severity": step.score.severity,
                "as_of": iso(step.score.as_of.timestamp()),
                "previous_score": step.previous.score if step.previous else None,
                "changed": step.changed,
                "duplicate": step.duplicate,
                "contributions": [c.to_dict() for c in step.score.contributions],
                "transitions": [
                    {
                        "rule": t.rule,
                        "status": t.status,
                        "severity": t.severity,
                        "summary": t.summary,
                    }
                    for t in step.transitions
                ],
            }
        )
    return items


# --- export ------------------------------------------------------------------------------------


@dataclass(slots=True)
class ExportStats:
    """What `export` wrote and what it could not."""

    written: int = 0
    duplicates: int = 0
    outside: int = 0
    invalid: int = 0
    reencoded: int = 0
    invalid_examples: list[str] = field(default_factory=list)


class ExportSink:
    """Collects (event time, id, canonical bytes) of the events inside a window; pure.

    The first record of an id (in partition, offset order) wins, as in the fold: a redelivered
    event was applied once, so it is exported once. Stored bytes are written as they are when
    they are the canonical encoding (they always are for events the pipeline wrote); anything
    else is re-encoded canonically, so `export | ingest | export` is byte-identical.
    """

    def __init__(self, window: Window) -> None:
        self.window = window
        self.stats = ExportStats()
        self._rows: dict[str, tuple[float, str, int, int, bytes]] = {}

    def feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        rows = self._rows
        stats = self.stats
        for record in records:
            value = record.value
            if value is None:
                continue
            try:
                event = parse_event(value)
            except InvalidEvent as exc:
                stats.invalid += 1
                if len(stats.invalid_examples) < 5:
                    stats.invalid_examples.append(f"[{partition}]@{record.offset}: {exc}")
                continue
            t = unix_seconds(event.time)
            if not self.window.contains(t):
                stats.outside += 1
                continue
            known = rows.get(event.id)
            if known is not None and (known[2], known[3]) < (partition, record.offset):
                stats.duplicates += 1
                continue
            if known is not None:
                stats.duplicates += 1
            canonical = encode_event(event)
            if canonical != value:
                stats.reencoded += 1
            rows[event.id] = (t, event.id, partition, record.offset, canonical)

    def lines(self) -> Iterator[bytes]:
        """The events ordered by (event time, id), one canonical JSON document each."""
        for _, _, _, _, value in sorted(self._rows.values(), key=lambda r: (r[0], r[1])):
            yield value

    @property
    def count(self) -> int:
        return len(self._rows)


async def export_async(
    bootstrap_servers: str,
    window: Window,
    ends: Mapping[int, int] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    topic: str = EVENTS_TOPIC,
) -> tuple[ExportSink, dict[int, int]]:
    """Read the whole topic (to `ends` or its end now) into an ExportSink."""
    if ends is None:
        ends = await log_end_offsets(bootstrap_servers, topic)
    if on_start is not None:
        on_start(sum(ends.values()))
    sink = ExportSink(window)
    await read_log(bootstrap_servers, ends, sink.feed, topic=topic, on_progress=on_progress)
    return sink, dict(ends)


# --- rebuild -----------------------------------------------------------------------------------


@dataclass(slots=True)
class RebuildPlan:
    """What `rebuild` publishes so the read view shows the new policy without waiting for events.

    `scores`: one record per vendor, exactly what a worker running the new policy publishes for
    the last change of that vendor's score. `alerts`: transitions that make the alerts topic's
    firing set equal the new policy's: alerts the new policy fires that are not firing now, or
    fire differently (the transition that started them, with the id a worker would give it),
    and a resolution for alerts firing now that the new policy does not fire. Alerts firing the
    same way under both policies are left alone: nobody is notified twice about them.
    """

    scores: list[dict[str, Any]]
    fire: list[dict[str, Any]]
    resolve: list[dict[str, Any]]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.fire + self.resolve


ALERT_IDENTITY = ("starts_at", "severity", "summary", "event_ids")
"""What an alert says. An alert firing under both policies but saying something else (it
started later, say) is published again so the view shows the new policy's version of it."""


def current_firing(alert_records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fingerprint -> latest firing record, from the alerts topic in order (as the view does)."""
    firing: dict[str, dict[str, Any]] = {}
    for record in alert_records:
        if record.get("status") == "firing":
            firing[record["fingerprint"]] = record
        else:
            firing.pop(record.get("fingerprint", ""), None)
    return firing


def plan_rebuild(
    result: PolicyResult, live_firing: Mapping[str, dict[str, Any]], published_at: float
) -> RebuildPlan:
    """The records that switch the read view to `result`'s policy. Pure."""
    scores = [
        score_record(result.changes[v], published_at)
        for v in sorted(result.changes)
        if v in result.scores
    ]
    fire = []
    for fingerprint, transition in sorted(result.opening.items()):
        record = transition.to_record()
        shown = live_firing.get(fingerprint)
        if shown is None or any(shown.get(k) != record[k] for k in ALERT_IDENTITY):
            fire.append(record)
    resolve = []
    for fingerprint, record in sorted(live_firing.items()):
        if fingerprint in result.opening:
            continue
        vendor = record["vendor_id"]
        score = result.scores.get(vendor)
        ends_at = result.last_event.get(vendor)
        resolved = dict(record)
        resolved["status"] = "resolved"
        resolved["ends_at"] = iso(ends_at) if ends_at is not None else record.get("as_of")
        resolved["caused_by"] = f"rebuild:{result.policy.version}"
        resolved["policy_version"] = result.policy.version
        if score is not None:
            resolved["score"] = score.score
            resolved["score_severity"] = score.severity
            resolved["contributions"] = [c.to_dict() for c in score.contributions]
            resolved["as_of"] = score.to_dict()["as_of"]
        raw = f"{fingerprint}|resolved|{record.get('starts_at')}|{resolved['caused_by']}"
        resolved["id"] = hashlib.sha256(raw.encode()).hexdigest()[:24]
        resolve.append(resolved)
    return RebuildPlan(scores, fire, resolve)


class _DescribeGroups(
    Request[
        admin_protocol.DescribeGroupsRequest_v0
        | admin_protocol.DescribeGroupsRequest_v1
        | admin_protocol.DescribeGroupsRequest_v2
    ]
):
    """DescribeGroups capped at v2.

    aiokafka 0.14 decodes a v3 answer with the v2 schema (it lacks `authorized_operations`), so
    `AIOKafkaAdminClient.describe_consumer_groups` fails with "Buffer underrun" against any
    broker that speaks v3 (Tansu does; Kafka >= 2.3 does). v0-v2 carry all we need.
    """

    API_KEY = 15

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups

    def build(self, request_struct_class: type[Any]) -> Any:
        return request_struct_class(self.groups)


async def active_members(bootstrap_servers: str, group: str) -> list[str]:
    """Member ids of a consumer group right now (empty when no worker is running in it)."""
    from aiokafka.admin import AIOKafkaAdminClient

    client = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    try:
        await client.start()
        node = await client.find_coordinator(group)
        response = await client._send_request(_DescribeGroups([group]), node)
    except KafkaError as exc:
        raise ReplayError(f"cannot describe consumer group {group!r}: {exc}") from None
    finally:
        await client.close()
    members: list[str] = []
    for described in response.groups:
        # (error_code, group_id, state, protocol_type, protocol, members)
        if described[1] == group:
            members.extend(member[0] for member in described[5])
    return members
