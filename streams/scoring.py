"""`score(state, policy, at)`: the policy half of the fold, a pure function of its arguments.

The model, in one paragraph (the README has the long form):
- data at stake A (0-1): every dataset the vendor holds as of `at` is worth its classification
  weight times a logarithmic volume factor; datasets combine like independent exposures,
  A = 1 - prod(1 - a_d).
- each signal adds hazard x_s >= 0: its weight, scaled by what the event says (stake %, seniority,
  incident severity, ...), halved every `half_life_days` of event time between the event and `at`.
- mitigation subtracts hazard, at most `max_offset_ratio` of the positive total.
- likelihood L = 1 - exp(-H) saturates smoothly, and the score is 100 * A * L.
- contributions split the score between signals in proportion to their hazard, and mitigation
  gets the (negative) difference it made, so the contributions add up to the score.

No I/O and no wall clock: `at` is an event time passed in, so live scoring and replay agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vendorwatch.streams.policy import Policy, Severity
from vendorwatch.streams.state import Fact, VendorState, latest

DAY = 86_400.0
SIGNALS: tuple[str, ...] = (
    "competitor_ownership",
    "key_person_to_competitor",
    "peer_client_pause",
    "security_incident",
    "workforce_growth",
    "demand_surge",
    "vendor_mitigation",
)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One signal's share of a score, and the events behind it."""

    signal: str
    points: float
    event_ids: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "points": self.points,
            "event_ids": list(self.event_ids),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """A vendor's explained risk as of an event time, under one policy version."""

    vendor_id: str
    name: str
    score: float
    severity: Severity
    data_at_stake: float
    likelihood: float
    contributions: tuple[Contribution, ...]
    data_event_ids: tuple[str, ...]
    policy_version: str
    as_of: datetime
    event_count: int = field(default=0, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the shape of `vendorwatch score --json` items and the scores topic."""
        return {
            "vendor_id": self.vendor_id,
            "name": self.name,
            "score": self.score,
            "severity": self.severity,
            "data_at_stake": self.data_at_stake,
            "likelihood": self.likelihood,
            "policy_version": self.policy_version,
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "event_count": self.event_count,
            "contributions": [c.to_dict() for c in self.contributions],
            "data_event_ids": list(self.data_event_ids),
        }


@dataclass(slots=True)
class _Hazard:
    """Accumulates one signal's hazard, its events and the words that explain it."""

    signal: str
    total: float = 0.0
    event_ids: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, amount: float, fact: Fact, detail: str) -> None:
        if amount <= 0:
            return
        self.total += amount
        self.event_ids.append(fact.event_id)
        self.details.append(detail)


def _decay(half_life_days: float | None, age_seconds: float) -> float:
    if half_life_days is None or age_seconds <= 0:
        return 1.0
    return 0.5 ** (age_seconds / (half_life_days * DAY))


def _pct(value: float) -> str:
    return f"{value:g}%"


def _usd(value: float | None) -> str:
    if value is None:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f" (${value / size:.3g}{unit})"
    return f" (${value:,.0f})"


def data_at_stake(state: VendorState, policy: Policy, at: float) -> tuple[float, tuple[str, ...]]:
    """Worth of the data the vendor holds as of `at` (0-1), and the data.shared event ids."""
    weights = policy.data.classification_weights
    volume = policy.data.volume
    log_ref = math.log10(1 + volume.reference_records)
    keep = 1.0
    ids: list[str] = []
    for facts in state.datasets.values():
        fact = latest(facts, at)
        if fact is None or fact.type != "data.shared":
            continue
        data: Any = fact.data
        scale = min(1.0, math.log10(1 + data.records) / log_ref)
        worth = weights[data.classification] * (volume.floor + (1 - volume.floor) * scale)
        keep *= 1.0 - min(1.0, worth)
        ids.append(fact.event_id)
    return 1.0 - keep, tuple(sorted(ids))


