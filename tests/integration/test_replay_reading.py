"""Reading the history to its end on the embedded broker, where ListOffsets lies.

docs/broker.md, deviation 1: after a multi-record batch, Tansu's ListOffsets(latest) answers the
batch's base offset + 1. A reader that trusts it drops the rest of the last batch, silently.
Replay takes the end from a fetch's high watermark (or an explicit bound) instead; these tests
produce exactly that situation and count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaProducer

from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.replay.reader import log_end_offsets, read_log

pytestmark = pytest.mark.integration

PARTITIONS = 3


def produce_batched(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    """`count` records spread over the partitions in multi-record batches (linger 50 ms)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20)
    try:
        for i in range(start, start + count):
            producer.send(topic, value=orjson.dumps({"n": i}), partition=i % PARTITIONS)
        producer.flush(30)
    finally:
        producer.close(10)


async def listed_ends(bootstrap: str, topic: str) -> dict[int, int]:
    """What ListOffsets(latest) says: the number replay must not trust."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


def read_all(bootstrap: str, topic: str, ends: dict[int, int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {p: [] for p in range(PARTITIONS)}
    asyncio.run(read_log(bootstrap, ends, lambda p, chunk: found[p].extend(chunk), topic=topic))
    return found


@pytest.fixture
def topic(tansu: EmbeddedBroker, unique_topic: Callable[[str], str]) -> str:
    name = unique_topic("ev")
    create_topics(tansu.bootstrap_servers, [name], PARTITIONS)
    return name


def test_read_to_the_end_misses_no_trailing_events(tansu: EmbeddedBroker, topic: str) -> None:
    bootstrap = tansu.bootstrap_servers
    produced = 3_000
    for round_ in range(3):  # several batches per partition; the last one has many records
        produce_batched(bootstrap, topic, 1_000, start=round_ * 1_000)
    listed = asyncio.run(listed_ends(bootstrap, topic))
    assert sum(listed.values()) < produced, (
        f"ListOffsets said {listed}: the scenario no longer exercises deviation 1 of docs/broker.md"
    )

    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    assert ends == {p: 1_000 for p in range(PARTITIONS)}
    found = read_all(bootstrap, topic, ends)
    assert sum(len(records) for records in found.values()) == produced
    for partition, records in found.items():
        assert [r.offset for r in records] == list(range(1_000)), partition
    values = sorted(orjson.loads(r.value)["n"] for records in found.values() for r in records)
    assert values == list(range(produced))


def test_an_explicit_bound_reads_exactly_up_to_it(tansu: EmbeddedBroker, topic: str) -> None:
    bootstrap = tansu.bootstrap_servers
    produce_batched(bootstrap, topic, 900)
    found = read_all(bootstrap, topic, {0: 7, 1: 300, 2: 0})
    assert [r.offset for r in found[0]] == list(range(7))
    assert [r.offset for r in found[1]] == list(range(300))
    assert found[2] == []


def test_events_produced_during_a_read_are_not_half_included(
    tansu: EmbeddedBroker, topic: str
) -> None:
    """The end is taken once: later records wait for the next read, whole."""
    bootstrap = tansu.bootstrap_servers
    produce_batched(bootstrap, topic, 600)
    ends = asyncio.run(log_end_offsets(bootstrap, topic))
    produce_batched(bootstrap, topic, 600, start=600)
    found = read_all(bootstrap, topic, ends)
    assert sum(len(r) for r in found.values()) == 600
    assert max(orjson.loads(r.value)["n"] for rs in found.values() for r in rs) == 599
    again = read_all(bootstrap, topic, asyncio.run(log_end_offsets(bootstrap, topic)))
    assert sum(len(r) for r in again.values()) == 1_200
