"""Properties of the pure fold (`apply`) and of `score`, over generated event histories.

These are the promises live scoring and replay rest on: redelivery is harmless, arrival order
does not matter for events with distinct times (events of the same instant apply in arrival
order, which live, replay and offline all read in log order), a score only sees the past (and
the events taken back), a
stronger latest report never lowers a score, and the numbers stay in range and add up.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import (
    END,
    POLICY,
    VENDORS,
    competitor_stakes,
    distinct_time_histories,
    events,
    histories,
    instants,
)
from vendorwatch.schemas import Event
from vendorwatch.schemas.events import Divestment
from vendorwatch.streams.core.policy import SEVERITIES, Policy, SeverityBands, policy_from_dict
from vendorwatch.streams.core.scoring import SIGNALS, Score, exposure, score
from vendorwatch.streams.core.state import VendorState, apply, fold, taken_back

SLOW = settings(max_examples=examples(150), deadline=None)


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
    # A redelivery under the same (source, id) with other content is the same event: ignored.
    changed = data.draw(events(vendors=[again.subject])).model_copy(
        update={"id": again.id, "source": again.source}
    )
    apply(state, changed)
    assert twice == once
    at = data.draw(st.one_of(st.none(), instants))
    assert_same(scores(twice, at), scores(once, at))


def without_arrival(state: VendorState) -> dict[str, Any]:
    """A state's facts without their arrival numbers: what two folds of the same events in
    different orders share."""
    groups = ("by_type", "datasets", "stakes", "clients")
    return {
        name: {
            k: [(f.t, f.event_id, f.type, f.data) for f in v]
            for k, v in getattr(state, name).items()
        }
        for name in groups
    } | {
        "seen": state.seen,
        "first_t": state.first_t,
        "last_t": state.last_t,
        "withdrawn": sorted((f.t, f.source, f.event_id) for f in state.withdrawn),
    }


@SLOW
@given(history=distinct_time_histories(corrections=True), data=st.data())
def test_state_and_score_do_not_depend_on_the_arrival_order_of_events_with_distinct_times(
    history: list[Event], data: st.DataObject
) -> None:
    shuffled = data.draw(st.permutations(history))
    in_order, reordered = fold(history), fold(shuffled)
    assert in_order.keys() == reordered.keys()
    for vendor, state in in_order.items():
        assert without_arrival(state) == without_arrival(reordered[vendor])
    for at in (None, data.draw(instants)):
        assert_same(scores(in_order, at), scores(reordered, at))


def keeping_ties(history: list[Event], arrival: list[Event]) -> list[Event]:
    """`arrival` with the events of each instant put back in their order in `history`."""
    rank = {(e.source, e.id): i for i, e in enumerate(history)}
    result = list(arrival)
    for instant in {e.time for e in history}:
        slots = [i for i, e in enumerate(result) if e.time == instant]
        tied = sorted((result[i] for i in slots), key=lambda e: rank[(e.source, e.id)])
        for i, e in zip(slots, tied, strict=True):
            result[i] = e
    return result


@SLOW
@given(history=histories(corrections=True), data=st.data())
def test_events_of_the_same_instant_apply_in_arrival_order(
    history: list[Event], data: st.DataObject
) -> None:
    """Any arrival order that keeps the log order of events with equal times gives the same
    scores: ties are broken by arrival, never by id."""
    arrival = keeping_ties(history, data.draw(st.permutations(history)))
    in_order = sorted(history, key=lambda e: e.time)  # stable: ties keep their log order
    for at in (None, data.draw(instants)):
        assert_same(scores(fold(in_order), at), scores(fold(arrival), at))


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
@given(history=histories(), stake=competitor_stakes(), data=st.data())
def test_a_stronger_latest_report_never_lowers_the_score(
    history: list[Event], stake: Event, data: st.DataObject
) -> None:
    """The same report (same investor, instant and place in the log) saying a larger stake,
    more seats or control never lowers the score, whatever else the history holds."""
    history = [e for e in history if e.id != stake.id]
    weak: Any = stake.data
    stronger = stake.model_copy(
        update={
            "data": weak.model_copy(
                update={
                    "stake_pct": data.draw(st.floats(weak.stake_pct, 100)),
                    "board_seats": weak.board_seats + data.draw(st.integers(0, 3)),
                    "voting_control": weak.voting_control or data.draw(st.booleans()),
                }
            )
        }
    )
    at = data.draw(st.one_of(st.just(END), instants)).timestamp()
    before = fold([*history, stake])[stake.subject]
    after = fold([*history, stronger])[stake.subject]
    assert exposure(after, POLICY, at).value >= exposure(before, POLICY, at).value - 1e-9


@SLOW
@given(history=histories(), stake=competitor_stakes())
def test_the_latest_report_states_what_holds(history: list[Event], stake: Event) -> None:
    """A report after everything else is what its competitor holds: shown when it holds
    anything, and a divestment after it leaves nothing of that competitor's holding."""
    history = [e for e in history if e.id != stake.id]
    last = stake.model_copy(update={"time": END + timedelta(days=1)})
    at = END + timedelta(days=2)
    after = scores(fold([*history, last]), at)[stake.subject]
    data: Any = stake.data
    holds = data.stake_pct > 0 or data.board_seats > 0 or data.voting_control
    ownership = {c.signal: c for c in after.contributions}.get("competitor_ownership")
    if holds and after.data_at_stake > 0 and after.score < 100:
        # listed unless its share of the score rounds to 0.00 points
        x = exposure(fold([*history, last])[stake.subject], POLICY, at.timestamp())
        share = x.risks.get("competitor_ownership")
        listed = share is not None and round(x.unmitigated * share.hazard / x.positive, 2) != 0
        assert listed == (ownership is not None)
        if ownership is not None:
            assert last.id in ownership.event_ids
            assert f"holds {data.stake_pct:g}%" in ownership.detail
    divested = last.model_copy(
        update={
            "id": f"{last.id}-divested",
            "type": "ownership.divested",
            "time": END + timedelta(days=1, seconds=1),
            "data": Divestment(investor=data.investor),
        }
    )
    gone = scores(fold([*history, last, divested]), at)[stake.subject]
    ownership = {c.signal: c for c in gone.contributions}.get("competitor_ownership")
    assert ownership is None or last.id not in ownership.event_ids


@SLOW
@given(history=histories(corrections=True), data=st.data())
def test_score_at_t_ignores_events_after_t(history: list[Event], data: st.DataObject) -> None:
    """A score as of t reads only facts dated up to t. Events taken back are taken back for
    every instant (a retraction dated after t still withdraws an event dated before it), so
    the later events that take one back are folded too; their own facts, after t, are not read.
    """
    at = data.draw(st.one_of(instants, st.sampled_from([e.time for e in history] or [END])))
    everything = fold(history)
    known_then = fold([e for e in history if e.time <= at or taken_back(e) is not None])
    assert_same(scores(everything, at), scores(known_then, at))
    # Without any event taken back, the events after t are simply not read.
    if not any(taken_back(e) for e in history):
        assert_same(scores(everything, at), scores(fold([e for e in history if e.time <= at]), at))


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
