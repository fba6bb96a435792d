"""`vendorwatch ingest`: send an event file to the raw topic (or, with --history, load an
exported history while no worker runs)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from vendorwatch.streams.cli.common import (
    DataDirOpt,
    ServersOpt,
    app,
    console,
    err_console,
    fail,
    settings_from,
)
from vendorwatch.streams.cli.connect import client_bootstrap
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.ingest import ingest_lines, make_producer
from vendorwatch.streams.replay.rebuild import ReplayError, active_members


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="JSON Lines file, or - for stdin.", metavar="FILE")],
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Send every line to the raw topic; the validator sorts them."),
    ] = False,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Load an exported history straight into vendorwatch.events, with no worker "
            "running (a new cluster, a repartition): nothing is scored or notified until "
            "workers start and rebuild their partitions from it.",
        ),
    ] = False,
) -> None:
    """Send events to Kafka; invalid lines are reported (exit 1), not sent (unless --raw)."""
    if raw and history:
        raise fail("--raw and --history do not go together", 2)
    settings = settings_from(bootstrap_servers=bootstrap_servers, data_dir=data_dir)
    bootstrap = client_bootstrap(bootstrap_servers, data_dir)
    path = Path(source)
    if source != "-" and not path.is_file():
        raise fail(f"no such file: {source}", 2)
    if history:
        # a running worker is the only writer of its history partitions (streams/worker/app.py)
        try:
            members = asyncio.run(active_members(bootstrap, topics.GROUP_ID))
        except ReplayError as exc:
            raise fail(str(exc), 2) from None
        if members:
            raise fail(
                f"{len(members)} worker(s) are running in consumer group "
                f"{topics.GROUP_ID!r}: --history loads the history only while none runs "
                "(without --history, events go through the workers)",
                2,
            )
    producer = make_producer(bootstrap)
    try:
        if source == "-":
            report = ingest_lines(
                producer,
                sys.stdin.buffer,
                raw=raw,
                history=history,
                max_future_skew=settings.max_future_skew,
            )
        else:
            with (
                Progress(
                    TextColumn("ingest"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    TimeRemainingColumn(),
                    console=err_console,
                    transient=True,
                ) as progress,
                path.open("rb") as stream,
            ):
                task = progress.add_task("ingest", total=path.stat().st_size)
                report = ingest_lines(
                    producer,
                    stream,
                    raw=raw,
                    history=history,
                    on_line=lambda n: progress.advance(task, n),
                    max_future_skew=settings.max_future_skew,
                )
    finally:
        producer.close()
    for error in report.rejected[:20]:
        err_console.print(f"{source}: {error}", highlight=False, markup=False, soft_wrap=True)
    if len(report.rejected) > 20:
        err_console.print(f"… and {len(report.rejected) - 20} more invalid lines")
    console.print(
        f"sent {report.sent} event(s) to {report.topic}; rejected {len(report.rejected)}",
        highlight=False,
    )
    if report.rejected:
        raise typer.Exit(1)
