"""`vendorwatch history --chart` without a broker: the demo scenario folded in process.

The history command reads Kafka; the chart it draws is a function of the replay result (steps),
the policy and the end instant, so it is built here from `ReplaySink` fed the demo events, as
tests/streams/replay/test_replay_logic.py tests replay logic. The integration suite runs the
command itself against the embedded broker.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from vendorwatch.schemas import parse_event
from vendorwatch.streams.cli.replay import load_pyplot, rule_colours, write_chart
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.core.rules import Transition
from vendorwatch.streams.eventfile import demo_scenario_path
from vendorwatch.streams.replay.run import PolicyResult, ReplaySink, Step

pytest.importorskip("matplotlib")

POLICY = load_policy()


def demo_steps(vendor: str) -> tuple[list[Step], PolicyResult]:
    events = [
        parse_event(line) for line in demo_scenario_path().read_bytes().splitlines() if line.strip()
    ]
    sink = ReplaySink([POLICY], vendor=vendor, collect_steps=True)
    sink.feed_events(0, [e for e in events if e.subject == vendor])
    result = PolicyResult.of(sink.runs[0])
    # the event steps, as `history` hands them to the chart (deadline steps have no event)
    return [s for s in result.steps if s.event is not None], result


@pytest.mark.parametrize("vendor", ["scale-ai", "staffing-agency"])
def test_history_chart_renders_a_png_with_decay_and_alert_spans(
    vendor: str, tmp_path: Path
) -> None:
    import matplotlib.image

    steps, result = demo_steps(vendor)
    path = tmp_path / "charts" / f"{vendor}.png"
    end = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    write_chart(load_pyplot(), path, steps, result, POLICY, end)
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 20_000 < len(png) < 2_000_000
    height, width = matplotlib.image.imread(path).shape[:2]
    assert width > 1000
    # scale-ai alerts in one week of a three-year chart: a second panel zooms in on them
    assert height > (900 if vendor == "scale-ai" else 400)


def test_history_chart_shades_alerts_that_ended_on_time(tmp_path: Path) -> None:
    """Alerts that end on time (key person after 90 days, lapsed pauses) resolve at their
    deadline, with no event then: their spans stop there, the others run to the end."""
    import matplotlib.image

    steps, result = demo_steps("scale-ai")
    end = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    processor = Processor(POLICY)
    transitions: list[Transition] = []
    for step in steps:
        outcome = processor.process(0, step.event)
        transitions.extend(t for earlier in outcome.earlier for t in earlier.transitions)
        transitions.extend(outcome.transitions)
    transitions.extend(t for outcome in processor.advance_all(end) for t in outcome.transitions)
    assert any(t.status == "resolved" for t in transitions)
    path = tmp_path / "scale-ai.png"
    write_chart(load_pyplot(), path, steps, result, POLICY, end, transitions)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert matplotlib.image.imread(path).shape[1] > 1000


def test_every_rule_gets_its_own_colour() -> None:
    colours = rule_colours(["score_jump", "custom_b", "competitor_stake", "custom_a", "custom_b"])
    assert set(colours) == {"score_jump", "custom_b", "competitor_stake", "custom_a"}
    assert len(set(colours.values())) == 4
