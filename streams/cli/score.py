"""`vendorwatch score`: fold an event file offline with the live pipeline's code.

Offline: no broker, no Faust, no Kafka client is imported (an import contract holds this).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from vendorwatch.streams.cli.common import (
    AsOfOpt,
    JsonOpt,
    PolicyOpt,
    app,
    console,
    err_console,
    fail,
    parse_instant,
    policy_option,
)
from vendorwatch.streams.cli.render import scores_table
from vendorwatch.streams.core.scoring import score_all
from vendorwatch.streams.eventfile import demo_scenario_path, fold_lines, open_events


@app.command()
def score(
    scenario: Annotated[
        str | None,
        typer.Option(help="A bundled scenario to score: 'demo'.", metavar="NAME"),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option("--events", help="JSON Lines event file ('-' for stdin).", metavar="FILE"),
    ] = None,
    policy: PolicyOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Score the valid lines, report the rest.")
    ] = False,
) -> None:
    """Score an event file offline, with the same fold the live pipeline runs."""
    if (scenario is None) == (events is None):
        raise typer.BadParameter("give exactly one of --scenario demo or --events FILE")
    if scenario is not None and scenario != "demo":
        raise typer.BadParameter(f"unknown scenario {scenario!r}; the bundled one is 'demo'")
    instant = parse_instant(as_of)
    active_policy = policy_option(policy)
    path = demo_scenario_path() if scenario else events
    assert path is not None
    try:
        with open_events(path) as stream:
            folded = fold_lines(stream)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    errors = folded.errors
    for error in errors[:20]:
        err_console.print(f"{path}: {error}", highlight=False, markup=False, soft_wrap=True)
    if len(errors) > 20:
        err_console.print(f"{path}: … and {len(errors) - 20} more invalid lines", highlight=False)
    if errors and not skip_invalid:
        raise fail(f"{len(errors)} invalid line(s); fix them or pass --skip-invalid")
    if errors:
        err_console.print(f"skipped {len(errors)} invalid line(s)", highlight=False)
    scores = score_all(folded.states.values(), active_policy, instant)
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps([s.to_dict() for s in scores], option=orjson.OPT_INDENT_2) + b"\n"
        )
        return
    console.print(scores_table(scores, active_policy, instant))
