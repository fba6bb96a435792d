"""The `vendorwatch` entry point: imports the module of the command being run, then runs it.

Each command group lives in its own module and registers itself on the shared Typer app
(`streams.cli.common`). Importing only the module a command needs keeps offline commands
(`score`, `schemas`) free of Faust and the Kafka clients, which cost about a second to import;
`--help`, completion and unknown names import them all so Typer can list every command.
"""

from __future__ import annotations

import importlib
import sys

from vendorwatch.streams.cli.common import app, describe_failure, print_error

COMMAND_MODULES: dict[str, str] = {
    "score": "score",
    "names": "names",
    "worker": "run",
    "broker": "run",
    "demo": "run",
    "ingest": "ingest",
    "silence": "silence",
    "schemas": "schemas",
    "replay": "replay",
    "backtest": "replay",
    "history": "replay",
    "export": "replay",
    "rebuild": "replay",
    "feeds": "feeds",
}
"""Command name -> module under `vendorwatch.streams.cli` that registers it."""


def load_commands(argv: list[str]) -> None:
    """Import the module registering the command named in `argv`, or every one if unclear."""
    command = next((arg for arg in argv if not arg.startswith("-")), None)
    names = (
        {COMMAND_MODULES[command]} if command in COMMAND_MODULES else set(COMMAND_MODULES.values())
    )
    for name in dict.fromkeys(COMMAND_MODULES.values()):  # in the order --help lists them
        if name in names:
            importlib.import_module(f"vendorwatch.streams.cli.{name}")


def main() -> None:
    """Console-script entry point: one line and exit 2 for a failure the user can fix that a
    command did not handle itself (`common.describe_failure`), never a traceback."""
    load_commands(sys.argv[1:])
    try:
        app()
    except Exception as exc:
        failure = describe_failure(exc)
        if failure is None:
            raise
        message, code = failure
        print_error(message)
        sys.exit(code)


if __name__ == "__main__":
    main()
