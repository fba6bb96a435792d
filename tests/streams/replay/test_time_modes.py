"""Replay as of T and as live, and `vendorwatch score --as-of T` saying the same as replay.

As of T means one thing everywhere (docs/architecture.md, "Time"): the events that happened by
T, each in event time, then every vendor brought to T, so the scores are decayed to T and the
alerts are those firing at T, including the ones that ended on time with no event (a key
person's `active_days`, lapsed pauses). No broker: records are built in process, as in
test_replay_logic.py.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import ConsumerRecord
from typer.testing import CliRunner

from vendorwatch.schemas.codec import encode_event, parse_event
from vendorwatch.streams.cli import score as _registers_score  # noqa: F401
from vendorwatch.streams.cli.common import app, parse_instant
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.scoring import DAY
from vendorwatch.streams.eventfile import demo_scenario_path
from vendorwatch.streams.replay.reports import replay_items
from vendorwatch.streams.replay.run import PolicyResult, ReplaySink

from .test_replay_logic import demo_values, records

POLICY = load_policy()
END_2025 = "2025-12-31"
JUNE_20 = "2025-06-20"
SCALE_ENDED_ON_TIME = {"key_person_to_competitor", "peer_pauses", "score_jump"}


def instant(text: str) -> float:
    value = parse_instant(text)
    assert value is not None
    return value.timestamp()


def score_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["score", *args, "--json"])
    assert result.exit_code == 0, result.output
    items: list[dict[str, Any]] = orjson.loads(result.stdout)
    return items


def replay_as_of(values: list[bytes], at: float, **kwargs: Any) -> PolicyResult:
    """The replay logic as `replay --as-of` runs it: four partitions, then `finish` at T."""
    sink = ReplaySink([POLICY], horizon=at, **kwargs)
    for partition, chunk in records(values).items():
        sink.feed(partition, chunk)
    sink.finish()
    return PolicyResult.of(sink.runs[0])


@pytest.mark.parametrize("as_of", [JUNE_20, END_2025, "2023-06-01", "2026-12-03"])
def test_score_as_of_equals_replay_as_of_alerts_included(as_of: str) -> None:
    """`score --json` is `replay --json`: every vendor's score, severity, contributions and
    firing alerts, whatever the partitioning (alerts and deadlines are per vendor)."""
    scored = score_json("--scenario", "demo", "--as-of", as_of)
    replayed = replay_items(replay_as_of(demo_values(), instant(as_of)))
    assert [i["vendor_id"] for i in scored] == [i["vendor_id"] for i in replayed]
    for mine, theirs in zip(scored, replayed, strict=True):
        for key in ("score", "severity", "contributions", "as_of", "alerts"):
            assert mine[key] == theirs[key], (mine["vendor_id"], key)
    assert scored == replayed


def firing(as_of: str) -> tuple[set[str], dict[str, Any]]:
    scale = {i["vendor_id"]: i for i in score_json("--scenario", "demo", "--as-of", as_of)}[
        "scale-ai"
    ]
    return {a["rule"] for a in scale["alerts"]}, scale


def test_scale_ai_alerts_fire_in_june_and_the_timed_ones_end_by_the_end_of_2025() -> None:
    in_june, _ = firing(JUNE_20)
    assert in_june == SCALE_ENDED_ON_TIME | {"competitor_stake", "score_critical"}
    at_end, scale = firing(END_2025)
    assert not at_end & SCALE_ENDED_ON_TIME
    critical = next(r for r in POLICY.alerts.rules if r.name == "score_critical")
    # the threshold resolves below resolve_below: whether it still fires depends on the decay
    still_critical = scale["score"] >= critical.resolve_below  # type: ignore[union-attr]
    assert at_end == {"competitor_stake"} | ({"score_critical"} if still_critical else set())
    assert still_critical  # Meta's 49% does not fade: the score stays high


def test_scale_ai_key_person_alert_ends_exactly_active_days_after_the_move() -> None:
    result = replay_as_of(demo_values(), instant(END_2025), collect_marks=True)
    (ended,) = [
        m for m in result.marks if m.rule == "key_person_to_competitor" and m.status == "resolved"
    ]
    move = datetime(2025, 6, 12, 15, tzinfo=UTC).timestamp()
    assert ended.at == move + 90 * DAY
    assert ended.caused_by == "time:2025-09-10T15:00:00Z"


def test_the_score_at_t_is_decayed_to_t_not_the_last_one_published() -> None:
    """After the last event the score keeps falling; as of T it is the score at T."""
    result = replay_as_of(demo_values(), instant(END_2025))
    june = replay_as_of(demo_values(), instant(JUNE_20))
    assert result.scores["scale-ai"].as_of == datetime(2025, 12, 31, 23, 59, 59, 999999, UTC)
    assert result.scores["scale-ai"].score < june.scores["scale-ai"].score


def test_earlier_outcomes_come_before_the_event_in_the_timeline() -> None:
    """`history`'s steps: a deadline that fell due before an event is its own step, ahead of
    the event, with no event and a `time:` cause."""
    events = [
        parse_event(line) for line in demo_scenario_path().read_bytes().splitlines() if line.strip()
    ]
    sink = ReplaySink([POLICY], vendor="scale-ai", horizon=instant(END_2025), collect_steps=True)
    sink.feed_events(0, [e for e in events if e.subject == "scale-ai"])
    sink.finish()
    steps = PolicyResult.of(sink.runs[0]).steps
    timed = [s for s in steps if s.event is None]
    assert timed
    assert all(s.caused_by.startswith("time:") and s.offset is None for s in timed)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    resolved = {t.rule for s in timed for t in s.transitions if t.status == "resolved"}
    assert resolved >= SCALE_ENDED_ON_TIME


# --- a vendor whose CTO moves to a competitor, and nothing more ----------------------------------


def labelco_lines() -> list[bytes]:
    def event(kind: str, when: str, suffix: str, data: dict[str, Any]) -> bytes:
        return orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"labelco-{suffix}",
                "source": "test",
                "type": kind,
                "time": when,
                "subject": "labelco",
                "data": data,
            }
        )

    return [
        event("vendor.registered", "2023-01-10T09:00:00Z", "registered", {"name": "LabelCo"}),
        event(
            "data.shared",
            "2023-02-01T09:00:00Z",
            "shared",
            {"dataset": "prefs", "classification": "restricted", "records": 2_000_000},
        ),
        event(
            "person.moved",
            "2024-02-01T09:00:00Z",
            "cto-to-openai",
            {
                "person": "Jo Doe",
                "role": "CTO",
                "from_org": "LabelCo",
                "to_org": "OpenAI",
                "seniority": "executive",
            },
        ),
    ]


@pytest.fixture
def labelco_file(tmp_path: Path) -> Path:
    path = tmp_path / "labelco.jsonl"
    path.write_bytes(b"\n".join(labelco_lines()) + b"\n")
    return path


def test_labelco_key_person_alert_resolves_at_its_ends_at_and_the_score_decays(
    labelco_file: Path,
) -> None:
    values = [encode_event(parse_event(line)) for line in labelco_lines()]
    june = instant("2024-06-01")
    result = replay_as_of(values, june, collect_marks=True)
    marks = [m for m in result.marks if m.rule == "key_person_to_competitor"]
    assert [m.status for m in marks] == ["firing", "resolved"]
    may_first = datetime(2024, 5, 1, 9, tzinfo=UTC).timestamp()
    assert marks[1].at == may_first
    assert marks[1].caused_by == "time:2024-05-01T09:00:00Z"
    assert "key_person_to_competitor" not in result.firing.get("labelco", {})
    # the transition itself says when it ended
    processor = Processor(POLICY)
    for line in labelco_lines():
        processor.process(0, parse_event(line))
    (ended,) = [
        t
        for o in processor.advance_all(june)
        for t in o.transitions
        if t.rule == "key_person_to_competitor"
    ]
    assert (ended.status, ended.ends_at, ended.as_of) == ("resolved", may_first, may_first)
    assert result.firing.get("labelco", {}) == {}  # the jump's week has passed too

    # decayed by the 180-day half-life: the key-person hazard at T is 2^(-age/180) of its start
    (scored,) = score_json("--events", str(labelco_file), "--as-of", "2024-06-01")
    assert scored == replay_items(result)[0]
    at_move = score_json("--events", str(labelco_file), "--as-of", "2024-02-01T09:00Z")[0]
    stake = 100 * scored["data_at_stake"]

    def hazard(points: float) -> float:
        return -math.log(1 - points / stake)

    age_days = (june - datetime(2024, 2, 1, 9, tzinfo=UTC).timestamp()) / DAY
    ratio = hazard(scored["score"]) / hazard(at_move["score"])
    assert ratio == pytest.approx(2 ** (-age_days / 180), rel=2e-3)  # scores round to 0.01


def test_labelco_today_fires_nothing_and_scores_near_zero(labelco_file: Path) -> None:
    (today,) = score_json("--events", str(labelco_file), "--as-of", "2026-12-03")
    assert today["alerts"] == []
    assert today["score"] < 3
    assert today["as_of"].startswith("2026-12-03T23:59:59")


# --- as live --------------------------------------------------------------------------------------


def stamped(values: list[bytes], late_s: float) -> dict[int, list[ConsumerRecord]]:
    """Records as a worker writes them: each with the stream time it was scored at (here its
    event time plus `late_s`, in whole milliseconds) as its timestamp."""
    parts = records(values)
    for partition, chunk in parts.items():
        parts[partition] = [
            dataclasses.replace(
                r, timestamp=math.floor((parse_event(r.value).time.timestamp() + late_s) * 1000)
            )
            for r in chunk
        ]
    return parts


def test_as_live_applies_each_event_at_its_recorded_stream_time() -> None:
    """As live, replay is the live processor fed each event at its record's stream time, and
    each partition ends at its latest one: the scores are the ones last published."""
    values = demo_values()
    parts = stamped(values, late_s=3600.0)
    sink = ReplaySink([POLICY], as_live=True)
    for partition, chunk in parts.items():
        sink.feed(partition, chunk)
    sink.finish()
    live = Processor(POLICY)
    for partition, chunk in parts.items():
        for record in chunk:
            live.process(partition, parse_event(record.value), record.timestamp / 1000)
        live.advance(partition, chunk[-1].timestamp / 1000)
    result = PolicyResult.of(sink.runs[0])
    assert result.scores == live.published
    assert {v: set(f) for v, f in result.firing.items()} == {
        v: set(a.firing) for v, a in live.alerts.items() if a.firing
    }
    # an hour late, the stake is scored an hour after it happened: the score says so
    assert result.scores["scale-ai"].as_of > datetime(2025, 6, 12, 15, tzinfo=UTC)


def test_as_live_horizon_is_a_stream_time() -> None:
    values = demo_values()
    parts = stamped(values, late_s=0.0)
    t = instant("2025-06-12T14:30Z")
    sink = ReplaySink([POLICY], as_live=True, horizon=t)
    for partition, chunk in parts.items():
        sink.feed(partition, chunk)
    sink.finish()
    later = [v for v in values if parse_event(v).time.timestamp() > t]
    assert sink.stats.after_horizon == len(later) > 0
    assert sink.runs[0].processor.stream_time == {p: t for p in sink.runs[0].processor.states}
