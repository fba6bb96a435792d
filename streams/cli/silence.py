"""`vendorwatch silence add | list | expire`: silences, kept as records on a topic."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.table import Table

from vendorwatch.alerts.silences import SilenceBook, expire_record, new_silence, utcnow
from vendorwatch.streams.cli.common import (
    DataDirOpt,
    JsonOpt,
    ServersOpt,
    app,
    console,
    fail,
    parse_instant,
)
from vendorwatch.streams.cli.connect import client_bootstrap, produce_one
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.history import read_all

silence_app = typer.Typer(
    help="Silence alert notifications (kept as events).", no_args_is_help=True
)
app.add_typer(silence_app, name="silence")


def _silence_book(bootstrap: str) -> SilenceBook:
    book = SilenceBook()
    for record in asyncio.run(read_all(bootstrap, topics.SILENCES)):
        if record.value is not None:
            book.apply_bytes(record.value)
    return book


@silence_app.command("add")
def silence_add(
    vendor: Annotated[str, typer.Option("--vendor", help="Vendor id.", metavar="ID")],
    until: Annotated[str, typer.Option("--until", help="End (ISO-8601).", metavar="ISO")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the history).")],
    rule: Annotated[
        str | None, typer.Option("--rule", help="Only this rule (default: all).", metavar="NAME")
    ] = None,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Silence a vendor's notifications (optionally one rule) until a time."""
    end = parse_instant(until)
    assert end is not None
    try:
        record = new_silence(
            vendor, end, reason, rule, now=utcnow(), created_by=os.environ.get("USER", "")
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise typer.BadParameter(problems) from None
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    bootstrap = client_bootstrap(bootstrap_servers, data_dir)
    assert record.silence is not None
    produce_one(bootstrap, topics.SILENCES, vendor.encode(), record.to_bytes())
    console.print(f"silence {record.silence.id} for {vendor} until {end.isoformat()}")


@silence_app.command("list")
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonOpt = False,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List active silences (all of them with --all)."""
    book = _silence_book(client_bootstrap(bootstrap_servers, data_dir))
    rows = [r for r in book.describe(utcnow()) if show_all or r["state"] == "active"]
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2) + b"\n")
        return
    table = Table(title="silences")
    for column in ("id", "vendor", "rule", "until", "state", "reason"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"], r["vendor_id"], r["rule"] or "(all)", r["until"], r["state"], r["reason"]
        )
    console.print(table)


@silence_app.command("expire")
def silence_expire(
    silence_id: Annotated[str, typer.Argument(help="The silence id (s-...).", metavar="ID")],
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """End a silence now."""
    bootstrap = client_bootstrap(bootstrap_servers, data_dir)
    book = _silence_book(bootstrap)
    if silence_id not in book.silences:
        raise fail(f"no silence {silence_id!r}", 1)
    produce_one(
        bootstrap,
        topics.SILENCES,
        book.silences[silence_id].vendor_id.encode(),
        expire_record(silence_id, now=utcnow()).to_bytes(),
    )
    console.print(f"silence {silence_id} expired")
