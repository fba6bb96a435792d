"""The scoring model on small, hand-made histories: each rule of the policy, one at a time."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import orjson
import pytest

from tests.streams.core.rules_helpers import contribution, scored
from vendorwatch.schemas import Event, parse_event
from vendorwatch.streams.core import scoring
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.scoring import MAX_CITED_FACTS, Score, score_all
from vendorwatch.streams.core.state import fold

POLICY = load_policy()
T0 = datetime(2025, 6, 1, tzinfo=UTC)
_ids = itertools.count()


def ev(event_type: str, day: float, subject: str = "acme", /, **data: Any) -> Event:
    """An event `day` days after T0."""
    raw = {
        "specversion": "1.0",
        "id": f"t-{next(_ids)}",
        "source": "test",
        "type": event_type,
        "time": (T0 + timedelta(days=day)).isoformat(),
        "subject": subject,
        "data": data,
    }
    return parse_event(orjson.dumps(raw))


def shared(day: float = 0, dataset: str = "ds", classification: str = "restricted") -> Event:
    return ev("data.shared", day, dataset=dataset, classification=classification, records=10**6)


def signal(result: Score, name: str) -> Any:
    return contribution(result, name)


def test_without_data_at_stake_nothing_scores() -> None:
    result = scored(ev("ownership.stake_acquired", 1, investor="Meta", stake_pct=49))
    assert result.data_at_stake == 0
    assert result.score == 0
    assert result.severity == "info"


def test_a_competitor_stake_is_explained_whatever_the_spelling() -> None:
    stake = ev(
        "ownership.stake_acquired",
        1,
        investor="meta platforms, inc.",
        stake_pct=49,
        amount_usd=14.3e9,
        board_seats=1,
    )
    result = scored(shared(), stake)
    owned = signal(result, "competitor_ownership")
    assert owned.event_ids == (stake.id,)
    assert owned.detail == "Meta (competitor) holds 49% ($14.3B), 1 board seat(s)"
    sig = POLICY.signals.competitor_ownership
    hazard = sig.weight * 49 / sig.full_stake_pct + sig.board_seat_weight
    assert result.likelihood == pytest.approx(1 - math.exp(-hazard), abs=1e-4)
    assert result.score == pytest.approx(100 * (1 - math.exp(-hazard)), abs=0.01)


def test_a_stake_by_a_non_competitor_does_not_count() -> None:
    result = scored(shared(), ev("ownership.stake_acquired", 1, investor="Accel", stake_pct=60))
    assert result.contributions == ()
    assert result.score == 0


def test_the_latest_stake_report_per_competitor_counts_once() -> None:
    strong = ev("ownership.stake_acquired", 1, investor="Meta", stake_pct=49)
    weaker = ev("ownership.stake_acquired", 2, investor="Meta", stake_pct=10)
    alias = ev("ownership.stake_acquired", 3, investor="Facebook", stake_pct=30)
    data = shared()
    result = scored(data, strong, weaker, alias)
    assert signal(result, "competitor_ownership").event_ids == (alias.id,)
    assert signal(result, "competitor_ownership").detail == "Meta (competitor) holds 30%"
    assert result == scored(alias, weaker, data, strong)  # distinct times: any arrival order


def test_several_competitors_are_listed_strongest_first() -> None:
    acquired = ev("ownership.acquired", 0.5, acquirer="xAI")
    meta = ev("ownership.stake_acquired", 1, investor="Meta", stake_pct=10)
    openai = ev("ownership.stake_acquired", 2, investor="OpenAI", stake_pct=30)
    result = scored(shared(), acquired, meta, openai)
    assert signal(result, "competitor_ownership").event_ids == (acquired.id, openai.id, meta.id)


def test_a_funding_round_counts_each_competitor_once() -> None:
    round_ = ev(
        "funding.round", 1, round="Series B", amount_usd=1e8, investors=["Meta", "Facebook", "xAI"]
    )
    owned = signal(scored(shared(), round_), "competitor_ownership")
    assert owned.detail == "Meta, xAI invested in its Series B round"


def test_peer_pauses_count_until_resumed_and_our_own_is_ignored() -> None:
    openai = ev("client.paused", 1, client="OpenAI")
    xai = ev("client.terminated", 2, client="xAI")
    google = ev("client.paused", 3, client="Google DeepMind")  # the monitor's own organisation
    pauses = signal(scored(shared(), xai, google, openai), "peer_client_pause")
    assert pauses.event_ids == (openai.id, xai.id)  # chronological, whatever the arrival order
    assert pauses.detail == "OpenAI paused work; xAI ended work"
    resumed = scored(shared(), openai, xai, google, ev("client.resumed", 4, client="openai"))
    assert signal(resumed, "peer_client_pause").event_ids == (xai.id,)


def test_an_ended_client_weighs_more_than_a_paused_one() -> None:
    paused = scored(shared(), ev("client.paused", 1, client="OpenAI"))
    ended = scored(shared(), ev("client.terminated", 1, client="OpenAI"))
    ratio = POLICY.signals.peer_client_pause.terminated_multiplier
    assert -math.log(1 - ended.likelihood) == pytest.approx(
        ratio * -math.log(1 - paused.likelihood), rel=1e-3
    )


@pytest.mark.parametrize(
    ("from_org", "to_org", "counts"),
    [
        ("Acme", "Meta", True),
        ("Acme, Inc.", "Meta", True),  # the vendor under its legal name
        ("Acme", "Accel", False),
        ("OpenAI", "Meta", False),  # not from the vendor: ignored, with a note
    ],
)
def test_key_people_count_when_they_join_a_competitor(
    from_org: str, to_org: str, counts: bool
) -> None:
    move = ev("person.moved", 1, person="A", role="CEO", from_org=from_org, to_org=to_org)
    assert (signal(scored(shared(), move), "key_person_to_competitor") is not None) is counts


def test_signals_halve_every_half_life() -> None:
    incident = ev("security.incident", 0, title="Leak", severity="high")
    half_life = POLICY.signals.security_incident.half_life_days
    fresh = scored(shared(), incident, at=T0)
    later = scored(shared(), incident, at=T0 + timedelta(days=half_life))
    hazard = (
        POLICY.signals.security_incident.weight * POLICY.signals.security_incident.severity["high"]
    )
    assert fresh.likelihood == pytest.approx(1 - math.exp(-hazard), abs=1e-4)
    assert later.likelihood == pytest.approx(1 - math.exp(-hazard / 2), abs=1e-4)


def test_ownership_does_not_fade_by_default() -> None:
    stake = ev("ownership.stake_acquired", 0, investor="Meta", stake_pct=49)
    soon = scored(shared(), stake, at=T0 + timedelta(days=1))
    years = scored(shared(), stake, at=T0 + timedelta(days=3650))
    assert soon.score == years.score


def test_mitigation_is_capped_and_contributions_add_up() -> None:
    # Twenty audits, one per repeat window (so each counts) after the stake: their decayed sum
    # (about 2.0) is far above the cap, max_offset_ratio x the stake present when they were made.
    window = POLICY.signals.vendor_mitigation.repeat_window_days
    stake = ev("ownership.stake_acquired", 0, investor="Meta", stake_pct=50)
    audits = [
        ev("vendor.statement", 1 + i * window, kind="audit", text=f"audit {i}") for i in range(20)
    ]
    result = scored(shared(), stake, *audits)
    positive = POLICY.signals.competitor_ownership.weight
    ratio = POLICY.signals.vendor_mitigation.max_offset_ratio
    assert result.score == pytest.approx(100 * (1 - math.exp(-positive * (1 - ratio))), abs=0.01)
    mitigation = result.contributions[-1]
    assert mitigation.signal == "vendor_mitigation"
    assert mitigation.points < 0
    assert len(mitigation.event_ids) == 20
    assert sum(c.points for c in result.contributions) == pytest.approx(result.score, abs=0.02)


def test_data_at_stake_follows_shares_and_revocations() -> None:
    restricted = shared(0, "a", "restricted")
    internal = shared(0, "b", "internal")
    revoked = ev("data.revoked", 5, dataset="a")
    both = scored(restricted, internal, at=T0 + timedelta(days=1))
    after = scored(restricted, internal, revoked)
    assert both.data_at_stake == 1.0
    assert both.data_event_ids == tuple(sorted((restricted.id, internal.id)))
    assert after.data_event_ids == (internal.id,)
    assert after.data_at_stake == pytest.approx(POLICY.data.classification_weights["internal"])
    reshared = scored(restricted, internal, revoked, shared(6, "a", "public"))
    assert reshared.data_at_stake == after.data_at_stake  # public data is worth nothing


@pytest.mark.parametrize(
    ("data", "points"),
    [({"factor": 3.0}, True), ({"factor": 1.1}, False), ({}, True)],
)
def test_demand_surges_count_above_the_minimum_factor(data: dict[str, Any], points: bool) -> None:
    surge = signal(scored(shared(), ev("demand.changed", 1, **data)), "demand_surge")
    assert (surge is not None) is points
    if not data:
        assert surge.detail == "demand x1.5 (not reported; policy assumes)"


def test_a_shrinking_workforce_is_not_growth() -> None:
    shrink = ev("workforce.changed", 1, contractors=10, contractors_added=-50)
    grow = ev("workforce.changed", 2, contractors=510, contractors_added=500, remote_share_pct=60)
    growth = signal(scored(shared(), shrink, grow), "workforce_growth")
    assert growth.event_ids == (grow.id,)
    assert growth.detail == "+500 contractors in 30 days, 60% remote"


def test_the_name_is_the_registered_one_as_of_the_instant() -> None:
    registered = ev("vendor.registered", 10, name="Acme Labelling")
    assert scored(shared(), registered).name == "Acme Labelling"
    assert scored(shared(), registered, at=T0 + timedelta(days=1)).name == "acme"


def test_as_of_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        scored(shared(), at=datetime(2025, 6, 1))


def test_score_all_ranks_and_skips_vendors_unknown_at_the_instant() -> None:
    events = [
        ev("data.shared", 0, "a", dataset="d", classification="restricted", records=10),
        ev("ownership.stake_acquired", 1, "a", investor="Meta", stake_pct=50),
        ev("data.shared", 0, "b", dataset="d", classification="restricted", records=10),
        ev("vendor.registered", 30, "c", name="Later"),
    ]
    states = fold(events).values()
    ranked = score_all(states, POLICY, T0 + timedelta(days=2))
    assert [s.vendor_id for s in ranked] == ["a", "b"]
    assert [s.vendor_id for s in score_all(states, POLICY)] == ["a", "b", "c"]


def test_a_long_history_cites_its_latest_events_and_counts_the_rest() -> None:
    growth = [
        ev("workforce.changed", day, contractors=100 + day, contractors_added=50)
        for day in range(1, 41)
    ]
    result = scored(shared(), *growth)
    cited = signal(result, "workforce_growth")
    assert MAX_CITED_FACTS == 25
    assert cited.event_ids == tuple(e.id for e in growth[-25:])
    assert cited.detail.startswith("15 earlier events not cited; +50 contractors in 30 days")
    assert cited.detail.count("+50 contractors") == 25
    assert len(orjson.dumps(result.to_dict())) < 4_000
    # every event still counts: citing them all changes the words, not a number
    with mock.patch.object(scoring, "MAX_CITED_FACTS", 1000):
        everything = scored(shared(), *growth)
    assert signal(everything, "workforce_growth").event_ids == tuple(e.id for e in growth)
    assert [(c.signal, c.points) for c in everything.contributions] == [
        (c.signal, c.points) for c in result.contributions
    ]
    assert everything.score == result.score
