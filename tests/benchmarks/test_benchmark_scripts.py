"""The benchmark scripts keep working: synthetic events are valid and deterministic, the fold,
memory and processor benchmarks run end to end on a small input, and run_all finds every
*_bench.py."""

from __future__ import annotations

import gc
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import fold_bench  # noqa: E402
import memory_bench  # noqa: E402
import processor_bench  # noqa: E402
import run_all  # noqa: E402
import synthetic  # noqa: E402

from vendorwatch.schemas import EVENT_TYPES, parse_event  # noqa: E402
from vendorwatch.streams.core.heap import YOUNG_THRESHOLD, bulk_fold, tune_collector  # noqa: E402


def test_synthetic_events_are_valid_deterministic_and_cover_every_type() -> None:
    first = synthetic.generate(3000, 30, seed=7)
    assert first == synthetic.generate(3000, 30, seed=7)
    assert first != synthetic.generate(3000, 30, seed=8)
    events = [parse_event(raw) for raw in first]
    assert len({e.id for e in events}) == 3000
    assert {e.subject for e in events} == {f"vendor-{i:05d}" for i in range(30)}
    assert set(Counter(e.type for e in events)) == set(EVENT_TYPES)
    v1 = [r for r in first if b"ownership.stake_acquired:v1" in r]
    assert v1, "some stake reports are still schema v1, so the upcaster runs"
    assert all("stake" in orjson.loads(r)["data"] for r in v1)


def test_the_fold_benchmark_runs_every_row_and_they_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    thresholds = gc.get_threshold()
    try:
        # exit status 0 also means every row's digest of the final scores was the same
        assert fold_bench.main(["--events", "2000", "--no-write", "--stages", "--jobs", "2"]) == 0
    finally:
        gc.unfreeze()  # the benchmark freezes its generated input and the folds' results
        gc.set_threshold(*thresholds)
    captured = capsys.readouterr()
    assert "| orjson.loads (ceiling) |" in captured.out
    assert "| fold: validate + apply, score each vendor once (1 process) |" in captured.out
    assert "| the same fold in 2 processes" in captured.out
    assert "| live path: explained score after every event (1 process) |" in captured.out
    assert "| parse_event (validation) |" in captured.out
    assert "all equal" in captured.err


def test_the_memory_benchmark_reports_what_each_kept_event_costs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    thresholds = gc.get_threshold()
    try:
        assert (
            memory_bench.main(["--events", "3000", "--events-per-vendor", "50", "--no-write"]) == 0
        )
    finally:
        gc.unfreeze()  # the benchmark freezes its generated input
        gc.set_threshold(*thresholds)
    out = capsys.readouterr().out
    per_event = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith(("fold state", "worker state")):
            per_event[cells[0].split()[0]] = int(cells[1].replace(",", ""))
    # A kept event is at least its fact, id and payload model (several hundred bytes); the
    # worker keeps the same facts plus its scoring caches and alert state.
    assert 300 < per_event["fold"] < 5000, out
    assert per_event["worker"] > per_event["fold"], out
    assert "A worker holding the history of 1,000,000 events needs about" in out


def test_the_processor_benchmark_times_both_ways_against_its_ceiling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    thresholds = gc.get_threshold()
    try:
        assert processor_bench.main(["--events", "1500", "--repeat", "1", "--no-write"]) == 0
    finally:
        gc.unfreeze()  # the replay way folds in heap.bulk_fold, which freezes what it built
        gc.set_threshold(*thresholds)
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[2].endswith("x"):
            rows[cells[0]] = float(cells[1])
    assert set(rows) == {"`orjson.loads` (ceiling)", "replay, this tree", "live, this tree"}
    # the Processor does far more per event than decoding its JSON
    assert rows["replay, this tree"] > rows["`orjson.loads` (ceiling)"]


def test_run_all_discovers_every_benchmark_by_name() -> None:
    names = {p.name for p in run_all.discover()}
    assert "fold_bench.py" in names
    assert all(n.endswith("_bench.py") for n in names)
    assert {p.name for p in run_all.discover(["fold"])} == {"fold_bench.py"}


def test_tune_collector_raises_the_young_threshold() -> None:
    previous = tune_collector()
    try:
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.isenabled()
    finally:
        gc.set_threshold(*previous)


def test_bulk_fold_pauses_the_collector_and_restores_it() -> None:
    assert gc.isenabled()
    try:
        with bulk_fold():
            assert not gc.isenabled()
            with bulk_fold():
                assert not gc.isenabled()
            assert not gc.isenabled(), "only the outermost use re-enables the collector"
        assert gc.isenabled()
        gc.disable()
        with bulk_fold():
            pass
        assert not gc.isenabled(), "a collector that was off stays off"
    finally:
        gc.enable()
        gc.unfreeze()
