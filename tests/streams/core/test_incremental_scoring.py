"""The incremental engine's cached path gives exactly its from-scratch score.

`_incremental.score` keeps per-policy aggregates beside each vendor state and brings them
forward one fact at a time; its from-scratch path (`cached=False`, or any instant before the
vendor's latest event) rebuilds them from the facts. (That both equal the reference
`scoring.score` is test_reference_equals_incremental.py.) The design makes both run the same
float operations in the same order, so these tests demand equality, not closeness: a score must
not depend on whether it was computed live, replayed, or after a restart.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import END, POLICY, VENDORS, distinct_time_histories, histories, instants
from vendorwatch.schemas import Event
from vendorwatch.streams.core._incremental import score
from vendorwatch.streams.core.policy import Policy, policy_from_dict
from vendorwatch.streams.core.scoring import Score
from vendorwatch.streams.core.state import VendorState, apply, fold

SETTINGS = settings(max_examples=examples(120), deadline=None)

FAST_DECAY = policy_from_dict(
    {
        "organisation": {"name": "Google", "aliases": ["Alphabet"]},
        "competitors": [{"name": "Meta", "aliases": ["Facebook"]}, {"name": "OpenAI"}],
        "signals": {
            # Decay on every signal, ownership included, and half-lives short enough that the
            # folds rescale by large factors between events.
            "competitor_ownership": {"weight": 1.6, "half_life_days": 3},
            "key_person_to_competitor": {"weight": 1.0, "half_life_days": 0.5},
            "peer_client_pause": {"weight": 0.5, "half_life_days": 1},
            "security_incident": {"weight": 1.0, "half_life_days": 7},
            "workforce_growth": {"weight": 0.6, "half_life_days": 5},
            "demand_surge": {"weight": 0.35, "half_life_days": 5},
            "vendor_mitigation": {"weight": 2.0, "half_life_days": 2, "max_offset_ratio": 0.9},
        },
    }
)
POLICIES = st.sampled_from([POLICY, FAST_DECAY])


def live(history: list[Event], policy: Policy) -> dict[str, VendorState]:
    """Fold as the live pipeline does: score after every event, so caches move one at a time."""
    states: dict[str, VendorState] = {}
    for event in history:
        state = states.setdefault(event.subject, VendorState(event.subject))
        apply(state, event)
        score(state, policy)
    return states


def exact(a: Score, b: Score) -> None:
    assert a == b
    assert a.event_count == b.event_count
    assert a.to_dict() == b.to_dict()


@SETTINGS
@given(history=histories(), policy=POLICIES)
def test_live_incremental_scores_equal_from_scratch_scores(
    history: list[Event], policy: Policy
) -> None:
    states = live(history, policy)
    for state in states.values():
        exact(score(state, policy), score(state, policy, cached=False))


@SETTINGS
@given(history=distinct_time_histories(), policy=POLICIES, data=st.data())
def test_late_events_are_folded_as_if_they_had_arrived_in_order(
    history: list[Event], policy: Policy, data: st.DataObject
) -> None:
    """Any arrival order of events with distinct times (ties apply in arrival order)."""
    arrival = data.draw(st.permutations(history))
    in_order = sorted(history, key=lambda e: e.time)
    late, ordered = live(arrival, policy), live(in_order, policy)
    for vendor in VENDORS:
        if vendor in ordered:
            exact(score(late[vendor], policy), score(ordered[vendor], policy))


@SETTINGS
@given(history=histories(min_size=1), policy=POLICIES, data=st.data())
def test_the_cached_path_matches_at_any_later_instant(
    history: list[Event], policy: Policy, data: st.DataObject
) -> None:
    states = live(history, policy)
    for state in states.values():
        assert state.last_t is not None
        later = data.draw(st.one_of(st.just(END), instants, st.floats(0, 30 * 86_400)))
        at = later if isinstance(later, datetime) else state.last_t + later
        if isinstance(at, datetime) and at.timestamp() < state.last_t:
            at = END + timedelta(days=1)
        exact(score(state, policy, at), score(state, policy, at, cached=False))


@SETTINGS
@given(history=histories(), policy=POLICIES, data=st.data())
def test_scoring_the_past_does_not_disturb_the_cache(
    history: list[Event], policy: Policy, data: st.DataObject
) -> None:
    states = live(history, policy)
    past = data.draw(instants)
    for state in states.values():
        before = score(state, policy)
        score(state, policy, past)  # builds from the facts known then; the cache is untouched
        exact(score(state, policy), before)


@SETTINGS
@given(history=histories(min_size=1), data=st.data())
def test_two_policies_keep_separate_caches(history: list[Event], data: st.DataObject) -> None:
    states: dict[str, VendorState] = {}
    for event in history:
        state = states.setdefault(event.subject, VendorState(event.subject))
        apply(state, event)
        policy = data.draw(POLICIES)  # a backtest alternates policies over one history
        score(state, policy)
    for state in states.values():
        for policy in (POLICY, FAST_DECAY):
            exact(score(state, policy), score(state, policy, cached=False))
        assert set(state.caches) <= {POLICY.version, FAST_DECAY.version}


@SETTINGS
@given(history=histories(min_size=1), policy=POLICIES)
def test_caches_are_not_part_of_the_state(history: list[Event], policy: Policy) -> None:
    scored, plain = live(history, policy), fold(history)
    assert scored == plain
    for vendor, state in scored.items():
        assert state.caches
        assert not plain[vendor].caches
        copy = state.copy()
        assert copy == state
        assert not copy.caches
        exact(score(copy, policy), score(state, policy))


@given(history=histories(min_size=1))
@settings(max_examples=examples(40), deadline=None)
def test_contributions_are_finite_and_decay_towards_zero(history: list[Event]) -> None:
    for state in live(history, FAST_DECAY).values():
        far = score(state, FAST_DECAY, END + timedelta(days=3650))
        assert all(math.isfinite(c.points) for c in far.contributions)
        decaying = [c for c in far.contributions if c.signal != "competitor_ownership"]
        assert all(abs(c.points) <= 0.01 for c in decaying)
