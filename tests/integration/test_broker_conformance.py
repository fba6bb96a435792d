"""What vendorwatch relies on from a Kafka-protocol broker, checked on the embedded Tansu.

Two kinds of test:
* behaviour the project relies on (topics, keys/timestamps/headers, groups, partitioning);
* one test per Tansu deviation asserting the *deviant* answer (named ``test_deviation_*``: when
  one fails, Tansu fixed it — update docs/broker.md and ``streams/kafka_io/compat.py``), each next
  to a
  test that the workaround in ``kafka_compat`` gives Kafka's answer.
"""

from __future__ import annotations

import asyncio
import os
import time
import types
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from kafka import KafkaAdminClient, KafkaProducer
from kafka.partitioner.default import murmur2 as kp_murmur2

from vendorwatch.streams.embedded.broker import EmbeddedBroker, create_topics
from vendorwatch.streams.kafka_io import compat as kafka_compat
from vendorwatch.streams.kafka_io.compat import (
    AIOKAFKA_PRODUCER_SETTINGS,
    apply_aiokafka_workarounds,
    end_offsets_via_fetch,
    fetch_end_offsets,
    stock_aiokafka_maybe_leave_group,
)
from vendorwatch.streams.kafka_io.topics import TopicSpec

pytestmark = pytest.mark.integration

T = TypeVar("T")
# Short group timeouts keep the suite fast: Tansu finishes a join after session_timeout / 2.
GROUP_TIMEOUTS: dict[str, int] = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


