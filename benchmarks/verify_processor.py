"""Check that this tree's `Processor` scores every event exactly as a reference commit's did.

Why: the score agent and `vendorwatch replay` publish what `Processor.process` says, so any
speed-up of it must keep every score byte-identical. This script runs the reference commit's
`scoring`, `rules`, `processor` and `replay` modules (read with `git show`, registered under
another package name) side by side with this tree's, over the same events, and compares, per
event: `duplicate`, and the vendor's score after it (`to_dict()`: number, severity,
contributions, data at stake) whenever the reference published it, and every `--sample`-th
event's otherwise (redeliveries aside: they answer with the last published score).

What it no longer compares, since the time model (7b863d8, docs/architecture.md "Time"): the
"changed" decision, the previous published score, alert transitions and replay results. Time now
moves between events: a vendor's deadlines (a key-person alert ending on time, pauses lapsing,
decay across a band, a threshold or `live.refresh_points`) are evaluated and published at their
own instants, and the jump rule measures from the decayed score. So those legitimately differ
from any commit before it; the old model does not define them. This tree's Processor runs in
event-time mode (`now=None`, as the reference scored) and its outcomes caused by `time:` are
not compared; tests/streams/core holds the new semantics.

The events: `--events` synthetic ones (`synthetic.py`, events / 100 vendors, 2% late), with 1%
of them delivered a second time later on (at-least-once redelivery), then the bundled demo
scenario; under the default policy and every policy in `streams/data/policies/`. Exits 1 on the
first difference, printing it.

    python benchmarks/verify_processor.py                    # 30,000 events, reference: d5f1aec
    python benchmarks/verify_processor.py --base HEAD~3 --events 100000

It times nothing (a shared machine makes that a benchmark's job, not a check's).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import types
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from synthetic import generate

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.policy import Policy, load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import demo_scenario_path, open_events, read_events

ROOT = Path(__file__).resolve().parents[1]
OLD = "vendorwatch_reference"
"""The package name the reference commit's modules are registered under."""
MODULES = (
    ("streams/scoring.py", "scoring", "vendorwatch.streams.scoring"),
    ("alerts/rules.py", "rules", "vendorwatch.alerts.rules"),
    ("streams/processor.py", "processor", "vendorwatch.streams.processor"),
    ("streams/replay.py", "replay", "vendorwatch.streams.replay"),
)
"""(path in the repository, module name under OLD, the name its importers use), in import
order: each module's imports of the ones before it are pointed at the reference copies."""

CURRENT = (
    ("from vendorwatch.streams import topics", "from vendorwatch.streams.kafka_io import topics"),
    ("vendorwatch.streams.heap", "vendorwatch.streams.core.heap"),
    ("vendorwatch.streams.history", "vendorwatch.streams.kafka_io.history"),
    ("vendorwatch.streams.kafka_compat", "vendorwatch.streams.kafka_io.compat"),
    ("vendorwatch.streams.policy", "vendorwatch.streams.core.policy"),
    ("vendorwatch.streams.state", "vendorwatch.streams.core.state"),
)
"""The reference commit's other imports, renamed to where those modules live in this tree."""

REFERENCE = "d5f1aec"
"""The default reference: the last commit whose Processor built an explained Score after every
event and ran the rules on it. Comparing against `main` once this
code is on main would compare the code with itself."""


def load_reference(base: str) -> dict[str, types.ModuleType]:
    """The reference commit's modules, importable side by side with this tree's."""
    package = types.ModuleType(OLD)
    package.__path__ = []
    sys.modules[OLD] = package
    loaded: dict[str, types.ModuleType] = {}
    for path, name, _ in MODULES:
        shown = subprocess.run(
            ["git", "show", f"{base}:{path}"], cwd=ROOT, check=False, capture_output=True, text=True
        )
        if shown.returncode != 0:
            raise SystemExit(
                f"cannot read {path} at {base!r} (a git checkout with that commit is needed): "
                f"{shown.stderr.strip()}"
            )
        source = shown.stdout
        for old_name, new_name in CURRENT:
            source = source.replace(old_name, new_name)
        for _, earlier, earlier_original in MODULES:
            if earlier in loaded:
                source = source.replace(
                    f"from {earlier_original} import", f"from {OLD}.{earlier} import"
                )
        spec = importlib.util.spec_from_loader(f"{OLD}.{name}", loader=None)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        exec(compile(source, f"{base}:{path}", "exec"), module.__dict__)
        loaded[name] = module
    return loaded


def policies() -> list[Policy]:
    shipped = sorted((ROOT / "streams/data/policies").glob("*.yaml"))
    return [load_policy(None), *(load_policy(p) for p in shipped)]


def events(n: int) -> list[Event]:
    """Synthetic events with 1% redelivered later, then the demo scenario."""
    rng = random.Random(6)
    parsed = [parse_event(raw) for raw in generate(n, max(1, n // 100))]
    stream = list(parsed)
    for event in rng.sample(parsed, len(parsed) // 100):
        stream.insert(rng.randrange(parsed.index(event) + 1, len(stream) + 1), event)
    with open_events(demo_scenario_path()) as lines:
        demo, errors = read_events(lines)
    assert not errors, errors
    return stream + demo


class Mismatch(AssertionError):
    pass


def same(what: str, old: Any, new: Any) -> None:
    if old != new:
        raise Mismatch(f"{what} differs:\n  reference: {old!r}\n  this tree: {new!r}")


def compare_outcomes(
    stream: Iterable[Event], policy: Policy, ref: dict[str, types.ModuleType], sample: int
) -> int:
    old, new = ref["processor"].Processor(policy), Processor(policy)
    compared = 0
    for i, event in enumerate(stream):
        partition = zlib.crc32(event.subject.encode()) % 4
        a, b = old.process(partition, event), new.process(partition, event)
        where = f"{policy.version} event #{i} {event.id} ({event.type})"
        same(f"{where}: duplicate", a.duplicate, b.duplicate)
        # a redelivery answers with the score last published, which deadlines now move too
        if not a.duplicate and (a.changed or i % sample == 0):
            same(f"{where}: score", a.current.to_dict(), b.current.to_dict())
        compared += 1
    return compared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", default=REFERENCE, help=f"reference commit (default: {REFERENCE})"
    )
    parser.add_argument("--events", type=int, default=30_000, help="synthetic events")
    parser.add_argument(
        "--sample", type=int, default=7, help="also compare every Nth unchanged score"
    )
    args = parser.parse_args(argv)
    ref = load_reference(args.base)
    stream = events(args.events)
    total = 0
    try:
        for policy in policies():
            total += compare_outcomes(stream, policy, ref, args.sample)
            print(f"{policy.version}: {len(stream):,} scores after each event identical")
    except Mismatch as exc:
        print(f"MISMATCH {exc}")
        return 1
    print(f"all identical: {total:,} events' scores compared against {args.base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
