"""The `vendorwatch` command line: a thin shell around the pure core and the adapters.

Exit codes: 0 success, 1 the input data was bad (invalid events), 2 the command was misused or
misconfigured (unknown option, bad value, invalid policy file). Usage errors print the usage.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

from vendorwatch.schemas.export import export_schemas
from vendorwatch.streams.eventfile import demo_scenario_path, open_events, read_events
from vendorwatch.streams.policy import Policy, PolicyError, load_policy
from vendorwatch.streams.render import scores_table
from vendorwatch.streams.scoring import score_all
from vendorwatch.streams.state import fold

app = typer.Typer(
    name="vendorwatch",
    help="Event-sourced monitor of vendor-relationship risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schemas_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")

console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise (code 1: bad data, 2: misuse)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def parse_instant(value: str | None) -> datetime | None:
    """An ISO-8601 instant; a date alone means the end of that day, a naive time means UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1), time(), UTC) - timedelta(
                microseconds=1
            )
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date or time (e.g. 2025-06-14 or 2025-06-14T12:00Z)"
        ) from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def policy_option(path: Path | None) -> Policy:
    """Load the policy a command was given, exiting with 2 and the field path if it is invalid."""
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise fail(str(exc), 2) from None


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="Policy YAML file (default: the shipped policy).", metavar="FILE"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Score as of this event time (ISO-8601).", metavar="ISO"),
]


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
            valid, errors = read_events(stream)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None
    for error in errors[:20]:
        err_console.print(f"{path}: {error}", highlight=False, markup=False)
    if len(errors) > 20:
        err_console.print(f"{path}: … and {len(errors) - 20} more invalid lines", highlight=False)
    if errors and not skip_invalid:
        raise fail(f"{len(errors)} invalid line(s); fix them or pass --skip-invalid")
    if errors:
        err_console.print(f"skipped {len(errors)} invalid line(s)", highlight=False)
    scores = score_all(fold(valid).values(), active_policy, instant)
    if as_json:
        sys.stdout.buffer.write(
            orjson.dumps([s.to_dict() for s in scores], option=orjson.OPT_INDENT_2) + b"\n"
        )
        return
    console.print(scores_table(scores, active_policy, instant))


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write one JSON Schema per type.")],
) -> None:
    """Write the JSON Schema of every event type, for producers in other languages."""
    written = export_schemas(directory)
    console.print(f"wrote {len(written)} schemas to {directory}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
