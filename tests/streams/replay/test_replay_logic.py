"""The pure half of replay (`streams/replay/run.py`): folding records, merging jobs, reports, plans.

No broker here: records are real aiokafka `ConsumerRecord`s built from the demo scenario, the
same objects the reader hands to the sink. The integration suites check the reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from aiokafka import ConsumerRecord

from vendorwatch.schemas.codec import encode_event, parse_event
from vendorwatch.streams.cli.replay import parse_end_offsets, parse_start
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import demo_scenario_path
from vendorwatch.streams.replay.export import ExportSink
from vendorwatch.streams.replay.reader import Window
from vendorwatch.streams.replay.rebuild import current_firing, plan_rebuild
from vendorwatch.streams.replay.reports import backtest_report, replay_items
from vendorwatch.streams.replay.run import (
    AlertMark,
    PolicyResult,
    ReplaySink,
    plan_jobs,
)

HIGHER = Path(__file__).resolve().parents[3] / "streams/data/policies/higher_stake_threshold.yaml"


def demo_values() -> list[bytes]:
    lines = [line for line in demo_scenario_path().read_bytes().splitlines() if line.strip()]
    return [encode_event(parse_event(line)) for line in lines]


def records(values: list[bytes], partitions: int = 4) -> dict[int, list[ConsumerRecord]]:
    """Values keyed by vendor id into partitions (by a stable hash), offsets in order."""
    out: dict[int, list[ConsumerRecord]] = {p: [] for p in range(partitions)}
    for value in values:
        key = str(orjson.loads(value).get("subject", "")).encode()
        p = sum(key) % partitions
        out[p].append(
            ConsumerRecord("vendorwatch.events", p, len(out[p]), 0, 0, key, value, None, 0, 0, [])
        )
    return out


def fold(parts: dict[int, list[ConsumerRecord]], policies: Any = None, **kwargs: Any) -> ReplaySink:
    sink = ReplaySink(policies or [load_policy()], **kwargs)
    for partition, chunk in parts.items():
        sink.feed(partition, chunk)
    return sink


def test_sink_runs_the_live_processor_event_by_event() -> None:
    policy = load_policy()
    parts = records(demo_values())
    sink = fold(parts, [policy])
    processor = Processor(policy)
    for partition, chunk in parts.items():
        for record in chunk:
            processor.process(partition, parse_event(record.value))
    assert sink.runs[0].processor.published == processor.published
    assert sink.stats.events == 25
    firing = {v: set(a.firing) for v, a in processor.alerts.items() if a.firing}
    assert {v: set(f) for v, f in PolicyResult.of(sink.runs[0]).firing.items()} == firing


def test_chunks_of_a_partition_fold_like_the_whole() -> None:
    parts = records(demo_values())
    whole = PolicyResult.of(fold(parts).runs[0])
    sink = ReplaySink([load_policy()])
    for partition, chunk in parts.items():
        for i in range(0, len(chunk), 2):
            sink.feed(partition, chunk[i : i + 2])
    assert PolicyResult.of(sink.runs[0]).scores == whole.scores


def test_jobs_over_disjoint_partitions_merge_to_the_single_run() -> None:
    parts = records(demo_values())
    single = PolicyResult.of(fold(parts, collect_marks=True).runs[0])
    a = PolicyResult.of(fold({p: parts[p] for p in (0, 2)}, collect_marks=True).runs[0])
    b = PolicyResult.of(fold({p: parts[p] for p in (1, 3)}, collect_marks=True).runs[0])
    a.merge(b)
    assert a.scores == single.scores
    assert a.changes == single.changes
    assert {v: set(f) for v, f in a.firing.items()} == {v: set(f) for v, f in single.firing.items()}
    assert sorted(a.marks, key=repr) == sorted(single.marks, key=repr)
    assert replay_items(a) == replay_items(single)


def test_horizon_and_vendor_filters() -> None:
    parts = records(demo_values())
    t = parse_start("2025-06-12T14:30Z")
    assert t is not None
    sink = fold(parts, horizon=t.timestamp(), vendor="scale-ai")
    result = PolicyResult.of(sink.runs[0])
    assert set(result.scores) == {"scale-ai"}
    assert result.scores["scale-ai"].as_of.isoformat() == "2025-06-12T14:00:00+00:00"
    assert sink.stats.events == 4  # registered, two datasets, the stake
    assert sink.stats.after_horizon == 5
    assert sink.stats.other_vendors == 16  # skipped by key, not decoded


def test_invalid_records_are_counted_and_skipped_like_live() -> None:
    values = demo_values()
    values.insert(3, b'{"type": "nope"}')
    sink = fold(records(values))
    assert sink.stats.invalid == 1
    assert sink.stats.events == 25
    assert "@" in sink.stats.invalid_examples[0]


def test_backtest_of_identical_results_has_no_differences() -> None:
    parts = records(demo_values())
    sink = fold(parts, [load_policy(), load_policy()], collect_marks=True)
    a, b = (PolicyResult.of(run) for run in sink.runs)
    report = backtest_report(a, b, Window())
    assert report.differences == 0
    assert report.totals == (5, 5)


def test_backtest_counts_days_months_and_severity() -> None:
    sink = fold(records(demo_values()), [load_policy(), load_policy(HIGHER)], collect_marks=True)
    a, b = (PolicyResult.of(run) for run in sink.runs)
    report = backtest_report(a, b, Window())
    (scale,) = report.first_alerts
    assert scale.first == "A"
    assert scale.days_later == pytest.approx(0.04)
    assert report.rule_firsts["scale-ai"]["competitor_stake"][1] is None
    assert report.monthly == [("2025-06", 5, 4)]
    as_dict = report.to_dict()
    assert as_dict["first_alerts"][0]["days_later"] == pytest.approx(0.04)


def test_first_alert_arithmetic() -> None:
    def mark(vendor: str, at: float) -> AlertMark:
        return AlertMark(vendor, "r", "firing", "high", at, at, "s", "e")

    a = PolicyResult(load_policy(), marks=[mark("v", 0.0), mark("w", 86_400.0)])
    b = PolicyResult(load_policy(), marks=[mark("v", 3 * 86_400.0), mark("x", 0.0)])
    report = backtest_report(a, b, Window())
    firsts = {f.vendor_id: f for f in report.first_alerts}
    assert firsts["v"].days_later == 3.0
    assert firsts["v"].first == "A"
    assert firsts["w"].first == "A"
    assert firsts["w"].days_later is None
    assert firsts["x"].first == "B"
    assert report.fired_only == (["w"], ["x"])
    inside = backtest_report(a, b, Window(start=86_400.0))
    assert [f.vendor_id for f in inside.first_alerts] == ["v", "w"]


def test_export_orders_by_time_vendor_then_log_order_and_keeps_the_first_copy() -> None:
    values = demo_values()
    shuffled = [*reversed(values), values[0]]
    sink = ExportSink(Window())
    sink.feed(0, records(shuffled, partitions=1)[0])
    lines = list(sink.lines())
    # sorted() is stable: events of one vendor and instant keep their order in the log
    assert lines == sorted(
        reversed(values), key=lambda v: (parse_event(v).time, parse_event(v).subject)
    )
    assert sink.stats.duplicates == 1
    assert sink.stats.reencoded == 0


def test_export_writes_canonical_bytes_for_non_canonical_values() -> None:
    value = demo_values()[0]
    spaced = orjson.dumps(orjson.loads(value), option=orjson.OPT_INDENT_2)
    sink = ExportSink(Window())
    sink.feed(0, records([spaced], partitions=1)[0])
    assert list(sink.lines()) == [value]
    assert sink.stats.reencoded == 1


def test_rebuild_plan_reconciles_alerts() -> None:
    policy_b = load_policy(HIGHER)
    result = PolicyResult.of(fold(records(demo_values()), [policy_b]).runs[0])
    old = PolicyResult.of(fold(records(demo_values()), [load_policy()]).runs[0])
    live = current_firing(t.to_record() for t in old.opening.values())
    plan = plan_rebuild(result, live, published_at=1.0)
    assert len(plan.scores) == 6
    assert {r["policy_version"] for r in plan.scores} == {policy_b.version}
    assert [r["rule"] for r in plan.resolve] == ["competitor_stake"]
    assert plan.resolve[0]["status"] == "resolved"
    assert plan.resolve[0]["caused_by"] == f"rebuild:{policy_b.version}"
    fired = {r["rule"] for r in plan.fire}
    assert fired == {"score_critical", "score_jump"}  # they start later under B
    # the view after the plan is exactly B's firing set
    after = current_firing([*live.values(), *plan.alerts])
    assert {fp: r["starts_at"] for fp, r in after.items()} == {
        fp: t.to_record()["starts_at"] for fp, t in result.opening.items()
    }
    again = plan_rebuild(result, after, published_at=2.0)
    assert again.alerts == []


def test_plan_jobs_balances_and_covers_every_partition() -> None:
    ends = {0: 100, 1: 10, 2: 90, 3: 0, 4: 20}
    groups = plan_jobs(ends, 2)
    assert sorted(p for g in groups for p in g) == [0, 1, 2, 4]
    assert sorted(sum(g.values()) for g in groups) == [110, 110]
    assert plan_jobs({0: 0}, 4) == [{}]


def test_cli_parsers() -> None:
    assert parse_end_offsets("0=12, 3=0") == {0: 12, 3: 0}
    assert parse_end_offsets(None) is None
    with pytest.raises(typer.BadParameter):
        parse_end_offsets("0:12")
    start = parse_start("2025-06-12")
    assert start is not None
    assert start.isoformat() == "2025-06-12T00:00:00+00:00"
    exact = parse_start("2025-06-12T15:00+02:00")
    assert exact is not None
    assert exact.isoformat() == "2025-06-12T15:00:00+02:00"
    assert Window(0.0, 1.0).contains(1.0)
    assert not Window(0.0, 1.0).contains(1.5)
    assert Window().contains(-1e12)
