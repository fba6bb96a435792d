"""The Produce frames the durable proxy reads, as real clients encode them.

kafka-python encodes the requests and responses (every version the proxy claims, flexible or
not) and aiokafka builds the record batches, so the parser is checked against two independent
implementations of the protocol rather than against bytes written by hand.
"""

from __future__ import annotations

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from kafka.protocol.producer import ProduceRequest, ProduceResponse

from vendorwatch.streams.embedded import produce_frames
from vendorwatch.streams.embedded.produce_frames import FrameError

TopicData = ProduceRequest.TopicProduceData
PartitionData = TopicData.PartitionProduceData
TopicResponse = ProduceResponse.TopicProduceResponse
PartitionResponse = TopicResponse.PartitionProduceResponse
BatchError = PartitionResponse.BatchIndexAndErrorMessage

VERSIONS = range(produce_frames.MIN_VERSION, produce_frames.MAX_VERSION + 1)


def batch(records: int, base_offset: int = 0) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i in range(records):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=b"k", value=b"v" * i, headers=[])
    data = bytearray(builder.build())
    data[0:8] = base_offset.to_bytes(8, "big")
    return bytes(data)


def request_frame(version: int, acks: int, topics: dict[str, dict[int, bytes | None]]) -> bytes:
    request = ProduceRequest(
        version=version,
        transactional_id=None,
        acks=acks,
        timeout_ms=30_000,
        topic_data=[
            TopicData(
                name=name,
                partition_data=[PartitionData(index=p, records=data) for p, data in parts.items()],
            )
            for name, parts in topics.items()
        ],
    )
    request.with_header(correlation_id=7, client_id="vendorwatch-test")
    return bytes(request.encode(header=True))


def response_body(version: int, rows: list[tuple[str, int, int, int]]) -> bytes:
    by_topic: dict[str, list[object]] = {}
    for topic, partition, error, base in rows:
        by_topic.setdefault(topic, []).append(
            PartitionResponse(
                index=partition,
                error_code=error,
                base_offset=base,
                record_errors=[BatchError(batch_index=0, batch_index_error_message="x")]
                if error
                else [],
                error_message="failed" if error else None,
            )
        )
    response = ProduceResponse(
        version=version,
        responses=[TopicResponse(name=t, partition_responses=ps) for t, ps in by_topic.items()],
        throttle_time_ms=0,
    )
    response.with_header(correlation_id=7)
    return bytes(response.encode(header=True))[4:]  # after the correlation id


@pytest.mark.parametrize("version", VERSIONS)
def test_request_counts_records_per_partition_over_several_batches(version: int) -> None:
    frame = request_frame(
        version,
        -1,
        {
            "vendorwatch.events.raw": {0: batch(3) + batch(5), 2: batch(1)},
            "vendorwatch.silences": {1: batch(4)},
        },
    )
    parsed = produce_frames.parse_request(frame)
    assert parsed.acks == -1
    assert parsed.counts == {
        ("vendorwatch.events.raw", 0): 8,
        ("vendorwatch.events.raw", 2): 1,
        ("vendorwatch.silences", 1): 4,
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_response_gives_each_partition_its_error_and_base_offset(version: int) -> None:
    rows = [("vendorwatch.events.raw", 0, 0, 1234), ("vendorwatch.events.raw", 2, 0, 0)]
    rows.append(("vendorwatch.silences", 1, 6, -1))
    acks = produce_frames.parse_response(response_body(version, rows), version)
    assert [(a.topic, a.partition, a.error_code, a.base_offset) for a in acks] == rows


def test_acks_zero_and_null_records_are_read() -> None:
    parsed = produce_frames.parse_request(request_frame(7, 0, {"t": {0: None}}))
    assert parsed.acks == 0
    assert parsed.counts == {("t", 0): 0}


@pytest.mark.parametrize("version", [2, produce_frames.MAX_VERSION + 1])
def test_versions_outside_the_known_range_are_refused(version: int) -> None:
    with pytest.raises(FrameError):
        produce_frames.parse_response(b"", version)


def test_a_truncated_request_is_an_error_not_a_wrong_count() -> None:
    frame = request_frame(9, -1, {"t": {0: batch(3)}})
    with pytest.raises(FrameError):
        produce_frames.parse_request(frame[:-10])


def test_a_legacy_message_set_is_refused() -> None:
    legacy = bytearray(batch(2))
    legacy[16] = 1  # magic 1: a message set, whose records this module does not count
    with pytest.raises(FrameError, match="magic"):
        produce_frames.count_records(bytes(legacy))
