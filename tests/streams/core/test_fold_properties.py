"""Properties of the pure fold (`apply`) and of `score`, over generated event histories.

These are the promises live scoring and replay rest on: redelivery is harmless, arrival order
does not matter, a score only sees the past, and the numbers stay in range and add up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.strategies import (
    END,
    POLICY,
    VENDORS,
    competitor_stakes,
    events,
    histories,
    instants,
)
from vendorwatch.schemas import Event
from vendorwatch.streams.core.policy import SEVERITIES, Policy, SeverityBands, policy_from_dict
from vendorwatch.streams.core.scoring import SIGNALS, Score, exposure, score
from vendorwatch.streams.core.state import VendorState, apply, fold

SLOW = settings(max_examples=150, deadline=None)


def scores(
    states: dict[str, VendorState], at: datetime | None, policy: Policy = POLICY
) -> dict[str, Score]:
    """Every test vendor's score; a vendor without events scores as an empty state."""
    return {v: score(states.get(v) or VendorState(v), policy, at) for v in VENDORS}


def assert_same(a: dict[str, Score], b: dict[str, Score]) -> None:
    assert a == b
    assert {v: s.event_count for v, s in a.items()} == {v: s.event_count for v, s in b.items()}


@SLOW
@given(history=histories(min_size=1), data=st.data())
def test_applying_the_same_event_id_twice_changes_nothing(
    history: list[Event], data: st.DataObject
) -> None:
    once = fold(history)
    twice = fold(history)
    again = data.draw(st.sampled_from(history))
    state = twice[again.subject]
    assert apply(state, again) is state
    assert twice == once
    # A redelivery under the same id with other content is the same event: it is ignored.
    changed = data.draw(events(vendors=[again.subject])).model_copy(update={"id": again.id})
    apply(state, changed)
    assert twice == once
    at = data.draw(st.one_of(st.none(), instants))
    assert_same(scores(twice, at), scores(once, at))


@SLOW
@given(history=histories(), data=st.data())
def test_state_and_score_do_not_depend_on_arrival_order(
    history: list[Event], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(history))
    in_order, reordered = fold(history), fold(shuffled)
    assert in_order == reordered
    for at in (None, data.draw(instants)):
        assert_same(scores(in_order, at), scores(reordered, at))


@SLOW
@given(history=histories(), at=st.one_of(st.none(), instants))
def test_scores_stay_in_range_and_contributions_add_up(
    history: list[Event], at: datetime | None
) -> None:
    for result in scores(fold(history), at).values():
        assert 0 <= result.score <= 100
        assert 0 <= result.data_at_stake <= 1
        assert 0 <= result.likelihood <= 1
        assert result.severity == POLICY.severity(result.score)
        assert result.policy_version == POLICY.version
        points = [c.points for c in result.contributions]
        # Each signal's points are rounded to 0.01 (off by <= 0.005) or, rounding to 0.00, left
        # out (off by < 0.005); the score is rounded too.
        assert abs(sum(points) - result.score) <= 0.005 * (len(SIGNALS) + 1) + 1e-9
        risks = [c for c in result.contributions if c.signal != "vendor_mitigation"]
        assert [c.points for c in risks] == sorted((c.points for c in risks), reverse=True)
        assert all(c.points >= 0 and c.event_ids for c in risks)
        assert all(c.points <= 0 for c in result.contributions if c.signal == "vendor_mitigation")


@SLOW
@given(history=histories(), stake=competitor_stakes(), at=st.one_of(st.just(END), instants))
def test_a_competitor_stake_never_lowers_a_score(
    history: list[Event], stake: Event, at: datetime
) -> None:
    history = [e for e in history if e.id != stake.id]
    before = scores(fold(history), at)[stake.subject]
    after = scores(fold([*history, stake]), at)[stake.subject]
    assert after.score >= before.score
    data: Any = stake.data
    holds = data.stake_pct > 0 or data.board_seats > 0 or data.voting_control
    if holds and stake.time <= at and before.data_at_stake > 0 and after.score < 100:
        # The stake always counts; it is listed unless its share rounds to 0.00 points.
        x = exposure(fold([*history, stake])[stake.subject], POLICY, at.timestamp())
        ownership = x.risks["competitor_ownership"].hazard
        listed = round(x.unmitigated * ownership / x.positive, 2) != 0
        assert listed == ("competitor_ownership" in {c.signal for c in after.contributions})


@SLOW
@given(history=histories(), data=st.data())
def test_score_at_t_ignores_events_after_t(history: list[Event], data: st.DataObject) -> None:
    at = data.draw(st.one_of(instants, st.sampled_from([e.time for e in history] or [END])))
    everything = fold(history)
    known_then = fold([e for e in history if e.time <= at])
    assert_same(scores(everything, at), scores(known_then, at))


@SLOW
@given(history=histories(min_size=1))
def test_the_default_instant_is_the_vendors_latest_event(history: list[Event]) -> None:
    for vendor, state in fold(history).items():
        latest = max(e.time for e in history if e.subject == vendor)
        assert score(state, POLICY) == score(state, POLICY, latest)


bands = st.lists(st.floats(0, 100, allow_nan=False), min_size=4, max_size=4).map(sorted)


@given(cuts=bands, a=st.floats(0, 100), b=st.floats(0, 100))
def test_severity_is_monotonic_in_score(cuts: list[float], a: float, b: float) -> None:
    low, medium, high, critical = cuts
    policy = policy_from_dict(
        {
            "organisation": {"name": "Acme"},
            "severity_bands": {"low": low, "medium": medium, "high": high, "critical": critical},
        }
    )
    for band_set in (policy.severity_bands, SeverityBands()):
        lo, hi = sorted((a, b))
        assert SEVERITIES.index(band_set.severity(lo)) <= SEVERITIES.index(band_set.severity(hi))
