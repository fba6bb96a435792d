"""Process wiring: which Kafka to talk to, and running a worker on it.

`kafka_for(settings)` yields bootstrap servers: the configured Kafka, or (when none is) an
embedded Tansu broker on loopback, with the on-disk journal restored into it first and mirrored
while it runs, so the history survives a restart although Tansu only keeps memory.
The embedded broker's address is written to `DATA_DIR/embedded.json` while it runs so that other
commands (`vendorwatch ingest`, `replay`, ...) find it without flags; `kcat_bootstrap_servers`
there is the address for librdkafka 2.0 clients such as Debian 12's kcat
(streams/embedded/compat_proxy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import structlog

from vendorwatch.streams.embedded import group_offsets
from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.embedded.compat_proxy import CompatProxy
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.topics import GROUP_ID
from vendorwatch.streams.settings import Settings

log = structlog.get_logger(__name__)

EMBEDDED_FILE = "embedded.json"
OFFSETS_SAVE_INTERVAL_S = 2.0


class NoKafkaError(RuntimeError):
    """No Kafka is configured and no embedded broker is running."""


def journal_dir(settings: Settings) -> Path:
    return settings.data_dir / "journal"


def _write_embedded_marker(settings: Settings, bootstrap: str, kcat_bootstrap: str) -> Path:
    path = settings.data_dir / EMBEDDED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = {
        "bootstrap_servers": bootstrap,
        # for librdkafka 2.0 clients (Debian 12's kcat): see streams/embedded/compat_proxy.py
        "kcat_bootstrap_servers": kcat_bootstrap,
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
    with (
        EmbeddedBroker(port, log_path=settings.data_dir / "broker.log") as broker,
        CompatProxy(broker.host, broker.port) as kcat_proxy,
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
            kcat_bootstrap_servers=kcat_proxy.bootstrap_servers,
            restored=report.records,
            restored_group_offsets=len(saved[1]) if saved else 0,
            restore_seconds=round(report.seconds, 3),
            start_seconds=broker.ready_seconds,
        )
        marker = _write_embedded_marker(settings, bootstrap, kcat_proxy.bootstrap_servers)
        try:
            yield bootstrap
        finally:
            marker.unlink(missing_ok=True)


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


def attach_journal_mirror(app: Any, directory: Path, bootstrap: str) -> None:
    """Run the journal mirror as a service of the Faust app (started and stopped with it), and
    keep the group's committed offsets next to the journal (see `group_offsets`)."""
    import faust

    from vendorwatch.streams.embedded.journal import JournalMirror

    mirror = JournalMirror(directory, bootstrap)
    offsets_path = directory / group_offsets.FILENAME

    def save_offsets() -> None:
        committed = {  # only journaled topics: the others start empty after a restart
            tp: offset
            for tp, offset in app.consumer._committed_offset.items()  # Faust has no getter
            if tp.topic in topics.PERSISTED_IN_EMBEDDED_MODE
        }
        if committed:
            group_offsets.save(offsets_path, app.conf.id, committed)

    @app.service
    class JournalService(faust.Service):  # type: ignore[misc]
        async def on_start(self) -> None:
            await mirror.start()

        async def on_stop(self) -> None:
            save_offsets()
            await mirror.stop()

    @app.timer(OFFSETS_SAVE_INTERVAL_S)
    async def save_group_offsets() -> None:
        save_offsets()


async def serve_journal(settings: Settings, bootstrap: str, stop: asyncio.Event) -> None:
    """`vendorwatch broker`: mirror the history to the journal and snapshot the workers' group
    offsets until `stop` is set (the workers run elsewhere, so the broker process does both)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from vendorwatch.streams.embedded.journal import JournalMirror
    from vendorwatch.streams.kafka_io.compat import stop_consumer

    directory = journal_dir(settings)
    mirror = JournalMirror(directory, bootstrap)
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
            if any(o is not None for o in offsets.values()):
                group_offsets.save(directory / group_offsets.FILENAME, GROUP_ID, offsets)
    finally:
        await stop_consumer(consumer)
        await mirror.stop()
