"""The notifier: grouping, silences, repeat interval and idempotency keys, in wall-clock time.

Inputs are the transition records the score agent really publishes (`Transition.to_record()` of
the demo scenario run through the real `Processor`), so these tests exercise the same shapes the
notify agent reads from `vendorwatch.alerts`. `now` is passed in, so no test sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.streams.core.rules_helpers import default_policy, demo_events, event, run_events
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.silences import SilenceBook, expire_record, new_silence
from vendorwatch.streams.core.policy import Policy

NOW = datetime(2025, 6, 20, 10, 0, tzinfo=UTC)
T = NOW.timestamp()
HOUR = 3600.0
DEMO_RULES = {
    "competitor_stake",
    "score_jump",
    "key_person_to_competitor",
    "score_critical",
    "peer_pauses",
}


def demo_records() -> list[dict[str, Any]]:
    """The five scale-ai transition records of the demo scenario, in publish order."""
    run = run_events(demo_events(), default_policy())
    return [t.to_record() for _, t in run.transitions]


def resume_records() -> list[dict[str, Any]]:
    """What a `client.resumed` from xAI adds after the demo: peer_pauses resolves."""
    resume = event(
        "client.resumed",
        {"client": "xAI"},
        at=datetime(2025, 6, 19, 9, 0, tzinfo=UTC),
        vendor="scale-ai",
    )
    run = run_events([*demo_events(), resume], default_policy())
    return [t.to_record() for eid, t in run.transitions if eid == resume.id]


def notifier(policy: Policy | None = None, silences: SilenceBook | None = None) -> Notifier:
    return Notifier(policy or default_policy(), silences or SilenceBook())


def silence(book: SilenceBook, rule: str | None = None, *, hours: float = 2) -> str:
    record = new_silence(
        "scale-ai", NOW + timedelta(hours=hours), "known, handled", rule, now=NOW - timedelta(1)
    )
    book.apply(record)
    assert record.silence is not None
    return record.silence.id


# --- grouping ----------------------------------------------------------------------------------


def test_a_vendors_batch_is_one_notification_with_every_firing_alert() -> None:
    records = demo_records()
    n = notifier().on_batch("scale-ai", records, T)
    assert n is not None
    assert {a.rule for a in n.alerts} == DEMO_RULES
    assert all(a.status == "firing" for a in n.alerts)
    assert n.status == "firing"
    assert n.severity == "critical"
    assert n.vendor_id == "scale-ai"
    assert n.vendor_name == "Scale AI"
    # critical first, so the top of the Slack message is the worst news
    assert [a.severity for a in n.alerts[:2]] == ["critical", "critical"]
    # the change the batch made: from before the first transition to after the last
    assert n.previous_score == records[0]["previous_score"] == 0.0
    assert n.score == records[-1]["score"]
    assert n.policy_version == default_policy().version
    stake = next(a for a in n.alerts if a.rule == "competitor_stake")
    assert stake.event_ids == ("demo-scale-ai-meta-stake",)
    assert any("demo-scale-ai-meta-stake" in c.event_ids for c in n.contributions)


def test_a_later_batch_lists_what_still_fires_and_what_resolved() -> None:
    book = notifier()
    assert book.on_batch("scale-ai", demo_records(), T) is not None
    resolved = resume_records()
    assert [r["rule"] for r in resolved] == ["peer_pauses"]
    n = book.on_batch("scale-ai", resolved, T + 60)
    assert n is not None
    by_rule = {a.rule: a.status for a in n.alerts}
    assert by_rule == {rule: "firing" for rule in DEMO_RULES - {"peer_pauses"}} | {
        "peer_pauses": "resolved"
    }
    assert n.status == "firing"  # scale-ai is still in trouble
    assert n.alerts[-1].rule == "peer_pauses"  # resolved items after the firing ones
    assert n.resolved[0].ends_at is not None


def test_when_everything_resolves_the_notification_is_resolved() -> None:
    book = notifier()
    records = demo_records()
    book.on_batch("scale-ai", records, T)
    ended = [
        {**r, "status": "resolved", "ends_at": "2025-09-30T00:00:00Z", "id": r["id"] + "-end"}
        for r in records
    ]
    n = book.on_batch("scale-ai", ended, T + 60)
    assert n is not None
    assert n.status == "resolved"
    assert len(n.resolved) == 5
    assert book.active_counts() == {}


# --- silences ----------------------------------------------------------------------------------


def test_a_silenced_rule_is_left_out_and_the_rest_still_goes() -> None:
    silences = SilenceBook()
    silence(silences, "peer_pauses")
    n = notifier(silences=silences).on_batch("scale-ai", demo_records(), T)
    assert n is not None
    assert {a.rule for a in n.alerts} == DEMO_RULES - {"peer_pauses"}


def test_nothing_is_sent_when_every_alert_is_silenced() -> None:
    silences = SilenceBook()
    silence(silences)  # the whole vendor
    book = notifier(silences=silences)
    assert book.on_batch("scale-ai", demo_records(), T) is None
    # the alerts are still known to fire (the gauge and a later un-silenced repeat need them)
    assert sum(book.active_counts().values()) == 5


def test_an_expired_or_ended_silence_no_longer_applies() -> None:
    silences = SilenceBook()
    silence_id = silence(silences, hours=1)
    records = demo_records()
    assert notifier(silences=silences).on_batch("scale-ai", records, T) is None
    # past its `until`
    assert notifier(silences=silences).on_batch("scale-ai", records, T + 2 * HOUR) is not None
    # expired early with `vendorwatch silence expire`
    silences.apply(expire_record(silence_id, now=NOW + timedelta(minutes=10)))
    assert notifier(silences=silences).on_batch("scale-ai", records, T + 20 * 60) is not None


def test_a_silence_for_another_vendor_does_not_apply() -> None:
    silences = SilenceBook()
    record = new_silence("appen", NOW + timedelta(hours=1), "x", now=NOW - timedelta(1))
    silences.apply(record)
    n = notifier(silences=silences).on_batch("scale-ai", demo_records(), T)
    assert n is not None
    assert len(n.alerts) == 5


# --- repeat interval ---------------------------------------------------------------------------


def test_repeats_come_once_per_interval_and_never_more_often() -> None:
    policy = default_policy()
    interval = policy.alerts.repeat_interval_hours * HOUR
    book = notifier(policy)
    book.on_batch("scale-ai", demo_records(), T)
    sent: list[float] = []
    step = 7 * 60.0  # the worker's timer is 30 s; any cadence must give the same spacing
    now = T
    while now < T + 3.5 * interval:
        now += step
        for n in book.due_repeats(now):
            assert n.vendor_id == "scale-ai"
            assert len(n.firing) == 5
            sent.append(now)
    assert len(sent) == 3
    gaps = [b - a for a, b in zip([T, *sent], sent, strict=False)]
    assert all(interval <= gap < interval + step for gap in gaps), gaps


def test_a_new_batch_restarts_the_repeat_clock() -> None:
    interval = default_policy().alerts.repeat_interval_hours * HOUR
    book = notifier()
    book.on_batch("scale-ai", demo_records(), T)
    book.on_batch("scale-ai", resume_records(), T + interval - 60)
    assert book.due_repeats(T + interval) == []
    repeated = book.due_repeats(T + 2 * interval)
    assert len(repeated) == 1
    assert {a.rule for a in repeated[0].alerts} == DEMO_RULES - {"peer_pauses"}
    assert repeated[0].resolved == ()  # a repeat restates what fires; resolutions went out once


def test_no_repeat_for_a_vendor_with_nothing_firing_or_everything_silenced() -> None:
    interval = default_policy().alerts.repeat_interval_hours * HOUR
    quiet = notifier()
    records = demo_records()
    quiet.on_batch("scale-ai", records, T)
    quiet.on_batch(
        "scale-ai",
        [{**r, "status": "resolved", "ends_at": "2025-09-30T00:00:00Z"} for r in records],
        T + 1,
    )
    assert quiet.due_repeats(T + 3 * interval) == []

    silences = SilenceBook()
    silence(silences, hours=100)
    muted = notifier(silences=silences)
    assert muted.on_batch("scale-ai", records, T) is None
    for now in (T + 1, T + interval + 2, T + 2 * interval + 3):  # past the start-up baseline
        assert muted.due_repeats(now) == []
    assert sum(muted.active_counts().values()) == 5


def test_alerts_learned_at_start_up_wait_a_full_interval() -> None:
    """After a restart the notifier rebuilds what fires from the alerts topic without knowing
    when it last notified: it must not page straight away."""
    interval = default_policy().alerts.repeat_interval_hours * HOUR
    book = notifier()
    for record in demo_records():
        book.absorb(record)
    assert book.due_repeats(T) == []
    assert book.due_repeats(T + interval - 1) == []
    assert len(book.due_repeats(T + interval)) == 1


# --- idempotency keys --------------------------------------------------------------------------


def test_the_same_batch_gets_the_same_key_in_any_order_and_on_any_worker() -> None:
    records = demo_records()
    first = notifier().on_batch("scale-ai", records, T)
    again = notifier().on_batch("scale-ai", list(reversed(records)), T + 3 * HOUR)
    other = notifier().on_batch("scale-ai", records[:2], T)
    assert first is not None
    assert again is not None
    assert other is not None
    assert first.idempotency_key == again.idempotency_key
    assert other.idempotency_key != first.idempotency_key


@pytest.mark.parametrize("offset", [0.0, 60.0])
def test_a_repeat_key_is_stable_within_its_interval(offset: float) -> None:
    interval = default_policy().alerts.repeat_interval_hours * HOUR
    keys = []
    for _ in range(2):
        book = notifier()
        book.on_batch("scale-ai", demo_records(), T)
        (n,) = book.due_repeats(T + interval + offset)
        keys.append(n.idempotency_key)
    assert keys[0] == keys[1]
    assert keys[0].startswith("r-")
    first = notifier().on_batch("scale-ai", demo_records(), T)
    assert first is not None
    assert first.idempotency_key != keys[0]
