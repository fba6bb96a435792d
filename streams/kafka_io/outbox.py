"""What one agent batch writes, gathered into one record batch per topic partition.

Why not one `producer.send()` per record: aiokafka's `send` looks the partition up, appends to
the accumulator and creates a delivery future for every record; the score agent writes two or
three records per event, and those calls were ~11% of its CPU. Here a record is one
`BatchBuilder.append` into the builder of its topic partition, and a batch costs one
`send_batch` and one future per partition. The records of a partition keep the order they were
added in, which is all the fold and the readers rely on (nothing orders records across topics).

The caller flushes once per agent batch and waits for delivery before the batch's offsets can
be committed: at-least-once, as with `send`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from vendorwatch.streams.kafka_io.partitioning import vendor_partitioner

Headers = Sequence[tuple[str, bytes]]


class Outbox:
    """Records waiting for the end of an agent batch, by topic partition, in arrival order.

    `producer` is an aiokafka producer; `partitions` maps every topic the outbox may write to
    its partition count, so a keyed record lands where the producer's partitioner would put it
    (`streams.kafka_io.partitioning`, Kafka's murmur2 rule).
    """

    __slots__ = ("_builders", "_futures", "_partitions", "_producer")

    def __init__(self, producer: Any, partitions: dict[str, int]) -> None:
        self._producer = producer
        self._partitions = partitions
        self._builders: dict[tuple[str, int], Any] = {}
        self._futures: list[asyncio.Future[Any]] = []

    def __len__(self) -> int:
        return sum(builder.record_count() for builder in self._builders.values())

    async def add(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        *,
        partition: int | None = None,
        headers: Headers = (),
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue a record keyed `key` (on `partition`, or on the key's partition; an unkeyed
        record goes where aiokafka would send it), timestamped `timestamp_ms` (None: now).
        Awaits only when a builder is full, to hand it to the producer and start the next one."""
        if partition is None:
            partition = vendor_partitioner(key, range(self._partitions[topic]), ())
        where = (topic, partition)
        builder = self._builders.get(where)
        if builder is None:
            builder = self._builders[where] = self._producer.create_batch()
        stamp = timestamp_ms
        if builder.append(key=key, value=value, timestamp=stamp, headers=list(headers)) is None:
            await self._submit(where, builder)
            builder = self._builders[where] = self._producer.create_batch()
            # an empty batch takes one record of any size, as in Kafka (the broker has the
            # last word: a record over its limit fails the flush)
            builder.append(key=key, value=value, timestamp=stamp, headers=list(headers))

    async def _submit(self, where: tuple[str, int], builder: Any) -> None:
        topic, partition = where
        builder.close()  # else the producer's own `send` could append to it once it is queued
        self._futures.append(await self._producer.send_batch(builder, topic, partition=partition))

    async def flush(self) -> None:
        """Hand every gathered batch to the producer and wait until the broker acknowledged all
        of them (raises if one failed: the agent then stops before acknowledging its batch)."""
        builders, self._builders = self._builders, {}
        for where, builder in builders.items():
            if builder.record_count():
                await self._submit(where, builder)
        futures, self._futures = self._futures, []
        if futures:
            await asyncio.gather(*futures)
