"""What every `vendorwatch` command shares: the Typer app, consoles, option types and the
error conventions.

Exit codes: 0 success, 1 the input data was bad (invalid events), 2 the command was misused or
misconfigured (unknown option, bad value, invalid policy file). Usage errors print the usage.
This module imports no Kafka client and no Faust, so offline commands start quickly.
"""

from __future__ import annotations

import importlib.metadata
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from vendorwatch.streams.core.policy import Policy, PolicyError, load_policy
from vendorwatch.streams.logs import register_secret
from vendorwatch.streams.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="vendorwatch",
    help="Event-sourced monitor of vendor-relationship risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        try:
            version = importlib.metadata.version("vendorwatch")
        except importlib.metadata.PackageNotFoundError:
            version = "0+unknown"
        typer.echo(f"vendorwatch {version}")
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


console = Console(width=None if sys.stdout.isatty() else 140)
# Messages on stderr carry paths and commands to copy: when stderr is not a terminal
# (a log file, a test, CI) a hard wrap at 80 columns would cut them in two.
err_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


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
