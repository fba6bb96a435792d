"""What every `vendorwatch` command shares: the Typer app, consoles, option types and the
error conventions.

Exit codes: 0 success, 1 the input data was bad (invalid events), 2 the command was misused or
misconfigured (unknown option, bad value, invalid policy file, a path that cannot be read or
written, an unreachable broker). Usage errors print the usage; every other error is one line.
This module imports no Kafka client and no Faust, so offline commands start quickly.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from vendorwatch.streams.core.policy import Policy, PolicyError, load_policy
from vendorwatch.streams.eventfile import demo_scenario_path
from vendorwatch.streams.logs import register_secret
from vendorwatch.streams.settings import Settings, SettingsError, load_settings
from vendorwatch.streams.version import package_version

app = typer.Typer(
    name="vendorwatch",
    help="Event-sourced monitor of vendor-relationship risk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help text is shown as written: rich markup would eat `[chart]` in
    # `pip install 'vendorwatch[chart]'` (and any bracket in a user's value)
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"vendorwatch {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Event-sourced monitor of vendor-relationship risk.

    The callback also keeps `vendorwatch` a command group when `streams.cli.main` has imported
    only the module of the command being run."""


# markup=False: what is printed quotes user data (paths, vendor ids, reasons, policy labels),
# which may hold square brackets; the few styled lines pass markup=True and escape their data
console = Console(width=None if sys.stdout.isatty() else 140, markup=False)
# Messages on stderr carry paths and commands to copy: when stderr is not a terminal
# (a log file, a test, CI) a hard wrap at 80 columns would cut them in two.
err_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty(), markup=False)


def print_error(message: str) -> None:
    """`error: message` on stderr; the message is shown as it is, never read as markup (it
    quotes paths, vendor ids and broker answers, which may hold square brackets)."""
    err_console.print(
        Text.assemble(("error:", "bold red"), " ", message), highlight=False, soft_wrap=True
    )


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error to stderr and return the Exit to raise (code 1: bad data, 2: misuse)."""
    print_error(message)
    return typer.Exit(code)


KAFKA_CLIENT_MODULES = ("kafka.", "aiokafka.")
"""Where the exceptions of the Kafka clients live; matched by name so that this module, which
the offline commands import, imports no Kafka client."""


def describe_failure(exc: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for an exception a user can cause (an unreachable broker, a
    path that cannot be read or written), or None for a bug, which keeps its traceback.

    The entry point calls this for what a command did not handle itself, so no command can
    print a client library's traceback at a user whose Kafka is down."""
    module = type(exc).__module__ + "."
    if module.startswith(KAFKA_CLIENT_MODULES) or type(exc).__name__ in {
        "BrokerError",
        "BrokerStartError",
    }:
        detail = str(exc) or type(exc).__name__
        return (
            f"Kafka: {detail} (is the broker named by --bootstrap-servers or "
            "VENDORWATCH_BOOTSTRAP_SERVERS up and reachable?)",
            2,
        )
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}", 2
    if isinstance(exc, SettingsError):
        return str(exc), 2
    return None


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
ScenarioOpt = Annotated[
    str | None,
    typer.Option("--scenario", help="A bundled scenario: 'demo'.", metavar="NAME"),
]
EventsOpt = Annotated[
    Path | None,
    typer.Option("--events", help="JSON Lines event file ('-' for stdin).", metavar="FILE"),
]


def events_source(scenario: str | None, events: Path | None) -> Path:
    """The event file a command reads: the bundled scenario or the user's file ('-' is stdin).

    Exactly one of the two is required, so a command never guesses which input was meant;
    a missing, doubled or unknown choice is a usage error (exit 2)."""
    if (scenario is None) == (events is None):
        raise typer.BadParameter("give exactly one of --scenario demo or --events FILE")
    if scenario is not None:
        if scenario != "demo":
            raise typer.BadParameter(f"unknown scenario {scenario!r}; the bundled one is 'demo'")
        return demo_scenario_path()
    assert events is not None
    return events


JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Score as of this event time (ISO-8601).", metavar="ISO"),
]


ServersOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap-servers",
        help="Kafka bootstrap servers host:port[,...] (env VENDORWATCH_BOOTSTRAP_SERVERS).",
        metavar="HOSTS",
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (env VENDORWATCH_DATA_DIR).", metavar="DIR"),
]
WebPortOpt = Annotated[
    int | None,
    typer.Option("--web-port", help="HTTP API port (env VENDORWATCH_WEB_PORT).", metavar="P"),
]
BrokerPortOpt = Annotated[
    int | None,
    typer.Option("--broker-port", help="Embedded broker port (0: any free one).", metavar="Q"),
]
PartitionsOpt = Annotated[
    int | None,
    typer.Option("--partitions", help="Partitions of topics this process creates.", metavar="N"),
]


def settings_from(**overrides: object) -> Settings:
    """Settings from env + flags; a bad value exits 2 naming the variable or flag."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise fail(str(exc), 2) from None


def register_settings_secrets(settings: Settings) -> None:
    """Mask configured secrets in every log line."""
    for secret in (
        settings.ingest_token,
        settings.slack_webhook_url,
        settings.webhook_url,
        settings.webhook_secret,
    ):
        if secret is not None:
            register_secret(secret.get_secret_value())
