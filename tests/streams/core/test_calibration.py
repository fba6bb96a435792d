"""Calibration of the shipped policy: the outcomes a security team signs off on, and the tables
in docs/scoring.md that show them (regenerated here, so a policy edit without a docs update
fails).

Every case scores through both engines (the reference and the incremental one) and through the
real `Processor` where alerts matter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.streams.core.rules_helpers import T0, days, event, registered, run_events, scored
from vendorwatch.schemas import Event
from vendorwatch.streams.core.calibration import PROFILES, SCENARIOS, embedded, tables
from vendorwatch.streams.core.policy import load_policy

POLICY = load_policy()
DOC = Path(__file__).resolve().parents[3] / "docs" / "scoring.md"


def shared(dataset: str, classification: str, records: int, *, day: float = 0) -> Event:
    return event(
        "data.shared",
        {"dataset": dataset, "classification": classification, "records": records},
        at=T0 + days(day),
    )


def acquired_by_meta(day: float = 1) -> Event:
    return event("ownership.acquired", {"acquirer": "Meta"}, at=T0 + days(day))


def cto_to_meta(day: float) -> Event:
    data: dict[str, Any] = {
        "person": "Sam",
        "role": "CTO",
        "from_org": "Acme",
        "to_org": "Meta",
        "seniority": "executive",
    }
    return event("person.moved", data, at=T0 + days(day))


def statement(kind: str, day: float, text: str = "Customer data is safe.") -> Event:
    return event("vendor.statement", {"kind": kind, "text": text}, at=T0 + days(day))


# --- the docs -------------------------------------------------------------------------------


def test_the_calibration_tables_in_the_docs_are_those_of_the_shipped_policy() -> None:
    """To refresh after a policy edit: VENDORWATCH_WRITE_CALIBRATION=1 pytest this file."""
    text = DOC.read_text("utf-8")
    current = embedded(text)
    assert current is not None, "docs/scoring.md has no calibration section"
    expected = tables(POLICY)
    if os.environ.get("VENDORWATCH_WRITE_CALIBRATION") == "1" and current != expected:
        DOC.write_text(text.replace(current, expected), "utf-8")
        current = expected
    assert current == expected, (
        "docs/scoring.md's calibration tables differ from the policy: rerun with "
        "VENDORWATCH_WRITE_CALIBRATION=1 and review the change"
    )


def test_the_scenario_table_covers_what_a_security_team_asks_about() -> None:
    labels = [label for label, _ in SCENARIOS]
    assert len(labels) == 6
    assert {p.label for p in PROFILES} >= {
        "one restricted, 1M",
        "one confidential, 1M",
        "one confidential, 1k",
        "one internal, 1M",
        "ten internal, 100 each",
    }


# --- data at stake --------------------------------------------------------------------------


def test_one_confidential_dataset_of_a_million_records_acquired_by_meta_is_critical() -> None:
    # 0.9 (confidential at the reference volume) x (1 - e^-3) = 85.52
    result = scored(registered(), shared("ds", "confidential", 1_000_000), acquired_by_meta())
    assert result.data_at_stake == 0.9
    assert result.score == 85.52
    assert result.severity == "critical"


def test_confidential_data_controlled_by_a_competitor_is_critical() -> None:
    # 10% with voting control: 1.6 x 0.2 + 2.5 = 2.82 hazard, 0.9 x (1 - e^-2.82) = 84.64
    control = event(
        "ownership.stake_acquired",
        {"investor": "Meta", "stake_pct": 10, "voting_control": True},
        at=T0 + days(1),
    )
    result = scored(registered(), shared("ds", "confidential", 1_000_000), control)
    assert result.score == 84.64
    assert result.severity == "critical"


def test_ten_internal_datasets_of_100_weigh_what_one_of_1000_does_and_never_page() -> None:
    ten = [shared(f"ds-{i}", "internal", 100) for i in range(10)]
    split = scored(registered(), *ten, acquired_by_meta())
    whole = scored(registered(), shared("ds", "internal", 1_000), acquired_by_meta())
    assert abs(split.score - whole.score) <= 2
    assert split.data_at_stake == whole.data_at_stake  # 1,000 internal records either way
    # the worst that can happen to internal data alone: every signal at once, a million records
    everything = [
        shared("big", "internal", 10_000_000),
        acquired_by_meta(),
        cto_to_meta(1),
        event("security.incident", {"title": "Leak", "severity": "critical"}, at=T0 + days(1)),
    ]
    worst = scored(registered(), *ten, *everything)
    for result in (split, whole, worst):
        assert result.severity != "critical"
    assert worst.score < 100 * POLICY.data.classification_weights["internal"]


def test_one_restricted_record_is_not_worth_a_million() -> None:
    one = scored(registered(), shared("ds", "restricted", 1), acquired_by_meta())
    million = scored(registered(), shared("ds", "restricted", 1_000_000), acquired_by_meta())
    assert one.data_at_stake == 0.3351  # the floor, 0.3, plus a sliver of volume
    assert million.data_at_stake == 1.0
    assert one.score < million.score / 2


# --- mitigation -----------------------------------------------------------------------------


def test_six_identical_statements_count_as_one() -> None:
    base = [registered(), shared("ds", "restricted", 1_000_000), acquired_by_meta(0)]
    once = scored(*base, statement("statement", 1))
    six = scored(*base, *(statement("statement", 1 + i / 24) for i in range(6)))
    assert six.score == once.score
    mitigation = six.contributions[-1]
    assert mitigation.signal == "vendor_mitigation"
    assert len(mitigation.event_ids) == 1
    # one statement (0.4 x 0.5 = 0.2 hazard, decayed a day) does not take it under critical
    assert six.severity == "critical"


def test_a_repeat_after_the_window_counts_again() -> None:
    window = POLICY.signals.vendor_mitigation.repeat_window_days
    base = [registered(), shared("ds", "restricted", 1_000_000), acquired_by_meta(0)]
    later = scored(*base, statement("statement", 1), statement("statement", 1 + window))
    assert len(later.contributions[-1].event_ids) == 2


def test_audits_filed_before_a_cto_defection_do_not_offset_it() -> None:
    base = [registered(), shared("ds", "restricted", 1_000_000)]
    move = cto_to_meta(10)
    audits = [statement("audit", 10 - 1 / 24, "Audit A"), statement("audit", 10 - 1 / 24, "B")]
    without = scored(*base, move)
    with_audits = scored(*base, *audits, move)
    assert with_audits.score == without.score == 63.21  # 1 - e^-1
    assert "vendor_mitigation" not in {c.signal for c in with_audits.contributions}
    # an audit after the move does offset it
    after = scored(*base, move, statement("audit", 10 + 1 / 24))
    assert after.score < without.score


# --- offboarding ----------------------------------------------------------------------------


def exposure_story() -> list[Event]:
    """Restricted data, Meta takes 49%, two peers pause: competitor_stake and peer_pauses."""
    return [
        registered(),
        shared("ds-1", "restricted", 1_000_000),
        shared("ds-2", "internal", 500),
        event("ownership.stake_acquired", {"investor": "Meta", "stake_pct": 49}, at=T0 + days(1)),
        event("client.paused", {"client": "OpenAI"}, at=T0 + days(2)),
        event("client.paused", {"client": "xAI"}, at=T0 + days(3)),
    ]


@pytest.mark.parametrize("how", ["revoked", "offboarded"])
def test_when_the_vendor_holds_no_data_the_exposure_alerts_resolve(how: str) -> None:
    story = exposure_story()
    at = T0 + days(4)
    if how == "revoked":
        ends = [
            event("data.revoked", {"dataset": "ds-1"}, at=at),
            event("data.revoked", {"dataset": "ds-2"}, at=at + days(0.1)),
        ]
    else:
        ends = [event("vendor.offboarded", {"reason": "contract ended"}, at=at)]
    run = run_events([*story, *ends], POLICY)
    fired = {t.rule for _, t in run.transitions if t.status == "firing"}
    resolved_by_the_end = {t.rule for eid, t in run.transitions if eid == ends[-1].id}
    resolved = {t.rule for _, t in run.transitions if t.status == "resolved"}
    assert {"competitor_stake", "peer_pauses"} <= fired
    assert {"competitor_stake", "peer_pauses"} <= resolved_by_the_end
    assert fired == resolved  # nothing about this vendor is still firing
    assert run.scores[ends[-1].id] == 0
    final = scored(*story, *ends)
    assert final.score == 0
    assert final.contributions == ()  # every signal is worth 0.00 points: none is listed


def test_data_shared_after_offboarding_counts_again_and_the_alert_comes_back() -> None:
    story = exposure_story()
    off = event("vendor.offboarded", {}, at=T0 + days(4))
    again = shared("ds-3", "restricted", 1_000_000, day=5)
    run = run_events([*story, off, again], POLICY)
    assert (again.id, "acme", "competitor_stake", "firing") in run.summary()
    assert scored(*story, off, again).data_event_ids == (again.id,)


def test_data_shared_before_an_offboarding_that_arrives_late_is_not_held() -> None:
    story = exposure_story()
    off = event("vendor.offboarded", {}, at=T0 + days(0.5))  # before the stake, arriving last
    assert scored(*story, off).score == 0


# --- explanations ---------------------------------------------------------------------------


def test_zero_point_contributions_are_not_listed() -> None:
    # A tiny stake next to an executive move: its share of the score rounds to 0.00 points.
    tiny = event(
        "ownership.stake_acquired", {"investor": "Meta", "stake_pct": 0.001}, at=T0 + days(1)
    )
    result = scored(registered(), shared("ds", "restricted", 1_000_000), cto_to_meta(1), tiny)
    assert [c.signal for c in result.contributions] == ["key_person_to_competitor"]
    assert all(c.points != 0 for c in result.contributions)
