"""A vendor's score between events: each signal's hazard decays with its own half-life.

With no new fact, H(t) = sum over signals of h_s * 2^(-(t - t0)/T_s): every term of a signal
shares its half-life, so the signal's whole hazard decays as one. Used to find when decay alone
will change something (`core.deadlines`) and to decay an earlier score to an instant (the jump
rule's baseline). At the instant itself the processor scores the vendor from its facts; the
projection only says when to look.

A `Projection` is built once per evaluation and then evaluated many times (a deadline search
probes dozens of instants), so it keeps each signal as (hazard, rate) with
rate = ln 2 / half-life in seconds, and decays with one `exp` per signal.
"""

from __future__ import annotations

import math

from vendorwatch.streams.core._incremental import Figures
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import DAY

_LN2 = math.log(2.0)


def half_life(policy: Policy, signal: str) -> float | None:
    """The policy's half-life of `signal`, in days (None: it does not fade)."""
    return getattr(policy.signals, signal).half_life_days  # type: ignore[no-any-return]


def rate(half_life_days: float | None) -> float:
    """Decay rate per second: hazard x exp(-rate x age) = hazard x 2^(-age / half-life)."""
    return 0.0 if half_life_days is None else _LN2 / (half_life_days * DAY)


class Projection:
    """The score of `figures` carried forward in time with no new fact (see the module).

    The same combination as `scoring.exposure`: H+ is the sum of the risks' hazards, the
    mitigation offsets at most `max_offset_ratio` of min(H+, P), P being the risk present at the
    latest counted statement, and the score is 100 x A x (1 - exp(-(H+ - offset))); only the
    hazards have moved, each by its own decay.
    """

    __slots__ = (
        "decays",
        "fixed",
        "mitigation",
        "mitigation_rate",
        "prior",
        "prior_t",
        "ratio",
        "scale",
        "t",
    )

    def __init__(self, figures: Figures, policy: Policy) -> None:
        self.t = figures.t
        self.scale = 100.0 * figures.exact_stake
        fixed = 0.0
        decays: list[tuple[float, float]] = []
        for signal, hazard, _ in figures.risks:
            k = rate(half_life(policy, signal))
            if k == 0.0:
                fixed += hazard
            else:
                decays.append((hazard, k))
        self.fixed = fixed
        """Hazard of the signals that do not fade."""
        self.decays = decays
        """(hazard at t, rate) of each fading signal."""
        mitigation = policy.signals.vendor_mitigation
        self.mitigation = figures.mitigation_hazard
        self.mitigation_rate = rate(mitigation.half_life_days)
        self.ratio = mitigation.max_offset_ratio
        made, terms = figures.prior or (figures.t, ())
        self.prior_t = made
        self.prior = [(h, rate(half)) for h, half in terms]
        """(hazard at `prior_t`, rate) of each risk the mitigation may offset."""
        if not self.prior:
            self.mitigation = 0.0  # it offsets nothing, now or later

    @property
    def moves(self) -> bool:
        """Whether the projected score changes at all with time."""
        return bool(self.decays) or (self.mitigation > 0 and self.mitigation_rate > 0)

    def hazard(self, t: float) -> float:
        """H+ at `t` (before mitigation)."""
        age = t - self.t
        total = self.fixed
        if age <= 0:
            for h, _ in self.decays:
                total += h
            return total
        exp = math.exp
        for h, k in self.decays:
            total += h * exp(-k * age)
        return total

    def value(self, t: float) -> float:
        """The unrounded score at `t` >= the projection's instant."""
        positive = self.hazard(t)
        mitigation = self.mitigation
        if mitigation > 0:
            age = t - self.t
            if age > 0:
                mitigation *= math.exp(-self.mitigation_rate * age)
            age = t - self.prior_t
            prior = 0.0
            for h, k in self.prior:
                prior += h * math.exp(-k * age) if age > 0 else h
            capped = self.ratio * (positive if positive < prior else prior)
            positive -= mitigation if mitigation < capped else capped
        return self.scale * (1.0 - math.exp(-positive))


def projected_value(figures: Figures, policy: Policy, t: float) -> float:
    """The unrounded score of `figures` at `t` >= `figures.t` if no fact arrives or lapses."""
    return Projection(figures, policy).value(t)
