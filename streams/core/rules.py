"""Alert rules: plain functions of (alert state, previous score, new score, vendor state, event
or none, policy) that say which alerts fire or resolve.

They run after every event and at the vendor's deadlines (`core.deadlines`: the instants at
which time alone can change a verdict, such as a key-person move turning `active_days` old).
Either way they read the instant they are given, never the wall clock, so replaying the history
raises and ends exactly the alerts the live pipeline raised and ended. What happens next in
wall-clock time (grouping, repeat interval, silences, delivery) belongs to `alerts.notifier`.
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
)
from vendorwatch.streams.core.projection import projected_value
from vendorwatch.streams.core.scoring import (
    DAY,
    Contribution,
    Score,
    current_reports,
    fact_ids,
    holding_runs,
    move_claims,
    peer_clients,
)
from vendorwatch.streams.core.state import Fact, VendorState, latest, taken_back

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
    level: tuple[Any, ...] = ()
    """The condition's level the alert last announced (see `Condition.level`)."""


@dataclass(slots=True)
class AlertState:
    """Per-vendor alert memory: what fires, and recent scores for jump windows."""

    vendor_id: str
    firing: dict[str, Firing] = field(default_factory=dict)
    history: deque[tuple[float, Figures | Score]] = field(default_factory=deque)
    """(instant, score numbers) after each evaluation, trimmed to the longest jump window;
    the numbers let the jump rule decay an earlier score to the instant its window opens."""


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
    evidence: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    """Where the alert's events came from, for those read from documents: event id, URL,
    publisher, quote (`VendorState.evidence`), so a notification can cite its sources."""

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
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class Condition:
    """A rule's verdict: should it fire now, and if so what it says and which events caused it."""

    active: bool
    fields: dict[str, Any] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    level: tuple[Any, ...] = ()
    """How much the condition holds, for rules that fire again when it grows (competitor_stake:
    what each competitor holds); empty for the others."""


class Context(NamedTuple):
    """Everything a rule may look at (a named tuple: one is built per event, in C)."""

    alerts: AlertState
    previous: Score | Figures | None
    current: Score | Figures
    state: VendorState
    event: Event | None
    """None when time alone brought the evaluation (a deadline)."""
    policy: Policy
    at: float

    @property
    def cause(self) -> tuple[str, ...]:
        """The event behind a verdict that starts now (none for a deadline)."""
        return () if self.event is None else (self.event.id,)


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
        ctx.cause,
    )


def _jump(rule: JumpRule, ctx: Context) -> Condition:
    score = ctx.current.score
    if score < rule.min_score:
        return _QUIET
    baseline = jump_baseline(ctx.alerts, ctx.policy, ctx.at - rule.window_days * DAY, ctx.at)
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
        ctx.cause,
    )


def jump_baseline(alerts: AlertState, policy: Policy, start: float, now: float) -> float:
    """What a rise is measured from: the lowest the score stood since the window opened.

    That is the lowest of: the score when the window opened (the last evaluation before it,
    decayed to `start`), every score evaluated since, the score just before each of those
    evaluations (the one before it, decayed to its instant), and the score just before `now`;
    0.0 when the vendor had no score before `now`. Between evaluations the score only decays,
    so this is the minimum of the score's path, whichever instants happened to be evaluated
    (a live worker evaluates more of them, to keep its view fresh: the result is the same).

    Why decayed: a year-old executive move scored 63 when it happened but weighs 22 by the
    time an incident takes the score to 71; the rise is 49, not 8.
    """
    lowest: float | None = None
    previous: Figures | Score | None = None
    for t, numbers in alerts.history:
        if t <= start:
            previous = numbers
            continue
        if lowest is None and previous is not None:
            lowest = _decayed_score(previous, policy, start)  # the window's opening
        if previous is not None:
            lowest = _lower(lowest, _decayed_score(previous, policy, t))
        lowest = _lower(lowest, numbers.score)
        previous = numbers
    if previous is not None:
        if lowest is None:
            lowest = _decayed_score(previous, policy, start)
        lowest = _lower(lowest, _decayed_score(previous, policy, now))
    return 0.0 if lowest is None else lowest


