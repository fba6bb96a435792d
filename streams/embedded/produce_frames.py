"""Just enough of the Kafka Produce request and response to know what an ack acknowledges.

The proxy in front of the embedded broker (streams/embedded/compat_proxy.py) holds each Produce
response until the journal covers the records it acknowledges. For that it needs, per
partition, how many records the request carried (from the v2 record batch headers: no record
is decoded) and the base offset the broker gave them (from the response). Produce v3 to v11
are understood (every client that speaks record batches); anything else is reported as not
understood and the caller decides.

References: the Kafka protocol guide (Produce request/response schemas, KIP-482 flexible
versions from v9) and the record batch layout (KIP-98).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

PRODUCE = 0
MIN_VERSION = 3
"""First version whose requests carry record batches (magic 2) and a transactional id."""
MAX_VERSION = 11
FLEXIBLE_FROM = 9

_LAST_OFFSET_DELTA_AT = 23  # base offset 8, length 4, leader epoch 4, magic 1, crc 4, attrs 2
_MAGIC_AT = 16


class FrameError(ValueError):
    """A frame is shorter than its fields say, or has a layout this module does not read."""


@dataclass(frozen=True, slots=True)
class ProduceRequest:
    """What a Produce request asks for: its acks setting and records per partition."""

    acks: int
    counts: dict[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class PartitionAck:
    """One partition of a Produce response."""

    topic: str
    partition: int
    error_code: int
    base_offset: int


class _Cursor:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def _take(self, n: int) -> int:
        if n < 0 or self.pos + n > len(self.data):
            raise FrameError("truncated frame")
        at = self.pos
        self.pos += n
        return at

    def int16(self) -> int:
        return int(struct.unpack_from(">h", self.data, self._take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack_from(">i", self.data, self._take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack_from(">q", self.data, self._take(8))[0])

    def uvarint(self) -> int:
        shift = value = 0
        while True:
            byte = self.data[self._take(1)]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise FrameError("varint too long")

    def length(self, flexible: bool, *, wide: bool = False) -> int:
        """A (nullable) string, bytes or array length; -1 for null."""
        if flexible:
            return self.uvarint() - 1
        return self.int32() if wide else self.int16()

    def string(self, flexible: bool) -> str | None:
        n = self.length(flexible)
        if n < 0:
            return None
        at = self._take(n)
        return self.data[at : at + n].decode("utf-8", errors="replace")

    def skip_string(self, flexible: bool) -> None:
        n = self.length(flexible)
        if n > 0:
            self._take(n)

    def array(self, flexible: bool) -> int:
        n = self.uvarint() - 1 if flexible else self.int32()
        return max(n, 0)

    def bytes_(self, flexible: bool) -> bytes:
        n = self.length(flexible, wide=True)
        if n <= 0:
            return b""
        at = self._take(n)
        return self.data[at : at + n]

    def tags(self, flexible: bool) -> None:
        if not flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()  # tag
            self._take(self.uvarint())


def understood(version: int) -> bool:
    return MIN_VERSION <= version <= MAX_VERSION


def count_records(records: bytes) -> int:
    """Records in a sequence of v2 record batches, from each batch's last offset delta."""
    total = 0
    pos = 0
    while pos < len(records):
        if pos + _LAST_OFFSET_DELTA_AT + 4 > len(records):
            raise FrameError("truncated record batch")
        (length,) = struct.unpack_from(">i", records, pos + 8)
        if records[pos + _MAGIC_AT] != 2:
            raise FrameError(f"record batch magic {records[pos + _MAGIC_AT]}, not 2")
        (last_delta,) = struct.unpack_from(">i", records, pos + _LAST_OFFSET_DELTA_AT)
        total += last_delta + 1
        pos += 12 + length
    return total


def parse_request(frame: bytes) -> ProduceRequest:
    """A Produce request frame (without its size prefix, header included)."""
    cursor = _Cursor(frame)
    api_key, version = cursor.int16(), cursor.int16()
    if api_key != PRODUCE or not understood(version):
        raise FrameError(f"not a Produce request this module reads (key {api_key} v{version})")
    flexible = version >= FLEXIBLE_FROM
    cursor.int32()  # correlation id
    cursor.skip_string(flexible=False)  # client id: a plain string in every header version
    cursor.tags(flexible)
    cursor.skip_string(flexible)  # transactional id
    acks = cursor.int16()
    cursor.int32()  # timeout
    counts: dict[tuple[str, int], int] = {}
    for _ in range(cursor.array(flexible)):
        topic = cursor.string(flexible) or ""
        for _ in range(cursor.array(flexible)):
            partition = cursor.int32()
            records = cursor.bytes_(flexible)
            key = (topic, partition)
            counts[key] = counts.get(key, 0) + count_records(records)
            cursor.tags(flexible)
        cursor.tags(flexible)
    return ProduceRequest(acks, counts)


def parse_response(body: bytes, version: int) -> list[PartitionAck]:
    """A Produce response body (after the correlation id) of request version ``version``."""
    if not understood(version):
        raise FrameError(f"Produce v{version} is not read here")
    flexible = version >= FLEXIBLE_FROM
    cursor = _Cursor(body)
    cursor.tags(flexible)  # response header v1
    acks: list[PartitionAck] = []
    for _ in range(cursor.array(flexible)):
        topic = cursor.string(flexible) or ""
        for _ in range(cursor.array(flexible)):
            partition = cursor.int32()
            error_code = cursor.int16()
            base_offset = cursor.int64()
            cursor.int64()  # log append time
            if version >= 5:
                cursor.int64()  # log start offset
            if version >= 8:
                for _ in range(cursor.array(flexible)):
                    cursor.int32()  # batch index
                    cursor.skip_string(flexible)
                    cursor.tags(flexible)
                cursor.skip_string(flexible)  # error message
            cursor.tags(flexible)
            acks.append(PartitionAck(topic, partition, error_code, base_offset))
        cursor.tags(flexible)
    return acks