def _ownership(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.competitor_ownership
    hazard = _Hazard("competitor_ownership")
    best: dict[str, tuple[float, Fact, str]] = {}
    for facts in state.stakes.values():
        for fact in facts:
            if fact.t > at:
                break
            data: Any = fact.data
            competitor = policy.competitor(data.investor)
            if competitor is None:
                continue
            strength = (
                sig.weight * min(1.0, data.stake_pct / sig.full_stake_pct)
                + sig.board_seat_weight * data.board_seats
                + sig.voting_control_weight * data.voting_control
            ) * _decay(sig.half_life_days, at - fact.t)
            # A stake is the resulting holding: the strongest report per competitor counts once.
            if competitor not in best or strength > best[competitor][0]:
                seats = f", {data.board_seats} board seat(s)" if data.board_seats else ""
                control = ", voting control" if data.voting_control else ""
                detail = (
                    f"{competitor} (competitor) holds {_pct(data.stake_pct)}"
                    f"{_usd(data.amount_usd)}{seats}{control}"
                )
                best[competitor] = (strength, fact, detail)
    for strength, fact, detail in sorted(best.values(), key=lambda b: (-b[0], b[1])):
        hazard.add(strength, fact, detail)
    for fact in state.facts("ownership.acquired", at):
        data = fact.data
        competitor = policy.competitor(data.acquirer)
        if competitor is not None:
            amount = sig.acquisition_weight * _decay(sig.half_life_days, at - fact.t)
            hazard.add(
                amount, fact, f"acquired by {competitor} (competitor){_usd(data.amount_usd)}"
            )
    for fact in state.facts("funding.round", at):
        data = fact.data
        names = sorted({c for i in data.investors if (c := policy.competitor(i))})
        if names:
            amount = sig.funding_investor_weight * len(names)
            amount *= _decay(sig.half_life_days, at - fact.t)
            hazard.add(amount, fact, f"{', '.join(names)} invested in its {data.round} round")
    return hazard


def _key_people(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.key_person_to_competitor
    hazard = _Hazard("key_person_to_competitor")
    for fact in state.facts("person.moved", at):
        data: Any = fact.data
        competitor = policy.competitor(data.to_org)
        if competitor is None or policy.competitor(data.from_org) is not None:
            continue
        amount = sig.weight * sig.seniority[data.seniority]
        amount *= _decay(sig.half_life_days, at - fact.t)
        hazard.add(amount, fact, f"{data.person} ({data.role}) joined {competitor}")
    return hazard


def _peer_pauses(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.peer_client_pause
    hazard = _Hazard("peer_client_pause")
    for facts in state.clients.values():
        fact = latest(facts, at)
        if fact is None or fact.type == "client.resumed":
            continue
        data: Any = fact.data
        if policy.is_own_organisation(data.client):
            continue  # our own decision is not evidence about the vendor
        terminated = fact.type == "client.terminated"
        amount = sig.weight * (sig.terminated_multiplier if terminated else 1.0)
        amount *= _decay(sig.half_life_days, at - fact.t)
        verb = "ended" if terminated else "paused"
        hazard.add(amount, fact, f"{data.client} {verb} work")
    return hazard


def _incidents(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.security_incident
    hazard = _Hazard("security_incident")
    for fact in state.facts("security.incident", at):
        data: Any = fact.data
        amount = sig.weight * sig.severity[data.severity]
        amount *= _decay(sig.half_life_days, at - fact.t)
        hazard.add(amount, fact, f"{data.severity} incident: {data.title}")
    return hazard


def _workforce(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.workforce_growth
    hazard = _Hazard("workforce_growth")
    for fact in state.facts("workforce.changed", at):
        data: Any = fact.data
        if data.contractors_added <= 0:
            continue
        remote = (data.remote_share_pct or 0.0) / 100.0
        amount = sig.weight * min(1.0, data.contractors_added / sig.reference_added)
        amount *= (1.0 + sig.remote_weight * remote) * _decay(sig.half_life_days, at - fact.t)
        share = f", {_pct(data.remote_share_pct)} remote" if data.remote_share_pct else ""
        detail = f"+{data.contractors_added:,} contractors in {data.period_days} days{share}"
        hazard.add(amount, fact, detail)
    return hazard


def _demand(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.demand_surge
    hazard = _Hazard("demand_surge")
    for fact in state.facts("demand.changed", at):
        data: Any = fact.data
        factor = data.factor if data.factor is not None else sig.assumed_factor
        if factor < sig.min_factor:
            continue
        amount = sig.weight * math.log2(factor) * _decay(sig.half_life_days, at - fact.t)
        note = "" if data.factor is not None else " (not reported; policy assumes)"
        hazard.add(amount, fact, f"demand x{factor:g}{note}")
    return hazard


def _mitigation(state: VendorState, policy: Policy, at: float) -> _Hazard:
    sig = policy.signals.vendor_mitigation
    hazard = _Hazard("vendor_mitigation")
    for fact in state.facts("vendor.statement", at):
        data: Any = fact.data
        amount = sig.weight * sig.kinds[data.kind] * _decay(sig.half_life_days, at - fact.t)
        text = data.text if len(data.text) <= 80 else data.text[:79] + "…"
        hazard.add(amount, fact, f"{data.kind}: {text}")
    return hazard


_RISK_SIGNALS = (_ownership, _key_people, _peer_pauses, _incidents, _workforce, _demand)


def _timestamp(at: datetime | float | None, state: VendorState) -> float:
    if at is None:
        return state.last_t if state.last_t is not None else 0.0
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware (event time is UTC)")
        return at.timestamp()
    return float(at)


def _contribution(hazard: _Hazard, points: float) -> Contribution:
    return Contribution(
        signal=hazard.signal,
        points=round(points, 2),
        event_ids=tuple(hazard.event_ids),
        detail="; ".join(hazard.details),
    )


def score(state: VendorState, policy: Policy, at: datetime | float | None = None) -> Score:
    """The vendor's explained score as of event time `at` (default: its latest event)."""
    t = _timestamp(at, state)
    stake, data_ids = data_at_stake(state, policy, t)
    risks = [h for h in (fn(state, policy, t) for fn in _RISK_SIGNALS) if h.total > 0]
    mitigation = _mitigation(state, policy, t)
    positive = sum(h.total for h in risks)
    offset = min(mitigation.total, policy.signals.vendor_mitigation.max_offset_ratio * positive)
    unmitigated = 100.0 * stake * (1.0 - math.exp(-positive))
    value = 100.0 * stake * (1.0 - math.exp(-(positive - offset)))
    contributions = [_contribution(h, unmitigated * h.total / positive) for h in risks]
    contributions.sort(key=lambda c: (-c.points, c.signal))
    if offset > 0:
        contributions.append(_contribution(mitigation, value - unmitigated))
    value = round(value, 2)
    return Score(
        vendor_id=state.vendor_id,
        name=state.name(t),
        score=value,
        severity=policy.severity(value),
        data_at_stake=round(stake, 4),
        likelihood=round(1.0 - math.exp(-(positive - offset)), 4),
        contributions=tuple(contributions),
        data_event_ids=data_ids,
        policy_version=policy.version,
        as_of=datetime.fromtimestamp(t, UTC),
        event_count=state.event_count(t),
    )


def score_all(
    states: Iterable[VendorState], policy: Policy, at: datetime | float | None = None
) -> list[Score]:
    """Scores of every vendor known as of `at`, highest first (ties by vendor id)."""
    scores = []
    for state in states:
        if at is not None and (state.first_t is None or state.first_t > _timestamp(at, state)):
            continue  # nothing known about this vendor yet
        scores.append(score(state, policy, at))
    scores.sort(key=lambda s: (-s.score, s.vendor_id))
    return scores
