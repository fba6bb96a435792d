"""A vendor's score between events: each signal's hazard decays with its own half-life.

With no new fact, H(t) = sum over signals of h_s * 2^(-(t - t0)/T_s): every term of a signal
shares its half-life, so the signal's whole hazard decays as one. Used to find when decay alone
will change something (`core.deadlines`) and to decay an earlier score to an instant (the jump
rule's baseline). At the instant itself the processor scores the vendor from its facts; the
projection only says when to look.
"""

from __future__ import annotations

import math

from vendorwatch.streams.core._incremental import Figures
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import decay


def half_life(policy: Policy, signal: str) -> float | None:
    """The policy's half-life of `signal`, in days (None: it does not fade)."""
    return getattr(policy.signals, signal).half_life_days  # type: ignore[no-any-return]


def projected_value(figures: Figures, policy: Policy, t: float) -> float:
    """The unrounded score at `t` >= `figures.t` if no fact arrives or lapses in between.

    The same combination as `scoring.exposure`: H+ is the sum of the risks' hazards, the
    mitigation offsets at most `max_offset_ratio` of it, and the score is
    100 x A x (1 - exp(-(H+ - offset))); only the hazards have moved, each by its own decay.
    """
    age = t - figures.t
    positive = 0.0
    for signal, hazard, _ in figures.risks:
        positive += hazard * decay(half_life(policy, signal), age)
    offset = 0.0
    if figures.mitigation_hazard > 0:
        mitigation = policy.signals.vendor_mitigation
        offset = min(
            figures.mitigation_hazard * decay(mitigation.half_life_days, age),
            mitigation.max_offset_ratio * positive,
        )
    return 100.0 * figures.exact_stake * (1.0 - math.exp(-(positive - offset)))
