"""`vendorwatch schemas export`: JSON Schemas for producers in other languages (offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vendorwatch.streams.cli.common import app, console, fail
from vendorwatch.streams.contracts import export_contracts

schemas_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write the schemas.")],
) -> None:
    """Write the JSON Schemas of every event type, topic record and webhook body, and the
    OpenAPI document of the HTTP API, for systems in other languages."""
    try:
        written = export_contracts(directory)
    except OSError as exc:
        raise fail(
            f"cannot write to {exc.filename or directory}: {exc.strerror or exc}", 2
        ) from None
    console.print(f"wrote {len(written)} schemas to {directory}")
