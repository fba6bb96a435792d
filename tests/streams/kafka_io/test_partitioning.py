"""The worker's partitioner must place every key exactly where Kafka's default one does: the
fold relies on one vendor's records sharing a partition with the history already written."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from vendorwatch.streams.kafka_io.partitioning import vendor_partitioner


@given(key=st.binary(min_size=0, max_size=80), count=st.integers(min_value=1, max_value=64))
def test_same_partition_as_kafkas_default_partitioner(key: bytes, count: int) -> None:
    partitions = list(range(count))
    expected = DefaultPartitioner()(key, partitions, partitions)
    assert vendor_partitioner(key, partitions, partitions) == expected
    assert vendor_partitioner(key, partitions, partitions) == expected  # from the cache


def test_an_unkeyed_record_goes_to_an_available_partition() -> None:
    assert vendor_partitioner(None, [0, 1, 2, 3], [2]) == 2