def _lower(current: float | None, value: float) -> float:
    return value if current is None or value < current else current


def _decayed_score(numbers: Figures | Score, policy: Policy, at: float) -> float:
    if isinstance(numbers, Figures):
        return round(projected_value(numbers, policy, max(at, numbers.t)), 2)
    return numbers.score  # an explained Score carries no hazards to decay: as it was


def holds_data(ctx: Context) -> bool:
    """Whether the vendor holds any of our data at stake now (data at stake > 0).

    `competitor_stake` and `peer_pauses` read facts, not the score, so without this they would
    keep firing for a vendor that holds nothing any more (every dataset revoked, or
    `vendor.offboarded`): a competitor owning a former vendor, or its clients leaving it, is
    no exposure of ours. They resolve when the data goes and can fire again if it comes back."""
    return ctx.current.data_at_stake > 0


def _competitor_stake(rule: CompetitorStakeRule, ctx: Context) -> Condition:
    """Active while a competitor's current holding (its latest report, see
    `scoring.current_reports`) is at least `min_stake_pct`, carries control (voting control or
    a board seat, whatever the percentage) or is an acquisition.

    The verdict's `level` is what each such competitor holds; `evaluate` fires the alert again
    when a level grows past what the alert last said (see `_grew`).
    """
    if not holds_data(ctx):
        return _QUIET
    runs, last_acquisition = holding_runs(ctx.state, ctx.policy, ctx.at)
    held: list[tuple[tuple[bool, float, bool, int], str, Fact]] = []
    for competitor, fact in current_reports(runs, last_acquisition):
        data: Any = fact.data
        if fact.type == "ownership.acquired":
            held.append(((True, 100.0, True, 0), competitor, fact))
        elif data.stake_pct >= rule.min_stake_pct or data.voting_control or data.board_seats:
            strength = (False, data.stake_pct, data.voting_control, data.board_seats)
            held.append((strength, competitor, fact))
    if not held:
        return _QUIET
    held.sort(key=lambda h: (h[0], h[2]))
    strongest, competitor, fact = held[-1]
    acquired, pct, control, seats = strongest
    said = ["voting control"] if control and not acquired else []
    if seats:
        said.append(f"{seats} board seat{'s' if seats != 1 else ''}")
    fields = {
        "competitor": competitor,
        "stake_pct": f"{pct:g}",
        "min_stake_pct": f"{rule.min_stake_pct:g}",
        "control": f" (with {' and '.join(said)})" if said else "",
    }
    level = tuple(sorted((c, s[1], s[2], s[3]) for s, c, _ in held))
    ids = tuple(i for _, _, f in sorted(held, key=lambda h: h[2]) for i in fact_ids(f))
    return Condition(True, fields, ids, level)


def _grew(before: tuple[Any, ...], now: tuple[Any, ...]) -> bool:
    """Whether a competitor holds more in `now` than the alert last said (`before`): a
    competitor new to the list, or a larger stake, voting control gained, more board seats.

    Levels are (competitor, stake %, voting control, board seats) per competitor. Only growth
    notifies again: a smaller holding that still fires is less news than what was sent.
    """
    said = {c: rest for c, *rest in before}
    for competitor, *holds in now:
        was = said.get(competitor)
        if was is None or any(h > w for h, w in zip(holds, was, strict=True)):
            return True
    return False


def qualifying_moves(
    state: VendorState, rule: KeyPersonRule, policy: Policy, at: float
) -> list[Any]:
    """The moves that keep a key-person alert firing at `at`: a person of at least
    `min_seniority` left the vendor (`from_org` is one of its names as of `at`, as the score
    reads it) for a competitor less than `active_days` before `at`, and has not come back. Each
    move once, however many reports it has (`scoring.move_claims`: dated by its first report,
    as its latest states it); in event-time order, so the alert ends the instant the last of
    them is `active_days` old."""
    floor = SENIORITY_ORDER.index(rule.min_seniority)
    since = at - rule.active_days * DAY
    facts = state.facts("person.moved", at)
    if not facts or facts[-1].t <= since:
        return []  # every report is too old (a claim is dated by one of its reports)
    moves = move_claims(facts, policy, state.names(at))
    return [
        fact
        for fact in moves
        if fact.t > since and SENIORITY_ORDER.index(fact.data.seniority) >= floor  # type: ignore[attr-defined]
    ]


