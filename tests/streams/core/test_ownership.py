"""Ownership: the latest report per competitor states what it holds.

Each case is checked offline (the reference `scoring.score`, which `scored` holds equal to the
live engine) and through the `Processor` with the shipped policy, and the alert's notifications
through the real `Notifier`. Data at stake is full (restricted, above the reference volume), so
the score is 100 x (1 - e^-H).
"""

from __future__ import annotations

from datetime import datetime, timedelta
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
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.silences import SilenceBook
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.scoring import Score

POLICY = default_policy()


def report(
    day: float,
    investor: str = "Meta",
    pct: float = 30,
    seats: int = 0,
    control: bool = False,
    *,
    at: datetime | None = None,
) -> Event:
    data = {"investor": investor, "stake_pct": pct, "board_seats": seats, "voting_control": control}
    return event("ownership.stake_acquired", data, at=at or T0 + days(day))


def acquired(day: float, acquirer: str) -> Event:
    return event("ownership.acquired", {"acquirer": acquirer}, at=T0 + days(day))


def divested(day: float, investor: str = "Meta") -> Event:
    return event("ownership.divested", {"investor": investor}, at=T0 + days(day))


def ownership(result: Score) -> Any:
    return contribution(result, "competitor_ownership")


BASE = (registered(), restricted_data())


def stake_alerts(events: list[Event]) -> list[tuple[str, str, str]]:
    """(event id, status, summary) of every competitor_stake transition, through the Processor."""
    run = run_events(events, POLICY)
    return [
        (eid, t.status, t.summary) for eid, t in run.transitions if t.rule == "competitor_stake"
    ]


# --- a report of 0% and a divestment take the stake back ----------------------------------------


def test_a_zero_percent_report_takes_the_stake_back_and_resolves_the_alert() -> None:
    before, zero = report(1, pct=30), report(2, pct=0)
    assert round(ownership(scored(*BASE, before)).points, 1) == 61.7
    after = scored(*BASE, before, zero)
    assert ownership(after) is None
    assert after.score == 0
    assert stake_alerts([*BASE, before, zero]) == [
        (before.id, "firing", "Meta (a competitor) now holds 30% of Acme"),
        (zero.id, "resolved", "Meta (a competitor) now holds 30% of Acme"),
    ]


def test_a_divestment_works_like_a_zero_percent_report() -> None:
    before, sold = report(1, pct=30, seats=2, control=True), divested(2, "Meta Platforms")
    assert ownership(scored(*BASE, before, sold)) is None
    assert [s for _, s, _ in stake_alerts([*BASE, before, sold])] == ["firing", "resolved"]


def test_the_resolution_goes_out_as_a_resolved_notification() -> None:
    before, zero = report(1, pct=30), report(2, pct=0)
    run = run_events([*BASE, before, zero], POLICY)
    notifier = Notifier(POLICY, SilenceBook())
    sent = []
    for i, (eid, transition) in enumerate(run.transitions):
        if transition.rule == "competitor_stake":
            record = transition.to_record()
            sent.append((eid, notifier.on_batch("acme", [record], now=1e9 + i)))
    assert sent[-1][0] == zero.id
    resolved = sent[-1][1]
    assert resolved is not None
    assert [(a.rule, a.status) for a in resolved.resolved] == [("competitor_stake", "resolved")]


# --- the latest report counts, with its own seats and control -----------------------------------


def test_a_later_smaller_report_without_control_replaces_the_controlling_one() -> None:
    controlling, later = report(1, pct=30, seats=2, control=True), report(2, pct=49)
    result = scored(*BASE, controlling, later)
    assert result.score == 79.15  # 100 x (1 - e^-(1.6 x 49/50)) (79.2 to one place)
    assert ownership(result).event_ids == (later.id,)
    assert ownership(result).detail == "Meta (competitor) holds 49%"


def test_a_late_arriving_older_report_does_not_replace_the_latest() -> None:
    later, older = report(2, pct=49), report(1, pct=30, seats=2, control=True)
    result = scored(*BASE, later, older)
    assert ownership(result).detail == "Meta (competitor) holds 49%"
    assert result == scored(*BASE, older, later)


def test_reports_by_aliases_are_one_competitors_reports() -> None:
    meta, facebook = report(1, "Meta", pct=49), report(2, "Facebook", pct=10)
    assert ownership(scored(*BASE, meta, facebook)).event_ids == (facebook.id,)


# --- acquisitions end ---------------------------------------------------------------------------


