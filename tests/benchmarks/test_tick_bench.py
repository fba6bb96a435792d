"""The tick benchmark keeps working: on a few vendors it folds, ticks and prints every row, and
a tick in which no deadline falls touches no vendor (what the benchmark is there to show)."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import tick_bench  # noqa: E402


def test_the_tick_benchmark_runs_every_row(capsys: pytest.CaptureFixture[str]) -> None:
    thresholds = gc.get_threshold()
    try:
        assert tick_bench.main(["--vendors", "60", "--repeat", "1", "--no-write"]) == 0
    finally:
        gc.unfreeze()  # the fold runs in `bulk_fold`, which freezes what it built
        gc.set_threshold(*thresholds)
    out = capsys.readouterr().out
    for row in ("(a) +1 s", "(b) +1 min", "(c) +1 day", "(c) +1 week", "(c) +90 days"):
        assert f"| {row} |" in out, out
    assert "| (d) naive: re-score all | 60 |" in out, out
    quiet = next(line for line in out.splitlines() if line.startswith("| (a) +1 s |"))
    assert quiet.split("|")[2].strip() == "0", "no vendor is due one second after the fold"
    busy = next(line for line in out.splitlines() if line.startswith("| (c) +90 days |"))
    assert busy.split("|")[2].strip() == "60", "every vendor has a deadline within 90 days"
