"""The scoring step of the live pipeline, without Faust: states per partition, idempotent apply,
and "publish only what changed".

Why the state is rebuilt from `vendorwatch.events` instead of restored from a table changelog:
the events topic *is* the changelog of this fold (it never expires and the fold is a pure
function of it), and restoring a changelog on the embedded broker is exactly what docs/broker.md's
deviation 1 breaks (the last update of each changelog partition came back missing). So when a
worker meets a partition it has not loaded, it folds that partition's history up to its end (a
fetch high watermark: no ListOffsets involved), then carries on. Only the worker that owns a
partition writes to it (streams/worker/app.py), so the end cannot move during the read. The rebuilt
scores become the "last published" baseline, so nothing is re-published and nothing that was
published is lost. Replay (`vendorwatch replay`) runs the same `Processor`.

Why the per-event work is numbers only: the live agent and replay run `process` for every
event, and an explained `Score` (a contribution per signal with its event ids and words) costs
more than everything else the event needs. So `process` computes the score's numbers
(`_incremental.Figures`), decides "changed" from them (`Figures.explained_differently`, which says
exactly what `explained_differently` says of the two explained scores), runs the alert rules on
them, and the explained `Score` is built only when something reads `Outcome.current` or
`previous`, `Processor.published` or a transition's contributions: the live agent when it
publishes, replay at the end. Whenever that is, it is the score as of that event.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from vendorwatch.schemas.events import Event
from vendorwatch.streams.core._incremental import Figures, figures
from vendorwatch.streams.core.deadlines import next_deadline
from vendorwatch.streams.core.heap import bulk_fold
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.rules import AlertState, Transition, caused_by, evaluate
from vendorwatch.streams.core.scoring import Score
from vendorwatch.streams.core.state import VendorState, apply, event_key

PartitionLoader = Callable[[int], Awaitable[Iterable[tuple[Event, int | None, float | None]]]]
"""Reads the whole history of one partition in offset order: each event with the raw offset it
was scored from and the stream time it was scored at (either None when the record does not
say: written by an older worker or loaded with `ingest --history`)."""


class Outcome:
    """What applying one event did: its score if that or its explanation changed, and the
    alerts that started or ended.

    `current` and `previous` are explained `Score`s, built when first read: most outcomes are
    never asked for them (replay reads a vendor's last change at the end; the live agent reads
    them when it publishes), and building one costs more than the rest of the event. They are
    the same whenever they are read (`Figures` pins the facts they explain).
    """

    __slots__ = (
        "at",
        "changed",
        "duplicate",
        "earlier",
        "event",
        "figures",
        "previous_figures",
        "state",
        "transitions",
    )

    def __init__(
        self,
        event: Event | None,
        state: VendorState,
        previous: Figures | None,
        current: Figures,
        changed: bool,
        duplicate: bool,
        transitions: list[Transition] | None = None,
        earlier: list[Outcome] | None = None,
    ) -> None:
        self.event = event
        """The event applied; None when time alone brought the evaluation (a deadline)."""
        self.at = current.t
        """The instant of the evaluation: stream time for an event, the deadline otherwise."""
        self.earlier: list[Outcome] = [] if earlier is None else earlier
        """What the vendor's deadlines that fell due before this event changed, in order: they
        are published before this outcome (a live tick may have published them already)."""
        self.state = state
        self.previous_figures = previous
        """The numbers of the score last published before this event (None: nothing yet)."""
        self.figures = current
        """The numbers of the vendor's score after this event."""
        self.changed = changed
        self.duplicate = duplicate
        self.transitions: list[Transition] = [] if transitions is None else transitions

    @property
    def caused_by(self) -> str:
        """The event's id, or `time:<instant>` for a deadline (`rules.caused_by`)."""
        return caused_by(self.event, self.at)

    @property
    def vendor_id(self) -> str:
        return self.state.vendor_id

    @property
    def current(self) -> Score:
        """The vendor's explained score after this event (the one published if `changed`)."""
        return self.figures.explain()

    @property
    def previous(self) -> Score | None:
        """The explained score last published before this event."""
        previous = self.previous_figures
        return None if previous is None else previous.explain()


def explained_differently(previous: Score, current: Score) -> bool:
    """True when the score *or its explanation* differs: value, severity, name, contributions
    (points, event ids, details), data at stake and its event ids, likelihood, policy, notes.

    Why not only value and severity: the last record per vendor on the scores topic is what
    GET /vendors/{id} shows, and it must explain the score the offline fold gives. A saturated
    score (or a 0 with no risk signals) keeps its value while new events change its reasons or
    the data at stake; publishing only on a value change left those stale. The notes count for
    the same reason: an ignored move changes no number, and its note must reach the API. `as_of` and
    `event_count` alone do not count: they move with every event.

    `Processor` decides the same thing from numbers (`Figures.explained_differently`); this is
    the definition it is held to (tests/streams/core/test_processor_properties.py).
    """
    return (
        previous.score != current.score
        or previous.severity != current.severity
        or previous.name != current.name
        or previous.contributions != current.contributions
        or previous.data_event_ids != current.data_event_ids
        or previous.data_at_stake != current.data_at_stake
        or previous.likelihood != current.likelihood
        or previous.policy_version != current.policy_version
        or previous.notes != current.notes
    )


