"""`ingest_lines` without a broker: which lines are sent, which are reported, and how.

The producer is a list-backed stand-in with kafka-python's shape (send -> future, flush), so the
line checking, including the bound on event time, runs in milliseconds; sending to a real broker
is covered by the integration tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from vendorwatch.schemas.codec import encode_event, parse_event
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.kafka_io.ingest import ingest_lines

NOW = 1_760_000_000.0  # 2025-10-09


class Sent:
    """A kafka-python future that has already succeeded."""

    def get(self, timeout: float | None = None) -> None:
        return None


@dataclass
class ListProducer:
    """Records what would have been sent, in order."""

    records: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)
    flushed: int = 0

    def send(self, topic: str, *, key: bytes | None = None, value: bytes) -> Sent:
        self.records.append((topic, key, value))
        return Sent()

    def flush(self, timeout: float | None = None) -> None:
        self.flushed += 1


def line(event_id: str, time_: str, vendor: str = "acme") -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "urn:vendorwatch:tests",
            "type": "vendor.registered",
            "time": time_,
            "subject": vendor,
            "data": {"name": vendor.title()},
        }
    )


LINES = [
    line("ok-1", "2025-06-01T00:00:00Z"),
    b"",
    line("typo-2052", "2052-06-01T00:00:00Z"),
    line("ok-2", "2025-06-02T00:00:00Z"),
]


def ingest(**kwargs: Any) -> tuple[Any, ListProducer]:
    producer = ListProducer()
    report = ingest_lines(producer, LINES, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]
    return report, producer


def test_a_future_dated_line_is_reported_with_its_line_and_field_and_not_sent() -> None:
    report, producer = ingest()
    assert report.sent == 2
    (error,) = report.rejected
    assert error.line == 3
    assert error.reason == "time_in_future"
    assert str(error).startswith("line 3: time: 2052-06-01T00:00:00Z is in the future")
    assert [(t, k) for t, k, _ in producer.records] == [(topics.RAW, b"acme")] * 2
    sent_ids = [orjson.loads(v)["id"] for _, _, v in producer.records]
    assert sent_ids == ["ok-1", "ok-2"]


def test_the_skew_is_the_callers() -> None:
    report, _ = ingest(max_future_skew=1e12)  # ~31,700 years: nothing is too far ahead
    assert report.sent == 3
    assert report.rejected == []


def test_raw_sends_every_line_untouched_for_the_worker_to_judge() -> None:
    report, producer = ingest(raw=True)
    assert report.sent == 3
    assert report.rejected == []
    assert [v for _, _, v in producer.records] == [LINES[0], LINES[2], LINES[3]]


def test_history_loading_is_judged_too() -> None:
    """--history skips the worker, and the history holds only accepted events."""
    report, producer = ingest(history=True)
    assert [e.reason for e in report.rejected] == ["time_in_future"]
    assert [t for t, _, _ in producer.records] == [topics.EVENTS] * 2
    assert producer.records[0][2] == encode_event(parse_event(LINES[0]))
