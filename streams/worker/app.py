"""The live pipeline as a Faust app: wiring only.

Data flow: raw -> score agent: validate (or events.dlq with the reason), write to the history
(`vendorwatch.events`, keyed by vendor), fold, publish to scores and alerts, all in one hop
(docs/architecture.md says why this is one agent rather than two). The agent is thin: what it
does to a batch is `streams.worker.score_step.ScoreStep` (no Faust; parsing lives in
`schemas.codec`, the fold in `streams.core.processor`, so the offline scorer and replay compute
the same numbers), and the notify agent's is `streams.worker.notify_step`. Delivery is
at-least-once; idempotency comes from the fold ignoring a known event id. Agents run with
concurrency 1 (faust-streaming #606: concurrency > 1 commits past in-flight messages) and take
small batches to amortise per-message overhead.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import faust
import structlog

from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.compat import PROCESSING_GUARANTEE
from vendorwatch.streams.kafka_io.history import read_history
from vendorwatch.streams.kafka_io.outbox import Outbox
from vendorwatch.streams.kafka_io.partitioning import vendor_partitioner
from vendorwatch.streams.kafka_io.topics import GROUP_ID
from vendorwatch.streams.settings import Settings
from vendorwatch.streams.version import package_version
from vendorwatch.streams.worker import faust_handoff, health, metrics
from vendorwatch.streams.worker.faust_compat import ClientTuning, apply_faust_workarounds, tune_app
from vendorwatch.streams.worker.notify import register_alerting
from vendorwatch.streams.worker.pipeline import Pipeline, bytes_topic
from vendorwatch.streams.worker.score_step import (
    PRODUCED_AT_HEADER,
    WRITTEN_TOPICS,
    RawMessage,
    ScoreStep,
)
from vendorwatch.streams.worker.view import ScoreView
from vendorwatch.streams.worker.web import register_views

log = structlog.get_logger(__name__)

__all__ = ["PRODUCED_AT_HEADER", "create_pipeline"]  # the header: benchmarks set it

BATCH_SIZE = 500
BATCH_WITHIN_S = 0.01
"""How long an agent's batch collects events. Each batch costs fixed work (Faust's take timer
and buffer hand-off, one record batch per partition, the delivery wait): at 1,000 events/s a
5 ms window held 1-5 events, and with a producer send per record that per-batch work made the
worker fall behind on a 2-CPU machine shared with the broker. With the outbox a 10 ms window
holds ~30 events at 1,000/s (traced) and keeps up; Faust waits the window after every batch."""

PRODUCER_BATCH_BYTES = 256 * 1024
"""Largest record batch per partition (well under the producer's 1 MB request limit)."""


def default_worker_name(web_port: int) -> str:
    """`hostname:port`: unique per container (its hostname is its id) and per process on one
    machine (two workers cannot share a port), unlike the bind address `0.0.0.0:6066`."""
    return f"{socket.gethostname()}:{web_port}"


def broker_settings(settings: Settings) -> dict[str, Any]:
    """The `faust.App` options that follow the broker profile (`Settings.tuning`)."""
    tuning = settings.tuning
    return {
        "broker_session_timeout": tuning.session_timeout_seconds,
        "broker_rebalance_timeout": tuning.rebalance_timeout_seconds,
        "broker_heartbeat_interval": tuning.heartbeat_interval_seconds,
        "topic_replication_factor": tuning.replication_factor,
        "processing_guarantee": PROCESSING_GUARANTEE,
    }


def _faust_broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server}" for server in bootstrap_servers.split(",")]


async def aiokafka_producer(app: faust.App) -> Any:
    """The aiokafka producer under the Faust app's.

    Why not `topic.send()`: for raw bytes, Faust's path adds a future message, a pending message,
    serializer and sensor calls and a completion callback per record (tens of microseconds, two
    or three times per event); the score agent fills record batches itself
    (`streams.kafka_io.outbox`).
    """
    producer = await app.maybe_start_producer()
    return producer._ensure_producer()  # Faust's aiokafka driver has no public getter


async def topic_layout(aio: Any) -> dict[str, int]:
    """How many partitions each topic the score step writes has (from the producer's
    metadata; read once per worker, topics do not shrink)."""
    return {name: len(await aio.partitions_for(name)) for name in WRITTEN_TOPICS}


