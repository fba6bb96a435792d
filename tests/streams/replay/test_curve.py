"""The score between events (`streams/replay/curve.py`): what `history --chart` draws.

Hand-made histories, as in tests/streams/core/test_scoring.py, and the demo scenario folded in
process (no broker): the curve must be the product's own scores, decaying as the policy says.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import orjson
import pytest

from vendorwatch.schemas import Event, parse_event
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.scoring import DAY, score
from vendorwatch.streams.core.state import VendorState, apply
from vendorwatch.streams.eventfile import demo_scenario_path
from vendorwatch.streams.replay.curve import (
    BEFORE_EVENT,
    DEFAULT_POINTS,
    AlertSpan,
    alert_spans,
    sample_instants,
    score_curve,
    vendor_state,
)
from vendorwatch.streams.replay.run import PolicyResult, ReplaySink

POLICY = load_policy()
T0 = datetime(2025, 6, 1, tzinfo=UTC)
_ids = itertools.count()


def ev(event_type: str, day: float, /, **data: Any) -> Event:
    """An event of vendor `acme`, `day` days after T0."""
    raw = {
        "specversion": "1.0",
        "id": f"c-{next(_ids)}",
        "source": "test",
        "type": event_type,
        "time": (T0 + timedelta(days=day)).isoformat(),
        "subject": "acme",
        "data": data,
    }
    return parse_event(orjson.dumps(raw))


def at(day: float) -> float:
    return (T0 + timedelta(days=day)).timestamp()


def state_of(*events: Event) -> VendorState:
    state = VendorState("acme")
    for event in events:
        apply(state, event)
    return state


# restricted, a million records: A = 1, so score = 100 x (1 - exp(-H))
SHARED = ev("data.shared", 0, dataset="ds", classification="restricted", records=10**6)


def hazard(points: float) -> float:
    return -math.log(1 - points / 100)


def test_between_events_decaying_signals_only_fall_and_halve_each_half_life() -> None:
    first = ev("security.incident", 1, title="Leak", severity="critical")
    second = ev("security.incident", 200, title="Leak again", severity="high")
    state = state_of(SHARED, first, second)
    curve = score_curve(state, POLICY, at(0), at(400))
    between = [v for t, v in curve if at(1) <= t < at(200) - BEFORE_EVENT / 2]
    assert len(between) > 50
    assert all(b <= a for a, b in itertools.pairwise(between))
    assert between[0] > between[-1]
    after = [v for t, v in curve if t >= at(200)]
    assert all(b <= a for a, b in itertools.pairwise(after))

    half_life = POLICY.signals.security_incident.half_life_days
    assert half_life is not None
    # an even grid of 3 over [t1, t1 + 2h] puts a sample exactly one half-life after the event
    halving = dict(score_curve(state, POLICY, at(1), at(1) + 2 * half_life * DAY, points=3))
    start, one, two = at(1), at(1) + half_life * DAY, at(1) + 2 * half_life * DAY
    assert hazard(halving[start]) == pytest.approx(2.0, abs=2e-3)  # critical incident: 2.0
    assert hazard(halving[one]) == pytest.approx(1.0, abs=2e-3)
    assert hazard(halving[two]) == pytest.approx(0.5, abs=2e-3)


def test_the_curve_jumps_vertically_at_every_event_instant() -> None:
    events = [
        SHARED,
        ev("security.incident", 10, title="Leak", severity="high"),
        ev("demand.changed", 40, factor=4),
        ev("security.incident", 41.5, title="Leak again", severity="medium"),
    ]
    state = state_of(*events)
    curve = dict(score_curve(state, POLICY, at(0), at(100)))
    for event in events:
        t = event.time.timestamp()
        assert curve[t] == score(state, POLICY, t).score  # the event instant itself
        assert t - BEFORE_EVENT in curve or t - BEFORE_EVENT < at(0)
    for event in events[1:]:
        t = event.time.timestamp()
        assert curve[t] > curve[t - BEFORE_EVENT]  # a risk event raises it at once
    assert list(curve) == sorted(curve)
    assert min(curve) == at(0)
    assert max(curve) == at(100)


def test_competitor_ownership_alone_does_not_decay() -> None:
    stake = ev("ownership.stake_acquired", 5, investor="Meta", stake_pct=49, board_seats=1)
    curve = score_curve(state_of(SHARED, stake), POLICY, at(0), at(3 * 365))
    held = {v for t, v in curve if t >= stake.time.timestamp()}
    assert len(held) == 1
    assert held.pop() > 60
    assert {v for t, v in curve if t < stake.time.timestamp()} == {0.0}


def test_sampling_stays_cheap_and_smooth_over_years() -> None:
    ten_years = 3650 * DAY
    events = [at(0) + i * ten_years / 50 for i in range(50)]
    instants = sample_instants(events, at(0), at(0) + ten_years, half_life_days=60)
    assert DEFAULT_POINTS <= len(instants) < 3 * DEFAULT_POINTS
    assert max(b - a for a, b in itertools.pairwise(instants)) <= 90 * DAY / 4
    # a 90-day half-life over a year: steps of about a day, far below what a chart resolves
    year = sample_instants([at(0)], at(0), at(365), half_life_days=90)
    assert max(b - a for a, b in itertools.pairwise(year)) <= 2 * DAY
    with pytest.raises(ValueError, match="start <= end"):
        sample_instants([], at(1), at(0))


def test_demo_curve_passes_through_every_score_replay_published() -> None:
    """The curve is the product's score: at each event instant it is what replay published."""
    events = [
        parse_event(line) for line in demo_scenario_path().read_bytes().splitlines() if line.strip()
    ]
    sink = ReplaySink([POLICY], vendor="scale-ai", collect_steps=True)
    sink.feed_events(0, [e for e in events if e.subject == "scale-ai"])
    steps = [s for s in PolicyResult.of(sink.runs[0]).steps if s.event is not None]
    state = vendor_state("scale-ai", (s.event for s in steps))
    end = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    curve = dict(score_curve(state, POLICY, steps[0].event.time.timestamp(), end))
    for step in steps:
        assert curve[step.event.time.timestamp()] == step.score.score
    # after the stake the score decays (person, pauses fade) but ownership holds it up
    stake = datetime(2025, 6, 12, 14, tzinfo=UTC).timestamp()
    last = max(s.event.time.timestamp() for s in steps)
    tail = [v for t, v in curve.items() if t >= last]
    assert all(b <= a for a, b in itertools.pairwise(tail))
    assert tail[0] - tail[-1] > 5
    assert tail[-1] > curve[stake] - 5


