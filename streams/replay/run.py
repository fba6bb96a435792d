"""Replay: rebuild any view of the past from `vendorwatch.events` with the live pipeline's code.

The events topic is the truth; scores and alerts are derived from it. Replay reads the topic
and runs every event, partition by partition in offset order, through the same
`streams.core.processor.Processor` the live score agent uses, deadlines included (alerts that
end on time, decay across a band or threshold: `Outcome.earlier` and `Processor.advance`).
"What did we know, when" and "what would a different policy have done" are one mechanism.

Time comes in two modes (`fold.py` says why; docs/architecture.md, "Time"):

* **as of T** (`replay --as-of T`, `history`, `backtest`; the CLI's default T is now): the
  events that happened by T, in log order, each in event time, then every vendor brought to T.
  Scores are the scores at T, alerts those firing at T.
* **as live** (`rebuild`, `replay --as-live`): each event at the stream time the worker scored
  it at (the history record's timestamp), each partition ending at its latest one (or T). What
  the live pipeline published, score for score and transition for transition.

Three rules keep it honest:

* **The end of the log comes from a fetch high watermark, never ListOffsets.** On the embedded
  broker ListOffsets(latest) reports the last batch's base offset + 1 (docs/broker.md,
  deviation 1), so a reader that trusts it silently drops the tail of the last batch. The end
  is taken once, at the start of the read (`kafka_compat.fetch_end_offsets`), or given
  explicitly, and the read stops exactly there: events that arrive while it runs are not
  half-included.
* **Time ranges use the event time in the payload**, not Kafka's time index (deviation 3 makes
  `offsets_for_times` answer 0). So every read covers the whole log and filters after
  decoding; late events land where they belong. Record timestamps are read for one thing only:
  the stream time of an as-live replay, which the score step writes there.
* **A horizon T as of T means "the events that happened by T"**: events with event time > T are
  left out and the rest are processed in log order. When events arrive in event-time order per
  vendor (the normal case) that is what the live pipeline had at T. When a report arrives late,
  replay is the better-informed answer (live at that moment lacked it).

Partitions are independent (the history is keyed by vendor), so a long replay can fold them in
several processes (`jobs`), as the live pipeline scales by partitions across workers. Results
are merged per vendor and are the same whatever the number of jobs (each partition ends at T,
or as live at its own latest stream time, never at an instant another job decides).

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
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import ConsumerRecord

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.streams.core.heap import bulk_fold
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.kafka_io.history import stream_time
from vendorwatch.streams.replay.fold import (
    AlertMark,
    EventSink,
    PolicyResult,
    PolicyRun,
    ScoreChange,
    SinkStats,
    Step,
    Window,
)
from vendorwatch.streams.replay.reader import (
    EVENTS_TOPIC,
    PARALLEL_MIN_RECORDS,
    log_end_offsets,
    read_log,
)

__all__ = [  # the pure half lives in fold.py; these names are replay's API
    "AlertMark",
    "EventSink",
    "PolicyResult",
    "PolicyRun",
    "ReplayResult",
    "ReplaySink",
    "ReplaySpec",
    "ScoreChange",
    "SinkStats",
    "Step",
    "Window",
    "auto_jobs",
    "plan_jobs",
    "replay",
    "replay_async",
]

log = structlog.get_logger(__name__)


class ReplaySink(EventSink):
    """Folds records of the events topic through one Processor per policy (`fold.EventSink`).
    Pure: no I/O.

    Each record is decoded once and handed to every policy's processor, in the order the reader
    delivers it (per partition: offset order, as the live agent sees it). An invalid record is
    counted and skipped, exactly as the live score agent logs and skips it. As live, each event
    is applied at the stream time the worker scored it at: the record's timestamp
    (`kafka_io.history.stream_time`, the same reading a worker's partition rebuild uses).
    """

    def __init__(self, policies: Sequence[Policy], **options: Any) -> None:
        super().__init__(policies, **options)
        self._vendor_key = self.vendor.encode() if self.vendor is not None else None

    def feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        """Fold a chunk of one partition's records (in offset order)."""
        with bulk_fold():
            self._feed(partition, records)

    def _feed(self, partition: int, records: Iterable[ConsumerRecord]) -> None:
        stats = self.stats
        vendor_key = self._vendor_key
        as_live = self.as_live
        fold = self.fold
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
            fold(partition, record.offset, event, stream_time(record) if as_live else None)


# --- results -----------------------------------------------------------------------------------


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
    """T: as of T the events that happened by then, as live those scored by then; every
    partition ends at T (as live without T: at its latest recorded stream time)."""
    vendor: str | None = None
    window: Window = field(default_factory=Window)
    collect_marks: bool = False
    collect_steps: bool = False
    as_live: bool = False
    """Each event at its recorded stream time, scores as last published (`fold.py`)."""

    def sink(self) -> ReplaySink:
        return ReplaySink(
            self.policies,
            horizon=self.horizon,
            vendor=self.vendor,
            as_live=self.as_live,
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
    sink.finish()  # to T: what time alone changed after each vendor's last event
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
