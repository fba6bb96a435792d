"""`vendorwatch score`: fold an event file offline with the live pipeline's code.

Offline: no broker, no Faust, no Kafka client is imported (an import contract holds this).

As of T (docs/architecture.md, "Time"): the file's events that happened by T run through the
live `Processor` in file order and in event time, then every vendor is brought to T, exactly as
`vendorwatch replay --as-of T` runs the history (both fold through `replay.fold.EventSink` and
report through `replay.reports.replay_items`). So the scores are the scores at T, decayed to
it, and the alerts are those firing at T: a key person's move stops alerting `active_days`
after it, whatever the file holds after T. T defaults to now, read here and nowhere below.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated

import orjson
import typer
from rich.table import Table
from rich.text import Text

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.cli.common import (
    AsOfOpt,
    EventsOpt,
    JsonOpt,
    PolicyOpt,
    ScenarioOpt,
    app,
    console,
    err_console,
    events_source,
    fail,
    parse_instant,
    policy_option,
)
from vendorwatch.streams.cli.render import SEVERITY_STYLES, scores_table
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.eventfile import LineError, open_events
from vendorwatch.streams.replay.fold import EventSink, PolicyResult
from vendorwatch.streams.replay.reports import replay_items


@app.command()
def score(
    scenario: ScenarioOpt = None,
    events: EventsOpt = None,
    policy: PolicyOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Score the valid lines, report the rest.")
    ] = False,
) -> None:
    """Score an event file offline with the live pipeline's code: the scores as of --as-of
    (default: now), decayed to it, and the alerts firing then (the same as `replay --as-of`)."""
    path = events_source(scenario, events)
    # the wall clock is read here, once: everything below is a function of T and the file
    instant = parse_instant(as_of) or datetime.now(UTC)
    active_policy = policy_option(policy)
    errors: list[LineError] = []
    try:
        with open_events(path) as stream:
            result = score_events(valid_events(stream, errors), active_policy, instant.timestamp())
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None
    for error in errors[:20]:
        err_console.print(f"{path}: {error}", highlight=False, markup=False, soft_wrap=True)
    if len(errors) > 20:
        err_console.print(f"{path}: … and {len(errors) - 20} more invalid lines", highlight=False)
    if errors and not skip_invalid:
        raise fail(f"{len(errors)} invalid line(s); fix them or pass --skip-invalid")
    if errors:
        err_console.print(f"skipped {len(errors)} invalid line(s)", highlight=False)
    if as_json:
        # replay --json's shape and values: the score record's fields plus `alerts`
        items = replay_items(result)
        sys.stdout.buffer.write(orjson.dumps(items, option=orjson.OPT_INDENT_2) + b"\n")
        return
    console.print(scores_table(result.sorted_scores(), active_policy, instant))
    console.print(firing_table(result, instant))


def valid_events(lines: Iterable[bytes], errors: list[LineError]) -> Iterator[Event]:
    """The events of a JSON Lines stream in file order, one line at a time (a large file is
    never held whole); each invalid line is appended to `errors` (`eventfile.parse_lines`'
    rules: blank lines skipped, numbers from 1)."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            yield parse_event(line)
        except InvalidEvent as exc:
            errors.append(LineError(number, exc.reason, str(exc)))


def score_events(events: Iterable[Event], policy: Policy, at: float) -> PolicyResult:
    """Every vendor's score and firing alerts as of `at`: the events that happened by then, in
    file order, through the live Processor in event time (one partition: alerts are per vendor,
    and so is everything a partition holds), then brought to `at`. What `replay --as-of`
    computes from the same events in the same order."""
    sink = EventSink([policy], horizon=at)
    sink.feed_events(0, events)
    sink.finish(at)
    return PolicyResult.of(sink.runs[0])


def firing_table(result: PolicyResult, instant: datetime) -> Table | Text:
    """The alerts firing at T, per vendor in score order (the table `replay` prints too)."""
    when = instant.isoformat().replace("+00:00", "Z")
    rows = [
        (s.vendor_id, f)
        for s in result.sorted_scores()
        for f in sorted(result.firing.get(s.vendor_id, {}).values(), key=lambda f: f.starts_at)
    ]
    if not rows:
        return Text(f"no alerts firing as of {when}", style="dim")
    table = Table(title=f"alerts firing as of {when}")
    for column in ("vendor", "rule", "severity", "since", "summary"):
        table.add_column(column)
    for vendor, f in rows:
        since = datetime.fromtimestamp(f.starts_at, UTC).isoformat().replace("+00:00", "Z")
        table.add_row(
            vendor, f.rule, Text(f.severity, style=SEVERITY_STYLES[f.severity]), since, f.summary
        )
    return table