class Mark(NamedTuple):
    rule: str
    status: str
    severity: str
    starts_at: float
    ends_at: float | None
    as_of: float


def test_alert_spans_pair_firing_and_resolved() -> None:
    marks = [
        Mark("score_jump", "firing", "high", at(1), None, at(1)),
        Mark("competitor_stake", "firing", "critical", at(2), None, at(2)),
        # ended on time (no event then): the span ends at ends_at, reported later
        Mark("score_jump", "resolved", "high", at(1), at(8), at(30)),
        Mark("score_jump", "firing", "high", at(40), None, at(40)),
        Mark("score_jump", "resolved", "high", at(40), None, at(45)),
        Mark("peer_pauses", "resolved", "high", at(3), None, at(50)),  # its firing not seen
        Mark("key_person_to_competitor", "firing", "high", at(500), None, at(500)),  # after end
    ]
    assert alert_spans(marks, at(100)) == [
        AlertSpan("score_jump", "high", at(1), at(8), True),
        AlertSpan("competitor_stake", "critical", at(2), at(100), False),
        AlertSpan("peer_pauses", "high", at(3), at(50), True),
        AlertSpan("score_jump", "high", at(40), at(45), True),
    ]
    assert alert_spans(marks, at(5)) == [
        AlertSpan("score_jump", "high", at(1), at(5), False),  # still firing at the end
        AlertSpan("competitor_stake", "critical", at(2), at(5), False),
        AlertSpan("peer_pauses", "high", at(3), at(5), False),
    ]
