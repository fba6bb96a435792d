"""Key -> partition for what the worker produces: Kafka's own rule, with the hash kept per key.

Every record vendorwatch writes is keyed by vendor id, and Kafka's default partitioner (murmur2
of the key, as the Java client and aiokafka compute it) decides where it lands: that is what
keeps one vendor's events in one partition, in order, for the fold. aiokafka computes murmur2 in
pure Python, a few microseconds per record and two or three records per event, always for the
same few thousand vendor ids. `vendor_partitioner` returns exactly what aiokafka's
`DefaultPartitioner` returns, with the hash of each key computed once.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from aiokafka.partitioner import DefaultPartitioner, murmur2

KEYS_REMEMBERED = 1 << 17
"""Distinct keys whose hash is kept (a few MiB at most); beyond that the least recent go."""


@lru_cache(maxsize=KEYS_REMEMBERED)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def vendor_partitioner(
    key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]
) -> int:
    """aiokafka's partitioner signature; an unkeyed record goes where aiokafka would send it."""
    if key is None:
        return DefaultPartitioner()(key, all_partitions, available)  # type: ignore[no-any-return]
    return all_partitions[_key_hash(bytes(key)) % len(all_partitions)]


def vendor_partition(key: bytes, partitions: int) -> int:
    """The partition a record keyed `key` lands in, in a topic of `partitions` partitions."""
    return _key_hash(key) % partitions
