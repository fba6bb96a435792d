"""What `vendorwatch history --chart` draws, as data: the score between events and alert spans.

A replay publishes a score only when an event arrives, but the score keeps moving in between:
every decaying signal halves each half-life of event time. Drawing only the published scores
gives a staircase that hides the decay, so the chart samples `scoring.score(state, policy, t)`,
the reference the product itself computes, at instants between the events. Nothing here
interpolates or models decay a second time: each point of the curve is a score the product
would give as of that instant (`vendorwatch score --as-of`).

Pure functions, no clock: the end of a curve (the command's `--to`, or "now") is handed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import DAY, score
from vendorwatch.streams.core.state import VendorState, apply

DEFAULT_POINTS = 300
"""Evenly spaced samples over the whole chart. 300 over ten years is one every 12 days, a fifth
of the shortest shipped half-life (60 days): the drawn line is within 0.5% of the exponential,
and a curve costs a few hundred `score` calls, however long the history."""

BEFORE_EVENT = 1.0
"""Seconds before each event at which the score is sampled too, so that the line jumps
(vertically, at any chart scale) at the event instead of sloping up to it from the last sample."""

DENSE_STEPS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0)
"""After an event, extra samples at these multiples of the shortest half-life: a decay is
steepest (in points per day) right after its event, where an even grid is coarsest relative to
it. Used only when the even grid is coarse compared with the half-life (long charts, short
half-lives) and the history is short enough for the extra calls to stay cheap."""


def vendor_state(vendor_id: str, events: Iterable[Event]) -> VendorState:
    """The vendor's state rebuilt from its timeline (`Step.event`s of a replay).

    Why rebuild rather than take the processor's state: replay results keep the scores and
    steps, not the states (they travel between processes and must stay small). `apply` is
    order-independent and ignores repeated ids, so this is the state the processor ended with.
    """
    state = VendorState(vendor_id)
    for event in events:
        if event.subject == vendor_id:
            apply(state, event)
    return state


def event_times(state: VendorState) -> list[float]:
    """Every distinct event time of the vendor's facts, ascending."""
    groups = (
        *state.by_type.values(),
        *state.datasets.values(),
        *state.stakes.values(),
        *state.clients.values(),
    )
    return sorted({fact.t for facts in groups for fact in facts})


def shortest_half_life(policy: Policy) -> float | None:
    """The shortest half-life (days) of the policy's signals; None when nothing decays."""
    signals = policy.signals
    lives = [
        getattr(signals, name).half_life_days
        for name in type(signals).model_fields
        if getattr(signals, name).half_life_days is not None
    ]
    return min(lives) if lives else None


def sample_instants(
    events: Sequence[float],
    start: float,
    end: float,
    *,
    points: int = DEFAULT_POINTS,
    half_life_days: float | None = None,
) -> list[float]:
    """The instants (unix seconds) in [start, end] at which to sample a score curve, ascending.

    - every event instant, and `BEFORE_EVENT` seconds before it: the score jumps there;
    - `points` instants evenly spread over [start, end] (both ends included): the decay;
    - with `half_life_days`, when the even grid is coarser than a sixteenth of it, instants at
      `DENSE_STEPS` half-lives after each event, up to the next event (bounded: at most
      `points` events get them, so a long busy history stays at O(events + points) samples).
    """
    if end < start:
        raise ValueError(f"a curve needs start <= end, not {start} > {end}")
    inside = sorted({t for t in events if start <= t <= end})
    instants = set(inside)
    instants.update(t - BEFORE_EVENT for t in inside if t - BEFORE_EVENT >= start)
    n = max(points, 2)
    step = (end - start) / (n - 1)
    instants.update(start + i * step for i in range(n - 1))
    instants.add(end)
    if half_life_days is not None and step > half_life_days * DAY / 16 and len(inside) <= n:
        half_life = half_life_days * DAY
        for t, following in zip(inside, [*inside[1:], end], strict=True):
            instants.update(t + k * half_life for k in DENSE_STEPS if t + k * half_life < following)
    return sorted(t for t in instants if start <= t <= end)


def score_curve(
    state: VendorState,
    policy: Policy,
    start: float,
    end: float,
    *,
    points: int = DEFAULT_POINTS,
) -> list[tuple[float, float]]:
    """(instant, score) pairs from `start` to `end`: the vendor's score as of each instant.

    Each score is `scoring.score(state, policy, t)`, from the facts with event time <= t
    decayed to t, so at an event instant it is the score after that event, and one second
    before it the score without it. The state is the best-informed one (everything folded):
    an event that arrived late counts from its event time here, as in `score --as-of`.
    """
    instants = sample_instants(
        event_times(state),
        start,
        end,
        points=points,
        half_life_days=shortest_half_life(policy),
    )
    return [(t, score(state, policy, t).score) for t in instants]


class TransitionLike(Protocol):
    """What `alert_spans` reads of a transition (`core.rules.Transition` has all of it)."""

    @property
    def rule(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def starts_at(self) -> float: ...
    @property
    def ends_at(self) -> float | None: ...
    @property
    def as_of(self) -> float: ...


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """One alert of one rule, from firing to resolved (or to the end of the chart)."""

    rule: str
    severity: str
    start: float
    end: float
    resolved: bool
    """False when the alert is still firing at the end of the chart (the span is cut there)."""


def alert_spans(transitions: Iterable[TransitionLike], end: float) -> list[AlertSpan]:
    """Pair one vendor's firing and resolved transitions into spans, ordered by start, rule.

    A span ends at the resolved transition's `ends_at` (the instant the alert ended, which for
    an alert that ends on time is not an event's time) or else its `as_of`. A resolution whose
    firing is not among `transitions` still spans from its `starts_at`; a firing never resolved
    runs to `end`. Spans starting after `end` are left out, and spans are cut at `end` (one that
    resolves later counts as still firing there).
    """
    open_: dict[str, tuple[float, str]] = {}
    spans: list[AlertSpan] = []
    for t in sorted(transitions, key=lambda t: (t.as_of, t.status != "resolved")):
        if t.status == "firing":
            open_.setdefault(t.rule, (t.starts_at, t.severity))
            continue
        started, severity = open_.pop(t.rule, (t.starts_at, t.severity))
        stop = t.ends_at if t.ends_at is not None else t.as_of
        spans.append(AlertSpan(t.rule, severity, started, stop, True))
    spans.extend(
        AlertSpan(rule, severity, started, end, False)
        for rule, (started, severity) in open_.items()
    )
    return sorted(
        (
            AlertSpan(s.rule, s.severity, s.start, min(s.end, end), s.resolved and s.end <= end)
            for s in spans
            if s.start <= end
        ),
        key=lambda s: (s.start, s.rule),
    )
