"""Names that resolve: legal forms, aliases of competitors, of our organisation and
of the vendor, near misses that are never silent, and the key-person rule (a move counts only
from the vendor). Each case runs through the real codec and the `Processor`, and the readable
reference (`scoring.score`) must say the same as the live engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.streams.core.rules_helpers import (
    T0,
    days,
    default_policy,
    event,
    registered,
    restricted_data,
)
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core import _incremental, scoring
from vendorwatch.streams.core.names import (
    NEAR_MISS_SCORE,
    canonical,
    closest,
    near_miss,
)
from vendorwatch.streams.core.processor import Processor, explained_differently
from vendorwatch.streams.core.scoring import Score
from vendorwatch.streams.core.state import fold

POLICY = default_policy()


def run(events: list[Event]) -> tuple[Score, dict[str, str]]:
    """The vendor's score after the last event, and the alerts firing then (rule -> summary),
    through the Processor; the reference score must be the same."""
    processor = Processor(POLICY)
    for e in events:
        processor.process(0, e)
    vendor = events[-1].subject
    state = processor.states[0][vendor]
    live = _incremental.score(state, POLICY)
    reference = scoring.score(fold(events)[vendor], POLICY)
    assert live == reference
    assert not explained_differently(processor.published[vendor], live)  # published as is
    firing = {name: f.summary for name, f in processor.alerts[vendor].firing.items()}
    return live, firing


def contribution(score: Score, signal: str) -> Any:
    return next((c for c in score.contributions if c.signal == signal), None)


def base(vendor: str = "acme") -> list[Event]:
    return [registered(vendor), restricted_data(vendor)]


# --- the canonical form and the resolver --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "competitor"),
    [
        ("Microsoft Corporation", "Microsoft"),
        ("Microsoft Corp.", "Microsoft"),
        ("OpenAI, Inc.", "OpenAI"),
        ("OpenAI LP", "OpenAI"),
        ("Facebook, Inc.", "Meta"),
        ("xAI Corp", "xAI"),
        ("X.AI Corp", "xAI"),
        ("meta platforms, inc.", "Meta"),
        ("Microsoft Research", None),
        ("Scale AI", None),
    ],
)
def test_legal_forms_are_stripped_before_names_are_matched(name: str, competitor: str) -> None:
    assert POLICY.competitor(name) == competitor


def test_our_organisation_is_known_by_its_legal_name_subsidiaries_and_brands() -> None:
    for name in ("Google", "Google LLC", "Google Cloud", "Google DeepMind", "Alphabet Inc."):
        assert POLICY.is_own_organisation(name), name
    assert not POLICY.is_own_organisation("OpenAI")


def test_a_name_that_is_only_a_legal_form_keeps_its_normalised_self() -> None:
    assert canonical("Inc.") == "inc"
    assert canonical("OpenAI, Inc.") == canonical("openai") == "openai"


def test_near_misses_are_close_names_and_unrelated_names_are_not() -> None:
    known = POLICY.resolver.known()
    research = near_miss("Microsoft Research", known, "competitor")
    assert research is not None
    assert (research.closest, research.similarity >= NEAR_MISS_SCORE) == ("Microsoft", True)
    assert near_miss("Acme Labs", known, "competitor") is None
    assert near_miss("Anthropic", known, "competitor") is None
    assert near_miss("Microsoft Corp.", known, "competitor") is None  # it resolves
    assert closest("x", known) is None  # too short to say anything


# --- the cases a reviewer checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("formal", "plain"),
    [("Microsoft Corporation", "Microsoft"), ("OpenAI, Inc.", "OpenAI"), ("xAI Corp", "xAI")],
)
def test_a_stake_by_a_competitors_legal_name_is_a_competitor_stake(formal: str, plain: str) -> None:
    scores = []
    for investor in (formal, plain):
        stake = event(
            "ownership.stake_acquired", {"investor": investor, "stake_pct": 30}, at=T0 + days(1)
        )
        score, firing = run([*base(), stake])
        assert "competitor_stake" in firing
        assert firing["competitor_stake"].startswith(f"{plain} (a competitor) now holds 30%")
        assert score.notes == ()
        scores.append(score.score)
    assert scores[0] == scores[1] > 0


def test_pauses_by_our_own_organisation_under_its_other_names_are_not_peer_pauses() -> None:
    pauses = [
        event("client.paused", {"client": "Google LLC"}, at=T0 + days(1)),
        event("client.paused", {"client": "Google Cloud"}, at=T0 + days(2)),
    ]
    score, firing = run([*base(), *pauses])
    assert contribution(score, "peer_client_pause") is None
    assert "peer_pauses" not in firing
    assert score.score == 0


def test_one_client_under_two_spellings_is_one_client_and_one_resume_cancels_it() -> None:
    words = [
        event("client.terminated", {"client": "OpenAI"}, at=T0 + days(1)),
        event("client.terminated", {"client": "OpenAI"}, at=T0 + days(2)),
        event("client.paused", {"client": "OpenAI, Inc."}, at=T0 + days(3)),
    ]
    score, _ = run([*base(), *words])
    pause = contribution(score, "peer_client_pause")
    assert pause.event_ids == (words[-1].id,)  # one client: its latest word
    assert pause.detail == "OpenAI, Inc. paused work"
    resumed = event("client.resumed", {"client": "OpenAI"}, at=T0 + days(4))
    score, firing = run([*base(), *words, resumed])
    assert contribution(score, "peer_client_pause") is None
    assert "peer_pauses" not in firing


def test_a_move_filed_under_a_vendor_it_did_not_leave_is_ignored_with_a_note() -> None:
    move = event(
        "person.moved",
        {
            "person": "Sam",
            "role": "VP Data",
            "seniority": "executive",
            "from_org": "Meta",
            "to_org": "OpenAI",
        },
        at=T0 + days(1),
        vendor="labelco",
    )
    score, firing = run([*base("labelco"), move])
    assert contribution(score, "key_person_to_competitor") is None
    assert "key_person_to_competitor" not in firing
    said = f"ignored: Sam (VP Data) left Meta, not Labelco, for OpenAI [{move.id}]"
    assert score.notes == (said,)


def test_a_move_from_the_vendor_under_any_of_its_names_counts_and_the_alert_names_it() -> None:
    def move(from_org: str, n: int) -> Event:
        data = {"person": f"P{n}", "role": "CTO", "seniority": "executive"}
        data |= {"from_org": from_org, "to_org": "Meta"}
        return event("person.moved", data, at=T0 + days(n), vendor="labelco")

    alias = event("vendor.alias_added", {"alias": "LC Data"}, at=T0, vendor="labelco")
    for n, from_org in enumerate(["Labelco", "LabelCo Inc.", "labelco", "LC Data"], start=1):
        score, firing = run([*base("labelco"), alias, move(from_org, n)])
        assert contribution(score, "key_person_to_competitor") is not None, from_org
        assert firing["key_person_to_competitor"] == f"P{n} (CTO) left {from_org} for Meta"
        assert score.notes == ()


def test_an_alias_added_later_makes_an_ignored_move_count() -> None:
    """The vendor's names are those known at the instant scored: a move from "LC Data" is
    ignored (and noted) until "LC Data" is added as the vendor's alias, then it counts, in the
    live engine as in the reference."""
    move = event(
        "person.moved",
        {
            "person": "Kim",
            "role": "CTO",
            "seniority": "executive",
            "from_org": "LC Data",
            "to_org": "xAI",
        },
        at=T0 + days(1),
        vendor="labelco",
    )
    before, _ = run([*base("labelco"), move])
    assert contribution(before, "key_person_to_competitor") is None
    assert before.notes[0].startswith("ignored: Kim (CTO) left LC Data, not Labelco, for xAI")
    alias = event("vendor.alias_added", {"alias": "LC Data"}, at=T0 + days(2), vendor="labelco")
    after, _ = run([*base("labelco"), move, alias])
    assert contribution(after, "key_person_to_competitor") is not None
    assert after.notes == ()


def test_a_move_from_a_near_miss_of_the_vendor_says_which_name_it_was_close_to() -> None:
    move = event(
        "person.moved",
        {
            "person": "Kim",
            "role": "CTO",
            "seniority": "executive",
            "from_org": "Labelco Research",
            "to_org": "xAI",
        },
        at=T0 + days(1),
        vendor="labelco",
    )
    score, _ = run([*base("labelco"), move])
    assert contribution(score, "key_person_to_competitor") is None
    (note,) = score.notes
    assert note.startswith('ignored: Kim (CTO) left Labelco Research ("Labelco Research" is close')
    assert "vendor.alias_added" in note


def test_a_stake_by_a_near_miss_of_a_competitor_is_not_counted_but_never_silent() -> None:
    stake = event(
        "ownership.stake_acquired",
        {"investor": "Microsoft Research", "stake_pct": 30},
        at=T0 + days(1),
    )
    score, firing = run([*base(), stake])
    assert contribution(score, "competitor_ownership") is None
    assert "competitor_stake" not in firing
    (note,) = score.notes
    assert note.startswith('"Microsoft Research" is close to Microsoft (')
    assert note.endswith(f"): not counted as Microsoft [{stake.id}]")
    assert score.to_dict()["notes"] == [note]


def test_a_client_close_to_our_organisation_counts_as_a_peer_and_says_so() -> None:
    pause = event("client.paused", {"client": "Googl"}, at=T0 + days(1))
    score, _ = run([*base(), pause])
    assert contribution(score, "peer_client_pause") is not None
    (note,) = score.notes
    assert "close to Google" in note
    assert "counted as another client, not as our organisation" in note


def test_only_the_latest_notes_are_shown_after_a_count_of_the_others() -> None:
    stakes = [
        event(
            "ownership.stake_acquired",
            {"investor": "Microsoft Research", "stake_pct": 1 + n},
            at=T0 + days(1 + n),
        )
        for n in range(scoring.MAX_NOTES + 2)
    ]
    score, _ = run([*base(), *stakes])
    assert score.notes[0] == "2 earlier notes not shown"
    assert len(score.notes) == scoring.MAX_NOTES + 1
    assert score.notes[-1].endswith(f"[{stakes[-1].id}]")


def test_an_ignored_move_alone_publishes_the_note() -> None:
    """The note is part of the explanation: a score whose numbers did not change is published
    again so the API shows why nothing counted."""
    move = event(
        "person.moved",
        {"person": "Sam", "role": "CTO", "seniority": "executive"}
        | {"from_org": "Meta", "to_org": "OpenAI"},
        at=T0 + days(1),
    )
    processor = Processor(POLICY)
    for e in base():
        processor.process(0, e)
    outcome = processor.process(0, move)
    assert outcome.changed
    assert outcome.current.notes
