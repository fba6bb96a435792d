"""The `vendorwatch` command line: a thin shell around the pure core and the adapters.

Exit codes: 0 success, 1 the input data was bad (invalid events), 2 the command was misused or
misconfigured (unknown option, bad value, invalid policy file). Usage errors print the usage.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from vendorwatch.alerts.silences import SilenceBook, expire_record, new_silence, utcnow
from vendorwatch.schemas.export import export_schemas
from vendorwatch.streams import topics
from vendorwatch.streams.app import create_pipeline
from vendorwatch.streams.demo import build_demo
from vendorwatch.streams.eventfile import demo_scenario_path, fold_lines, open_events
from vendorwatch.streams.history import read_all
from vendorwatch.streams.ingest import ingest_lines, make_producer
from vendorwatch.streams.logs import configure_logging, register_secret
from vendorwatch.streams.policy import Policy, PolicyError, load_policy
from vendorwatch.streams.render import scores_table
from vendorwatch.streams.runtime import (
    EMBEDDED_FILE,
    NoKafkaError,
    kafka_for,
    resolve_bootstrap,
    run_faust_worker,
    serve_journal,
)
from vendorwatch.streams.scoring import score_all
from vendorwatch.streams.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    name="vendorwatch",
    help="Event-sourced monitor of vendor-relationship risk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
schemas_app = typer.Typer(help="Event schemas.", no_args_is_help=True)
app.add_typer(schemas_app, name="schemas")
silence_app = typer.Typer(
    help="Silence alert notifications (kept as events).", no_args_is_help=True
)
app.add_typer(silence_app, name="silence")

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


@app.command()
def worker(
    bootstrap_servers: ServersOpt = None,
    web_port: WebPortOpt = None,
    data_dir: DataDirOpt = None,
    policy: PolicyOpt = None,
    partitions: PartitionsOpt = None,
) -> None:
    """Run a pipeline worker (start more to scale; they share the partitions)."""
    settings = settings_from(
        bootstrap_servers=bootstrap_servers,
        web_port=web_port,
        data_dir=data_dir,
        policy=policy,
        partitions=partitions,
    )
    active_policy = policy_option(settings.policy)
    configure_logging(settings.log_format, settings.log_level)
    register_settings_secrets(settings)
    run_faust_worker(
        settings, lambda bootstrap, _stop: create_pipeline(settings, active_policy, bootstrap)
    )


@app.command()
def broker(
    port: Annotated[
        int | None, typer.Option("--port", help="Port (default: any free one).", metavar="Q")
    ] = None,
    data_dir: DataDirOpt = None,
    partitions: PartitionsOpt = None,
) -> None:
    """Run the embedded broker alone (for development, tests, several workers on one machine)."""
    settings = settings_from(
        broker_port=port, data_dir=data_dir, partitions=partitions, bootstrap_servers=""
    )
    configure_logging("console", settings.log_level)
    with kafka_for(settings) as bootstrap:
        console.print(
            f"embedded broker at [bold]{bootstrap}[/]  (data dir {settings.data_dir}); "
            f"Ctrl-C to stop"
        )
        console.print(f"  VENDORWATCH_BOOTSTRAP_SERVERS={bootstrap} vendorwatch worker")
        marker = orjson.loads((settings.data_dir / EMBEDDED_FILE).read_bytes())
        console.print(f"  kcat -b {marker['kcat_bootstrap_servers']} ...  (librdkafka 2.0 clients)")

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await serve_journal(settings, bootstrap, stop)

        asyncio.run(serve())
        console.print("stopped")


@app.command()
def demo(
    web_port: WebPortOpt = None,
    broker_port: BrokerPortOpt = None,
    data_dir: DataDirOpt = None,
    policy: PolicyOpt = None,
    bootstrap_servers: ServersOpt = None,
    slack_webhook_url: Annotated[
        str | None,
        typer.Option(
            "--slack-webhook-url", help="Send alerts to this Slack incoming webhook.", metavar="URL"
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(
            "--webhook-url",
            help="POST signed alert JSON here (needs --webhook-secret).",
            metavar="URL",
        ),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option("--webhook-secret", help="HMAC-SHA256 key for --webhook-url.", metavar="S"),
    ] = None,
    alertmanager_url: Annotated[
        str | None,
        typer.Option("--alertmanager-url", help="Alertmanager base URL (v2 API).", metavar="URL"),
    ] = None,
    until_scored: Annotated[
        bool,
        typer.Option("--until-scored", help="Exit once the scenario is fully scored."),
    ] = False,
) -> None:
    """Embedded broker + worker + the bundled scenario, with a live table; Ctrl-C to stop.

    Without a sink option, alerts print under the table."""
    if (webhook_url is None) != (webhook_secret is None):
        raise typer.BadParameter("--webhook-url and --webhook-secret go together")
    settings = settings_from(
        web_port=web_port,
        broker_port=broker_port,
        data_dir=data_dir,
        policy=policy,
        bootstrap_servers=bootstrap_servers,
        log_format="console",
        slack_webhook_url=slack_webhook_url,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        alertmanager_url=alertmanager_url,
    )
    active_policy = policy_option(settings.policy)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = (settings.data_dir / "demo.log").open("a", encoding="utf-8")
    configure_logging("json", settings.log_level, stream=log_file)
    register_settings_secrets(settings)
    console.print(f"vendorwatch demo: logs in {settings.data_dir / 'demo.log'}", style="dim")
    live_console = Console()
    run_faust_worker(
        settings.model_copy(update={"log_format": "json"}),
        lambda bootstrap, stop: build_demo(
            settings,
            active_policy,
            bootstrap,
            live_console,
            until_scored=until_scored,
            stop=stop,
        ),
        log_stream=log_file,
    )


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
    try:
        bootstrap = resolve_bootstrap(settings)
    except NoKafkaError as exc:
        raise fail(str(exc), 2) from None
    path = Path(source)
    if source != "-" and not path.is_file():
        raise fail(f"no such file: {source}", 2)
    if history:
        # a running worker is the only writer of its history partitions (streams/app.py)
        from vendorwatch.streams.replay import ReplayError, active_members

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
            report = ingest_lines(producer, sys.stdin.buffer, raw=raw, history=history)
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


def _client_bootstrap(bootstrap_servers: str | None, data_dir: Path | None) -> str:
    settings = settings_from(bootstrap_servers=bootstrap_servers, data_dir=data_dir)
    try:
        return resolve_bootstrap(settings)
    except NoKafkaError as exc:
        raise fail(str(exc), 2) from None


def _produce(bootstrap: str, topic: str, key: bytes | None, value: bytes) -> None:
    producer = make_producer(bootstrap)
    try:
        producer.send(topic, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


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
    bootstrap = _client_bootstrap(bootstrap_servers, data_dir)
    assert record.silence is not None
    _produce(bootstrap, topics.SILENCES, vendor.encode(), record.to_bytes())
    console.print(f"silence {record.silence.id} for {vendor} until {end.isoformat()}")


@silence_app.command("list")
def silence_list(
    show_all: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    as_json: JsonOpt = False,
    bootstrap_servers: ServersOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List active silences (all of them with --all)."""
    book = _silence_book(_client_bootstrap(bootstrap_servers, data_dir))
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
    bootstrap = _client_bootstrap(bootstrap_servers, data_dir)
    book = _silence_book(bootstrap)
    if silence_id not in book.silences:
        raise fail(f"no silence {silence_id!r}", 1)
    _produce(
        bootstrap,
        topics.SILENCES,
        book.silences[silence_id].vendor_id.encode(),
        expire_record(silence_id, now=utcnow()).to_bytes(),
    )
    console.print(f"silence {silence_id} expired")


@schemas_app.command("export")
def schemas_export(
    directory: Annotated[Path, typer.Argument(help="Where to write one JSON Schema per type.")],
) -> None:
    """Write the JSON Schema of every event type, for producers in other languages."""
    written = export_schemas(directory)
    console.print(f"wrote {len(written)} schemas to {directory}")


from vendorwatch.streams import replay_cli  # noqa: E402,F401  (registers replay commands)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
