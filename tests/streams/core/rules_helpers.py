"""Builders for the alert-rule and notifier unit tests (imported by name, like delivery_helpers).

Events go through the real codec (`parse_event`) and the real `Processor`, so the tests see the
same fold, scores and rules as the live score agent and `vendorwatch replay`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core import _incremental, scoring
from vendorwatch.streams.core.policy import Policy, load_policy, policy_from_dict
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.rules import Transition
from vendorwatch.streams.core.scoring import Contribution, Score
from vendorwatch.streams.core.state import VendorState, apply
from vendorwatch.streams.eventfile import demo_scenario_path, open_events, read_events

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    at: datetime,
    vendor: str = "acme",
    event_id: str | None = None,
    source: str = "urn:vendorwatch:tests",
    replaces: str | None = None,
) -> Event:
    """One valid event, parsed by the real codec (so a typo in a payload fails loudly here)."""
    raw = {
        "specversion": "1.0",
        "id": event_id or f"t-{event_type}-{next(_ids)}",
        "source": source,
        "type": event_type,
        "time": iso(at),
        "subject": vendor,
        "data": dict(data),
    }
    if replaces is not None:
        raw["replaces"] = replaces
    return parse_event(orjson.dumps(raw))


def registered(vendor: str = "acme", *, at: datetime = T0) -> Event:
    return event("vendor.registered", {"name": vendor.title()}, at=at, vendor=vendor)


def restricted_data(vendor: str = "acme", *, at: datetime = T0, records: int = 2_000_000) -> Event:
    """Data worth 1.0: restricted and above the policy's reference volume."""
    return event(
        "data.shared",
        {"dataset": "crown-jewels", "classification": "restricted", "records": records},
        at=at,
        vendor=vendor,
    )


def heartbeat(vendor: str = "acme", *, at: datetime) -> Event:
    """An event that changes no signal: rules are evaluated at event time only, so tests use it
    to look at a vendor at a later instant (decay, windows, active_days)."""
    return event("vendor.alias_added", {"alias": f"Acme {next(_ids)}"}, at=at, vendor=vendor)


def demo_events() -> list[Event]:
    """The bundled demo scenario, in file order."""
    with open_events(demo_scenario_path()) as stream:
        events, errors = read_events(stream)
    assert not errors, errors
    return events


def default_policy() -> Policy:
    return load_policy(None)


DEFAULT_POLICY = default_policy()


def scored(*events: Event, at: datetime | None = None, policy: Policy = DEFAULT_POLICY) -> Score:
    """Vendor "acme"'s score after `events`, as of `at` (default: its latest event), by the
    reference `scoring.score`, checked equal to the live engine's, cached and rebuilt."""
    state = VendorState("acme")
    for e in events:
        apply(state, e)
    result = scoring.score(state, policy, at)
    assert result == _incremental.score(state, policy, at)
    assert result == _incremental.score(state, policy, at, cached=False)
    return result


def contribution(result: Score, signal: str) -> Contribution | None:
    """The contribution of `signal` to a score, or None when it adds nothing."""
    found = [c for c in result.contributions if c.signal == signal]
    return found[0] if found else None


def policy_with_rules(*rules: dict[str, Any], **alerts: Any) -> Policy:
    """The default policy's scoring with only `rules` (and optional lifecycle overrides)."""
    raw = default_policy().model_dump(mode="json")
    raw["alerts"] = {**raw["alerts"], **alerts, "rules": list(rules)}
    return policy_from_dict(raw)


@dataclass
class Run:
    """What a Processor did over a sequence of events: every transition with its event, and the
    score after each event."""

    transitions: list[tuple[str, Transition]] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    """event id -> the vendor's score right after it."""

    def summary(self) -> list[tuple[str, str, str, str]]:
        """(event id, vendor, rule, status) per transition, in order."""
        return [(eid, t.vendor_id, t.rule, t.status) for eid, t in self.transitions]


def run_events(events: Iterable[Event], policy: Policy, processor: Processor | None = None) -> Run:
    """Feed events one by one through the real Processor (one partition), like the score agent."""
    processor = processor or Processor(policy)
    result = Run()
    for e in events:
        outcome = processor.process(0, e)
        for earlier in outcome.earlier:  # deadlines that fell due before this event
            result.transitions.extend((earlier.caused_by, t) for t in earlier.transitions)
        result.scores[e.id] = outcome.current.score
        result.transitions.extend((e.id, t) for t in outcome.transitions)
    return result


def days(n: float) -> timedelta:
    return timedelta(days=n)