@dataclass(slots=True)
class Processor:
    """Per-partition vendor states, the last score published for each vendor, its alerts, the
    partition's stream time and every vendor's next deadline.

    Time: `process(partition, event, now)` applies an event at stream time `now` (None: the
    vendor's own latest event time, the clock of a history read in event time), and
    `advance(partition, now)` is a clock tick. Both first evaluate, at their own instants, the
    deadlines that fell due by then (`core.deadlines`), so what is decided does not depend on
    when ticks come, only on the history. Stream time never goes back: a `now` earlier than the
    partition's stream time is taken as the stream time.
    """

    policy: Policy
    states: dict[int, dict[str, VendorState]] = field(default_factory=dict)
    last_published: dict[str, Figures] = field(default_factory=dict)
    """Per vendor, the numbers of the score last published (`published` explains them)."""
    alerts: dict[str, AlertState] = field(default_factory=dict)
    stream_time: dict[int, float] = field(default_factory=dict)
    """Per partition, the latest instant it has been brought to (never decreases)."""
    deadlines: dict[str, float] = field(default_factory=dict)
    """Per vendor, its next deadline (absent: nothing changes for it without an event)."""
    queues: dict[int, list[tuple[float, str]]] = field(default_factory=dict)
    """Per partition, a heap of (deadline, vendor); stale entries are skipped when popped."""
    refresh: bool = True
    """Also evaluate when decay alone has moved a score by `live.refresh_points`, so a live
    view stays close to the score at stream time. A reading as of an instant scores that
    instant exactly and turns this off (fewer evaluations, the same alerts)."""

    @property
    def published(self) -> dict[str, Score]:
        """The last score published for each vendor, explained (built on each call)."""
        return {vendor: numbers.explain() for vendor, numbers in self.last_published.items()}

    def loaded(self, partition: int) -> bool:
        return partition in self.states

    def vendors(self) -> Iterable[VendorState]:
        for states in self.states.values():
            yield from states.values()

    async def ensure_loaded(
        self, partition: int, offset: int, loader: PartitionLoader
    ) -> tuple[int, list[Outcome]]:
        """Fold the partition's history if this worker has not yet. Returns how many events it
        folded (0 when the partition was already loaded) and the outcomes to publish again.

        `offset` is the raw offset of the message in hand: the partition's committed position.
        Events the history holds from raw offsets at or past it were written by a worker that
        stopped before it could commit them (a crash), so whether their scores and alerts went
        out is unknown: their outcomes that changed something are returned for the agent to
        publish (the view keeps the latest score, the notifier drops a transition id it has
        seen). Their raw messages come again and are then known ids: nothing is written twice.
        Each event is applied at the stream time it was first scored at, so the rebuilt state,
        alerts and deadlines are the ones the previous owner had.
        """
        if partition in self.states:
            return 0, []
        count = 0
        self.states[partition] = {}
        again: list[Outcome] = []
        history = await loader(partition)
        with bulk_fold():  # a partition's whole history at once: see streams/core/heap.py
            for event, source, scored_at in history:
                count += 1
                outcome = self.process(partition, event, scored_at)  # same path as live
                if source is not None and source >= offset:
                    again.extend(o for o in outcome.earlier if o.changed or o.transitions)
                    if outcome.changed or outcome.transitions:
                        again.append(outcome)
        return count, again

    def in_history(self, partition: int, event: Event) -> bool:
        """Whether this worker has already scored this event, by (source, id): a redelivery, or
        an event a rebuild found in the history. The agent then does not write it to the
        history again, so the history keeps one copy, in the order it was scored."""
        state = self.states.get(partition, {}).get(event.subject)
        return state is not None and event_key(event) in state.seen

    def forget(self, partition: int) -> list[str]:
        """Drop a revoked partition (its new owner rebuilds it); returns the vendors dropped."""
        dropped = list(self.states.pop(partition, {}))
        self.stream_time.pop(partition, None)
        self.queues.pop(partition, None)
        for vendor_id in dropped:
            self.last_published.pop(vendor_id, None)
            self.alerts.pop(vendor_id, None)
            self.deadlines.pop(vendor_id, None)
        return dropped

    def clock(self, partition: int, now: float | None) -> float | None:
        """Bring the partition's stream time to `now` (never back) and return it; None stays
        None (event-time mode)."""
        if now is None:
            return None
        current = self.stream_time.get(partition)
        if current is not None and now < current:
            return current
        self.stream_time[partition] = now
        return now

    def process(self, partition: int, event: Event, now: float | None = None) -> Outcome:
        """Apply one event at stream time `now` (None: as of the vendor's latest event time);
        report its vendor's new score and whether it differs from the last published one (a
        redelivered event id is a no-op), after the vendor's deadlines due by then
        (`Outcome.earlier`).

        Only numbers are computed here (`Figures`): whether the score changed is decided from
        them, the alert rules work from them, and the explained `Score` is built only when
        someone reads it. An event dated after `now` (within the accepted clock skew) is scored
        as of its own time: a vendor is never scored before its latest fact.
        """
        subject = event.subject
        states = self.states.get(partition)
        if states is None:
            states = self.states[partition] = {}
        state = states.get(subject)
        if state is None:
            state = states[subject] = VendorState(subject)
        previous = self.last_published.get(subject)
        duplicate = event_key(event) in state.seen
        if duplicate and previous is not None:
            return Outcome(event, state, previous, previous, False, True)
        now = self.clock(partition, now)
        due = event.time.timestamp() if now is None else now
        earlier = self._catch_up(partition, state, due)
        previous = self.last_published.get(subject)
        apply(state, event)
        last = state.last_t if state.last_t is not None else due
        at = last if now is None else max(now, last)
        outcome = self._evaluate(partition, state, at, event, previous)
        outcome.duplicate = duplicate
        outcome.earlier = earlier
        return outcome

    def advance(self, partition: int, now: float) -> list[Outcome]:
        """A clock tick: bring the partition to stream time `now` and evaluate every deadline
        due by then, each at its own instant, oldest first. Only vendors with a due deadline
        are touched (a heap per partition), so a tick in which none falls costs O(1)."""
        now = self.clock(partition, now)  # type: ignore[assignment]
        queue = self.queues.get(partition)
        states = self.states.get(partition, {})
        outcomes: list[Outcome] = []
        while queue and queue[0][0] <= now:
            due, vendor = heapq.heappop(queue)
            if self.deadlines.get(vendor) != due or vendor not in states:
                continue  # superseded by a later evaluation
            outcomes.extend(self._catch_up(partition, states[vendor], now))
        return outcomes

    def advance_all(self, now: float) -> list[Outcome]:
        """`advance` every loaded partition (the end of a replay, an offline `--as-of`)."""
        outcomes: list[Outcome] = []
        for partition in sorted(self.states):
            outcomes.extend(self.advance(partition, now))
        return outcomes

    def _catch_up(self, partition: int, state: VendorState, now: float) -> list[Outcome]:
        """Evaluate the vendor's deadlines due by `now`, each at its instant, in order."""
        outcomes: list[Outcome] = []
        vendor = state.vendor_id
        due = self.deadlines.get(vendor)
        while due is not None and due <= now:
            outcome = self._evaluate_at(partition, state, due)
            if outcome.changed or outcome.transitions:
                outcomes.append(outcome)
            due = self.deadlines.get(vendor)
        return outcomes

    def _evaluate_at(self, partition: int, state: VendorState, at: float) -> Outcome:
        """What time alone changed for the vendor at its deadline `at`."""
        previous = self.last_published.get(state.vendor_id)
        return self._evaluate(partition, state, at, None, previous)

    def _evaluate(
        self,
        partition: int,
        state: VendorState,
        at: float,
        event: Event | None,
        previous: Figures | None,
    ) -> Outcome:
        """Score the vendor as of `at`, publish-if-changed, run the alert rules and schedule its
        next deadline: the one evaluation after an event (`event`) or at a deadline (None)."""
        subject = state.vendor_id
        current = figures(state, self.policy, at)
        changed = previous is None or current.explained_differently(previous)
        if changed:
            self.last_published[subject] = current
        alert_state = self.alerts.get(subject)
        if alert_state is None:
            alert_state = self.alerts[subject] = AlertState(subject)
        transitions = evaluate(alert_state, previous, current, state, event, self.policy)
        self._schedule(partition, state, current, alert_state)
        return Outcome(event, state, previous, current, changed, False, transitions)

    def _schedule(
        self, partition: int, state: VendorState, current: Figures, alerts: AlertState
    ) -> None:
        due = next_deadline(state, current, self.policy, alerts.firing, self.refresh)
        vendor = state.vendor_id
        if due is None:
            self.deadlines.pop(vendor, None)
            return
        self.deadlines[vendor] = due
        heapq.heappush(self.queues.setdefault(partition, []), (due, vendor))
