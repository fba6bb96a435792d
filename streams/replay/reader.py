"""Reading `vendorwatch.events` back: partitions, the end of the log, and a bounded read.

The end of the log comes from a fetch high watermark, never ListOffsets (docs/broker.md): on
the embedded broker ListOffsets(latest) reports the last batch's base offset + 1, so a reader that
trusted it would drop the tail of the last batch. The end is taken once, at the start of the read,
or given explicitly, and the read stops exactly there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from vendorwatch.schemas.events import iso as iso  # re-exported: replay and the CLI use it
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.compat import fetch_end_offsets
from vendorwatch.streams.kafka_io.history import HistoryReadError
from vendorwatch.streams.replay.fold import Window as Window  # re-exported: reports, CLI

log = structlog.get_logger(__name__)

EVENTS_TOPIC = topics.EVENTS

FETCH_MAX_BYTES = 64 * 1024 * 1024
"""Bytes per fetch response: big fetches amortise the per-request cost of a full-log read."""
PARTITION_FETCH_MAX_BYTES = 16 * 1024 * 1024
"""Bytes per partition per fetch (Kafka's default of 1 MiB makes ~4,000 small requests per 1M
events; 16 MiB makes a few hundred)."""
STALL_TIMEOUT_S = 30.0
"""A read that makes no progress for this long, before its end offset, is an error."""
PARALLEL_MIN_RECORDS = 200_000
"""Below this many records a second process costs more (start-up, imports) than it saves."""


class ReplayError(RuntimeError):
    """The history cannot be read as asked (no such topic, broker unreachable, stalled read)."""


# --- reading the log ---------------------------------------------------------------------------


def make_consumer(bootstrap_servers: str, **overrides: Any) -> AIOKafkaConsumer:
    """A group-less consumer tuned for reading a whole log: large fetches, no commits.

    `max_records` is given per `getmany` call. The benchmark uses the same settings for its raw
    baseline, so the replay/raw ratio measures the fold, not a better-tuned reader.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "max_partition_fetch_bytes": PARTITION_FETCH_MAX_BYTES,
        "fetch_max_wait_ms": 50,
        "client_id": "vendorwatch-replay",
    }
    options.update(overrides)
    return AIOKafkaConsumer(**options)


async def topic_partitions(
    bootstrap_servers: str, topic: str = EVENTS_TOPIC, *, timeout_s: float = 10.0
) -> list[int]:
    """The partition numbers of `topic`; ReplayError if it does not exist or Kafka is down."""
    consumer = make_consumer(bootstrap_servers, request_timeout_ms=int(timeout_s * 1000))
    try:
        await asyncio.wait_for(consumer.start(), timeout_s)
        await consumer.topics()  # fetches metadata for every topic
        partitions = consumer.partitions_for_topic(topic)
    except (KafkaError, TimeoutError, OSError) as exc:
        raise ReplayError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    finally:
        await consumer.stop()
    if not partitions:
        raise ReplayError(f"topic {topic} does not exist on {bootstrap_servers}")
    return sorted(partitions)


async def log_end_offsets(
    bootstrap_servers: str, topic: str = EVENTS_TOPIC, partitions: Iterable[int] | None = None
) -> dict[int, int]:
    """Each partition's end offset as of now, from a fetch high watermark (deviation 1)."""
    numbers = (
        list(partitions)
        if partitions is not None
        else await topic_partitions(bootstrap_servers, topic)
    )
    try:
        ends = await fetch_end_offsets(
            bootstrap_servers, [TopicPartition(topic, p) for p in numbers]
        )
    except KafkaError as exc:
        raise ReplayError(f"cannot read the end offsets of {topic}: {exc}") from None
    return {tp.partition: end for tp, end in sorted(ends.items(), key=lambda i: i[0].partition)}


RecordSink = Callable[[int, list[ConsumerRecord]], None]


async def read_log(
    bootstrap_servers: str,
    ends: Mapping[int, int],
    on_records: RecordSink,
    *,
    topic: str = EVENTS_TOPIC,
    on_progress: Callable[[int], None] | None = None,
    stall_timeout_s: float = STALL_TIMEOUT_S,
) -> int:
    """Deliver every record of `topic` below `ends[partition]`, per partition in offset order.

    `on_records(partition, records)` is called with consecutive chunks of one partition;
    chunks of different partitions interleave (they are independent). Records at or past the
    end are dropped, so the read covers the log exactly as it was when `ends` was taken. Returns
    how many records were delivered. One consumer reads every partition with large fetches:
    on a 2-core machine a second connection only competes with the fold for the CPU.
    """
    wanted = {TopicPartition(topic, p): end for p, end in ends.items() if end > 0}
    if not wanted:
        return 0
    consumer = make_consumer(bootstrap_servers)
    delivered = 0
    try:
        await consumer.start()
        consumer.assign(list(wanted))
        await consumer.seek_to_beginning(*wanted)
        pending = dict(wanted)
        last_progress = time.monotonic()
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=500)
            got = 0
            for tp, records in batches.items():
                end = pending.get(tp)
                if end is None or not records:
                    continue
                if records[-1].offset >= end:
                    records = [r for r in records if r.offset < end]
                if records:
                    on_records(tp.partition, records)
                    got += len(records)
            for tp in list(pending):
                # the position (next offset to fetch) also covers offsets a compacted or
                # transactional log skips, where no record carries offset end - 1
                if await consumer.position(tp) >= pending[tp]:
                    consumer.pause(tp)
                    del pending[tp]
            if got:
                delivered += got
                last_progress = time.monotonic()
                if on_progress is not None:
                    on_progress(got)
            elif pending and time.monotonic() - last_progress > stall_timeout_s:
                where = {tp.partition: await consumer.position(tp) for tp in pending}
                raise HistoryReadError(
                    f"{topic}: no progress for {stall_timeout_s:.0f} s at positions {where}, "
                    f"before end offsets { {tp.partition: e for tp, e in pending.items()} }"
                )
    except KafkaError as exc:
        raise ReplayError(f"reading {topic} from {bootstrap_servers} failed: {exc}") from None
    finally:
        await consumer.stop()
    return delivered


# --- folding: the same Processor as the live score agent --------------------------------------
