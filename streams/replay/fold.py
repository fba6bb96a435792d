"""The pure half of replay: events through the live `Processor`, in one of two time modes, and
what the reports need from it. No I/O, no clock, no Kafka client.

Why a module of its own: `vendorwatch score` is an offline command and imports no Kafka client
(an import contract holds this), yet `score --as-of T` must say exactly what `replay --as-of T`
says, alerts included. Both fold through `EventSink` here and report through
`reports.replay_items`, so they agree by construction, not by a second implementation.
`run.ReplaySink` adds the decoding of Kafka records on top.

The two time modes (docs/architecture.md, "Time"):

* **as of T** (the default; `replay --as-of T`, `history`, `backtest`, `score --as-of T`): the
  events with event time <= T, in log order, each applied in event-time mode (`now=None`: the
  vendor scored as of its own latest event, as if each event arrived when it happened), then
  every vendor brought to T (`Processor.advance`). The scores reported are the scores at T
  (decayed to T), the alerts those firing at T: alerts that ended on time (a key person's
  `active_days`, lapsed pauses) or by decay have resolved, at their own instants.
* **as live** (`rebuild`, `replay --as-live`, the comparisons with a live worker): each event
  at the stream time the worker scored it at (its history record's timestamp), so deadlines
  are met exactly where the worker met them; each partition then ends at its latest recorded
  stream time (or at T), and the scores reported are the ones last published, what
  `GET /vendors` shows.

T is always handed in: the CLI reads the wall clock ("now" when no `--as-of`), nothing here does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from vendorwatch.schemas.events import Event, iso, unix_seconds
from vendorwatch.streams.core.heap import bulk_fold
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Outcome, Processor
from vendorwatch.streams.core.rules import Firing, Transition
from vendorwatch.streams.core.scoring import Score, score

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


# --- what a run keeps ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert transition reduced to what reports need (small enough to ship between jobs)."""

    vendor_id: str
    rule: str
    status: str  # "firing" | "resolved"
    severity: str
    at: float
    """The instant of the transition: its event's time, or the deadline that ended it."""
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
    """The last score change the live agent published for a vendor, and what caused it (an
    event id, or `time:<instant>` when a deadline changed it)."""

    current: Score
    previous: Score | None
    caused_by: str


@dataclass(frozen=True, slots=True)
class Step:
    """One evaluation of a vendor's timeline: an event, or a deadline that time alone brought
    (`event` None: a key-person alert ending, pauses lapsing, decay crossing a level)."""

    partition: int
    offset: int | None
    """The event's offset in the log; None for a deadline."""
    event: Event | None
    score: Score
    """The vendor's score after the evaluation (published or not)."""
    previous: Score | None
    """The score last published before it."""
    changed: bool
    duplicate: bool
    transitions: tuple[Transition, ...]
    caused_by: str = ""
    """The event's id or `time:<instant>` (`Outcome.caused_by`)."""

    @property
    def at(self) -> float:
        """When: the score's instant (stream time for an event, the deadline otherwise)."""
        return self.score.as_of.timestamp()


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
    as_live: bool = False
    """Scores reported are the last published (as live), not the scores at `end` (as of T)."""
    end: float | None = None
    """The instant the run was brought to (`EventSink.finish`); None: not finished, each
    vendor as of its latest event."""

    def __post_init__(self) -> None:
        # as of T, T is scored exactly: the refresh steps that keep a live view fresh are left
        # out (the same alerts, far fewer evaluations); as live, they are what live published
        self.processor = Processor(self.policy, refresh=self.as_live)

    def observe(self, partition: int, offset: int | None, outcome: Outcome) -> None:
        """Take in what one evaluation did: first what the deadlines that fell due before it
        changed (`Outcome.earlier`, in order), then the evaluation itself, as the live agent
        publishes them."""
        for earlier in outcome.earlier:
            self._observe(partition, None, earlier)
        self._observe(partition, offset, outcome)

    def _observe(self, partition: int, offset: int | None, outcome: Outcome) -> None:
        if outcome.changed:
            self.changes[outcome.vendor_id] = outcome
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
                    outcome.caused_by,
                )
            )

    def advance(self, partition: int, now: float) -> None:
        """A clock tick of one partition to `now`: its deadlines due by then, observed."""
        for outcome in self.processor.advance(partition, now):
            self._observe(partition, None, outcome)


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