def test_an_acquisition_by_someone_else_ends_a_competitors_acquisition() -> None:
    by_meta, by_other = acquired(1, "Meta"), acquired(2, "Accel")
    assert ownership(scored(*BASE, by_meta)).detail == "acquired by Meta (competitor)"
    assert scored(*BASE, by_meta).severity == "critical"
    after = scored(*BASE, by_meta, by_other)
    assert ownership(after) is None
    assert after.score == 0
    assert [s for _, s, _ in stake_alerts([*BASE, by_meta, by_other])] == ["firing", "resolved"]


def test_an_acquisition_ends_earlier_stakes_and_later_ones_count() -> None:
    stake, by_other, after = report(1, "OpenAI", pct=30), acquired(2, "Accel"), report(3, pct=10)
    assert ownership(scored(*BASE, stake, by_other)) is None
    assert ownership(scored(*BASE, stake, by_other, after)).event_ids == (after.id,)


def test_a_divestment_by_the_acquirer_ends_its_acquisition() -> None:
    assert ownership(scored(*BASE, acquired(1, "Meta"), divested(2, "Meta"))) is None


# --- competitor_stake: control, growth ----------------------------------------------------------


def test_five_percent_with_voting_control_fires() -> None:
    taken = report(1, pct=5, control=True)
    assert stake_alerts([*BASE, taken]) == [
        (taken.id, "firing", "Meta (a competitor) now holds 5% of Acme (with voting control)")
    ]


def test_a_board_seat_fires_whatever_the_percentage() -> None:
    taken = report(1, pct=1, seats=2)
    assert stake_alerts([*BASE, taken]) == [
        (taken.id, "firing", "Meta (a competitor) now holds 1% of Acme (with 2 board seats)")
    ]


def test_a_growing_holding_fires_again_and_is_notified() -> None:
    small, grown = report(1, pct=10), report(2, pct=49, control=True)
    run = run_events([*BASE, small, grown], POLICY)
    stake = [(eid, t) for eid, t in run.transitions if t.rule == "competitor_stake"]
    assert [(eid, t.status, t.summary) for eid, t in stake] == [
        (small.id, "firing", "Meta (a competitor) now holds 10% of Acme"),
        (grown.id, "firing", "Meta (a competitor) now holds 49% of Acme (with voting control)"),
    ]
    first, second = (t for _, t in stake)
    assert second.fingerprint == first.fingerprint
    assert second.starts_at == first.starts_at  # the same alert, still firing since then
    assert second.event_ids == (grown.id,)
    assert second.id != first.id

    notifier = Notifier(POLICY, SilenceBook())
    notes = [
        notifier.on_batch("acme", [t.to_record()], now=1e9 + i)
        for i, t in enumerate((first, second))
    ]
    assert all(n is not None for n in notes)
    assert notes[0].idempotency_key != notes[1].idempotency_key  # type: ignore[union-attr]
    (item,) = [a for a in notes[1].alerts if a.rule == "competitor_stake"]  # type: ignore[union-attr]
    assert item.status == "firing"
    assert "49%" in item.summary
    assert item.event_ids == (grown.id,)


def test_a_smaller_holding_that_still_fires_says_nothing_new() -> None:
    big, smaller, regrown = report(1, pct=49), report(2, pct=20), report(3, pct=40)
    assert [(eid, s) for eid, s, _ in stake_alerts([*BASE, big, smaller, regrown])] == [
        (big.id, "firing")
    ]


def test_another_competitor_joining_fires_again() -> None:
    meta, openai = report(1, pct=20), report(2, "OpenAI", pct=15)
    assert [(eid, s) for eid, s, _ in stake_alerts([*BASE, meta, openai])] == [
        (meta.id, "firing"),
        (openai.id, "firing"),
    ]


# --- ties by arrival ------------------------------------------------------------------------------


def test_shared_then_revoked_at_the_same_second_is_not_held() -> None:
    same = T0 + timedelta(hours=1)
    shared = event(
        "data.shared",
        {"dataset": "ds", "classification": "restricted", "records": 10**6},
        at=same,
        event_id="z-shared",  # ids sort the other way: arrival decides, not ids
    )
    revoked = event("data.revoked", {"dataset": "ds"}, at=same, event_id="a-revoked")
    stake = report(1, pct=49)
    assert scored(shared, revoked, stake).data_at_stake == 0
    assert scored(revoked, shared, stake).data_at_stake == 1  # shared arrived last: held
    run = run_events([registered(), shared, revoked, stake], POLICY)
    assert run.scores[stake.id] == 0


def test_reports_of_the_same_instant_apply_in_arrival_order() -> None:
    same = T0 + days(1)
    first, second = report(0, pct=49, at=same), report(0, pct=0, at=same)
    assert ownership(scored(*BASE, first, second)) is None
    assert ownership(scored(*BASE, second, first)).event_ids == (first.id,)
