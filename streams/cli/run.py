"""`vendorwatch worker | broker | demo`: the long-running processes."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import orjson
import typer
from rich.console import Console

from vendorwatch.streams.cli.common import (
    BrokerPortOpt,
    DataDirOpt,
    PartitionsOpt,
    PolicyOpt,
    ServersOpt,
    WebPortOpt,
    app,
    console,
    policy_option,
    register_settings_secrets,
    settings_from,
)
from vendorwatch.streams.cli.demo import build_demo
from vendorwatch.streams.embedded.runtime import (
    EMBEDDED_FILE,
    kafka_for,
    run_faust_worker,
    serve_journal,
)
from vendorwatch.streams.logs import configure_logging
from vendorwatch.streams.worker.app import create_pipeline


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
