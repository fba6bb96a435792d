"""Taking facts back and counting each fact once: event identity, retractions, corrections,
incident updates, moves back, and reports of one fact from several sources.

Each case is checked offline (the reference `scoring.score`, held equal to the live engine by
`scored`) and, where an alert is involved, through the real `Processor` with the shipped policy.
Data at stake is full (restricted, above the reference volume): the score is 100 x (1 - e^-H).
"""

from __future__ import annotations

from typing import Any

from tests.streams.core.rules_helpers import (
    T0,
    contribution,
    days,
    default_policy,
    event,
    registered,
    restricted_data,
    run_events,
    scored,
)
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.policy import policy_from_dict
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.rules import counted_pauses
from vendorwatch.streams.core.state import VendorState, apply, event_key

POLICY = default_policy()
BASE = (registered(), restricted_data())
NEWS, WIRE = "urn:news:outlet-a", "urn:news:outlet-b"


def stake(day: float, pct: float = 30, **envelope: Any) -> Event:
    data = {"investor": "Meta", "stake_pct": pct}
    return event("ownership.stake_acquired", data, at=T0 + days(day), **envelope)


def move(day: float, to_org: str = "OpenAI", from_org: str = "Acme", **envelope: Any) -> Event:
    data = {
        "person": "Dana Wu",
        "role": "CTO",
        "from_org": from_org,
        "to_org": to_org,
        "seniority": "executive",
    }
    return event("person.moved", data, at=T0 + days(day), **envelope)


def incident(day: float, severity: str, **fields: Any) -> Event:
    envelope = {k: fields.pop(k) for k in ("source", "event_id") if k in fields}
    data = {"title": "Credential leak", "severity": severity, **fields}
    return event("security.incident", data, at=T0 + days(day), **envelope)


def retraction(day: float, target: Event, **envelope: Any) -> Event:
    envelope.setdefault("source", target.source)
    data = {"id": target.id, "reason": "sent in error"}
    return event("event.retracted", data, at=T0 + days(day), **envelope)


def alerts(events: list[Event], rule: str) -> list[tuple[str, str]]:
    """(event id, status) of every transition of `rule`, through the Processor."""
    run = run_events(events, POLICY)
    return [(eid, t.status) for eid, t in run.transitions if t.rule == rule]


# --- identity is (source, id) -------------------------------------------------------------------


def test_the_same_id_from_two_sources_is_two_events_in_either_order() -> None:
    a = stake(1, 30, source=NEWS, event_id="report-1")
    b = move(2, source=WIRE, event_id="report-1")
    one, other = scored(*BASE, a, b), scored(*BASE, b, a)
    assert one == other
    assert contribution(one, "competitor_ownership") is not None
    assert contribution(one, "key_person_to_competitor") is not None
    assert one.event_count == 4


def test_a_repeat_of_the_same_source_and_id_is_a_no_op() -> None:
    a = stake(1, 30, source=NEWS, event_id="report-1")
    again = stake(1, 45, source=NEWS, event_id="report-1")  # a redelivery, whatever it says
    assert scored(*BASE, a, again) == scored(*BASE, a)


def test_the_processor_keeps_both_events_of_a_shared_id() -> None:
    processor = Processor(POLICY)
    a = stake(1, 30, source=NEWS, event_id="report-1")
    b = move(2, source=WIRE, event_id="report-1")
    for e in (*BASE, a, b):
        assert not processor.in_history(0, e)
        processor.process(0, e)
        assert processor.in_history(0, e)
    assert processor.states[0]["acme"].seen >= {event_key(a), event_key(b)}


# --- retractions and corrections ----------------------------------------------------------------