async def produce_one_batch(
    bootstrap: str, topic: str, partition: int, n: int, start: int = 0
) -> None:
    """Send ``n`` records as exactly one record batch (what a busy producer does)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        batch = producer.create_batch()
        for i in range(start, start + n):
            assert batch.append(key=b"k%d" % i, value=b"v%d" % i, timestamp=None) is not None
        await (await producer.send_batch(batch, topic, partition=partition))
    finally:
        await producer.stop()


async def read_all(bootstrap: str, tp: TopicPartition, expected: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        records: list[Any] = []
        deadline = time.monotonic() + 10
        while len(records) < expected and time.monotonic() < deadline:
            got = await consumer.getmany(tp, timeout_ms=500)
            records.extend(got.get(tp, []))
        return records
    finally:
        await consumer.stop()


async def start_and_join(consumer: AIOKafkaConsumer) -> float:
    """Start a group consumer; return the seconds until it has its partitions."""
    started = time.monotonic()
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=50)
    return time.monotonic() - started


async def group_members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (described,) = response.groups
        return [member[0] for member in described[5]]
    finally:
        await admin.close()


# --- behaviour the project relies on -----------------------------------------------------------


def test_create_topics_is_idempotent_and_topics_are_listed(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    specs = [
        TopicSpec(unique_topic("history"), keyed_by_vendor=True, retention_ms=-1),
        TopicSpec(unique_topic("raw"), keyed_by_vendor=False, retention_ms=3600_000),
    ]
    assert sorted(create_topics(tansu.bootstrap_servers, specs, partitions=3)) == sorted(
        s.name for s in specs
    )
    assert create_topics(tansu.bootstrap_servers, specs, partitions=3) == []

    admin = KafkaAdminClient(bootstrap_servers=tansu.bootstrap_servers)
    try:
        described = {t["name"]: t for t in admin.describe_topics([s.name for s in specs])}
    finally:
        admin.close()
    for spec in specs:
        assert len(described[spec.name]["partitions"]) == 3


def test_produce_fetch_preserves_keys_values_timestamps_and_headers(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("records")
    tansu.create_topics([topic], partitions=1)
    sent: list[tuple[bytes | None, bytes | None, int, list[tuple[str, bytes | None]]]] = [
        (b"vendor-1", b'{"a":1}', 1_700_000_000_000, [("trace", b"abc")]),
        (None, b"no key", 1_700_000_000_001, []),
        (b"vendor-1", None, 1_700_000_000_002, []),  # tombstone
        (b"vendor-2", b"", 1_700_000_000_003, [("n", None), ("e", b""), ("d", b"1"), ("d", b"2")]),
        (b"\xff\x00", b"\x00\xfe binary", 1_500_000_000_000, [("bin", b"\xff")]),
    ]

    async def body() -> list[Any]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, linger_ms=20)
        await producer.start()
        try:
            futures = [
                await producer.send(topic, key=k, value=v, timestamp_ms=ts, headers=h, partition=0)
                for k, v, ts, h in sent
            ]
            offsets = [(await f).offset for f in futures]
        finally:
            await producer.stop()
        assert offsets == list(range(len(sent)))
        return await read_all(tansu.bootstrap_servers, TopicPartition(topic, 0), len(sent))

    got = run(body())
    assert [(r.key, r.value, r.timestamp, list(r.headers)) for r in got] == sent
    assert {r.timestamp_type for r in got} == {0}  # CreateTime


def test_kafka_python_records_read_back_by_aiokafka(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """Ingest produces with kafka-python (idempotent by default); workers read with aiokafka."""
    topic = unique_topic("ingest")
    tansu.create_topics([topic], partitions=1)
    producer = KafkaProducer(bootstrap_servers=tansu.bootstrap_servers)
    try:
        assert producer.config["enable_idempotence"]  # kafka-python's InitProducerId works
        for i in range(20):
            producer.send(
                topic,
                key=b"k%d" % i,
                value=b"v%d" % i,
                timestamp_ms=1_000 + i,
                headers=[("i", str(i).encode())],
                partition=0,
            )
        producer.flush(10)
    finally:
        producer.close()
    got = run(read_all(tansu.bootstrap_servers, TopicPartition(topic, 0), 20))
    assert [(r.offset, r.key, r.value, r.timestamp, r.headers) for r in got] == [
        (i, b"k%d" % i, b"v%d" % i, 1_000 + i, (("i", str(i).encode()),)) for i in range(20)
    ]


def test_fetch_from_an_offset_inside_a_batch_starts_there(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """The journal mirror resumes at its line count, which can fall inside a record batch."""
    topic = unique_topic("midbatch")
    tansu.create_topics([topic], partitions=1)
    tp = TopicPartition(topic, 0)

    async def body() -> list[int]:
        await produce_one_batch(tansu.bootstrap_servers, topic, 0, 10)
        consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, 7)
            got = await consumer.getmany(tp, timeout_ms=2000)
            return [r.offset for r in got[tp]]
        finally:
            await consumer.stop()

    assert run(body()) == [7, 8, 9]


def test_consumer_group_commits_and_a_new_member_resumes(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("group")
    group = f"g-{uuid.uuid4().hex[:8]}"
    tansu.create_topics([topic], partitions=2)
    apply_aiokafka_workarounds()  # clean leave in generation 0, see the deviation below

    async def consume(limit: int | None) -> list[tuple[int, int]]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=tansu.bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **GROUP_TIMEOUTS,
        )
        await consumer.start()
        seen: list[tuple[int, int]] = []
        try:
            idle = 0
            while (limit is None or len(seen) < limit) and idle < 2:
                room = None if limit is None else limit - len(seen)
                got = await consumer.getmany(timeout_ms=300, max_records=room)
                idle = 0 if got else idle + 1
                seen += [(r.partition, r.offset) for rs in got.values() for r in rs]
            await consumer.commit()
        finally:
            await consumer.stop()
        return seen

    async def body() -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers)
        await producer.start()
        try:
            for i in range(30):
                await producer.send(topic, value=b"%d" % i, partition=i % 2)
            await producer.flush()
        finally:
            await producer.stop()
        first = await consume(12)
        rest = await consume(None)
        return first, rest

    first, rest = run(body())
    assert len(first) == 12
    assert not set(first) & set(rest)
    assert sorted(first + rest) == sorted((i % 2, i // 2) for i in range(30))


def test_default_partitioners_agree_between_kafka_python_and_aiokafka(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """Ingest (kafka-python) and Faust (aiokafka) must send a vendor's events to one partition."""
    from aiokafka.partitioner import murmur2 as aio_murmur2

    keys = [f"vendor-{i}".encode() for i in range(150)] + [os.urandom(12) for _ in range(50)]
    assert all(kp_murmur2(k) == aio_murmur2(k) for k in keys)

    topic = unique_topic("partitioner")
    tansu.create_topics([topic], partitions=6)
    kp = KafkaProducer(bootstrap_servers=tansu.bootstrap_servers, linger_ms=5)
    try:
        kp_futures = {k: kp.send(topic, key=k, value=b"kp") for k in keys}
        kp.flush(10)
        by_kafka_python = {k: f.get(10).partition for k, f in kp_futures.items()}
    finally:
        kp.close()

    async def aio() -> dict[bytes, int]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, linger_ms=5)
        await producer.start()
        try:
            futures = {k: await producer.send(topic, key=k, value=b"aio") for k in keys}
            return {k: (await f).partition for k, f in futures.items()}
        finally:
            await producer.stop()

    by_aiokafka = run(aio())
    assert by_aiokafka == by_kafka_python
    assert len(set(by_aiokafka.values())) == 6
    # and both are Kafka's Java default: murmur2(key) & 0x7fffffff % partitions
    assert all(p == (kp_murmur2(k) & 0x7FFFFFFF) % 6 for k, p in by_aiokafka.items())


