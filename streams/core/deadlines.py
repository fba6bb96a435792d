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
from vendorwatch.streams.core.projection import Projection
from vendorwatch.streams.core.rules import counted_pauses, qualifying_moves
from vendorwatch.streams.core.scoring import DAY
from vendorwatch.streams.core.state import VendorState

HORIZON_S = 30 * 365 * DAY
"""How far ahead a crossing is looked for; beyond it a vendor is left alone until an event."""
RESOLUTION_S = 1.0
"""Deadlines are exact to this many seconds (they are event-time instants)."""
_FIRST_STEP_S = 60.0
_STEP_GROWTH = 2.0


def score_levels(
    figures: Figures, policy: Policy, firing: Iterable[str], refresh: bool = True
) -> tuple[float, float]:
    """(below, above): the nearest levels under and over the current rounded score whose
    crossing changes something: a severity band bound, a threshold rule's bound (its
    `resolve_below` while it fires, else `fire_at`), or `refresh_points` away (when `refresh`:
    live, so the view stays close to the score at stream time)."""
    score = figures.score
    levels: list[float] = []
    if refresh:
        step = policy.live.refresh_points
        levels += [score - step, score + step]
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


def _outside(projection: Projection, t: float, below: float, above: float) -> bool:
    rounded = round(projection.value(t), 2)
    return rounded < below or rounded >= above


def next_score_change(
    figures: Figures, policy: Policy, firing: Iterable[str] = (), refresh: bool = True
) -> float | None:
    """The first whole second after `figures.t` at which decay alone takes the rounded score
    out of [below, above) (`score_levels`), or None if it never does within `HORIZON_S`."""
    projection = Projection(figures, policy)
    if not projection.moves:
        return None
    below, above = score_levels(figures, policy, firing, refresh)
    if projection.mitigation <= 0:
        guess = _falling_crossing(projection, below)
        if guess is None:
            return None
        return _settle(projection, guess, below, above)
    return _bracketed_crossing(projection, below, above)


def _falling_crossing(projection: Projection, below: float) -> float | None:
    """Without mitigation the score only falls: about when it rounds under `below`.

    Solves H(t) = H_L, where 100 A (1 - exp(-H_L)) is just under the rounding boundary of
    `below`, by Newton's method on the convex, decreasing H. The result is an estimate in
    floats; `_settle` finds the exact second.
    """
    scale = projection.scale
    target = below - 0.005  # round(v, 2) < below once v < below - 0.005 (up to one ulp)
    if below == -math.inf or target <= 0 or scale <= 0:
        return None
    if target >= scale:
        return projection.t  # cannot hold at this level even now
    goal = -math.log(1.0 - target / scale)
    if projection.fixed >= goal:
        return None  # what does not decay keeps it at or above the level
    age = 0.0
    terms = projection.decays
    fixed = projection.fixed
    for _ in range(100):
        excess = fixed + sum(h * math.exp(-k * age) for h, k in terms) - goal
        if excess <= 1e-12:
            break
        slope = -sum(h * k * math.exp(-k * age) for h, k in terms)
        age -= excess / slope
        if age > HORIZON_S:
            return None
    return projection.t + age


def _bracketed_crossing(projection: Projection, below: float, above: float) -> float | None:
    """General case (the score may rise): sample at doubling steps, from about a hundredth of
    the fastest decay's time scale, until the rounded projection leaves [below, above); then
    locate the crossing inside that bracket by regula falsi on the unrounded score, and settle
    on the exact second."""
    t0 = projection.t
    rates = [k for _, k in projection.decays]
    if projection.mitigation > 0 and projection.mitigation_rate > 0:
        rates.append(projection.mitigation_rate)
    step = max(_FIRST_STEP_S, 0.01 / max(rates)) if rates else _FIRST_STEP_S
    inside = t0
    while step <= HORIZON_S:
        t = t0 + step
        rounded = round(projection.value(t), 2)
        if rounded < below or rounded >= above:
            level = (below if rounded < below else above) - 0.005
            guess = _regula_falsi(projection, inside, t, level)
            return _settle(projection, guess, below, above)
        inside = t
        step *= _STEP_GROWTH
    return None


def _regula_falsi(projection: Projection, a: float, b: float, level: float) -> float:
    """Where the unrounded score crosses `level` between `a` and `b` (Illinois variant of the
    false position method: a handful of probes for a smooth score)."""
    fa = projection.value(a) - level
    fb = projection.value(b) - level
    side = 0
    for _ in range(40):
        if fb == fa or b - a <= RESOLUTION_S:
            break
        c = b - fb * (b - a) / (fb - fa)
        fc = projection.value(c) - level
        if (fc > 0) == (fb > 0):
            b, fb = c, fc
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = c, fc
            if side == 1:
                fb /= 2
            side = 1
    return b


def _bisect(
    projection: Projection, inside: float, outside: float, below: float, above: float
) -> float:
    """The first whole second outside, between an instant inside and one outside."""
    while outside - inside > RESOLUTION_S:
        middle = (inside + outside) / 2
        if _outside(projection, middle, below, above):
            outside = middle
        else:
            inside = middle
    first = math.floor(inside) + 1.0
    return first if _outside(projection, first, below, above) else math.ceil(outside)


def _settle(projection: Projection, guess: float, below: float, above: float) -> float:
    """From an estimate (a hair early or late in floats), the first whole second after the
    projection's instant at which the rounded score is outside [below, above): gallop to a
    bracket around the estimate, then bisect."""
    start = math.floor(projection.t)
    t = max(math.ceil(guess), start + 1)
    if _outside(projection, t, below, above):
        step = 1.0
        inside = t - step
        while inside > start and _outside(projection, inside, below, above):
            step *= 2
            inside = max(t - step, float(start))
        if inside <= start:
            inside = float(start)
        return _bisect(projection, inside, t, below, above)
    step = 1.0
    outside = t + step
    while not _outside(projection, outside, below, above):
        step *= 2
        outside = t + step
        if step > HORIZON_S:
            return math.inf
    return _bisect(projection, t, outside, below, above)


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
    state: VendorState,
    figures: Figures,
    policy: Policy,
    firing: Iterable[str],
    refresh: bool = True,
) -> float | None:
    """The vendor's next deadline after `figures.t` (None: nothing changes without an event).

    `refresh` adds the `live.refresh_points` steps, which only keep a live view fresh: an
    as-of reading (replay, `score --as-of`) scores its instant exactly and leaves them out,
    without changing any alert (see `rules.jump_baseline`)."""
    active = set(firing)
    candidates: list[float] = []
    change = next_score_change(figures, policy, active, refresh)
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
    later = [t for t in candidates if t > figures.t and t != math.inf]
    return min(later, default=None)
