"""Process wiring: which Kafka to talk to, and running a worker on it.

`kafka_for(settings)` yields bootstrap servers: the configured Kafka, or (when none is) an
embedded Tansu broker on loopback, with the on-disk journal restored into it first and mirrored
while it runs, so every topic survives a restart, or a kill -9, although Tansu only keeps memory.

Clients outside this process reach the embedded broker through the proxy
(streams/embedded/compat_proxy.py), whose address is written to `DATA_DIR/embedded.json` while it
runs so that other commands (`vendorwatch ingest`, `replay`, ...) find it without flags. The
proxy holds each produce acknowledgement until the journal has fsynced its records (an
`AckGate` shared with the mirror), so an acknowledged event survives a kill -9 of this process.
The workers' committed offsets are saved next to the journal, never ahead of it
(`save_group_offsets`), so a restart resumes every topic where the workers were.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from vendorwatch.streams.embedded import ack_gate, group_offsets
from vendorwatch.streams.embedded.ack_gate import AckGate
from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.embedded.compat_proxy import CompatProxy
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.topics import GROUP_ID
from vendorwatch.streams.settings import Settings

if TYPE_CHECKING:
    from vendorwatch.streams.embedded.journal import JournalMirror

log = structlog.get_logger(__name__)

EMBEDDED_FILE = "embedded.json"
OFFSETS_SAVE_INTERVAL_S = 2.0
GATED_FETCH_MAX_WAIT_MS = 25
"""The journal mirror's fetch wait when producers' acks wait for it: Tansu answers a parked
fetch after a share of the wait (docs/broker.md, deviation 8), which is most of an ack's delay."""


class NoKafkaError(RuntimeError):
    """No Kafka is configured and no embedded broker is running."""


def journal_dir(settings: Settings) -> Path:
    return settings.data_dir / "journal"


def _write_embedded_marker(settings: Settings, proxy_bootstrap: str) -> Path:
    path = settings.data_dir / EMBEDDED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = {
        # the proxy: durable acks (streams/embedded/compat_proxy.py), and kcat can use it
        "bootstrap_servers": proxy_bootstrap,
        "kcat_bootstrap_servers": proxy_bootstrap,
        "pid": os.getpid(),
    }
    path.write_bytes(orjson.dumps(marker))
    return path