# --- deviation 1: ListOffsets(latest) after multi-record batches ------------------------------


def test_deviation_list_offsets_latest_is_last_batch_base_plus_one(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("listoffsets")
    tansu.create_topics([topic], partitions=1)
    tp = TopicPartition(topic, 0)

    async def end_offsets() -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers)
        await consumer.start()
        try:
            return (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    async def body() -> tuple[int, int]:
        await produce_one_batch(tansu.bootstrap_servers, topic, 0, 5)
        after_first = await end_offsets()
        await produce_one_batch(tansu.bootstrap_servers, topic, 0, 4, start=5)
        return after_first, await end_offsets()

    # Kafka: 5 and 9. Tansu: base offset of the last batch + 1.
    assert run(body()) == (1, 6)
    assert kafka_compat.LIST_OFFSETS_LATEST_RELIABLE is False


def test_workaround_end_offsets_via_fetch_counts_every_record(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("hw")
    tansu.create_topics([topic], partitions=3)
    tps = [TopicPartition(topic, p) for p in range(3)]

    async def body() -> tuple[dict[TopicPartition, int], dict[TopicPartition, int], int, int]:
        await produce_one_batch(tansu.bootstrap_servers, topic, 0, 5)
        await produce_one_batch(tansu.bootstrap_servers, topic, 0, 4, start=5)
        await produce_one_batch(tansu.bootstrap_servers, topic, 1, 1)
        # partition 2 stays empty
        consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers)
        await consumer.start()
        try:
            consumer.assign(tps)
            consumer.seek(tps[0], 2)
            via_consumer = await end_offsets_via_fetch(consumer, tps)
            position_after = await consumer.position(tps[0])
            first = (await consumer.getmany(tps[0], timeout_ms=2000))[tps[0]][0].offset
        finally:
            await consumer.stop()
        fresh = await fetch_end_offsets(tansu.bootstrap_servers, tps)
        return via_consumer, fresh, position_after, first

    via_consumer, fresh, position_after, first = run(body())
    expected = {tps[0]: 9, tps[1]: 1, tps[2]: 0}
    assert via_consumer == expected
    assert fresh == expected
    assert (position_after, first) == (2, 2)  # the caller's position is put back


# --- deviation 2: no transactions; aiokafka's idempotent producer fails ------------------------


@pytest.mark.parametrize(
    "settings", [{"transactional_id": "vw-txn"}, {"enable_idempotence": True}], ids=["txn", "idem"]
)
def test_deviation_aiokafka_init_producer_id_fails(
    tansu: EmbeddedBroker, settings: dict[str, Any]
) -> None:
    async def body() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers, **settings)
        try:
            await asyncio.wait_for(producer.start(), 15)
        finally:
            await producer.stop()

    with pytest.raises(KafkaError):
        run(body())
    assert kafka_compat.TRANSACTIONS_SUPPORTED is False
    assert kafka_compat.PROCESSING_GUARANTEE == "at_least_once"


