"""The event model: every type round-trips, bounds hold, and errors name the offending field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pydantic
import pytest

from tests.schemas.event_examples import PAYLOADS, example
from vendorwatch.schemas import EVENT_TYPES, InvalidEvent, encode_event, parse_event
from vendorwatch.schemas.codec import MAX_EVENT_BYTES, event_to_dict


def dumps(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def rejection(event: dict[str, Any] | bytes) -> InvalidEvent:
    raw = event if isinstance(event, bytes) else dumps(event)
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return info.value


def test_the_examples_cover_every_event_type() -> None:
    assert set(PAYLOADS) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 18


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_type_round_trips_through_its_json_form(event_type: str) -> None:
    raw = example(event_type)
    event = parse_event(dumps(raw))
    assert event.type == event_type
    assert isinstance(event, EVENT_TYPES[event_type])
    encoded = encode_event(event)
    again = parse_event(encoded)
    assert again == event
    assert encode_event(again) == encoded  # the encoding is canonical: a fixed point
    # With every optional field set, nothing is lost or invented on the way.
    assert orjson.loads(encoded) == raw


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_minimal_events_round_trip_with_defaults_filled_in(event_type: str) -> None:
    required = {
        name
        for name, info in EVENT_TYPES[event_type]
        .model_fields["data"]
        .annotation.model_fields.items()  # type: ignore[union-attr]
        if info.is_required()
    }
    raw = example(event_type)
    raw["data"] = {k: v for k, v in raw["data"].items() if k in required}
    del raw["datacontenttype"]
    event = parse_event(dumps(raw))
    assert parse_event(encode_event(event)) == event
    assert "datacontenttype" not in event_to_dict(event)  # unset optionals are omitted


def test_event_time_is_an_instant_written_in_utc() -> None:
    event = parse_event(dumps(example("client.paused", time="2025-06-12T16:00:00+02:00")))
    same = parse_event(dumps(example("client.paused", time="2025-06-12T14:00:00Z")))
    assert event.time == datetime(2025, 6, 12, 14, tzinfo=UTC)
    assert event.time.timestamp() == same.time.timestamp()
    assert event == same, "equal instants make equal events, whatever offset was written"
    assert encode_event(event) == encode_event(same)
    assert orjson.loads(encode_event(event))["time"] == "2025-06-12T14:00:00Z"
    assert event_to_dict(event)["time"] == "2025-06-12T14:00:00Z"


def test_events_are_immutable() -> None:
    event = parse_event(dumps(example("person.moved")))
    with pytest.raises(pydantic.ValidationError):
        event.data.to_org = "OpenAI"  # type: ignore[misc]


BAD_VALUES: list[tuple[str, str, Any]] = [
    # (event type, dotted field, bad value)
    ("vendor.registered", "data.name", ""),
    ("vendor.registered", "data.name", "x" * 201),
    ("vendor.registered", "data.aliases", ["a"] * 21),
    ("vendor.alias_added", "data.alias", "   "),  # stripped, then too short
    ("data.shared", "data.records", -1),
    ("data.shared", "data.records", 10**12 + 1),
    ("data.shared", "data.classification", "secret"),
    ("data.shared", "data.dataset", "has space"),
    ("data.shared", "data.description", "x" * 4001),
    ("ownership.stake_acquired", "data.stake_pct", -0.1),
    ("ownership.stake_acquired", "data.stake_pct", 100.01),
    ("ownership.stake_acquired", "data.stake_pct", "Infinity"),
    ("ownership.stake_acquired", "data.amount_usd", -1.0),
    ("ownership.stake_acquired", "data.board_seats", 51),
    ("ownership.acquired", "data.amount_usd", 1e15),
    ("funding.round", "data.amount_usd", -5),
    ("funding.round", "data.investors", ["Accel"] * 51),
    ("funding.round", "data.valuation_usd", -1),
    ("person.moved", "data.seniority", "intern"),
    ("person.moved", "data.to_org", ""),
    ("security.incident", "data.severity", "apocalyptic"),
    ("security.incident", "data.records_exposed", -3),
    ("workforce.changed", "data.remote_share_pct", 100.5),
    ("workforce.changed", "data.period_days", 0),
    ("workforce.changed", "data.contractors_added", 10**9 + 1),
    ("demand.changed", "data.factor", 0),
    ("demand.changed", "data.factor", 1001),
    ("vendor.statement", "data.kind", "promise"),
    ("vendor.statement", "data.text", "x" * 4001),
    ("client.paused", "id", "has space"),
    ("client.paused", "id", "x" * 129),
    ("client.paused", "id", ""),
    ("client.paused", "source", ""),
    ("client.paused", "source", "s" * 513),
    ("client.paused", "subject", "Scale AI"),
    ("client.paused", "subject", "-scale"),
    ("client.paused", "specversion", "0.3"),
    ("client.paused", "time", "2025-06-12T14:00:00"),  # naive: no offset
    ("client.paused", "time", "yesterday"),
    ("client.paused", "datacontenttype", "text/plain"),
    ("client.paused", "dataschema", "u" * 513),
]


@pytest.mark.parametrize(("event_type", "field", "value"), BAD_VALUES)
def test_out_of_bounds_values_are_rejected_naming_the_field(
    event_type: str, field: str, value: Any
) -> None:
    raw = example(event_type)
    if field.startswith("data."):
        raw["data"][field.removeprefix("data.")] = value
    else:
        raw[field] = value
    error = rejection(raw)
    assert error.reason == "schema"
    assert [e.field for e in error.errors] == [field]
    assert str(error).startswith(f"{field}: ")


def test_bounds_are_inclusive_where_the_model_says_so() -> None:
    for pct in (0, 100):
        raw = example("ownership.stake_acquired")
        raw["data"]["stake_pct"] = pct
        assert parse_event(dumps(raw)).data.stake_pct == pct  # type: ignore[union-attr]
    raw = example("data.shared")
    raw["data"]["records"] = 0
    assert parse_event(dumps(raw)).data.records == 0  # type: ignore[union-attr]


def test_missing_required_fields_are_named() -> None:
    raw = example("person.moved")
    del raw["data"]["role"]
    del raw["subject"]
    error = rejection(raw)
    assert {e.field for e in error.errors} == {"data.role", "subject"}
    assert all(e.message == "Field required" for e in error.errors)


def test_an_unknown_type_is_rejected_with_its_name() -> None:
    error = rejection(example("client.paused", type="client.kidnapped"))
    assert error.reason == "unknown_type"
    assert [e.field for e in error.errors] == ["type"]
    assert "client.kidnapped" in str(error)


def test_a_missing_type_is_named() -> None:
    raw = example("client.paused")
    del raw["type"]
    error = rejection(raw)
    assert error.reason == "schema"
    assert str(error) == "type: field required"


@pytest.mark.parametrize("where", ["envelope", "data"])
def test_extra_fields_are_rejected_naming_the_field(where: str) -> None:
    raw = example("ownership.stake_acquired")
    if where == "envelope":
        raw["partitionkey"] = "x"
        expected = "partitionkey"
    else:
        raw["data"]["stake"] = 0.49  # a v1 field in a current event
        expected = "data.stake"
    error = rejection(raw)
    assert error.reason == "schema"
    assert str(error) == f"{expected}: unknown field"


def test_a_payload_of_another_type_is_rejected() -> None:
    raw = example("client.paused")
    raw["data"] = PAYLOADS["person.moved"]
    error = rejection(raw)
    assert "data.client" in {e.field for e in error.errors}
    assert "data.person: unknown field" in str(error)


@pytest.mark.parametrize(
    ("raw", "reason", "message"),
    [
        (b"{not json", "invalid_json", "invalid JSON"),
        (b"", "invalid_json", "invalid JSON"),
        (b"[1, 2]", "schema", "an event must be a JSON object"),
        (b'"an event"', "schema", "an event must be a JSON object"),
        (b'{"id": NaN}', "invalid_json", "invalid JSON"),
    ],
)
def test_input_that_is_not_an_event_object(raw: bytes, reason: str, message: str) -> None:
    error = rejection(raw)
    assert error.reason == reason
    assert message in str(error)


def test_oversized_input_is_rejected_before_decoding() -> None:
    raw = example("vendor.statement")
    raw["data"]["text"] = "x" * (MAX_EVENT_BYTES + 1)
    error = rejection(raw)
    assert error.reason == "too_large"


def test_text_input_is_accepted_like_bytes() -> None:
    raw = dumps(example("security.incident"))
    assert parse_event(raw.decode()) == parse_event(raw) == parse_event(bytearray(raw))
    assert parse_event(memoryview(raw)) == parse_event(raw)
