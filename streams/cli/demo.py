"""`vendorwatch demo`: embedded broker + worker + the bundled scenario + a live terminal table.

The scenario goes in through the front door (the raw topic, keyed by vendor id so each vendor's
events stay in order), exactly like a producer's events would; it is loaded only when the
history is empty, so a restart shows the restored history instead of loading it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiokafka import AIOKafkaProducer
from rich.console import Console, Group
from rich.text import Text

from vendorwatch.alerts.sinks.slack import fallback_text
from vendorwatch.streams.cli.live import run_live_table
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import score_all
from vendorwatch.streams.core.state import fold
from vendorwatch.streams.eventfile import demo_scenario_path, iter_lines, read_events
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.settings import Settings
from vendorwatch.streams.worker.app import create_pipeline
from vendorwatch.streams.worker.pipeline import Pipeline

log = structlog.get_logger(__name__)


async def load_scenario(bootstrap: str, path: Path) -> int:
    """Produce the scenario's lines to the raw topic, keyed by vendor id; returns the count."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    count = 0
    try:
        with path.open("rb") as stream:
            for _, line in iter_lines(stream):
                subject = orjson.loads(line).get("subject", "")
                await producer.send(topics.RAW, key=str(subject).encode(), value=line)
                count += 1
        await producer.flush()
    finally:
        await producer.stop()
    return count


def expected_scores(policy: Policy, path: Path) -> dict[str, float]:
    """What the live pipeline must converge to on the scenario: the offline fold's scores."""
    with path.open("rb") as stream:
        events, _ = read_events(stream)
    return {s.vendor_id: s.score for s in score_all(fold(events).values(), policy)}


def scenario_scored(pipeline: Pipeline, expected: dict[str, float]) -> bool:
    """True once the view shows the offline scores for every scenario vendor."""
    for vendor_id, value in expected.items():
        found = pipeline.view.vendor(vendor_id)
        if found is None or found.score is None or found.score["score"] != value:
            return False
    return True


def build_demo(
    settings: Settings,
    policy: Policy,
    bootstrap: str,
    console: Console,
    *,
    until_scored: bool,
    stop: Any,
) -> Pipeline:
    """The worker's pipeline plus the demo's loader and live table."""
    pipeline = create_pipeline(settings, policy, bootstrap)
    scenario = demo_scenario_path()
    expected = expected_scores(policy, scenario)
    status = {"text": "starting…"}

    def footer() -> Group:
        lines: list[Any] = []
        alerting = pipeline.alerting
        if alerting is not None and alerting.recent:
            lines.append(Text("alerts (newest first):", style="bold"))
            for n in list(alerting.recent)[:5]:
                style = "bold red" if n.status == "firing" else "green"
                lines.append(Text(f"  {fallback_text(n)}", style=style))
            if not alerting.deliverers:
                lines.append(
                    Text(
                        "  (no --slack-webhook-url/--webhook-url/--alertmanager-url: "
                        "alerts print here)",
                        style="dim",
                    )
                )
        lines.append(
            Text(
                f"{status['text']}   API http://{settings.web_host}:{settings.web_port}/vendors"
                f"   metrics /metrics   broker {bootstrap}   Ctrl-C to stop",
                style="dim",
            )
        )
        return Group(*lines)

    @pipeline.app.task
    async def demo_driver() -> None:
        await pipeline.view.caught_up.wait()
        if not pipeline.view.vendors:
            count = await load_scenario(bootstrap, scenario)
            status["text"] = f"loaded {count} scenario events"
            log.info("demo_scenario_loaded", events=count)
        else:
            status["text"] = f"history restored ({len(pipeline.view.vendors)} vendors)"
        table = asyncio.create_task(
            run_live_table(pipeline.view, console, "vendorwatch: vendor risk (live)", footer)
        )
        try:
            while not scenario_scored(pipeline, expected):
                pipeline.view.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(pipeline.view.changed.wait(), timeout=1.0)
            status["text"] += "; scenario scored"
            log.info("demo_scenario_scored")
            if until_scored:
                await asyncio.sleep(1.0 + policy.alerts.group_wait_seconds)
                stop()
                return
            await table
        finally:
            table.cancel()

    return pipeline


def stop_worker(worker: Any) -> None:
    """Ask a running mode/Faust worker to stop as if it got SIGTERM (mode has no public API)."""
    worker._on_sigterm()