def _key_person(rule: KeyPersonRule, ctx: Context) -> Condition:
    moves = qualifying_moves(ctx.state, rule, ctx.policy, ctx.at)
    if rule.name in ctx.alerts.firing:
        # Only whether it still holds matters: a firing alert keeps what it started with.
        return _STILL if moves else _QUIET
    if not moves:
        return _QUIET
    data: Any = moves[-1].data
    found = {
        "person": data.person,
        "role": data.role,
        "from_org": data.from_org,
        "competitor": ctx.policy.competitor(data.to_org),
    }
    return Condition(True, found, tuple(i for fact in moves for i in fact_ids(fact)))


def counted_pauses(
    state: VendorState, rule: PeerPauseRule, policy: Policy, at: float
) -> list[tuple[float, str, str]]:
    """(time, client, event id) of the other clients whose latest word at `at` is a pause or a
    termination reported less than `lapse_days` before `at`, oldest first. A resume cancels a
    pause; a new report from the same client renews it. A client is an organisation under any
    of its names, as the score reads it (`scoring.client_groups`, `peer_clients`)."""
    lapse = rule.lapse_days * DAY
    paused: list[tuple[float, str, str]] = []
    # As of the latest event every client's latest word is the last of its list.
    newest = state.last_t is not None and at >= state.last_t
    lists = state.clients
    for names in peer_clients(state, policy):
        # One organisation may be filed under several names (`scoring.client_groups`): its
        # latest word is the latest of theirs.
        if len(names) == 1:
            facts = lists[names[0]]
            fact = facts[-1] if newest else latest(facts, at)
        elif newest:
            fact = max(lists[name][-1] for name in names)
        else:
            said = [f for name in names if (f := latest(lists[name], at)) is not None]
            fact = max(said) if said else None
        if fact is None or fact.type == "client.resumed" or at - fact.t >= lapse:
            continue
        paused.append((fact.t, fact.data.client, fact.event_id))  # type: ignore[attr-defined]
    paused.sort()
    return paused


def _peer_pauses(rule: PeerPauseRule, ctx: Context) -> Condition:
    if not holds_data(ctx):
        return _QUIET
    paused = counted_pauses(ctx.state, rule, ctx.policy, ctx.at)
    if rule.name in ctx.alerts.firing:
        # Only whether it still holds matters: a firing alert keeps what it started with.
        return _STILL if len(paused) >= rule.min_clients else _QUIET
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
    CompetitorStakeRule: frozenset(
        {"ownership.stake_acquired", "ownership.divested", "ownership.acquired"}
    ),
    PeerPauseRule: frozenset({"client.paused", "client.resumed", "client.terminated"}),
    KeyPersonRule: frozenset({"person.moved"}),
}
"""Rules whose condition reads only facts of these event types (every fact is at or before the
vendor's latest event time, which is the `at` rules see)."""


_DATA_FACTS = frozenset({"data.shared", "data.revoked", "vendor.offboarded"})
"""Event types that change the data at stake."""
_NEEDS_DATA: frozenset[type] = frozenset({CompetitorStakeRule, PeerPauseRule})
"""Fact-triggered rules that also require data at stake (`holds_data`)."""


TIME = "@time"
"""The `event_type` of an evaluation that time alone brought (a deadline, no event)."""
REVISION = "@revision"
"""The `event_type` of an evaluation after an event that took another back (a retraction or a
replacement, `state.taken_back`): any fact may be gone, so every rule is checked."""