def test_a_retracted_stake_no_longer_counts_and_its_alert_resolves() -> None:
    bought = stake(1, 30)
    taken_back = retraction(3, bought)
    result = scored(*BASE, bought, taken_back)
    assert contribution(result, "competitor_ownership") is None
    assert result.score == 0
    assert result.event_count == 4  # both stay in the history
    assert alerts([*BASE, bought, taken_back], "competitor_stake") == [
        (bought.id, "firing"),
        (taken_back.id, "resolved"),
    ]


def test_a_retraction_that_arrives_first_withdraws_the_event_on_arrival() -> None:
    bought = stake(1, 30)
    taken_back = retraction(3, bought)
    assert scored(*BASE, taken_back, bought) == scored(*BASE, bought, taken_back)


def test_only_the_source_of_an_event_can_take_it_back() -> None:
    bought = stake(1, 30, source=NEWS)
    other = retraction(3, bought, source=WIRE)  # names the id, but from another source
    assert contribution(scored(*BASE, bought, other), "competitor_ownership") is not None


def test_a_correction_replaces_a_mistyped_stake() -> None:
    typo = stake(1, 3.0)
    fixed = stake(1, 30, replaces=typo.id)
    result = scored(*BASE, typo, fixed)
    assert contribution(result, "competitor_ownership").event_ids == (fixed.id,)
    assert contribution(result, "competitor_ownership").detail == "Meta (competitor) holds 30%"
    assert result == scored(*BASE, fixed, typo)  # whichever arrives first
    # The stake alert (20% and up) fires on the correction, whose summary says 30%.
    run = run_events([*BASE, typo, fixed], POLICY)
    fired = [(e, t) for e, t in run.transitions if t.rule == "competitor_stake"]
    assert [(e, t.status) for e, t in fired] == [(fixed.id, "firing")]
    assert "30%" in fired[0][1].summary


def test_a_correction_that_lowers_a_stake_resolves_the_alert() -> None:
    typo = stake(1, 30)
    fixed = stake(1, 3.0, replaces=typo.id)
    assert alerts([*BASE, typo, fixed], "competitor_stake") == [
        (typo.id, "firing"),
        (fixed.id, "resolved"),
    ]


# --- an incident updated, a move taken back ----------------------------------------------------


def test_an_incident_updated_to_low_lowers_the_score() -> None:
    first = incident(1, "critical", incident_id="INC-7")
    update = incident(2, "low", incident_id="INC-7", description="no data accessed")
    before, after = scored(*BASE, first), scored(*BASE, first, update)
    assert after.score < before.score
    counted = contribution(after, "security_incident")
    assert counted.event_ids == (first.id, update.id)
    assert counted.detail == "low incident: Credential leak (2 reports)"
    # One low incident dated by its first report: what a single low report of day 1 scores on
    # day 2 (when the update came).
    single = scored(*BASE, incident(1, "low", incident_id="INC-8"), heartbeat_on(2))
    assert after.score == single.score


def heartbeat_on(day: float) -> Event:
    """A heartbeat that moves the vendor's latest event to `day` (scores are as of it)."""
    return event("vendor.alias_added", {"alias": f"Acme {day}"}, at=T0 + days(day))


def test_reports_of_one_incident_by_title_count_once_within_the_window() -> None:
    a = incident(1, "high", source=NEWS)
    b = incident(2, "high", source=WIRE)
    later = incident(30, "high", source=WIRE)  # same title, outside the 7-day window
    assert scored(*BASE, a, b, heartbeat_on(2)) == scored(*BASE, a, b)
    once = contribution(scored(*BASE, a, b), "security_incident")
    assert once.event_ids == (a.id, b.id)
    assert scored(*BASE, a, b).score == scored(*BASE, a, heartbeat_on(2)).score
    twice = contribution(scored(*BASE, a, b, later), "security_incident")
    assert twice.event_ids == (a.id, b.id, later.id)
    assert twice.detail.count("incident:") == 2