class EventSink:
    """Folds events through one Processor per policy, as of T or as live. Pure: no I/O.

    `horizon` is T. As of T, events with event time > T are left out (they had not happened);
    as live, events scored at a stream time > T (they had not arrived). Call `finish` once the
    last event is in: it brings every vendor to T (as live without T: each partition to its
    latest recorded stream time), so what time alone changed by then is in the results.
    """

    def __init__(
        self,
        policies: Iterable[Policy],
        *,
        horizon: float | None = None,
        vendor: str | None = None,
        as_live: bool = False,
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
                as_live=as_live,
            )
            for policy in policies
        ]
        self.horizon = horizon
        self.vendor = vendor
        self.as_live = as_live
        self.stats = SinkStats()

    def fold(self, partition: int, offset: int, event: Event, scored_at: float | None) -> None:
        """One decoded event of `partition` (in log order), scored at `scored_at` as live
        (None: the record does not say; it is then applied in event time) and ignored as of T.
        """
        stats = self.stats
        if self.vendor is not None and event.subject != self.vendor:
            stats.other_vendors += 1
            return
        now = scored_at if self.as_live else None
        horizon = self.horizon
        if horizon is not None and (unix_seconds(event.time) if now is None else now) > horizon:
            stats.after_horizon += 1
            return
        stats.events += 1
        for run in self.runs:
            run.observe(partition, offset, run.processor.process(partition, event, now))

    def feed_events(
        self,
        partition: int,
        events: Iterable[Event],
        stream_times: Iterable[float | None] | None = None,
    ) -> None:
        """Fold already-parsed events of one partition (files, tests): offsets are their
        positions; `stream_times` (as live) the instant each was scored at."""
        times = iter(stream_times) if stream_times is not None else None
        with bulk_fold():
            for offset, event in enumerate(events):
                self.stats.records += 1
                self.fold(partition, offset, event, next(times) if times is not None else None)

    def finish(self, end: float | None = None) -> None:
        """Bring every partition to `end` (default: the horizon), evaluating the deadlines due
        by then at their own instants (`Processor.advance`). Without either, nothing moves:
        as live, each partition stays where its last record left it (what a worker showed
        before its next tick); as of T, each vendor stays as of its latest event. Finishing
        again at the same end is a no-op.
        """
        end = self.horizon if end is None else end
        for run in self.runs:
            if end is not None:
                for partition in sorted(run.processor.states):
                    run.advance(partition, end)
            run.end = end


# --- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class PolicyResult:
    """What one policy made of the history: the scores and alerts as of the end of the run."""

    policy: Policy
    scores: dict[str, Score] = field(default_factory=dict)
    """Per vendor, its score at the end: as of T, the score at T (decayed to it); as live, the
    last score published (what `GET /vendors/{id}` shows)."""
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
        scores: dict[str, Score] = {}
        for state in processor.vendors():
            if state.last_t is not None:
                last_event[state.vendor_id] = max(
                    state.last_t, last_event.get(state.vendor_id, state.last_t)
                )
            if window is not None and window.start is not None and _has_event_in(state, window):
                window_vendors.add(state.vendor_id)
            if not run.as_live and state.last_t is not None:
                # as of T: the score at T, not the last one published (a deadline publishes
                # only when decay crosses a level or `refresh_points`, so it lags T a little)
                at = state.last_t if run.end is None else max(run.end, state.last_t)
                scores[state.vendor_id] = score(state, run.policy, at)
        return cls(
            policy=run.policy,
            scores=dict(processor.published) if run.as_live else scores,
            firing={v: dict(a.firing) for v, a in processor.alerts.items() if a.firing},
            changes={
                v: ScoreChange(o.current, o.previous, o.caused_by) for v, o in run.changes.items()
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
        for vendor, s in other.scores.items():
            mine = self.scores.get(vendor)
            if mine is None or s.as_of >= mine.as_of:
                self.scores[vendor] = s
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
