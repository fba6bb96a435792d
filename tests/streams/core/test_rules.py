"""Alert rules on real events through the real fold and scorer (`Processor`), no broker.

The rules are what a security lead is paged for, so the demo scenario is pinned exactly: which
rule fires at which event, and nothing for the quiet vendors. The other tests pin each rule's
lifecycle (hysteresis, windows, resolution) on small event sequences whose scores are asserted
first, so a change in scoring that made a scenario meaningless fails loudly instead of passing.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from tests.streams.core.rules_helpers import (
    T0,
    days,
    default_policy,
    demo_events,
    event,
    heartbeat,
    policy_with_rules,
    registered,
    restricted_data,
    run_events,
)
from vendorwatch.schemas.events import iso
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.rules import fingerprint
from vendorwatch.streams.core.scoring import score
from vendorwatch.streams.core.state import VendorState, apply

STAKE = "demo-scale-ai-meta-stake"
WANG = "demo-scale-ai-wang-to-meta"
OPENAI_PAUSE = "demo-scale-ai-paused-by-openai"
JUNE_19 = datetime(2025, 6, 19, 9, 0, tzinfo=UTC)

THRESHOLD = {
    "name": "score_critical",
    "kind": "threshold",
    "fire_at": 80,
    "resolve_below": 70,
    "severity": "critical",
    "summary": "{vendor_name} at {score}",
}
JUMP = {
    "name": "score_jump",
    "kind": "jump",
    "points": 25,
    "window_days": 7,
    "min_score": 40,
    "severity": "high",
    "summary": "{vendor_name} rose {rise}",
}


def stake(pct: float, *, at_day: float, investor: str = "Microsoft") -> object:
    return event(
        "ownership.stake_acquired", {"investor": investor, "stake_pct": pct}, at=T0 + days(at_day)
    )


# --- the demo scenario -------------------------------------------------------------------------


def test_demo_scenario_raises_exactly_what_a_security_lead_wants() -> None:
    run = run_events(demo_events(), default_policy())

    assert run.summary() == [
        (STAKE, "scale-ai", "competitor_stake", "firing"),
        (STAKE, "scale-ai", "score_jump", "firing"),
        (WANG, "scale-ai", "key_person_to_competitor", "firing"),
        (WANG, "scale-ai", "score_critical", "firing"),
        # xAI's pause is only the first *peer* pause: Google's own pause the day before is our
        # decision, not evidence. OpenAI's is the second, and the rule fires once.
        (OPENAI_PAUSE, "scale-ai", "peer_pauses", "firing"),
    ]
    by_rule = {t.rule: t for _, t in run.transitions}
    stake_alert = by_rule["competitor_stake"]
    assert stake_alert.severity == "critical"
    assert stake_alert.summary == "Meta (a competitor) now holds 49% of Scale AI"
    assert stake_alert.event_ids == (STAKE,)
    assert stake_alert.previous_score == 0.0
    assert stake_alert.score >= 75
    assert by_rule["key_person_to_competitor"].summary == (
        "Alexandr Wang (CEO) left Scale AI for Meta"
    )
    peer = by_rule["peer_pauses"]
    assert peer.event_ids == ("demo-scale-ai-paused-by-xai", OPENAI_PAUSE)
    assert "Google" not in peer.summary
    assert "xAI, OpenAI" in peer.summary
    assert {t.fingerprint for _, t in run.transitions} == {
        fingerprint("scale-ai", rule) for rule in by_rule
    }


def test_a_third_peer_pause_does_not_page_again() -> None:
    more = event("client.paused", {"client": "Microsoft"}, at=JUNE_19, vendor="scale-ai")
    run = run_events([*demo_events(), more], default_policy())
    assert [s for s in run.summary() if s[2] == "peer_pauses"] == [
        (OPENAI_PAUSE, "scale-ai", "peer_pauses", "firing")
    ]


def test_peer_pauses_resolve_when_a_resume_leaves_fewer_than_min_clients() -> None:
    resume = event(
        "client.resumed",
        {"client": "xAI", "reason": "review done"},
        # the day after OpenAI's pause, before the stake's score_jump leaves its 7-day window
        at=JUNE_19,
        vendor="scale-ai",
    )
    run = run_events([*demo_events(), resume], default_policy())
    assert run.summary()[-1] == (resume.id, "scale-ai", "peer_pauses", "resolved")
    assert len(run.summary()) == 6  # nothing else moved
    resolved = run.transitions[-1][1]
    assert resolved.ends_at == resume.time.timestamp()
    assert resolved.starts_at == next(
        t.starts_at for _, t in run.transitions if t.rule == "peer_pauses"
    )


def test_peer_pauses_far_apart_do_not_fire() -> None:
    policy = policy_with_rules(
        {
            "name": "peer_pauses",
            "kind": "peer_pauses",
            "min_clients": 2,
            "within_days": 14,
            "severity": "high",
            "summary": "{count} paused",
        }
    )
    events = [
        registered(),
        restricted_data(),
        event("client.paused", {"client": "OpenAI"}, at=T0 + days(1)),
        event("client.paused", {"client": "xAI"}, at=T0 + days(16)),  # 15 days later
    ]
    assert run_events(events, policy).summary() == []
    third = event("client.paused", {"client": "Microsoft"}, at=T0 + days(20))
    assert run_events([*events, third], policy).summary() == [
        (third.id, "acme", "peer_pauses", "firing")
    ]


def test_key_person_alert_resolves_after_active_days() -> None:
    demo = demo_events()
    moved_at = next(e.time for e in demo if e.id == WANG)
    before = heartbeat("scale-ai", at=moved_at + days(90) - timedelta(hours=1))
    after = heartbeat("scale-ai", at=moved_at + days(90) + timedelta(hours=1))
    run = run_events([*demo, before, after], default_policy())
    key_person = [s for s in run.summary() if s[2] == "key_person_to_competitor"]
    expiry = iso((moved_at + days(90)).timestamp())
    # it ends at its deadline, exactly active_days after the move, not at the next event
    assert key_person == [
        (WANG, "scale-ai", "key_person_to_competitor", "firing"),
        (f"time:{expiry}", "scale-ai", "key_person_to_competitor", "resolved"),
    ]
    resolved = next(
        t
        for _, t in run.transitions
        if t.status == "resolved" and t.rule == "key_person_to_competitor"
    )
    assert resolved.ends_at == (moved_at + days(90)).timestamp()


def test_a_quiet_vendor_never_pages() -> None:
    """Demand up at a competitor of Scale AI is business news, not a leak path."""
    run = run_events(demo_events(), default_policy())
    vendors = {t.vendor_id for _, t in run.transitions}
    assert vendors == {"scale-ai"}
    quiet = {"appen", "handshake", "prolific", "turing", "staffing-agency"}
    assert quiet <= {e.subject for e in demo_events()}


# --- threshold hysteresis ----------------------------------------------------------------------


def test_threshold_fires_at_x_holds_between_y_and_x_and_resolves_below_y() -> None:
    policy = policy_with_rules(THRESHOLD)
    incident = event(
        "security.incident", {"title": "breach", "severity": "critical"}, at=T0 + days(1)
    )
    # a critical incident fades (90-day half-life): look at the vendor as it does
    later = [heartbeat(at=T0 + days(1 + d)) for d in (30, 45, 60, 80)]
    events = [registered(), restricted_data(), incident, *later]
    run = run_events(events, policy)
    scores = [run.scores[e.id] for e in (incident, *later)]
    assert scores[0] >= 80  # fires at X
    assert all(70 <= s < 80 for s in scores[1:4])  # between Y and X: still firing
    assert scores[4] < 70  # below Y: resolves
    # decay takes it under Y between the third and the fourth look, and it resolves right then
    [(_, fired), (cause, resolved)] = run.transitions
    assert (fired.status, fired.caused_by) == ("firing", incident.id)
    assert resolved.status == "resolved"
    assert cause.startswith("time:")
    assert later[2].time.timestamp() < resolved.ends_at < later[3].time.timestamp()
    assert resolved.score < 70
    state = VendorState("acme")
    for e in events:
        apply(state, e)
    assert score(state, policy, resolved.ends_at - 1).score >= 70


def test_threshold_does_not_fire_between_y_and_x_from_below_and_fires_again_after_resolving() -> (
    None
):
    policy = policy_with_rules(THRESHOLD)
    rising = [stake(pct, at_day=2 * i + 1) for i, pct in enumerate((30, 40, 50))]
    run = run_events([registered(), restricted_data(), *rising], policy)
    scores = [run.scores[e.id] for e in rising]
    assert 70 <= scores[1] < 80
    assert 70 <= scores[2] < 80
    assert run.summary() == []

    # reach X, drop below Y, reach X again: two separate alerts with different ids
    incident = event("security.incident", {"title": "a", "severity": "critical"}, at=T0 + days(1))
    fade = heartbeat(at=T0 + days(90))
    again = event("security.incident", {"title": "b", "severity": "critical"}, at=T0 + days(91))
    run = run_events([registered(), restricted_data(), incident, fade, again], policy)
    assert run.scores[fade.id] < 70 <= 80 <= run.scores[again.id]
    assert [s[3] for s in run.summary()] == ["firing", "resolved", "firing"]
    ids = [t.id for _, t in run.transitions]
    assert len(set(ids)) == 3


# --- jump window and min_score -----------------------------------------------------------------


def test_jump_fires_only_for_a_rise_within_the_window_that_ends_above_min_score() -> None:
    policy = policy_with_rules(JUMP)
    small = stake(5, at_day=1)
    medium = stake(10, at_day=3)
    big = stake(20, at_day=5)
    settle = heartbeat(at=T0 + days(13))
    run = run_events([registered(), restricted_data(), small, medium, big, settle], policy)
    assert run.scores[medium.id] >= 25 > 0  # rose >= 25 points within 7 days...
    assert run.scores[medium.id] < 40  # ...but ended below min_score: no page
    assert run.scores[big.id] >= 40
    assert run.summary() == [
        (big.id, "acme", "score_jump", "firing"),
        # a week later the window holds no rise any more
        (settle.id, "acme", "score_jump", "resolved"),
    ]
    fired = run.transitions[0][1]
    assert fired.summary.startswith("Acme rose ")


def test_a_jump_is_measured_from_the_decayed_score() -> None:
    """An executive's move scores 63.21; a year later it weighs 21.75, and a high incident
    takes the score to 71.21. That is a rise of 49.5 within the window: `score_jump` fires.
    Measured from the undecayed 63.21 it would be a rise of 8 and stay silent."""
    policy = policy_with_rules(JUMP)
    move = event(
        "person.moved",
        {
            "person": "Sam Ito",
            "role": "CTO",
            "seniority": "executive",
            "from_org": "Acme",
            "to_org": "OpenAI",
        },
        at=T0 + days(1),
    )
    incident = event(
        "security.incident", {"title": "exfiltration", "severity": "high"}, at=T0 + days(366)
    )
    run = run_events([registered(), restricted_data(), move, incident], policy)
    assert run.scores[move.id] == 63.21
    assert run.scores[incident.id] == 71.21
    jumps = [(cause, t.status) for cause, t in run.transitions if t.rule == "score_jump"]
    assert (incident.id, "firing") in jumps
    fired = next(t for cause, t in run.transitions if cause == incident.id)
    assert fired.summary == "Acme rose 49.46"  # from the score just before the incident


def test_a_slow_climb_never_jumps() -> None:
    """80 points over 40 days, never 25 within a 7-day window."""
    policy = policy_with_rules(JUMP)
    steps = [stake(pct, at_day=8 * i + 1) for i, pct in enumerate((5, 10, 20, 30, 40, 50))]
    run = run_events([registered(), restricted_data(), *steps], policy)
    scores = [0.0, *(run.scores[e.id] for e in steps)]
    assert scores[-1] - scores[0] > 75
    assert max(b - a for a, b in itertools.pairwise(scores)) < 25
    assert run.summary() == []


# --- competitor stake threshold ----------------------------------------------------------------


@pytest.mark.parametrize(("pct", "fires"), [(9.9, False), (10, True), (49, True)])
def test_competitor_stake_min_pct(pct: float, fires: bool) -> None:
    policy = policy_with_rules(
        {
            "name": "competitor_stake",
            "kind": "competitor_stake",
            "min_stake_pct": 10,
            "severity": "critical",
            "summary": "{competitor} holds {stake_pct}%",
        }
    )
    taken = stake(pct, at_day=1)
    run = run_events([registered(), restricted_data(), taken], policy)
    assert run.summary() == ([(taken.id, "acme", "competitor_stake", "firing")] if fires else [])


# --- determinism -------------------------------------------------------------------------------


def test_replaying_the_same_events_gives_the_same_transition_ids() -> None:
    policy = default_policy()
    first = run_events(demo_events(), policy)
    second = run_events(demo_events(), policy)
    assert [t.to_record() for _, t in first.transitions] == [
        t.to_record() for _, t in second.transitions
    ]
    ids = [t.id for _, t in first.transitions]
    assert len(set(ids)) == len(ids) == 5


def test_a_redelivered_event_raises_nothing_new() -> None:
    policy = default_policy()
    processor = Processor(policy)
    events = demo_events()
    first = run_events(events, policy, processor)
    again = run_events(events, policy, processor)  # at-least-once delivery: all of it again
    assert len(first.transitions) == 5
    assert again.transitions == []