def test_one_move_reported_by_two_sources_counts_once_and_cites_both() -> None:
    a = move(1, source=NEWS)
    b = move(1, source=WIRE)
    one = scored(*BASE, a)
    both = scored(*BASE, a, b)
    assert both.score == one.score
    counted = contribution(both, "key_person_to_competitor")
    assert counted.event_ids == (a.id, b.id)
    assert counted.detail == "Dana Wu (CTO) joined OpenAI (2 reports)"


def test_a_move_to_another_competitor_is_another_move() -> None:
    assert scored(*BASE, move(1), move(2, "Meta")).score > scored(*BASE, move(1)).score


def test_a_person_moving_back_cancels_the_move_and_its_alert() -> None:
    left = move(1)
    back = move(40, to_org="Acme", from_org="OpenAI")
    result = scored(*BASE, left, back)
    assert contribution(result, "key_person_to_competitor") is None
    assert result.score == 0
    assert alerts([*BASE, left, back], "key_person_to_competitor") == [
        (left.id, "firing"),
        (back.id, "resolved"),
    ]
    # Leaving again after coming back is a new move.
    again = move(60, source=NEWS)
    assert contribution(scored(*BASE, left, back, again), "key_person_to_competitor").event_ids == (
        again.id,
    )


def test_one_pause_reported_by_two_sources_counts_once_and_cites_both() -> None:
    a = event("client.paused", {"client": "OpenAI"}, at=T0 + days(1), source=NEWS)
    b = event("client.paused", {"client": "OpenAI, Inc."}, at=T0 + days(2), source=WIRE)
    both = scored(*BASE, a, b)
    assert both.score == scored(*BASE, b).score  # the latest report dates the pause
    counted = contribution(both, "peer_client_pause")
    assert set(counted.event_ids) == {a.id, b.id}
    assert counted.detail.endswith("(2 reports)")
    assert scored(*BASE, b, a) == both  # a late report of the same word joins it


# --- an ownership holding reported more than once ----------------------------------------------


def acquired(day: float, acquirer: str = "Meta", **envelope: Any) -> Event:
    data = {"acquirer": acquirer, "amount_usd": 2e9}
    return event("ownership.acquired", data, at=T0 + days(day), **envelope)


def divested(day: float, investor: str = "Meta") -> Event:
    return event("ownership.divested", {"investor": investor}, at=T0 + days(day))


def test_one_acquisition_reported_by_two_sources_counts_once_and_cites_both() -> None:
    a = acquired(1, source=NEWS)
    b = acquired(3, "Meta Platforms", source=WIRE)  # an alias: the same acquirer
    both = scored(*BASE, a, b)
    assert both.score == scored(*BASE, a, heartbeat_on(3)).score
    counted = contribution(both, "competitor_ownership")
    assert counted.event_ids == (a.id, b.id)
    assert counted.detail == "acquired by Meta (competitor) ($2B) (2 reports)"
    assert scored(*BASE, b, a) == both  # a late report of the same acquisition joins it


def test_an_acquisition_reported_twice_is_dated_by_its_first_report() -> None:
    decaying = policy_with_ownership_half_life(3)
    a, b = acquired(1, source=NEWS), acquired(4, source=WIRE)
    both = scored(*BASE, a, b, policy=decaying)
    # Decayed from day 1, not day 4: what the first report alone weighs on day 4.
    assert both.score == scored(*BASE, a, heartbeat_on(4), policy=decaying).score
    assert both.score < scored(*BASE, b, policy=decaying).score


def policy_with_ownership_half_life(half_life_days: float) -> Any:
    raw = POLICY.model_dump(mode="json")
    raw["signals"]["competitor_ownership"]["half_life_days"] = half_life_days
    return policy_from_dict(raw)


def test_a_divestment_or_another_acquisition_ends_an_acquisitions_reports() -> None:
    first, again = acquired(1, source=NEWS), acquired(5, source=WIRE)
    for between in (divested(3), acquired(3, "Accel"), stake(3, 49)):
        counted = contribution(scored(*BASE, first, between, again), "competitor_ownership")
        assert counted.event_ids == (again.id,), between.type
        assert not counted.detail.endswith("reports)")