def test_workaround_producer_settings_deliver_with_acks_all(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("acks")
    tansu.create_topics([topic], partitions=1)

    async def body() -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=tansu.bootstrap_servers, **AIOKAFKA_PRODUCER_SETTINGS
        )
        await producer.start()
        try:
            return (await producer.send_and_wait(topic, b"x", partition=0)).offset
        finally:
            await producer.stop()

    assert run(body()) == 0


# --- deviation 3: offsets_for_times ------------------------------------------------------------


def test_deviation_offsets_for_times_ignores_the_timestamp(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("times")
    tansu.create_topics([topic], partitions=1)
    tp = TopicPartition(topic, 0)

    async def body() -> Any:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap_servers)
        await producer.start()
        try:
            for i in range(6):
                await producer.send_and_wait(
                    topic, b"%d" % i, partition=0, timestamp_ms=1000 * (i + 1)
                )
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap_servers)
        await consumer.start()
        try:
            return (await consumer.offsets_for_times({tp: 3500}))[tp]
        finally:
            await consumer.stop()

    found = run(body())
    # Kafka: the first record with timestamp >= 3500 is offset 3. Tansu: offset 0.
    assert found is not None
    assert found.offset == 0
    assert kafka_compat.OFFSETS_FOR_TIMES_RELIABLE is False


# --- deviation 4: memory-only storage ----------------------------------------------------------


def test_deviation_a_restarted_broker_has_forgotten_everything() -> None:
    """The journal (test_journal.py) is the workaround."""
    topic = f"t.memory.{uuid.uuid4().hex[:8]}"
    with EmbeddedBroker(handle_sigterm=False) as broker:
        port = broker.port
        broker.create_topics([topic], partitions=1)
    with EmbeddedBroker(port, handle_sigterm=False) as again:
        admin = KafkaAdminClient(bootstrap_servers=again.bootstrap_servers)
        try:
            assert topic not in admin.list_topics()
        finally:
            admin.close()


# --- deviations 5 and 6: group membership ------------------------------------------------------


def test_deviation_join_completes_after_half_the_session_timeout(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """Not the rebalance timeout (10 s here): why FAUST_BROKER_SETTINGS lowers the session's."""
    topic = unique_topic("join")
    tansu.create_topics([topic], partitions=1)

    async def body() -> float:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=tansu.bootstrap_servers,
            group_id=f"g-{uuid.uuid4().hex[:8]}",
            rebalance_timeout_ms=10_000,
            **GROUP_TIMEOUTS,
        )
        try:
            return await start_and_join(consumer)
        finally:
            await consumer.stop()

    assert 0.8 <= run(body()) <= 1.8  # session 2 s -> ~1 s
    settings = kafka_compat.FAUST_BROKER_SETTINGS
    assert settings["broker_session_timeout"] / 2 <= 3.0
    assert settings["broker_heartbeat_interval"] * 3 <= settings["broker_session_timeout"]