def running_embedded_broker(settings: Settings) -> str | None:
    """Bootstrap servers of an embedded broker started by a live process on this data dir."""
    path = settings.data_dir / EMBEDDED_FILE
    try:
        marker = orjson.loads(path.read_bytes())
        os.kill(int(marker["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None
    return str(marker["bootstrap_servers"])


def resolve_bootstrap(settings: Settings) -> str:
    """Where a client command should connect: configured Kafka, else a running embedded one."""
    if settings.bootstrap_servers:
        return settings.bootstrap_servers
    found = running_embedded_broker(settings)
    if found is None:
        raise NoKafkaError(
            "no Kafka configured (--bootstrap-servers or VENDORWATCH_BOOTSTRAP_SERVERS) and no "
            f"embedded broker running for data dir {settings.data_dir} "
            "(start one with `vendorwatch broker` or `vendorwatch demo`)"
        )
    return found


@contextlib.contextmanager
def kafka_for(settings: Settings) -> Iterator[str]:
    """Bootstrap servers for a long-running process; starts the embedded broker if needed."""
    if not settings.embedded:
        assert settings.bootstrap_servers is not None
        create_topics(
            settings.bootstrap_servers,
            topics.ALL_TOPICS,
            settings.partitions,
            replication_factor=settings.tuning.replication_factor,
        )
        yield settings.bootstrap_servers
        return
    from vendorwatch.streams.embedded.journal import restore

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    port = settings.broker_port or None
    gate = AckGate(topics.PERSISTED_IN_EMBEDDED_MODE)
    with (
        EmbeddedBroker(port, log_path=settings.data_dir / "broker.log") as broker,
        CompatProxy(broker.host, broker.port, gate=gate) as proxy,
    ):
        bootstrap = broker.bootstrap_servers
        create_topics(bootstrap, topics.ALL_TOPICS, settings.partitions)
        report = asyncio.run(restore(journal_dir(settings), bootstrap))
        saved = group_offsets.load(journal_dir(settings) / group_offsets.FILENAME)
        if saved is not None and report.records:
            asyncio.run(group_offsets.commit(bootstrap, *saved))
        log.info(
            "embedded_broker_ready",
            bootstrap_servers=bootstrap,
            proxy_bootstrap_servers=proxy.bootstrap_servers,
            restored=report.records,
            restored_group_offsets=len(saved[1]) if saved else 0,
            restore_seconds=round(report.seconds, 3),
            start_seconds=broker.ready_seconds,
        )
        # until a mirror runs, acks wait: a client may connect as soon as the marker exists
        ack_gate.install(gate)
        marker = _write_embedded_marker(settings, proxy.bootstrap_servers)
        try:
            yield bootstrap
        finally:
            marker.unlink(missing_ok=True)
            ack_gate.install(None)


def run_faust_worker(
    settings: Settings,
    build: Callable[[str, Callable[[], None]], Any],
    *,
    quiet: bool = True,
    log_stream: Any = None,
) -> None:
    """Run a Faust worker until it stops (Ctrl-C, SIGTERM, or the `stop` callback given to
    `build(bootstrap, stop)`, which returns the Pipeline). In embedded mode the journal mirror
    runs inside the same worker."""
    from faust.worker import Worker

    from vendorwatch.streams.core.heap import tune_collector
    from vendorwatch.streams.logs import logging_config

    tune_collector()  # the worker holds its partitions' histories: see streams/core/heap.py

    with kafka_for(settings) as bootstrap:
        workers: list[Worker] = []

        def stop() -> None:
            # mode's Worker has no public "stop" for code running inside it; this is what its
            # SIGTERM handler does.
            workers[0]._on_sigterm()

        pipeline = build(bootstrap, stop)
        if settings.embedded:
            attach_journal_mirror(pipeline.app, journal_dir(settings), bootstrap)
        config = logging_config(settings.log_format, settings.log_level)
        if log_stream is not None:
            config["handlers"]["default"]["stream"] = log_stream
        worker = Worker(
            pipeline.app,
            loglevel=settings.log_level,
            quiet=quiet,
            redirect_stdouts=False,
            logging_config=config,
        )
        workers.append(worker)
        worker.execute_from_commandline()


def make_mirror(directory: Path, bootstrap: str) -> JournalMirror:
    """The journal mirror of this process's embedded broker, releasing the acks that wait for
    it (the gate `kafka_for` installed)."""
    from vendorwatch.streams.embedded.journal import JournalMirror

    gate = ack_gate.installed()
    return JournalMirror(
        directory,
        bootstrap,
        gate=gate,
        fetch_max_wait_ms=GATED_FETCH_MAX_WAIT_MS if gate is not None else 500,
    )


async def save_group_offsets(
    mirror: JournalMirror, path: Path, group: str, committed: dict[Any, int | None]
) -> None:
    """Save `committed` (taken before the call) once the journal holds everything the broker
    had when it was taken: the records the group has passed and what it wrote for them.

    An offset saved ahead of the journal would, after a kill -9, point past the end of a
    restored partition: the worker would skip the records later written at those offsets, and
    the outputs of the records it had processed would be missing from the history. So the
    mirror is waited for, and each offset is capped at what the journal holds."""
    wanted = {
        tp: offset
        for tp, offset in committed.items()
        if offset is not None and tp.topic in topics.PERSISTED_IN_EMBEDDED_MODE
    }
    if not wanted:
        return
    await mirror.wait_caught_up()
    journaled = {(tp.topic, tp.partition): n for tp, n in mirror.positions.items()}
    capped = {
        tp: min(offset, journaled.get((tp.topic, tp.partition), 0)) for tp, offset in wanted.items()
    }
    group_offsets.save(path, group, capped)


def attach_journal_mirror(app: Any, directory: Path, bootstrap: str) -> None:
    """Run the journal mirror as a service of the Faust app (started and stopped with it), and
    keep the group's committed offsets next to the journal (see `group_offsets`)."""
    import faust
    from aiokafka.errors import KafkaError

    from vendorwatch.streams.embedded.journal import JournalError

    mirror = make_mirror(directory, bootstrap)
    offsets_path = directory / group_offsets.FILENAME

    async def save_offsets() -> None:
        committed = dict(app.consumer._committed_offset)  # Faust has no getter
        try:
            await save_group_offsets(mirror, offsets_path, app.conf.id, committed)
        except (JournalError, KafkaError, OSError) as exc:  # incl. timeouts; the old file stays
            log.warning("group_offsets_not_saved", error=str(exc) or type(exc).__name__)

    @app.service
    class JournalService(faust.Service):  # type: ignore[misc]
        async def on_start(self) -> None:
            await mirror.start()

        async def on_stop(self) -> None:
            await save_offsets()
            await mirror.stop()

    @app.timer(OFFSETS_SAVE_INTERVAL_S)
    async def save_group_offsets_now() -> None:
        await save_offsets()


async def serve_journal(settings: Settings, bootstrap: str, stop: asyncio.Event) -> None:
    """`vendorwatch broker`: mirror the history to the journal and snapshot the workers' group
    offsets until `stop` is set (the workers run elsewhere, so the broker process does both)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.errors import KafkaError

    from vendorwatch.streams.embedded.journal import JournalError
    from vendorwatch.streams.kafka_io.compat import stop_consumer

    directory = journal_dir(settings)
    mirror = make_mirror(directory, bootstrap)
    await mirror.start()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=GROUP_ID, enable_auto_commit=False
    )
    await consumer.start()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=OFFSETS_SAVE_INTERVAL_S)
            tps = [
                TopicPartition(topic, p)
                for topic in topics.PERSISTED_IN_EMBEDDED_MODE
                for p in consumer.partitions_for_topic(topic) or ()
            ]
            offsets = {tp: await consumer.committed(tp) for tp in tps}
            try:
                path = directory / group_offsets.FILENAME
                await save_group_offsets(mirror, path, GROUP_ID, offsets)
            except (JournalError, KafkaError, OSError) as exc:
                log.warning("group_offsets_not_saved", error=str(exc) or type(exc).__name__)
    finally:
        await stop_consumer(consumer)
        await mirror.stop()
