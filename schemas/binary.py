"""CloudEvents binary content mode on Kafka: attributes in `ce_*` headers, the data as the value.

Many CloudEvents SDKs send binary mode by default. A raw-topic message that carries any `ce_`
header is read this way: every `ce_<attribute>` header becomes that attribute, a
`content-type` header becomes `datacontenttype` (only JSON is accepted: vendorwatch's payloads
are JSON objects), and the value is the JSON `data`. The event so built is validated exactly like
a structured one (`validate_event`), so both modes accept and refuse the same events and the
history holds the one canonical structured form. A message without `ce_` headers is structured
JSON and goes to `parse_event` as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from vendorwatch.schemas.codec import (
    MAX_EVENT_BYTES,
    FieldError,
    InvalidEvent,
    RejectReason,
    parse_event,
    validate_event,
)
from vendorwatch.schemas.events import Event

CE_PREFIX = "ce_"
CONTENT_TYPE_HEADER = "content-type"
JSON_MEDIA_TYPE = "application/json"
MAX_HEADER_BYTES = 1024
"""A binary-mode attribute longer than this is refused: the envelope's longest is 512 chars."""

Headers = Sequence[tuple[str, bytes | None]]


def is_binary(headers: Headers) -> bool:
    """True when a message is in binary content mode (it has at least one `ce_` header)."""
    return any(name.lower().startswith(CE_PREFIX) for name, _ in headers)


def binary_headers(headers: Headers) -> list[tuple[str, bytes | None]]:
    """The headers that carry a binary-mode event (`ce_*` and `content-type`), in order: what a
    dead-letter record keeps so that the event can be re-driven."""
    return [
        (name, value)
        for name, value in headers
        if name.lower().startswith(CE_PREFIX) or name.lower() == CONTENT_TYPE_HEADER
    ]


def _schema_error(field: str, message: str) -> InvalidEvent:
    return InvalidEvent(RejectReason.SCHEMA, [FieldError(field, message)])


def _attributes(headers: Headers) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, value in binary_headers(headers):
        lowered = name.lower()
        attribute = (
            "datacontenttype" if lowered == CONTENT_TYPE_HEADER else lowered[len(CE_PREFIX) :]
        )
        if attribute in ("", "data"):
            raise _schema_error(name, "not a CloudEvents attribute header")
        if value is None or len(value) > MAX_HEADER_BYTES:
            raise _schema_error(
                attribute, f"header {name} is empty or over {MAX_HEADER_BYTES} bytes"
            )
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            raise _schema_error(attribute, f"header {name} is not UTF-8") from None
        if attribute in attributes:
            raise _schema_error(attribute, f"header {name} appears more than once")
        attributes[attribute] = text
    content_type = attributes.get("datacontenttype")
    if content_type is not None:
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != JSON_MEDIA_TYPE:
            raise _schema_error(
                "datacontenttype", f"binary mode carries JSON data only, not {content_type!r}"
            )
        attributes["datacontenttype"] = JSON_MEDIA_TYPE
    return attributes


def parse_binary_event(headers: Headers, value: bytes | None) -> Event:
    """Build and validate the event of a binary-mode message; `InvalidEvent` if it is none."""
    if value is None:
        raise _schema_error("data", "a binary-mode event needs its JSON data as the value")
    if len(value) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            RejectReason.TOO_LARGE,
            [FieldError("", f"event is larger than {MAX_EVENT_BYTES} bytes")],
        )
    attributes = _attributes(headers)
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(
            RejectReason.INVALID_JSON, [FieldError("data", f"invalid JSON: {exc}")]
        ) from None
    return validate_event({**attributes, "data": data})


def parse_message(value: bytes | None, headers: Headers = ()) -> Event:
    """The event of a raw-topic message in either content mode (see the module docstring)."""
    if headers and is_binary(headers):
        return parse_binary_event(headers, value)
    if value is None:
        raise _schema_error("", "the message has no value (a tombstone is not an event)")
    return parse_event(value)
