"""Reading stretches of the event history straight from Kafka with aiokafka.

Used to rebuild a partition's state (from 0 up to an explicit offset) and by replay. Reads are
always bounded by an explicit offset, never by ListOffsets(latest), which the embedded broker
gets wrong after multi-record batches (BROKER.md deviation 1).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from vendorwatch.schemas.codec import parse_event
from vendorwatch.schemas.events import Event


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


def decode_events(records: Iterable[ConsumerRecord]) -> list[Event]:
    """Events from records of `vendorwatch.events` (validated on the way in; checked again)."""
    return [parse_event(r.value) for r in records if r.value is not None]


async def read_events(bootstrap_servers: str, topic: str, partition: int, stop: int) -> list[Event]:
    """Events of one partition before offset `stop`: the input of a partition rebuild."""
    return decode_events(await read_range(bootstrap_servers, topic, partition, 0, stop))


async def read_all(bootstrap_servers: str, topic: str) -> list[ConsumerRecord]:
    """Every record of a (small) topic as of now, partition by partition in offset order.

    The end of each partition comes from a fetch high watermark (kafka_compat), not from
    ListOffsets, so the last records of a multi-record batch are not missed on Tansu.
    """
    from vendorwatch.streams.kafka_compat import fetch_end_offsets

    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await probe.start()
    try:
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
