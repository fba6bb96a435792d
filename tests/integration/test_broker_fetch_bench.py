"""The broker fetch benchmark runs end to end on a real embedded broker (small sizes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "broker_fetch_bench.py"
SMALL_RUN = ["--small", "20", "--big", "400", "--fetches", "10", "--no-write"]


def test_the_broker_fetch_benchmark_measures_both_partitions() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), *SMALL_RUN],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith(("| small", "| big"))]
    assert [r.split("|")[2].strip() for r in rows] == ["20", "400"]
    assert "Broker CPU per fetch, big / small partition:" in run.stdout
