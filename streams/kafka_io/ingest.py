"""`vendorwatch ingest`: send an event file to Kafka with kafka-python.

Valid events go to `vendorwatch.events.raw` in canonical form, keyed by vendor id (so one
vendor's events stay in one partition, in order); the worker that owns that partition writes
them to the history (`vendorwatch.events`) and scores them, as it does for any producer: it is
the only writer of the history (streams/worker/app.py says why). Invalid lines are reported with
their
line number and not sent, unless `raw` is set, in which case every line goes to the raw topic
untouched (keyed by the vendor id it claims, if any) and the worker sorts them (the DLQ gets the
bad ones, with the reason). With `history` set, valid events go straight to the history, for
loading an exported history while no worker runs (the CLI checks that).

An event dated more than `max_future_skew` seconds past the wall clock is an invalid line too
(`time_in_future`), as the worker would judge it; with `history` as well, since that path skips
the worker and the history must hold only accepted events. (An event the worker once accepted
is never refused here later: the wall clock only moves on.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson
from kafka import KafkaProducer

from vendorwatch.schemas.codec import InvalidEvent, check_event_time, encode_event, parse_event
from vendorwatch.streams.eventfile import LineError, iter_lines
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.settings import DEFAULT_MAX_FUTURE_SKEW


@dataclass(slots=True)
class IngestReport:
    """What an ingest run did."""

    sent: int = 0
    rejected: list[LineError] = field(default_factory=list)
    topic: str = topics.RAW


def make_producer(bootstrap_servers: str) -> KafkaProducer:
    """A producer tuned for throughput: batches of up to 256 KiB, 5 ms linger, all acks."""
    return KafkaProducer(
        bootstrap_servers=bootstrap_servers.split(","),
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        retries=5,
        client_id="vendorwatch-ingest",
        # a command line waits 10 s for an unreachable broker, not kafka-python's 30 s
        bootstrap_timeout_ms=10_000,
    )


def _claimed_subject(line: bytes) -> bytes | None:
    """The vendor id a raw line claims, as its key, so one vendor's lines stay in one raw
    partition and reach the validator in file order (as the demo loader and the README's kcat
    example key them); None for lines that are not a JSON object with a string subject."""
    try:
        subject = orjson.loads(line).get("subject")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return subject.encode() if isinstance(subject, str) and subject else None


def ingest_lines(
    producer: KafkaProducer,
    lines: Iterable[bytes],
    *,
    raw: bool = False,
    history: bool = False,
    on_line: Callable[[int], None] | None = None,
    max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW,
    clock: Callable[[], float] = time.time,
) -> IngestReport:
    """Send every line; returns counts. Flushes before returning, so 'sent' means acknowledged.

    `clock` (the wall clock; injectable for tests) is read once per line, so a long file is
    judged against the time each line is sent, as the worker would judge it on arrival."""
    report = IngestReport(topic=topics.EVENTS if history else topics.RAW)
    futures = []
    for number, line in iter_lines(lines):
        if on_line is not None:
            on_line(len(line) + 1)
        if raw:
            futures.append(producer.send(topics.RAW, key=_claimed_subject(line), value=line))
            continue
        try:
            event = parse_event(line)
            check_event_time(event, clock(), max_future_skew)
        except InvalidEvent as exc:
            report.rejected.append(LineError(number, exc.reason, str(exc)))
            continue
        futures.append(
            producer.send(report.topic, key=event.subject.encode(), value=encode_event(event))
        )
    producer.flush()
    for future in futures:
        future.get(timeout=30)  # raises if the broker refused a record
    report.sent = len(futures)
    return report
