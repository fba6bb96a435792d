"""Replay: rebuild any view of the past from `vendorwatch.events` with the live pipeline's code.

The events topic is the truth; scores and alerts are derived from it. Replay reads the topic
and runs every event, partition by partition in offset order, through the same
`streams.core.processor.Processor` the live score agent uses. So replay publishes (in memory)
exactly
the score records and alert transitions the live pipeline published, whatever the event order:
"what did we know, when" and "what would a different policy have done" are one mechanism.

Three rules keep it honest:

* **The end of the log comes from a fetch high watermark, never ListOffsets.** On the embedded
  broker ListOffsets(latest) reports the last batch's base offset + 1 (docs/broker.md,
  deviation 1), so a reader that trusts it silently drops the tail of the last batch. The end
  is taken once, at the start of the read (`kafka_compat.fetch_end_offsets`), or given
  explicitly, and the read stops exactly there: events that arrive while it runs are not
  half-included.
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
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from aiokafka import ConsumerRecord

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.schemas.events import Event, unix_seconds
from vendorwatch.streams.core.heap import bulk_fold
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Outcome, Processor
from vendorwatch.streams.core.rules import Firing, Transition
from vendorwatch.streams.core.scoring import Score
from vendorwatch.streams.replay.reader import (
    EVENTS_TOPIC,
    PARALLEL_MIN_RECORDS,
    Window,
    iso,
    log_end_offsets,
    read_log,
)

log = structlog.get_logger(__name__)


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