def test_deviation_first_generation_is_zero_so_stock_aiokafka_never_leaves(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("gen0")
    group = f"g-{uuid.uuid4().hex[:8]}"
    tansu.create_topics([topic], partitions=1)

    async def body() -> tuple[int, list[str], list[str]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tansu.bootstrap_servers, group_id=group, **GROUP_TIMEOUTS
        )
        await start_and_join(consumer)
        coordinator = consumer._coordinator
        assert coordinator is not None
        # stock behaviour even when another test already applied the workaround
        coordinator._maybe_leave_group = types.MethodType(  # type: ignore[method-assign]
            stock_aiokafka_maybe_leave_group(), coordinator
        )
        generation = coordinator.generation
        before = await group_members(tansu.bootstrap_servers, group)
        await consumer.stop()
        return generation, before, await group_members(tansu.bootstrap_servers, group)

    generation, before, after = run(body())
    assert generation == 0  # Kafka starts at 1
    assert len(before) == 1
    assert after == before  # no LeaveGroup was sent: the member lingers


def test_workaround_leave_group_in_generation_zero(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    topic = unique_topic("leave")
    group = f"g-{uuid.uuid4().hex[:8]}"
    tansu.create_topics([topic], partitions=1)
    apply_aiokafka_workarounds()
    apply_aiokafka_workarounds()  # idempotent

    async def session() -> float:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tansu.bootstrap_servers, group_id=group, **GROUP_TIMEOUTS
        )
        try:
            return await start_and_join(consumer)
        finally:
            await consumer.stop()

    async def body() -> tuple[float, list[str], float]:
        first = await session()
        members = await group_members(tansu.bootstrap_servers, group)
        return first, members, await session()

    _, members_after_close, rejoin = run(body())
    assert members_after_close == []
    assert rejoin < 1.8  # without the workaround: ~4 s (two session timeouts)


# --- deviation 7: DescribeGroups through kafka-python ------------------------------------------


def test_deviation_kafka_python_cannot_parse_describe_groups(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """Tansu fills authorized_operations although nobody asked; use aiokafka's admin instead."""
    topic = unique_topic("describe")
    group = f"g-{uuid.uuid4().hex[:8]}"
    tansu.create_topics([topic], partitions=1)
    apply_aiokafka_workarounds()

    async def join_and_describe() -> list[str]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=tansu.bootstrap_servers, group_id=group, **GROUP_TIMEOUTS
        )
        try:
            await start_and_join(consumer)
            return await group_members(tansu.bootstrap_servers, group)
        finally:
            await consumer.stop()

    assert len(run(join_and_describe())) == 1  # the workaround: aiokafka's admin parses it
    admin = KafkaAdminClient(bootstrap_servers=tansu.bootstrap_servers)
    try:
        with pytest.raises(ValueError, match="ACLOperation"):
            admin.describe_groups([group])
    finally:
        admin.close()


async def fetch_latencies(bootstrap: str, topic: str, fetch_max_wait_ms: int) -> list[float]:
    """Produce 12 records 120 ms apart to an idle consumer; seconds from send to receipt."""
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=fetch_max_wait_ms
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        sent: dict[bytes, float] = {}
        latencies: list[float] = []

        async def receive() -> None:
            while len(latencies) < 12:
                for record in (await consumer.getmany(tp, timeout_ms=3000)).get(tp, []):
                    latencies.append(time.monotonic() - sent[record.value])

        receiving = asyncio.create_task(receive())
        await asyncio.sleep(0.5)  # the consumer is parked in a long poll
        for i in range(12):
            value = b"r%d" % i
            sent[value] = time.monotonic()
            await producer.send_and_wait(topic, value, partition=0)
            await asyncio.sleep(0.12)
        await asyncio.wait_for(receiving, 20)
        return sorted(latencies)
    finally:
        await producer.stop()
        await consumer.stop()


def test_deviation_a_long_poll_is_not_completed_by_new_records(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    """Kafka answers a parked fetch as soon as a record arrives (a few ms); Tansu only after a
    share of fetch_max_wait_ms. Faust's worker consumer asks for 1500 ms."""
    topic = unique_topic("longpoll")
    tansu.create_topics([topic], partitions=1)
    latencies = run(fetch_latencies(tansu.bootstrap_servers, topic, 1500))
    assert latencies[len(latencies) // 2] > 0.15, latencies


def test_workaround_faust_worker_consumer_uses_a_short_fetch_wait(
    tansu: EmbeddedBroker, unique_topic: Callable[[str], str]
) -> None:
    import faust

    from vendorwatch.streams.worker import faust_compat

    faust_compat.apply_faust_workarounds()

    async def worker_consumer_fetch_wait() -> int:
        """The fetch wait of the consumer a Faust worker creates (not started: no I/O)."""
        app = faust.App(
            f"conformance-{uuid.uuid4().hex[:8]}",
            broker=f"kafka://{tansu.bootstrap_servers}",
            store="memory://",
            web_enabled=False,
            autodiscover=False,
        )
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        await consumer.stop()
        return int(consumer._fetch_max_wait_ms)

    wait_ms = run(worker_consumer_fetch_wait())
    assert wait_ms == faust_compat.FAUST_FETCH_MAX_WAIT_MS
    topic = unique_topic("shortpoll")
    tansu.create_topics([topic], partitions=1)
    latencies = run(fetch_latencies(tansu.bootstrap_servers, topic, wait_ms))
    assert latencies[len(latencies) // 2] < 0.1, latencies
