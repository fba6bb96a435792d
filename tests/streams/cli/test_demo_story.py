"""`vendorwatch demo` tells the scenario in time: the pacing and the plan, without a broker.

What the demo promises: about a minute at speed 1 (half that at 2), most of it spent in June
2025 where the story is, the stake paging visibly before the CEO's move, every scenario event
sent once, never before its own time, a vendor's events in file order, and clock records no
denser than a few per wall second. The driver only sleeps and sends what `plan` says, so these
properties of the plan are the demo's.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, datetime

import orjson
import pytest
from typer.testing import CliRunner

from vendorwatch.streams.cli import run as _registers_run  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.cli.demo import (
    MAX_TICKS_PER_S,
    STORY,
    STORY_START,
    Beat,
    DemoState,
    check_speed,
    due_times,
    final_scores,
    plan,
    read_lines,
    story_seconds,
    stream_time_text,
    wall_offset,
)
from vendorwatch.streams.cli.score import score_events
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.eventfile import demo_scenario_path, iter_lines, read_events

TODAY = datetime(2026, 12, 3, 10, 0, tzinfo=UTC).timestamp()


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def scenario_bytes() -> list[bytes]:
    with demo_scenario_path().open("rb") as stream:
        return [line for _, line in iter_lines(stream)]


def scenario() -> list:
    return read_lines(scenario_bytes())


def test_the_pacing_is_monotone_and_starts_before_the_first_event() -> None:
    first = min(item.time for item in scenario())
    assert first > STORY_START
    instants = [STORY_START - 86400 + k * 6 * 3600 for k in range(6000)]  # to mid-2026
    offsets = [wall_offset(t) for t in instants]
    assert all(a <= b for a, b in itertools.pairwise(offsets))
    inside = [
        o for t, o in zip(instants, offsets, strict=True) if STORY_START < t < STORY[-1].until
    ]
    assert all(a < b for a, b in itertools.pairwise(inside))  # time never stands still
    assert wall_offset(STORY_START - 1) == 0.0
    assert wall_offset(first) < 0.5  # the vendors appear at once


@pytest.mark.parametrize(("speed", "seconds"), [(1.0, 60.0), (2.0, 30.0), (0.5, 120.0)])
def test_the_run_takes_about_a_minute_at_speed_one(speed: float, seconds: float) -> None:
    assert story_seconds(speed) == pytest.approx(seconds, rel=0.1)
    assert wall_offset(STORY[-1].until, speed) == pytest.approx(
        wall_offset(STORY[-1].until) / speed
    )


def test_june_2025_gets_most_of_the_wall_time() -> None:
    june = wall_offset(utc("2025-07-01T00:00:00")) - wall_offset(utc("2025-06-01T00:00:00"))
    assert june > 0.5 * story_seconds()
    before = wall_offset(utc("2025-06-01T00:00:00"))  # two years and eight months
    assert before < june / 3


def test_the_stake_pages_visibly_before_the_ceo_moves() -> None:
    """An hour of story apart, and more than a second of wall time at speed 1."""
    stake = wall_offset(utc("2025-06-12T14:00:00"))
    ceo = wall_offset(utc("2025-06-12T15:00:00"))
    assert ceo - stake >= 1.0
    assert 10.0 < stake < 20.0  # after the quiet years, early in the run


def test_the_alerts_end_before_the_jump_to_today() -> None:
    """The key-person alert ends on 2025-09-10 and the pauses lapse on 2025-09-12: both are
    inside the played story, a few seconds before its end, not hidden in the final jump."""
    end = story_seconds()
    for instant in ("2025-09-10T15:00:00", "2025-09-12T12:00:00"):
        assert wall_offset(utc(instant)) < end - 3.0
    # and apart: a clock record falls between them, so they reach the table one after the other
    key_person, pauses = utc("2025-09-10T15:00:00"), utc("2025-09-12T12:00:00")
    assert any(key_person <= b.at < pauses for b in plan(scenario(), 1.0, TODAY))
    assert wall_offset(pauses) - wall_offset(key_person) >= 0.5


@pytest.mark.parametrize("speed", [1.0, 2.0, 20.0])
def test_every_event_is_sent_once_at_or_after_its_time_in_file_order(speed: float) -> None:
    lines = scenario()
    beats = plan(lines, speed, TODAY)
    assert [b.at for b in beats] == sorted({b.at for b in beats})  # one beat per instant
    assert all(a.wall <= b.wall for a, b in itertools.pairwise(beats))
    sent = [(i, line) for i, beat in enumerate(beats) for line in beat.lines]
    assert sorted(line for _, line in sent) == sorted(scenario_bytes())
    beat_of = {line: beats[i] for i, line in sent}
    for item in lines:
        assert beat_of[item.line].at >= item.time
    per_vendor: dict[str, list[bytes]] = defaultdict(list)
    for _, line in sent:
        per_vendor[orjson.loads(line)["subject"]].append(line)
    for vendor, in_order in per_vendor.items():
        assert in_order == [item.line for item in lines if item.subject == vendor], vendor


@pytest.mark.parametrize("speed", [1.0, 2.0, 20.0])
def test_clock_records_are_a_few_per_wall_second(speed: float) -> None:
    """Ticks (beats without events) stay within the budget per segment, plus the tick at each
    segment's end; a faster run ticks more coarsely, not more often."""
    beats = plan(scenario(), speed, TODAY)
    ticks = [b for b in beats if not b.lines]
    assert len(ticks) <= MAX_TICKS_PER_S * story_seconds(speed) + len(STORY) + 1
    per_second: dict[int, int] = defaultdict(int)
    for beat in ticks:
        per_second[math.floor(beat.wall)] += 1
    assert max(per_second.values()) <= 2 * MAX_TICKS_PER_S