def test_one_stake_reported_twice_cites_both_and_a_new_holding_restarts() -> None:
    a, b = stake(1, 30, source=NEWS), stake(2, 30, source=WIRE)
    counted = contribution(scored(*BASE, a, b), "competitor_ownership")
    assert counted.event_ids == (a.id, b.id)
    assert counted.detail == "Meta (competitor) holds 30% (2 reports)"
    grown = stake(3, 49, source=WIRE)
    assert contribution(scored(*BASE, a, b, grown), "competitor_ownership").event_ids == (grown.id,)
    run = run_events([*BASE, a, b], POLICY)
    fired = [t for _, t in run.transitions if t.rule == "competitor_stake"]
    assert [t.status for t in fired] == ["firing"]
    assert fired[0].event_ids == (a.id,)  # what held when it fired; `scored` cites both now


# --- a client named under two aliases ----------------------------------------------------------


def client(kind: str, name: str, day: float, **envelope: Any) -> Event:
    return event(f"client.{kind}", {"client": name}, at=T0 + days(day), **envelope)


def test_a_client_named_by_two_aliases_is_one_client() -> None:
    a, b = client("paused", "Meta", 1, source=NEWS), client("paused", "Facebook, Inc.", 2)
    both = scored(*BASE, a, b)
    assert both.score == scored(*BASE, b).score  # one client, dated by its latest word
    counted = contribution(both, "peer_client_pause")
    assert counted.event_ids == (b.id, a.id)  # a client's word cites its latest report first
    assert counted.detail == "Facebook, Inc. paused work (2 reports)"
    # A resume under the other alias leaves that client resumed, in either arrival order.
    resumed = client("resumed", "Meta Platforms", 3)
    for order in ((a, b, resumed), (resumed, b, a)):
        result = scored(*BASE, *order)
        assert contribution(result, "peer_client_pause") is None
        assert (
            counted_pauses(fold_acme(order), PAUSE_RULE, POLICY, (T0 + days(3)).timestamp()) == []
        )


def test_two_aliases_pausing_are_one_client_for_the_peer_pause_alert() -> None:
    events = [client("paused", "Meta", 1), client("terminated", "Facebook", 2)]
    paused = counted_pauses(fold_acme(events), PAUSE_RULE, POLICY, (T0 + days(2)).timestamp())
    assert [(name, eid) for _, name, eid in paused] == [("Facebook", events[1].id)]
    assert not [
        t for _, t in run_events([*BASE, *events], POLICY).transitions if t.rule == "peer_pauses"
    ]


def test_our_own_organisation_is_never_a_peer_under_any_alias() -> None:
    words = (client("paused", "Google", 1), client("terminated", "Alphabet", 2))
    assert contribution(scored(*BASE, *words), "peer_client_pause") is None


def test_a_new_alias_in_the_policy_regroups_the_same_history() -> None:
    words = (client("paused", "Anthropic", 1), client("paused", "Claude Labs", 2))
    two = contribution(scored(*BASE, *words), "peer_client_pause")
    assert two.detail == "Anthropic paused work; Claude Labs paused work"
    raw = POLICY.model_dump(mode="json")
    raw["competitors"].append({"name": "Anthropic", "aliases": ["Claude Labs"]})
    one = contribution(scored(*BASE, *words, policy=policy_from_dict(raw)), "peer_client_pause")
    assert one.event_ids == (words[1].id, words[0].id)
    assert one.detail == "Claude Labs paused work (2 reports)"
    assert one.points < two.points


def fold_acme(events: Any) -> VendorState:
    state = VendorState("acme")
    for e in (*BASE, *events):
        apply(state, e)
    return state


PAUSE_RULE = next(r for r in POLICY.alerts.rules if r.name == "peer_pauses")
