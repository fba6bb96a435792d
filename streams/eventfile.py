"""Reading JSON Lines event files with errors that point at a line and a field."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.heap import bulk_fold
from vendorwatch.streams.core.state import VendorState, apply


@dataclass(frozen=True, slots=True)
class LineError:
    """A line of an event file that is not a valid event."""

    line: int
    reason: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def iter_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, content) for each non-blank line."""
    for number, raw in enumerate(stream, start=1):
        line = raw.strip()
        if line:
            yield number, line


def parse_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, Event | LineError]]:
    """Parse every non-blank line, yielding the event or the error for each."""
    for number, line in iter_lines(stream):
        try:
            yield number, parse_event(line)
        except InvalidEvent as exc:
            yield number, LineError(number, exc.reason, str(exc))


def read_events(stream: Iterable[bytes]) -> tuple[list[Event], list[LineError]]:
    """All valid events of a stream, and the errors of the invalid lines."""
    events: list[Event] = []
    errors: list[LineError] = []
    for _, item in parse_lines(stream):
        (errors if isinstance(item, LineError) else events).append(item)  # type: ignore[arg-type]
    return events, errors


@dataclass(slots=True)
class FoldedFile:
    """Every vendor's state after folding an event file, and the lines that were not events."""

    states: dict[str, VendorState]
    errors: list[LineError]


def fold_lines(lines: Iterable[bytes]) -> FoldedFile:
    """Parse and fold JSON Lines in one pass: every vendor's state, no scores, no alerts.

    `vendorwatch score` no longer uses it: it reports the alerts firing at T too, and those
    come only from running the events through the `Processor` with its deadlines
    (`replay.fold.EventSink`), which also gives the scores. It stays the fastest way from a file
    to states (benchmarks/fold_bench.py measures it; tests use it as a reference fold).

    One pass, without a list of every event, because an event is only needed until `apply` has
    filed it; and inside `bulk_fold`, because the collector would otherwise re-scan the growing
    history over and over (streams/core/heap.py). Lines are read as `parse_lines` reads them (blank
    ones skipped, an invalid one becomes its `LineError`), in one loop rather than through its
    two generators: a generator step and a tuple per line were about 3% of its instructions.
    """
    states: dict[str, VendorState] = {}
    errors: list[LineError] = []
    known = states.get
    with bulk_fold():
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()  # the same object when there is nothing to strip
            if not line:
                continue
            try:
                event = parse_event(line)
            except InvalidEvent as exc:
                errors.append(LineError(number, exc.reason, str(exc)))
                continue
            subject = event.subject
            state = known(subject)
            if state is None:
                state = states[subject] = VendorState(subject)
            apply(state, event)
    return FoldedFile(states, errors)


def demo_scenario_path() -> Path:
    """The bundled demo scenario: the README's Scale AI case, as a lab's security team saw it."""
    return Path(str(resources.files("vendorwatch.streams").joinpath("data/demo_scenario.jsonl")))


def open_events(path: Path | str) -> BinaryIO:
    """Open an event file, or standard input for '-'."""
    if str(path) == "-":
        import sys

        return sys.stdin.buffer
    return Path(path).open("rb")
