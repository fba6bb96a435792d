"""Each trick in `schemas._fast` gives exactly what the plain API gives, on generated events."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings

from tests.examples import examples
from tests.strategies import events, raw_events
from vendorwatch.schemas import Event
from vendorwatch.schemas._fast import dump_json, json_validator, unix_seconds
from vendorwatch.schemas.codec import EVENT_ADAPTER
from vendorwatch.schemas.events import iso

SETTINGS = settings(max_examples=examples(200), deadline=None)


@SETTINGS
@given(event=events())
def test_unix_seconds_is_timestamp(event: Event) -> None:
    assert unix_seconds(event.time) == event.time.timestamp()


@SETTINGS
@given(event=events())
def test_dump_json_is_model_dump_then_json(event: Event) -> None:
    plain = orjson.loads(event.model_dump_json(exclude_none=True))
    assert orjson.loads(dump_json(event, exclude_none=True)) == plain
    assert dump_json(event, exclude_none=True) == event.model_dump_json(exclude_none=True).encode()


@SETTINGS
@given(raw=raw_events())
def test_json_validator_is_validate_json(raw: dict[str, object]) -> None:
    text = orjson.dumps(raw)
    assert json_validator(EVENT_ADAPTER)(text) == EVENT_ADAPTER.validate_json(text)


def test_iso_writes_utc_with_a_z_from_seconds_or_datetimes() -> None:
    moment = datetime(2025, 6, 1, 12, tzinfo=UTC)
    assert iso(moment.timestamp()) == iso(moment) == "2025-06-01T12:00:00Z"
    assert iso(None) is None
