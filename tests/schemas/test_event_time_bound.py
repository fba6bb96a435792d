"""The bound on event time (`check_event_time`): the one verdict on future-dated events.

Pure, so the boundary is tested exactly: `max_skew` seconds ahead of now is accepted, one second
more is refused with `time_in_future`, naming the field, the offending time and the limit. And
`parse_event` itself never judges time: replay and rebuild re-parse the history and must get the
same events whatever the clock says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from vendorwatch.schemas.codec import (
    InvalidEvent,
    RejectReason,
    check_event_time,
    parse_event,
)
from vendorwatch.schemas.events import Event

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


def dated(time_: str) -> Event:
    return parse_event(
        orjson.dumps(
            {
                "specversion": "1.0",
                "id": "t-1",
                "source": "urn:vendorwatch:tests",
                "type": "vendor.registered",
                "time": time_,
                "subject": "acme",
                "data": {"name": "Acme"},
            }
        )
    )


def test_exactly_the_skew_ahead_is_accepted() -> None:
    check_event_time(dated("2025-06-02T12:00:00Z"), NOW, DAY)


def test_one_second_beyond_the_skew_is_refused_naming_time_and_the_limit() -> None:
    with pytest.raises(InvalidEvent) as caught:
        check_event_time(dated("2025-06-02T12:00:01Z"), NOW, DAY)
    exc = caught.value
    assert exc.reason is RejectReason.TIME_IN_FUTURE
    assert exc.reason == "time_in_future"
    (error,) = exc.errors
    assert error.field == "time"
    assert "2025-06-02T12:00:01Z" in error.message  # the offending time, in UTC
    assert "2025-06-02T12:00:00Z" in error.message  # the latest accepted time
    assert "86400 s" in error.message
    assert str(exc).startswith("time: ")


def test_the_offset_a_producer_wrote_is_honoured() -> None:
    """Event times keep the producer's offset; the bound compares instants."""
    check_event_time(dated("2025-06-02T14:00:00+02:00"), NOW, DAY)  # 12:00Z: exactly the skew
    with pytest.raises(InvalidEvent):
        check_event_time(dated("2025-06-02T08:00:01-04:00"), NOW, DAY)  # 12:00:01Z


def test_the_past_and_the_present_are_always_accepted() -> None:
    check_event_time(dated("1999-01-01T00:00:00Z"), NOW, DAY)
    check_event_time(dated("2025-06-01T12:00:00Z"), NOW, 1.0)


def test_a_typo_dated_2052_is_refused_with_its_time() -> None:
    with pytest.raises(InvalidEvent, match=r"time: 2052-06-01T12:00:00Z is in the future"):
        check_event_time(dated("2052-06-01T12:00:00Z"), NOW, DAY)


def test_parse_event_does_not_judge_time() -> None:
    """Replay re-parses the history; a bound inside the parser would re-judge it."""
    assert dated("2052-06-01T12:00:00Z").subject == "acme"
