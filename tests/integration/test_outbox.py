"""The score agent's outbox on a real broker: where records land, in what order, with what."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.outbox import Outbox

pytestmark = pytest.mark.integration


async def read_all(bootstrap: str, topic: str, n: int) -> list[tuple[int, bytes, bytes, dict]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[tuple[int, bytes, bytes, dict]] = []
    try:
        async with asyncio.timeout(30):
            while len(got) < n:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    got.extend((tp.partition, r.key, r.value, dict(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return got


def test_records_land_where_the_producer_would_put_them_in_order_once_flushed(
    fresh_kafka: EmbeddedBroker,
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    n = 3000  # several full 16 KiB builders per partition

    async def scenario() -> list[tuple[int, bytes, bytes, dict]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            partitions = len(await producer.partitions_for(topics.SCORES))
            assert partitions == 4  # the fixture's layout, which the checks below assume
            outbox = Outbox(producer, {topics.SCORES: partitions})
            for i in range(n):
                key = f"vendor-{i % 37}".encode()
                value = (f"{i:06d}-" + "x" * 200).encode()
                await outbox.add(topics.SCORES, value, key, headers=(("seq", str(i).encode()),))
            assert len(outbox) > 0
            await outbox.flush()
            assert len(outbox) == 0
            await outbox.flush()  # nothing left: a no-op
        finally:
            await producer.stop()
        return await read_all(bootstrap, topics.SCORES, n)

    got = asyncio.run(scenario())
    assert len(got) == n
    partitioner = DefaultPartitioner()
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for partition, key, value, headers in got:
        # the same partition as aiokafka's default partitioner (Kafka's murmur2 rule)
        assert partition == partitioner(key, list(range(4)), list(range(4)))
        assert int(headers["seq"]) == int(value[:6])
        by_key[key].append(int(value[:6]))
    assert len(by_key) == 37
    for sequence in by_key.values():
        assert sequence == sorted(sequence), "a key's records came back out of order"


def test_explicit_partitions_unkeyed_records_and_a_record_larger_than_a_batch(
    fresh_kafka: EmbeddedBroker,
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers

    async def scenario() -> list[tuple[int, bytes, bytes, dict]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1024)
        await producer.start()
        try:
            outbox = Outbox(producer, {topics.EVENTS_DLQ: 4})
            await outbox.add(topics.EVENTS_DLQ, b"pinned", b"any-key", partition=2)
            await outbox.add(topics.EVENTS_DLQ, b"garbage without a key", None)
            # larger than a whole batch: it goes in a batch of its own, after what came first
            await outbox.add(topics.EVENTS_DLQ, b"y" * 4096, b"k", partition=2)
            await outbox.flush()
        finally:
            await producer.stop()
        return await read_all(bootstrap, topics.EVENTS_DLQ, 3)

    got = asyncio.run(scenario())
    values = [value for _, _, value, _ in got]
    assert sorted(values) == [b"garbage without a key", b"pinned", b"y" * 4096]
    pinned = [value for p, key, value, _ in got if p == 2 and key is not None]
    assert pinned == [b"pinned", b"y" * 4096]
    assert [p for p, _, value, _ in got if value == b"pinned"] == [2]
