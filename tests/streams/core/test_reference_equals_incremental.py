"""The readable reference (`scoring.score`) and the live engine (`_incremental`) give the same
`Score`, exactly: same floats, same contributions in the same order, same words.

This is what lets `scoring.py` be the one implementation a reviewer checks against
docs/scoring.md while the live pipeline runs the cleverer one: any rule changed in one and not
the other fails here. Equality is exact (`==` on the Score, its `event_count` and its JSON), not
approximate, because a published score must not depend on which path computed it.

Covered: the live path (a score after every event, caches moving one fact at a time, read as
`Figures` then explained), arrival in any order (late events refold a signal), instants before
the latest event (`--as-of`) and after it (decay), policies where every signal decays fast, and
a citation bound small enough that every explanation leaves facts uncited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import (
    END,
    POLICY,
    START,
    events,
    histories,
    instants,
    ownership_histories,
    raw_events,
    to_event,
)
from tests.streams.core.test_incremental_scoring import FAST_DECAY
from vendorwatch.schemas import Event
from vendorwatch.streams.core import _incremental, scoring
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import Score
from vendorwatch.streams.core.state import VendorState, apply, fold

SETTINGS = settings(max_examples=examples(150), deadline=None)
POLICIES = st.sampled_from([POLICY, FAST_DECAY])
SMALL_BOUNDS = st.sampled_from([1, 2, 3, scoring.MAX_CITED_FACTS])

stake_reports = st.builds(
    lambda raw, investor, pct, seats: to_event(
        raw | {"data": {"investor": investor, "stake_pct": pct, "board_seats": seats}}
    ),
    raw_events("ownership.stake_acquired", ["scale-ai"]),
    st.sampled_from(["Meta", "Facebook", "OpenAI", "Accel"]),
    st.sampled_from([10.0, 30.0, 50.0, 80.0]),
    st.integers(0, 1),
)
"""Stake reports that tie often: few competitors (and an alias), few holdings."""
stake_histories = st.lists(
    st.one_of(stake_reports, events("data.shared", ["scale-ai"])),
    min_size=1,
    max_size=30,
    unique_by=lambda e: (e.source, e.id),
)
one_vendor = st.lists(
    events(vendors=["scale-ai"], corrections=True),
    min_size=1,
    max_size=50,
    unique_by=lambda e: (e.source, e.id),
)
"""Long histories of one vendor: many facts per signal, so folds, reports and bounds are hit."""
any_histories = st.one_of(
    histories(max_size=50), one_vendor, stake_histories, ownership_histories()
)
moments = st.one_of(
    st.none(),
    instants,
    st.just(START - timedelta(days=1)),
    st.just(END + timedelta(days=3650)),
)
"""None (the latest event), any instant of the window (often before the latest event), before
anything happened, and long after (everything that decays has decayed)."""


@contextmanager
def citing_at_most(n: int) -> Iterator[None]:
    with mock.patch.object(scoring, "MAX_CITED_FACTS", n):
        yield


def assert_identical(reference: Score, fast: Score) -> None:
    assert fast == reference
    assert fast.event_count == reference.event_count
    assert fast.to_dict() == reference.to_dict()


def assert_same_floats(state: VendorState, policy: Policy, figures: _incremental.Figures) -> None:
    """The unrounded numbers too: rounding to 0.01 would hide most last-bit differences."""
    x = scoring.exposure(state, policy, figures.t)
    assert [(name, hazard) for name, hazard, _ in figures.risks] == [
        (name, signal.hazard) for name, signal in x.risks.items()
    ]
    assert (figures.positive, figures.unmitigated, figures.value, figures.exact_likelihood) == (
        x.positive,
        x.unmitigated,
        x.value,
        x.likelihood,
    )


@SETTINGS
@given(history=any_histories, policy=POLICIES, bound=SMALL_BOUNDS)
def test_the_live_path_scores_every_event_as_the_reference_does(
    history: list[Event], policy: Policy, bound: int
) -> None:
    """After every event, in arrival order (late events included): the live engine's numbers,
    explained, equal the reference score of the state at that event."""
    with citing_at_most(bound):
        states: dict[str, VendorState] = {}
        for event in history:
            state = states.setdefault(event.subject, VendorState(event.subject))
            apply(state, event)
            numbers = _incremental.figures(state, policy)
            assert_same_floats(state, policy, numbers)
            assert_identical(scoring.score(state, policy), numbers.explain())


@SETTINGS
@given(history=any_histories, policy=POLICIES, bound=SMALL_BOUNDS, at=moments)
def test_any_instant_scores_as_the_reference_does(
    history: list[Event], policy: Policy, bound: int, at: datetime | None
) -> None:
    """As of any instant, before or after the latest event: cached (warmed by a live fold) and
    from scratch."""
    with citing_at_most(bound):
        live: dict[str, VendorState] = {}
        for event in history:
            state = live.setdefault(event.subject, VendorState(event.subject))
            apply(state, event)
            _incremental.score(state, policy)
        for vendor, state in fold(history).items():
            reference = scoring.score(state, policy, at)
            assert_identical(reference, _incremental.score(live[vendor], policy, at))
            assert_identical(reference, _incremental.score(state, policy, at, cached=False))


@SETTINGS
@given(history=any_histories, policy=POLICIES, data=st.data())
def test_late_events_score_as_the_reference_does(
    history: list[Event], policy: Policy, data: st.DataObject
) -> None:
    """Any arrival order: the live engine refolds what a late event lands in; the reference,
    which reads facts in (event time, arrival) order, does not care."""
    arrival = data.draw(st.permutations(history))
    states: dict[str, VendorState] = {}
    for event in arrival:
        state = states.setdefault(event.subject, VendorState(event.subject))
        apply(state, event)
        assert_identical(scoring.score(state, policy), _incremental.score(state, policy))


@SETTINGS
@given(history=histories(max_size=50), policy=POLICIES, at=st.one_of(st.none(), instants))
def test_score_all_ranks_as_the_live_engine_would(
    history: list[Event], policy: Policy, at: datetime | None
) -> None:
    states = fold(history)
    ranked = scoring.score_all(states.values(), policy, at)
    for result in ranked:
        assert_identical(result, _incremental.score(states[result.vendor_id], policy, at))
