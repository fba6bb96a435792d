"""The live pipeline as a Faust app: the score agent, the read view and the HTTP API.

Data flow: raw -> score agent: validate (or events.dlq with the reason), write to the history
(`vendorwatch.events`, keyed by vendor), fold, publish to scores and alerts, all in one hop
(README, Architecture, says why this is one agent where DESIGN.md draws two). The agent is thin:
parsing lives in `schemas.codec`, the fold in `streams.core.processor`, so the offline scorer and
replay compute the same numbers. Delivery is at-least-once; idempotency comes from the fold
ignoring a known event id. Agents run with concurrency 1 (faust-streaming #606: concurrency > 1
commits past in-flight messages) and take small batches to amortise per-message overhead.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from collections.abc import Sequence
from typing import Any

import faust
import orjson
import structlog
from faust.types import EventT

from vendorwatch.schemas.codec import InvalidEvent, encode_event, parse_event
from vendorwatch.streams import logs
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.processor import Outcome, Processor
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.compat import FAUST_BROKER_SETTINGS, apply_aiokafka_workarounds
from vendorwatch.streams.kafka_io.deadletter import claimed_ids, dead_letter
from vendorwatch.streams.kafka_io.history import SOURCE_OFFSET_HEADER, read_history
from vendorwatch.streams.kafka_io.outbox import Outbox
from vendorwatch.streams.kafka_io.partitioning import vendor_partition, vendor_partitioner
from vendorwatch.streams.kafka_io.topics import GROUP_ID
from vendorwatch.streams.settings import Settings
from vendorwatch.streams.worker import faust_handoff, health, metrics
from vendorwatch.streams.worker.notify import register_alerting
from vendorwatch.streams.worker.pipeline import Pipeline, bytes_topic
from vendorwatch.streams.worker.view import ScoreView
from vendorwatch.streams.worker.web import register_views

log = structlog.get_logger(__name__)

PRODUCED_AT_HEADER = "vw-produced-ms"
"""Carries when the original message was produced, for the end-to-end latency metric."""
BATCH_SIZE = 500
BATCH_WITHIN_S = 0.01
"""How long an agent's batch collects events. Each batch costs fixed work (Faust's take timer
and buffer hand-off, one record batch per partition, the delivery wait): at 1,000 events/s a
5 ms window held 1-5 events, and with a producer send per record that per-batch work made the
worker fall behind on a 2-CPU machine shared with the broker. With the outbox a 10 ms window
holds ~30 events at 1,000/s (traced) and keeps up; Faust waits the window after every batch."""

PRODUCER_BATCH_BYTES = 256 * 1024
"""Largest record batch per partition (well under the producer's 1 MB request limit)."""


def _version() -> str:
    try:
        return importlib.metadata.version("vendorwatch")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def _faust_broker_urls(bootstrap_servers: str) -> list[str]:
    return [f"kafka://{server}" for server in bootstrap_servers.split(",")]


def score_record(outcome: Outcome) -> bytes:
    """The JSON published on `vendorwatch.scores` for a score change."""
    record = outcome.current.to_dict()
    record["updated_at"] = record["as_of"]
    record["caused_by"] = outcome.event.id
    previous = outcome.previous
    record["previous_score"] = previous.score if previous else None
    record["previous_severity"] = previous.severity if previous else None
    record["published_at"] = time.time()
    return orjson.dumps(record)


def _produced_ms(event: EventT) -> int | None:
    headers = event.message.headers
    if headers:
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            if name == PRODUCED_AT_HEADER:
                try:
                    return int(value)
                except (TypeError, ValueError):
                    return None
    return event.message.timestamp and int(event.message.timestamp * 1000)


def _mark_processed(topic: str, batch: Sequence[EventT]) -> None:
    """Set the freshness gauge of every partition in the batch (once per batch, not per message)."""
    now = time.time()
    for partition in {event.message.partition for event in batch}:
        metrics.LAST_EVENT_TIMESTAMP.labels(topic=topic, partition=str(partition)).set(now)


async def aiokafka_producer(app: faust.App) -> Any:
    """The aiokafka producer under the Faust app's.

    Why not `topic.send()`: for raw bytes, Faust's path adds a future message, a pending message,
    serializer and sensor calls and a completion callback per record (tens of microseconds, two
    or three times per event); the score agent fills record batches itself
    (`streams.kafka_io.outbox`).
    """
    producer = await app.maybe_start_producer()
    return producer._ensure_producer()  # Faust's aiokafka driver has no public getter


def create_pipeline(settings: Settings, policy: Policy, bootstrap_servers: str) -> Pipeline:
    """Build the Faust app for one worker process (nothing connects until it starts)."""
    apply_aiokafka_workarounds()
    faust_handoff.install()
    datadir = settings.data_dir / "faust" / str(settings.web_port)
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        GROUP_ID,
        broker=_faust_broker_urls(bootstrap_servers),
        store="memory://",
        autodiscover=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
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
        **FAUST_BROKER_SETTINGS,
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
    )
    worker_name = settings.worker_id or f"{settings.web_host}:{settings.web_port}"

    raw_consumed = metrics.EVENTS_CONSUMED.labels(topic=topics.RAW)
    rerouted = metrics.EVENTS_REROUTED
    accepted_by_type: dict[str, Any] = {}
    layout: dict[str, int] = {}  # partitions of each topic the agent writes, read once

    async def topic_layout(aio: Any) -> dict[str, int]:
        """How many partitions each written topic has (one read of the producer's metadata);
        the raw topic must have at least as many as the history, since a vendor's raw
        partition is its history's."""
        if not layout:
            for name in (
                topics.RAW,
                topics.EVENTS,
                topics.SCORES,
                topics.ALERTS,
                topics.EVENTS_DLQ,
            ):
                layout[name] = len(await aio.partitions_for(name))
            raw, history = layout[topics.RAW], layout[topics.EVENTS]
            if raw < history:
                raise RuntimeError(
                    f"{topics.RAW} has {raw} partitions and {topics.EVENTS} {history}: the raw "
                    "topic needs at least as many (a vendor's events are scored on the raw "
                    "partition of the same number); add partitions to the raw topic"
                )
        return layout

    async def load_partition(partition: int) -> list[tuple[Any, int | None]]:
        return await read_history(bootstrap_servers, topics.EVENTS, partition)

    async def publish(outcome: Outcome, outbox: Outbox, produced_ms: int | None) -> None:
        """Queue an outcome's score change and alert transitions (in that order)."""
        event_id = outcome.event.id
        if outcome.changed:
            current = outcome.current
            await outbox.add(topics.SCORES, score_record(outcome), current.vendor_id.encode())
            metrics.SCORES_PUBLISHED.inc()
            metrics.set_vendor_score(
                current.vendor_id, current.score, current.severity, current.data_at_stake
            )
            if produced_ms:
                metrics.SCORE_PUBLISH_LATENCY.observe(max(0.0, time.time() - produced_ms / 1000))
            if logs.enabled(logging.DEBUG):
                log.debug(
                    "score_changed",
                    vendor_id=current.vendor_id,
                    event_id=event_id,
                    score=current.score,
                    severity=current.severity,
                )
        for transition in outcome.transitions:
            # Published after the score, before the ack: at-least-once, and the transition id
            # lets the notifier drop a redelivered duplicate.
            await outbox.add(
                topics.ALERTS, orjson.dumps(transition.to_record()), transition.vendor_id.encode()
            )
            log.info(
                "alert_transition",
                vendor_id=transition.vendor_id,
                event_id=event_id,
                fingerprint=transition.fingerprint,
                rule=transition.rule,
                status=transition.status,
                severity=transition.severity,
            )

    async def rebuild(partition: int, offset: int, outbox: Outbox) -> None:
        started = time.monotonic()
        count, again = await processor.ensure_loaded(partition, offset, load_partition)
        metrics.RECOVERY_DURATION.set(time.monotonic() - started)
        log.info(
            "partition_rebuilt",
            partition=partition,
            events=count,
            republished=len(again),
            seconds=round(time.monotonic() - started, 3),
        )
        for outcome in again:
            await publish(outcome, outbox, None)

    async def reject(message: Any, exc: InvalidEvent, outbox: Outbox) -> None:
        metrics.EVENTS_REJECTED.labels(reason=exc.reason).inc()
        metrics.DLQ_MESSAGES.labels(topic=topics.EVENTS_DLQ).inc()
        # one line per rejected message: the ids it claims (none for garbage) and where it
        # came from, which is also where the DLQ record points
        log.warning(
            "event_rejected",
            reason=exc.reason,
            error=str(exc),
            origin="kafka",
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            **claimed_ids(message.value, message.key),
        )
        record = dead_letter(
            message.value,
            exc,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
            key=message.key,
            rejected_by=worker_name,
        )
        await outbox.add(topics.EVENTS_DLQ, record, message.key)

    @app.agent(raw_topic, name="score")
    async def score_events(stream: Any) -> None:
        """raw -> validate -> the vendor's history + fold -> scores and alerts, in one hop.

        A raw message on partition p whose vendor's partition is p is written to the history
        (`vendorwatch.events`, partition p) and scored here, in that order; one whose vendor
        lives elsewhere is re-sent to the raw topic keyed by its vendor, so the owner of that
        partition scores it. So the worker that owns raw partition p is the only writer of
        history partition p, and the history is in the order the events were scored: replay
        meets them in the same order (README, Architecture). Invalid input goes to the DLQ
        with the reason; nothing here raises on bad input.
        """
        async for batch in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            aio = await aiokafka_producer(app)
            written = await topic_layout(aio)
            outbox = Outbox(aio, written)
            partitions = written[topics.EVENTS]
            raw_consumed.inc(len(batch))
            for event in batch:
                message = event.message
                partition = message.partition
                if not processor.loaded(partition):
                    await rebuild(partition, message.offset, outbox)
                try:
                    parsed = parse_event(message.value)
                except InvalidEvent as exc:
                    await reject(message, exc, outbox)
                    continue
                key = parsed.subject.encode()
                produced_ms = _produced_ms(event)
                produced = str(produced_ms or int(time.time() * 1000)).encode()
                home = vendor_partition(key, partitions)
                if home != partition:
                    rerouted.inc()
                    await outbox.add(
                        topics.RAW,
                        message.value,
                        key,
                        partition=home,
                        headers=((PRODUCED_AT_HEADER, produced),),
                    )
                    continue
                counter = accepted_by_type.get(parsed.type)
                if counter is None:
                    counter = accepted_by_type[parsed.type] = metrics.EVENTS_ACCEPTED.labels(
                        type=parsed.type
                    )
                counter.inc()
                if not processor.in_history(partition, parsed):
                    await outbox.add(
                        topics.EVENTS,
                        encode_event(parsed),
                        key,
                        partition=partition,
                        headers=(
                            (PRODUCED_AT_HEADER, produced),
                            (SOURCE_OFFSET_HEADER, str(message.offset).encode()),
                        ),
                    )
                outcome = processor.process(partition, parsed)
                if outcome.changed or outcome.transitions:
                    await publish(outcome, outbox, produced_ms)
            # the input's freshness: "no events for N minutes" is about these partitions
            _mark_processed(topics.RAW, batch)
            await outbox.flush()

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
    metrics.set_build_info(_version(), policy.version)
    pipeline.alerting = register_alerting(pipeline)
    return pipeline
