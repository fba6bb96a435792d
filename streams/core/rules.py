"""Alert rules: plain functions of (alert state, previous score, new score, vendor state, event,
policy) that say which alerts fire or resolve after an event.

Like the scoring fold they use event time only, never the wall clock, so replaying the history
raises exactly the alerts the live pipeline raised. What happens next in wall-clock time
(grouping, repeat interval, silences, delivery) belongs to `alerts.notifier`.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from vendorwatch.schemas.events import Event, Seniority, iso
from vendorwatch.streams.core._incremental import Figures
from vendorwatch.streams.core.policy import (
    AlertRule,
    CompetitorStakeRule,
    JumpRule,
    KeyPersonRule,
    PeerPauseRule,
    Policy,
    Severity,
    ThresholdRule,
    normalise_org,
)
from vendorwatch.streams.core.scoring import DAY, Contribution, Score
from vendorwatch.streams.core.state import VendorState, latest

SENIORITY_ORDER = (Seniority.STAFF, Seniority.SENIOR, Seniority.EXECUTIVE)


def fingerprint(vendor_id: str, rule: str) -> str:
    """Stable id of the alert for one (vendor, rule) pair, as Alertmanager fingerprints labels."""
    return hashlib.sha256(f"{vendor_id}\x00{rule}".encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Firing:
    """An alert that is currently firing for a vendor."""

    rule: str
    fingerprint: str
    severity: Severity
    summary: str
    starts_at: float
    event_ids: tuple[str, ...]


@dataclass(slots=True)
class AlertState:
    """Per-vendor alert memory: what fires, and recent scores for jump windows."""

    vendor_id: str
    firing: dict[str, Firing] = field(default_factory=dict)
    history: deque[tuple[float, float]] = field(default_factory=deque)
    """(event time, score) after each event, trimmed to the longest jump window."""


@dataclass(frozen=True, slots=True)
class Transition:
    """An alert starting or ending, with the score context a notification needs."""

    vendor_id: str
    vendor_name: str
    rule: str
    fingerprint: str
    status: str  # "firing" | "resolved"
    severity: Severity
    summary: str
    starts_at: float
    ends_at: float | None
    event_ids: tuple[str, ...]
    caused_by: str
    score: float
    previous_score: float | None
    score_severity: Severity
    previous_score_severity: Severity | None
    explained: Score | Figures = field(compare=False, repr=False)
    """The score after the event, whose contributions the transition carries. `Figures` build
    them only when read: replay keeps most transitions without ever publishing them."""
    policy_version: str
    as_of: float

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        """The contributions of the score after the event (what a notification explains)."""
        return self.explained.contributions

    def settled(self) -> Transition:
        """This transition with its explanation built: what to keep for good or send to another
        process (`Figures` hold on to the vendor's facts until they are explained)."""
        if isinstance(self.explained, Figures):
            return replace(self, explained=self.explained.explain())
        return self

    @property
    def id(self) -> str:
        """Deterministic id: the same transition replayed or redelivered has the same id."""
        raw = f"{self.fingerprint}|{self.status}|{self.starts_at}|{self.caused_by}"
        return hashlib.sha256(raw.encode()).hexdigest()[:24]

    def to_record(self) -> dict[str, Any]:
        """The JSON published on `vendorwatch.alerts`."""

        return {
            "id": self.id,
            "vendor_id": self.vendor_id,
            "vendor_name": self.vendor_name,
            "rule": self.rule,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "severity": self.severity,
            "summary": self.summary,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "event_ids": list(self.event_ids),
            "caused_by": self.caused_by,
            "score": self.score,
            "previous_score": self.previous_score,
            "score_severity": self.score_severity,
            "previous_score_severity": self.previous_score_severity,
            "contributions": [c.to_dict() for c in self.contributions],
            "policy_version": self.policy_version,
            "as_of": iso(self.as_of),
        }


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule's verdict: should it fire now, and if so what it says and which events caused it."""

    active: bool
    fields: dict[str, Any] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()


class Context(NamedTuple):
    """Everything a rule may look at (a named tuple: one is built per event, in C)."""

    alerts: AlertState
    previous: Score | Figures | None
    current: Score | Figures
    state: VendorState
    event: Event
    policy: Policy
    at: float


_QUIET = Condition(False)
_STILL = Condition(True)
"""Verdicts without details. Threshold and jump rules run after every event, and their details
(the words of a summary) only matter to an alert that starts now: an alert already firing keeps
the summary it started with, and one that does not fire says nothing."""


def _threshold(rule: ThresholdRule, ctx: Context) -> Condition:
    was_firing = rule.name in ctx.alerts.firing
    bound = rule.resolve_below if was_firing else rule.fire_at
    if ctx.current.score < bound:
        return _QUIET
    if was_firing:
        return _STILL
    return Condition(
        True,
        {"fire_at": f"{rule.fire_at:g}", "resolve_below": f"{rule.resolve_below:g}"},
        (ctx.event.id,),
    )


def _jump(rule: JumpRule, ctx: Context) -> Condition:
    score = ctx.current.score
    if score < rule.min_score:
        return _QUIET
    start = ctx.at - rule.window_days * DAY
    # the lowest of the score in effect when the window opened and every score since; with
    # neither, it rose from nothing (history is oldest first, trimmed by `_remember`)
    opening: float | None = None
    lowest: float | None = None
    for t, value in ctx.alerts.history:
        if t <= start:
            opening = value
        elif lowest is None or value < lowest:
            lowest = value
    if opening is None:
        baseline = 0.0 if lowest is None else lowest
    else:
        baseline = opening if lowest is None else min(opening, lowest)
    if score - baseline < rule.points - 0.01:
        return _QUIET  # rounding moves the rise by 0.005 at most: below either way, skip `round`
    rise = round(score - baseline, 2)
    if rise < rule.points:
        return _QUIET
    if rule.name in ctx.alerts.firing:
        return _STILL
    return Condition(
        True,
        {
            "points": f"{rule.points:g}",
            "window_days": f"{rule.window_days:g}",
            "rise": f"{rise:g}",
            "min_score": f"{rule.min_score:g}",
        },
        (ctx.event.id,),
    )


def _competitor_stake(rule: CompetitorStakeRule, ctx: Context) -> Condition:
    best: tuple[float, str, str] | None = None
    ids: list[str] = []
    for facts in ctx.state.stakes.values():
        for fact in facts:
            if fact.t > ctx.at:
                break
            data: Any = fact.data
            competitor = ctx.policy.competitor(data.investor)
            if competitor is not None and data.stake_pct >= rule.min_stake_pct:
                ids.append(fact.event_id)
                if best is None or data.stake_pct > best[0]:
                    best = (data.stake_pct, competitor, fact.event_id)
    for fact in ctx.state.facts("ownership.acquired", ctx.at):
        competitor = ctx.policy.competitor(fact.data.acquirer)  # type: ignore[attr-defined]
        if competitor is not None:
            ids.append(fact.event_id)
            best = (100.0, competitor, fact.event_id)
    if best is None:
        return Condition(False)
    return Condition(
        True,
        {
            "competitor": best[1],
            "stake_pct": f"{best[0]:g}",
            "min_stake_pct": f"{rule.min_stake_pct:g}",
        },
        tuple(ids),
    )


def _key_person(rule: KeyPersonRule, ctx: Context) -> Condition:
    floor = SENIORITY_ORDER.index(rule.min_seniority)
    since = ctx.at - rule.active_days * DAY
    facts = ctx.state.facts("person.moved", ctx.at)
    # Facts are in event-time order, so the moves still active are a suffix: walk back to it.
    start = len(facts)
    while start and facts[start - 1].t >= since:
        start -= 1
    if rule.name in ctx.alerts.firing:
        # Only whether it still holds matters: a firing alert keeps what it started with.
        for fact in facts[start:]:
            data: Any = fact.data
            if (
                SENIORITY_ORDER.index(data.seniority) >= floor
                and ctx.policy.competitor(data.to_org) is not None
            ):
                return _STILL
        return _QUIET
    found = None
    ids: list[str] = []
    for fact in facts[start:]:
        data = fact.data
        competitor = ctx.policy.competitor(data.to_org)
        if competitor is not None and SENIORITY_ORDER.index(data.seniority) >= floor:
            ids.append(fact.event_id)
            found = {"person": data.person, "role": data.role, "competitor": competitor}
    if found is None:
        return _QUIET
    return Condition(True, found, tuple(ids))


def _peer_pauses(rule: PeerPauseRule, ctx: Context) -> Condition:
    paused: list[tuple[float, str, str]] = []  # (time, client, event id) of peers away now
    state = ctx.state
    if state.last_t is not None and ctx.at >= state.last_t:
        # As of the latest event every client's latest word is the last of its list, and the
        # list's key is the normalised name `is_own_organisation` would compute.
        own = _plan(ctx.policy).own
        for client, facts in state.clients.items():
            fact = facts[-1]
            if fact.type != "client.resumed" and client not in own:
                paused.append((fact.t, fact.data.client, fact.event_id))  # type: ignore[attr-defined]
    else:
        for facts in state.clients.values():
            fact = latest(facts, ctx.at)
            if fact is None or fact.type == "client.resumed":
                continue
            client = fact.data.client  # type: ignore[attr-defined]
            if not ctx.policy.is_own_organisation(client):
                paused.append((fact.t, client, fact.event_id))
    if rule.name in ctx.alerts.firing:
        # Only whether it still holds matters: a firing alert keeps what it started with.
        return _STILL if len(paused) >= rule.min_clients else _QUIET
    paused.sort()
    # Fire when min_clients pauses fall within one window of within_days.
    window = rule.within_days * DAY
    for i in range(len(paused) - rule.min_clients + 1):
        j = i + rule.min_clients - 1
        if paused[j][0] - paused[i][0] <= window:
            cluster = [p for p in paused[i:] if p[0] - paused[i][0] <= window]
            break
    else:
        return _QUIET
    fields = {
        "clients": ", ".join(p[1] for p in cluster),
        "count": len(cluster),
        "min_clients": rule.min_clients,
        "within_days": f"{rule.within_days:g}",
    }
    return Condition(True, fields, tuple(p[2] for p in cluster))


_EVALUATORS: dict[type, Callable[[Any, Context], Condition]] = {
    ThresholdRule: _threshold,
    JumpRule: _jump,
    CompetitorStakeRule: _competitor_stake,
    KeyPersonRule: _key_person,
    PeerPauseRule: _peer_pauses,
}


_FACT_TRIGGERED: dict[type, frozenset[str]] = {
    CompetitorStakeRule: frozenset({"ownership.stake_acquired", "ownership.acquired"}),
    PeerPauseRule: frozenset({"client.paused", "client.resumed", "client.terminated"}),
    KeyPersonRule: frozenset({"person.moved"}),
}
"""Rules whose condition reads only facts of these event types (every fact is at or before the
vendor's latest event time, which is the `at` rules see)."""


def _may_change(rule: AlertRule, event_type: str, firing: bool) -> bool:
    """Whether this event can change the rule's verdict; skipping the others is exact, and it
    is what keeps the rules O(1) for most events instead of rescanning the vendor's facts.

    Stakes and peer pauses change only with their own facts. A key-person alert can also end
    as time passes (`active_days`), so it is re-checked while it fires; it cannot start without
    a new move, since a later `at` only moves its window away from older moves.
    """
    triggers = _FACT_TRIGGERED.get(type(rule))
    if triggers is None or event_type in triggers:
        return True
    return firing and isinstance(rule, KeyPersonRule)


class _Fields(dict[str, Any]):
    """Template values; a missing key renders as empty rather than failing a notification."""

    def __missing__(self, key: str) -> str:
        return ""


def render_summary(rule: AlertRule, ctx: Context, values: dict[str, Any]) -> str:
    """The rule's summary template filled in (values from events stay plain text here; every
    sink escapes for its own format)."""
    base = {
        "vendor_id": ctx.current.vendor_id,
        "vendor_name": ctx.current.name,
        "score": f"{ctx.current.score:g}",
        "severity": ctx.current.severity,
    }
    return rule.summary.format_map(_Fields(base | values))


def _transition(
    rule: AlertRule,
    status: str,
    firing: Firing,
    ends_at: float | None,
    ctx: Context,
) -> Transition:
    current, previous = ctx.current, ctx.previous
    return Transition(
        vendor_id=current.vendor_id,
        vendor_name=current.name,
        rule=rule.name,
        fingerprint=firing.fingerprint,
        status=status,
        severity=firing.severity,
        summary=firing.summary,
        starts_at=firing.starts_at,
        ends_at=ends_at,
        event_ids=firing.event_ids,
        caused_by=ctx.event.id,
        score=current.score,
        previous_score=previous.score if previous else None,
        score_severity=current.severity,
        previous_score_severity=previous.severity if previous else None,
        explained=current,
        policy_version=current.policy_version,
        as_of=ctx.at,
    )


def evaluate(
    alerts: AlertState,
    previous: Score | Figures | None,
    current: Score | Figures,
    state: VendorState,
    event: Event,
    policy: Policy,
) -> list[Transition]:
    """Update `alerts` for one applied event and return the transitions it caused.

    `current` and `previous` may be `Figures`: the rules read only numbers, and the explanation
    (a transition's contributions) is built only when an alert starts or ends.
    """
    at = current.t if isinstance(current, Figures) else current.as_of.timestamp()
    ctx = Context(alerts, previous, current, state, event, policy, at)
    transitions: list[Transition] = []
    firings = alerts.firing
    plan = _PLANS.get(policy.version) or _plan(policy)
    checks = plan.by_type.get(event.type)
    if checks is None:
        checks = plan.by_type[event.type] = _checks(plan.enabled, event.type)
    for rule, check, while_firing in checks:
        firing = firings.get(rule.name) if firings else None
        if while_firing and firing is None:
            continue
        condition = check(rule, ctx)
        if condition.active and firing is None:
            firing = Firing(
                rule=rule.name,
                fingerprint=fingerprint(current.vendor_id, rule.name),
                severity=rule.severity,
                summary=render_summary(rule, ctx, condition.fields),
                starts_at=at,
                event_ids=condition.event_ids,
            )
            firings[rule.name] = firing
            transitions.append(_transition(rule, "firing", firing, None, ctx))
        elif not condition.active and firing is not None:
            del firings[rule.name]
            transitions.append(_transition(rule, "resolved", firing, at, ctx))
    _remember(alerts, plan.history_s, at, current.score)
    return transitions


Check = tuple[AlertRule, Callable[[Any, Context], Condition], bool]
"""(rule, its evaluator, whether to run it only while the rule fires)."""


class _Plan(NamedTuple):
    """What `evaluate` reads from a policy after every event, worked out once per version."""

    enabled: tuple[AlertRule, ...]
    """The enabled rules, in policy order."""
    history_s: float | None
    """Seconds of score history the jump rules look back on (None: no jump rule)."""
    own: frozenset[str]
    """The monitoring organisation's names, normalised (as `Policy.is_own_organisation`)."""
    by_type: dict[str, tuple[Check, ...]]
    """Per event type, the rules that event may change (`_checks`), filled in as types come."""


_PLANS: dict[str, _Plan] = {}


def _plan(policy: Policy) -> _Plan:
    plan = _PLANS.get(policy.version)
    if plan is None:
        rules = policy.alerts.rules
        days = [r.window_days for r in rules if isinstance(r, JumpRule)]
        plan = _PLANS[policy.version] = _Plan(
            tuple(r for r in rules if r.enabled),
            max(days) * DAY if days else None,
            frozenset(normalise_org(n) for n in policy.organisation.names()),
            {},
        )
    return plan


def _checks(enabled: tuple[AlertRule, ...], event_type: str) -> tuple[Check, ...]:
    """The rules an event of `event_type` may change, in policy order (`_may_change` for every
    rule, worked out once per event type instead of once per rule per event)."""
    checks: list[Check] = []
    for rule in enabled:
        if _may_change(rule, event_type, firing=False):
            checks.append((rule, _EVALUATORS[type(rule)], False))
        elif _may_change(rule, event_type, firing=True):
            checks.append((rule, _EVALUATORS[type(rule)], True))
    return tuple(checks)


def _remember(alerts: AlertState, window: float | None, at: float, value: float) -> None:
    if window is None:
        return
    history = alerts.history
    history.append((at, value))
    horizon = at - window
    # keep one point at or before the horizon: it is the baseline of the oldest window
    while len(history) >= 2 and history[1][0] <= horizon:
        history.popleft()