def create_pipeline(
    settings: Settings,
    policy: Policy,
    bootstrap_servers: str,
    *,
    clock: Callable[[], float] = time.time,
) -> Pipeline:
    """Build the Faust app for one worker process (nothing connects until it starts).

    `clock` is what input is judged by (future-dated events, `Pipeline.clock`): the score step
    and POST /events share it, so a simulated clock moves both."""
    apply_faust_workarounds()
    faust_handoff.install()
    datadir = settings.data_dir / "faust" / str(settings.web_port)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        GROUP_ID,
        broker=_faust_broker_urls(bootstrap_servers),
        store="memory://",
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        # Faust's own endpoints would let anyone who reaches the port read and route requests
        # to any table; vendorwatch keeps no Faust tables and routes nothing
        web_router_enabled=False,
        web_tables_enabled=False,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        web_application_options={"client_max_size": settings.max_request_bytes},
        datadir=str(datadir),
        producer_linger=0.002,
        # the score agent fills one batch per partition per agent batch (`streams.kafka_io.outbox`);
        # 16 KiB (the default) held ~60 events, so a busy batch took several produce rounds
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        producer_partitioner=vendor_partitioner,
        stream_buffer_maxsize=4096,
        **broker_settings(settings),
    )
    tune_app(
        app,
        ClientTuning(
            fetch_max_wait_ms=settings.tuning.fetch_max_wait_ms,
            producer_idempotence=settings.tuning.producer_idempotence,
        ),
    )
    raw_topic = bytes_topic(app, topics.RAW)
    events_topic = bytes_topic(app, topics.EVENTS)
    alerts_topic = bytes_topic(app, topics.ALERTS)
    processor = Processor(policy)
    view = ScoreView(bootstrap_servers)
    pipeline = Pipeline(
        app,
        settings,
        policy,
        bootstrap_servers,
        processor,
        view,
        raw_topic,
        events_topic,
        alerts_topic,
        clock=clock,
    )
    worker_name = settings.worker_id or default_worker_name(settings.web_port)

    async def load_history(partition: int) -> list[tuple[Event, int | None, float | None]]:
        return await read_history(bootstrap_servers, topics.EVENTS, partition)

    step: ScoreStep | None = None  # built at the first batch: the layout needs the producer
    # the raw topic's consumed series exists at 0 from the start, as before the first batch
    metrics.EVENTS_CONSUMED.labels(topic=topics.RAW)

    # One at a time: a batch and a tick each publish through their own outbox, and a vendor's
    # records must reach the topics in the order they were decided.
    scoring = asyncio.Lock()

    @app.agent(raw_topic, name="score")
    async def score_events(stream: Any) -> None:
        """raw -> `ScoreStep.handle` -> one outbox flush per batch, before the batch is acked."""
        nonlocal step
        async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            aio = await aiokafka_producer(app)
            async with scoring:
                if step is None:
                    step = ScoreStep(
                        processor,
                        await topic_layout(aio),
                        load_history,
                        worker_name,
                        clock=pipeline.clock,
                        max_future_skew=settings.max_future_skew,
                        scenario=settings.clock == "scenario",
                    )
                outbox = Outbox(aio, step.layout)
                await step.handle([RawMessage.of(event.message) for event in batch], outbox)
                await outbox.flush()

    @app.timer(settings.tick_seconds)
    async def tick() -> None:
        """The wall clock between events: publish what the deadlines that fell due changed
        (a key-person alert that ended, a score decayed across a band)."""
        if step is None or settings.clock != "wall":
            return
        aio = await aiokafka_producer(app)
        async with scoring:
            outbox = Outbox(aio, step.layout)
            published = await step.tick(outbox)
            await outbox.flush()
        if published:
            log.info("tick", published=published)

    @app.service
    class ViewService(faust.Service):  # type: ignore[misc]
        async def on_start(self) -> None:
            await view.start()

        async def on_stop(self) -> None:
            await view.stop()

    @app.on_partitions_revoked.connect
    async def on_revoked(app_: Any, revoked: Any, **_: Any) -> None:
        for tp in revoked:
            metrics.forget_partition(tp.topic, tp.partition)
            if tp.topic == topics.RAW:
                # the new owner exports these vendors' gauges; a stale copy here would linger
                for vendor_id in processor.forget(tp.partition):
                    metrics.forget_vendor(vendor_id)

    register_views(pipeline)
    health.install(app)
    metrics.set_build_info(package_version(), policy.version)
    pipeline.alerting = register_alerting(pipeline)
    return pipeline
