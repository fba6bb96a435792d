"""When time alone can change a vendor's score or alerts: its next deadline.

A quiet vendor still changes: its temporary signals decay, a key-person alert ends `active_days`
after the move, peer pauses lapse, and decay takes a score across a severity band or an alert
threshold. Re-scoring every vendor at every clock tick would cost O(vendors) per tick, so after
each evaluation the core works out the next instant at which anything can change for that vendor
without a new event: its *deadline*. A tick then evaluates only the vendors whose deadline has
come, each at its deadline, not at the tick.

Why at the deadline and not at the tick: the deadline is a function of the vendor's state, and
the state is a function of the history. So the instants at which decisions are made are
themselves determined by the history, and replay, which meets the same events in the same
order, makes the same decisions at the same instants whenever the live ticks happened to fall
(docs/architecture.md, "Time").

Which instants count (each is exact, see the functions):
- `key_person_to_competitor` firing: the instant its last qualifying move is `active_days` old;
- `peer_pauses` firing: the next instant a counted pause lapses (`lapse_days`);
- the score: the first instant decay takes the rounded score across a severity band, across the
  threshold a `threshold` rule watches (its `resolve_below` while firing, else `fire_at`), or
  `live.refresh_points` away from the score last evaluated, so what the API shows stays close
  to the score at stream time.

The score between events is a *projection*: every signal's hazard decays with its own
half-life, so H(t) = sum over signals of h_s * 2^(-(t - t0)/T_s), with the mitigation capped as
in `scoring`. When nothing offsets the hazard, the score falls monotonically and each crossing
is found by Newton's method on H (convex and decreasing, so the iterates approach the crossing
from below and never overshoot). With mitigation the score can also rise (mitigation may fade
faster than the risks it offsets), so the crossing is bracketed by sampling at growing steps
and then bisected.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from vendorwatch.streams.core._incremental import Figures
from vendorwatch.streams.core.policy import KeyPersonRule, PeerPauseRule, Policy, ThresholdRule
from vendorwatch.streams.core.projection import half_life, projected_value
from vendorwatch.streams.core.rules import counted_pauses, qualifying_moves
from vendorwatch.streams.core.scoring import DAY
from vendorwatch.streams.core.state import VendorState

HORIZON_S = 30 * 365 * DAY
"""How far ahead a crossing is looked for; beyond it a vendor is left alone until an event."""
RESOLUTION_S = 1.0
"""Deadlines are exact to this many seconds (they are event-time instants)."""
_FIRST_STEP_S = 60.0
_STEP_GROWTH = 1.5


def _decays(figures: Figures, policy: Policy) -> bool:
    """Whether the projected score moves at all (some hazard in it has a half-life)."""
    if figures.mitigation_hazard > 0:
        return True
    return any(half_life(policy, signal) is not None for signal, _, _ in figures.risks)


def score_levels(figures: Figures, policy: Policy, firing: Iterable[str]) -> tuple[float, float]:
    """(below, above): the nearest levels under and over the current rounded score whose
    crossing changes something: a severity band bound, a threshold rule's bound (its
    `resolve_below` while it fires, else `fire_at`), or `refresh_points` away."""
    score = figures.score
    step = policy.live.refresh_points
    levels = [score - step, score + step]
    bands = policy.severity_bands
    levels += [bands.low, bands.medium, bands.high, bands.critical]
    active = set(firing)
    for rule in policy.alerts.rules:
        if isinstance(rule, ThresholdRule) and rule.enabled:
            levels.append(rule.resolve_below if rule.name in active else rule.fire_at)
    # a crossing downward is "rounded score < level" from ">= level"; upward the reverse
    below = max((level for level in levels if level <= score), default=-math.inf)
    above = min((level for level in levels if level > score), default=math.inf)
    return below, above


def _rounded_outside(value: float, below: float, above: float) -> bool:
    rounded = round(value, 2)
    return rounded < below or rounded >= above


def next_score_change(figures: Figures, policy: Policy, firing: Iterable[str] = ()) -> float | None:
    """The first instant after `figures.t` at which decay alone takes the rounded score out of
    [below, above) (`score_levels`), or None if it never does within `HORIZON_S`."""
    if not _decays(figures, policy):
        return None
    below, above = score_levels(figures, policy, firing)
    t0 = figures.t
    if figures.mitigation_hazard <= 0:
        return _falling_crossing(figures, policy, below)
    return _bracketed_crossing(figures, policy, t0, below, above)


def _falling_crossing(figures: Figures, policy: Policy, below: float) -> float | None:
    """Without mitigation the score only falls: the instant it rounds under `below`.

    Solves H(t) = H_L, where 100 A (1 - exp(-H_L)) is just under the rounding boundary of
    `below`, by Newton's method on the convex, decreasing H, then steps to the first second at
    which the rounded projection is under `below` (rounding is decided on the value itself).
    """
    scale = 100.0 * figures.exact_stake
    target = below - 0.005  # round(v, 2) < below once v < below - 0.005 (up to one ulp)
    if below == -math.inf or target <= 0 or scale <= 0:
        return None
    if target >= scale:
        return figures.t + RESOLUTION_S  # cannot hold at this level even now
    goal = -math.log(1.0 - target / scale)
    terms = []
    floor = 0.0
    for signal, hazard, _ in figures.risks:
        days = half_life(policy, signal)
        if days is None:
            floor += hazard
        else:
            terms.append((hazard, math.log(2.0) / (days * DAY)))
    if floor >= goal or not terms:
        return None  # what does not decay keeps it at or above the level
    age = 0.0
    for _ in range(60):
        value = floor + sum(h * math.exp(-k * age) for h, k in terms) - goal
        if value <= 0:
            break
        slope = -sum(h * k * math.exp(-k * age) for h, k in terms)
        age -= value / slope
        if age > HORIZON_S:
            return None
    return _first_outside(figures, policy, figures.t + max(age, 0.0), below, math.inf)


def _bracketed_crossing(
    figures: Figures, policy: Policy, t0: float, below: float, above: float
) -> float | None:
    """General case (the score may rise): sample at growing steps until the rounded projection
    leaves [below, above), then bisect between the last sample inside and the first outside."""
    inside, step = t0, _FIRST_STEP_S
    while step <= HORIZON_S:
        t = t0 + step
        if _rounded_outside(projected_value(figures, policy, t), below, above):
            return _bisect(figures, policy, inside, t, below, above)
        inside = t
        step *= _STEP_GROWTH
    return None


def _bisect(
    figures: Figures, policy: Policy, inside: float, outside: float, below: float, above: float
) -> float:
    while outside - inside > RESOLUTION_S:
        middle = (inside + outside) / 2
        if _rounded_outside(projected_value(figures, policy, middle), below, above):
            outside = middle
        else:
            inside = middle
    return math.ceil(outside)


def _first_outside(
    figures: Figures, policy: Policy, guess: float, below: float, above: float
) -> float:
    """From Newton's estimate (a hair early or late in floats), the first whole second at
    which the rounded projection is outside [below, above)."""
    t = max(math.ceil(guess), math.floor(figures.t) + 1)
    if _rounded_outside(projected_value(figures, policy, t), below, above):
        while t - 1 > figures.t and _rounded_outside(
            projected_value(figures, policy, t - 1), below, above
        ):
            t -= 1
        return float(t)
    while not _rounded_outside(projected_value(figures, policy, t), below, above):
        t += 1
    return float(t)


def key_person_expiry(state: VendorState, rule: KeyPersonRule, policy: Policy, at: float) -> float:
    """When a firing key-person alert ends: its last qualifying move, `active_days` later.

    A move qualifies when its person is at least `min_seniority` and joined a competitor; it
    keeps the alert firing while `at < move time + active_days` (see `rules._key_person`).
    """
    latest = max((fact.t for fact in qualifying_moves(state, rule, policy, at)), default=at)
    return latest + rule.active_days * DAY


def pause_lapse(state: VendorState, rule: PeerPauseRule, policy: Policy, at: float) -> float | None:
    """The next instant one of the pauses counted at `at` lapses (None: no pause counts)."""
    lapses = [t + rule.lapse_days * DAY for t, _, _ in counted_pauses(state, rule, policy, at)]
    return min(lapses, default=None)


def next_deadline(
    state: VendorState, figures: Figures, policy: Policy, firing: Iterable[str]
) -> float | None:
    """The vendor's next deadline after `figures.t` (None: nothing changes without an event)."""
    active = set(firing)
    candidates: list[float] = []
    change = next_score_change(figures, policy, active)
    if change is not None:
        candidates.append(change)
    for rule in policy.alerts.rules:
        if not rule.enabled or rule.name not in active:
            continue
        if isinstance(rule, KeyPersonRule):
            candidates.append(key_person_expiry(state, rule, policy, figures.t))
        elif isinstance(rule, PeerPauseRule):
            lapse = pause_lapse(state, rule, policy, figures.t)
            if lapse is not None:
                candidates.append(lapse)
    later = [t for t in candidates if t > figures.t]
    return min(later, default=None)
