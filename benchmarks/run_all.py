"""Run every `benchmarks/*_bench.py` in turn and print their results as one markdown report.

Each benchmark is a standalone script: it prints a markdown table (or a row of one) on stdout,
progress on stderr, and may write JSON into `benchmarks/results/`. They run one at a time, each
in its own interpreter, so one's memory and garbage does not slow the next. New benchmarks are
picked up by their file name; nothing here lists them.

    python benchmarks/run_all.py             # all of them (what `make bench` runs)
    python benchmarks/run_all.py fold        # only those whose name contains "fold"
    python benchmarks/run_all.py -- --events 100000   # pass arguments to every benchmark
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover(filters: Sequence[str] = ()) -> list[Path]:
    """The benchmark scripts, by name, optionally only those matching one of `filters`."""
    scripts = sorted(HERE.glob("*_bench.py"))
    if filters:
        scripts = [s for s in scripts if any(f in s.stem for f in filters)]
    return scripts


def run(script: Path, extra: Sequence[str]) -> tuple[int, str, float]:
    """Run one benchmark; its stderr streams through, its stdout is collected for the report."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), *extra],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
        check=False,
    )
    return proc.returncode, proc.stdout, time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in args:
        split = args.index("--")
        args, extra = args[:split], args[split + 1 :]
    scripts = discover(args)
    if not scripts:
        print(f"no benchmarks match {args}", file=sys.stderr)
        return 2
    summary: list[tuple[str, int, float]] = []
    sections: list[str] = []
    for script in scripts:
        print(f"== {script.name}", file=sys.stderr, flush=True)
        code, out, seconds = run(script, extra)
        summary.append((script.stem, code, seconds))
        sections.append(f"### {script.stem}\n\n{out.strip() or '(no output)'}\n")
    print("\n".join(sections))
    print("| benchmark | status | wall time |")
    print("|---|---|---:|")
    for name, code, seconds in summary:
        print(f"| {name} | {'ok' if code == 0 else f'failed ({code})'} | {seconds:.1f} s |")
    return 0 if all(code == 0 for _, code, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
