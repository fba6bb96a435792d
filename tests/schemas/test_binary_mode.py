"""CloudEvents binary content mode (`ce_*` headers + JSON data): the same events as structured
mode, built with the CloudEvents SDK's own Kafka binding, and clear refusals for the rest."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent

from tests.schemas.event_examples import example
from vendorwatch.schemas import EVENT_TYPES
from vendorwatch.schemas.binary import binary_headers, is_binary, parse_binary_event, parse_message
from vendorwatch.schemas.codec import MAX_EVENT_BYTES, InvalidEvent, parse_event


def sdk_message(event: dict[str, Any]) -> tuple[list[tuple[str, bytes]], bytes]:
    """The Kafka headers and value the CloudEvents SDK sends for `event` in binary mode."""
    attributes = {k: v for k, v in event.items() if k != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"].replace("Z", "+00:00"))
    message = ce_kafka.to_binary_event(CloudEvent(attributes=attributes, data=event["data"]))
    return list(message.headers.items()), message.value


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_an_sdk_binary_event_is_the_same_event_as_its_structured_form(event_type: str) -> None:
    structured = example(event_type)
    headers, value = sdk_message(structured)
    assert is_binary(headers)
    assert any(name == "ce_type" for name, _ in headers)
    assert parse_message(value, headers) == parse_event(orjson.dumps(structured))


def test_a_structured_message_is_read_as_before() -> None:
    structured = orjson.dumps(example("data.shared"))
    assert parse_message(structured, [("vw-produced-ms", b"1")]) == parse_event(structured)


def test_a_content_type_with_parameters_is_json() -> None:
    headers, value = sdk_message(example("vendor.registered"))
    headers = [(n, v) for n, v in headers if n != "content-type"]
    event = parse_binary_event(
        [*headers, ("content-type", b"application/json; charset=utf-8")], value
    )
    assert event.datacontenttype == "application/json"


def base() -> tuple[list[tuple[str, bytes]], bytes]:
    return sdk_message(example("data.shared"))


def replace(headers: list[tuple[str, bytes]], name: str, value: bytes | None) -> list[Any]:
    return [(n, value if n == name else v) for n, v in headers]


@pytest.mark.parametrize(
    ("mutate", "reason", "words"),
    [
        (lambda h, v: (h, b"{not json"), "invalid_json", "data: invalid JSON"),
        (lambda h, v: (h, None), "schema", "needs its JSON data"),
        (lambda h, v: (h, b" " * (MAX_EVENT_BYTES + 1)), "too_large", "larger than"),
        (
            lambda h, v: (replace(h, "ce_type", b"vendor.exploded"), v),
            "unknown_type",
            "unknown event type",
        ),
        (lambda h, v: (replace(h, "ce_subject", b"\xff\xfe"), v), "schema", "not UTF-8"),
        (lambda h, v: (replace(h, "content-type", b"text/plain"), v), "schema", "JSON data only"),
        (lambda h, v: ([*h, ("ce_id", b"again")], v), "schema", "more than once"),
        (lambda h, v: ([*h, ("ce_data", b"{}")], v), "schema", "not a CloudEvents attribute"),
        (lambda h, v: ([*h, ("ce_colour", b"red")], v), "schema", "colour: unknown field"),
        (lambda h, v: ([(n, x) for n, x in h if n != "ce_id"], v), "schema", "id: Field required"),
        (lambda h, v: (h, b"[1, 2]"), "schema", "data"),
        (lambda h, v: (replace(h, "ce_source", b"x" * 2000), v), "schema", "over 1024 bytes"),
    ],
)
def test_bad_binary_events_are_refused_with_a_reason(mutate: Any, reason: str, words: str) -> None:
    headers, value = mutate(*base())
    with pytest.raises(InvalidEvent) as info:
        parse_message(value, headers)
    assert info.value.reason == reason
    assert words in str(info.value)


def test_a_tombstone_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidEvent, match="no value"):
        parse_message(None, [])


def test_the_dead_letter_keeps_only_the_event_headers() -> None:
    headers, _ = base()
    kept = binary_headers([*headers, ("traceparent", b"00-x"), ("vw-produced-ms", b"1")])
    assert kept == headers