def _may_change(rule: AlertRule, event_type: str, firing: bool) -> bool:
    """Whether an evaluation of this kind can change the rule's verdict; skipping the others is
    exact, and it is what keeps the rules O(1) for most events instead of rescanning facts.

    Stakes change only with their own facts and with the data at stake (`holds_data`); so do
    peer pauses. Key-person alerts and peer pauses can also end as
    time passes (`active_days`, `lapse_days`), so they are re-checked while they fire, after any
    event and at deadlines; neither can start without a new fact, since a later instant only
    moves older facts out of their windows. Score rules (threshold, jump) run every time.
    """
    triggers = _FACT_TRIGGERED.get(type(rule))
    if triggers is None or event_type in triggers or event_type == REVISION:
        return True
    if event_type in _DATA_FACTS and type(rule) in _NEEDS_DATA:
        return True  # the data at stake they require (`holds_data`) may have come or gone
    return firing and isinstance(rule, KeyPersonRule | PeerPauseRule)


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
        caused_by=caused_by(ctx.event, ctx.at),
        score=current.score,
        previous_score=previous.score if previous else None,
        score_severity=current.severity,
        previous_score_severity=previous.severity if previous else None,
        explained=current,
        policy_version=current.policy_version,
        as_of=ctx.at,
        evidence=cited(ctx.state, firing.event_ids),
    )


def cited(state: VendorState, event_ids: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The provenance of those of `event_ids` that were read from documents."""
    if not state.evidence:
        return ()
    found = []
    for event_id in event_ids:
        p = state.evidence.get(event_id)
        if p is not None:
            found.append({"event_id": event_id, "url": p.url, "publisher": p.publisher,
                          "quote": p.quote})  # fmt: skip
    return tuple(found)


def caused_by(event: Event | None, at: float) -> str:
    """What a transition or score record says caused it: the event's id, or for a deadline
    the instant it fell due (`time:<ISO instant>`), which replay computes the same way."""
    return event.id if event is not None else f"time:{iso(at)}"


def evaluate(
    alerts: AlertState,
    previous: Score | Figures | None,
    current: Score | Figures,
    state: VendorState,
    event: Event | None,
    policy: Policy,
) -> list[Transition]:
    """Update `alerts` for one evaluation and return the transitions it caused: after an
    applied `event`, or at a deadline (`event` None) as of `current`'s instant.

    `current` and `previous` may be `Figures`: the rules read only numbers, and the explanation
    (a transition's contributions) is built only when an alert starts or ends.
    """
    at = current.t if isinstance(current, Figures) else current.as_of.timestamp()
    ctx = Context(alerts, previous, current, state, event, policy, at)
    transitions: list[Transition] = []
    firings = alerts.firing
    plan = _PLANS.get(policy.version) or _plan(policy)
    kind = TIME if event is None else REVISION if taken_back(event) else event.type
    checks = plan.by_type.get(kind)
    if checks is None:
        checks = plan.by_type[kind] = _checks(plan.enabled, kind)
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
                level=condition.level,
            )
            firings[rule.name] = firing
            transitions.append(_transition(rule, "firing", firing, None, ctx))
        elif condition.active and condition.level and _grew(firing.level, condition.level):
            # It grew while firing: the same alert (fingerprint, starts_at) fires again with
            # what holds now. A second `firing` transition for a firing fingerprint replaces the
            # first wherever alerts are kept (notifier, read view, replay) and, its id being
            # new, goes out as a new notification.
            firing = replace(
                firing,
                summary=render_summary(rule, ctx, condition.fields),
                event_ids=condition.event_ids,
                level=condition.level,
            )
            firings[rule.name] = firing
            transitions.append(_transition(rule, "firing", firing, None, ctx))
        elif not condition.active and firing is not None:
            del firings[rule.name]
            transitions.append(_transition(rule, "resolved", firing, at, ctx))
    _remember(alerts, plan.history_s, at, current)
    return transitions


Check = tuple[AlertRule, Callable[[Any, Context], Condition], bool]
"""(rule, its evaluator, whether to run it only while the rule fires)."""


class _Plan(NamedTuple):
    """What `evaluate` reads from a policy after every event, worked out once per version."""

    enabled: tuple[AlertRule, ...]
    """The enabled rules, in policy order."""
    history_s: float | None
    """Seconds of score history the jump rules look back on (None: no jump rule)."""
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


def _remember(
    alerts: AlertState, window: float | None, at: float, numbers: Figures | Score
) -> None:
    if window is None:
        return
    history = alerts.history
    history.append((at, numbers))
    horizon = at - window
    # keep one point at or before the horizon: it is the baseline of the oldest window
    while len(history) >= 2 and history[1][0] <= horizon:
        history.popleft()
