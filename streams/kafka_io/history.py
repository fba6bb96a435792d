"""Reading stretches of the event history straight from Kafka with aiokafka.

Used to rebuild a partition's state (its whole history, up to a fetch high watermark) and by
replay. Reads are
always bounded by an explicit offset, never by ListOffsets(latest), which the embedded broker
gets wrong after multi-record batches (docs/broker.md, deviation 1).
"""

from __future__ import annotations

import time

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.schemas.events import Event

log = structlog.get_logger(__name__)


class HistoryReadError(RuntimeError):
    """The broker did not deliver a stretch of history that it should hold."""


async def read_range(
    bootstrap_servers: str,
    topic: str,
    partition: int,
    start: int,
    stop: int,
    *,
    stall_timeout_s: float = 30.0,
) -> list[ConsumerRecord]:
    """Records of one partition with start <= offset < stop, in offset order."""
    if stop <= start:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        last_progress = time.monotonic()
        while True:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=20_000)
            got = batch.get(tp, [])
            for record in got:
                if record.offset >= stop:
                    return records
                records.append(record)
            if records and records[-1].offset >= stop - 1:
                return records
            if got:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > stall_timeout_s:
                raise HistoryReadError(
                    f"{topic}[{partition}]: stalled at offset {await consumer.position(tp)} "
                    f"before {stop} for {stall_timeout_s:.0f} s"
                )
    finally:
        await consumer.stop()


SOURCE_OFFSET_HEADER = "vw-raw-offset"
"""On a record of `vendorwatch.events`: the offset of the raw message it was scored from."""


def source_offset(record: ConsumerRecord) -> int | None:
    """The raw offset a history record was scored from (None if the record does not say)."""
    for name, value in record.headers or ():
        if name == SOURCE_OFFSET_HEADER:
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def stream_time(record: ConsumerRecord) -> float | None:
    """The stream time a history record was scored at, in unix seconds: its timestamp, which
    the score step sets to the partition's stream time in whole milliseconds."""
    timestamp = record.timestamp
    return None if timestamp is None or timestamp < 0 else timestamp / 1000.0


async def read_history(
    bootstrap_servers: str, topic: str, partition: int
) -> list[tuple[Event, int | None, float | None]]:
    """The whole history of one partition as of now, with each event's raw source offset and
    the stream time it was scored at (the record's timestamp, which the score step sets): the
    input of a partition rebuild. The end is a fetch high watermark (kafka_compat), not
    ListOffsets, so the last records of a multi-record batch are not missed on Tansu."""
    from vendorwatch.streams.kafka_io.compat import fetch_end_offsets

    tp = TopicPartition(topic, partition)
    end = (await fetch_end_offsets(bootstrap_servers, [tp])).get(tp, 0)
    history: list[tuple[Event, int | None, float | None]] = []
    for record in await read_range(bootstrap_servers, topic, partition, 0, end):
        try:
            history.append((parse_event(record.value), source_offset(record), stream_time(record)))
        except InvalidEvent as exc:  # only if someone wrote to the history directly
            log.error(
                "invalid_event_in_history",
                reason=exc.reason,
                error=str(exc),
                topic=topic,
                partition=partition,
                offset=record.offset,
            )
    return history


async def read_all(bootstrap_servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record of a (small) topic as of now, partition by partition in offset order.

    The end of each partition comes from a fetch high watermark (kafka_compat), not from
    ListOffsets, so the last records of a multi-record batch are not missed on Tansu.
    """
    from vendorwatch.streams.kafka_io.compat import fetch_end_offsets

    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    try:
        await probe.start()  # inside: a failed start must close the consumer too
        await probe._client.force_metadata_update()
        partitions = sorted(probe.partitions_for_topic(topic) or ())
    finally:
        await probe.stop()
    if not partitions:
        return []
    ends = await fetch_end_offsets(
        bootstrap_servers, [TopicPartition(topic, p) for p in partitions]
    )
    records: list[ConsumerRecord] = []
    for tp, end in sorted(ends.items(), key=lambda item: item[0].partition):
        records.extend(await read_range(bootstrap_servers, topic, tp.partition, 0, end))
    return records