def test_the_slow_part_ticks_at_least_daily_at_speed_one() -> None:
    ats = [b.at for b in plan(scenario(), 1.0, TODAY)]
    june = [t for t in ats if utc("2025-06-12T12:00:00") <= t <= utc("2025-06-21T00:00:00")]
    assert max(b - a for a, b in itertools.pairwise(june)) <= 86400


def test_no_tick_after_today() -> None:
    today = utc("2025-08-01T00:00:00")
    beats = plan(scenario(), 1.0, today)
    assert max(b.at for b in beats) <= today


def test_a_vendors_later_line_dated_earlier_waits_for_the_one_before_it() -> None:
    """File order per vendor is the key's promise: a line dated before its predecessor of the
    same vendor is sent right after it, at the predecessor's instant."""
    lines = read_lines(
        [
            b'{"id":"a1","subject":"a","time":"2024-03-01T00:00:00Z"}',
            b'{"id":"b1","subject":"b","time":"2024-02-01T00:00:00Z"}',
            b'{"id":"a2","subject":"a","time":"2024-01-01T00:00:00Z"}',
            b"not json",
        ]
    )
    assert due_times(lines) == [
        utc("2024-03-01T00:00:00"),
        utc("2024-02-01T00:00:00"),
        utc("2024-03-01T00:00:00"),
        STORY_START,  # unreadable: sent first, for the worker to dead-letter with its reason
    ]
    beats = plan(lines, 1.0, TODAY)
    order = [line for beat in beats for line in beat.lines]
    assert order.index(lines[0].line) < order.index(lines[2].line)
    assert order[0] == b"not json"


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_a_speed_must_be_finite_and_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="speed must be"):
        check_speed(bad)


@pytest.mark.parametrize("value", ["0", "-2", "fast", "nan", "inf"])
def test_a_bad_speed_exits_2_with_one_line(value: str) -> None:
    result = CliRunner().invoke(app, ["demo", "--speed", value])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "--speed must be a number greater than 0" in lines[0]
    assert "Traceback" not in result.output


def test_the_final_scores_are_todays_within_the_refresh_step() -> None:
    """What `--until-scored` waits for: the last score the worker publishes by today. Between
    publications a score moves by less than `live.refresh_points`, so it is within that of
    the exact score at today (`vendorwatch score --as-of`); Scale AI stays critical on Meta's
    49%, the temporary signals decay."""
    policy = load_policy(None)
    expected = final_scores(policy, scenario(), TODAY)
    with demo_scenario_path().open("rb") as stream:
        events, _ = read_events(stream)
    exact = {s.vendor_id: s.score for s in score_events(events, policy, TODAY).sorted_scores()}
    assert set(expected) == set(exact)
    for vendor, value in expected.items():
        assert abs(value - exact[vendor]) <= policy.live.refresh_points, vendor
    assert expected["scale-ai"] >= 80
    june = final_scores(policy, scenario(), utc("2025-06-21T00:00:00"))
    assert expected["scale-ai"] < june["scale-ai"]  # the CEO's move and the pauses decayed


def test_the_title_names_the_stream_time() -> None:
    assert stream_time_text(utc("2025-06-12T14:00:00")) == "2025-06-12 14:00 UTC"
    state = DemoState(at=utc("2025-06-12T14:00:00"))
    assert "stream time 2025-06-12 14:00 UTC" in state.title()
    assert "not started" in DemoState().title()


def test_a_beat_is_plain_data() -> None:
    beat = Beat(1.5, STORY_START, (b"x",))
    assert (beat.wall, beat.at, beat.lines) == (1.5, STORY_START, (b"x",))
