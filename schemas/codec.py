"""Bytes <-> events, with errors a producer can act on.

`parse_event` is the one door into the domain: JSON decoding (orjson), upcasting of older schema
versions, then validation against the discriminated union. Every failure becomes an
`InvalidEvent` whose message names the field (`data.stake_pct: ...`) and whose `reason` is a small
closed set suitable for a metrics label and the dead-letter record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from vendorwatch.schemas.events import EVENT_TYPES, Event
from vendorwatch.schemas.versions import UpcastError, upcast

MAX_EVENT_BYTES = 256 * 1024
"""An event larger than this is rejected before decoding: payloads are small by design."""

RejectReason = Literal["invalid_json", "schema", "unknown_type", "too_large", "upcast_failed"]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of an event."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class InvalidEvent(ValueError):
    """Input that is not a valid vendorwatch event; `reason` is a stable machine-readable code."""

    def __init__(self, reason: RejectReason, errors: list[FieldError]) -> None:
        self.reason: RejectReason = reason
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _field_path(loc: tuple[int | str, ...], tagged: bool) -> str:
    # In a discriminated union pydantic puts the tag first: ('person.moved', 'data', 'role').
    parts = loc[1:] if tagged and loc and loc[0] in EVENT_TYPES else loc
    return ".".join(str(p) for p in parts)


def _from_validation_error(exc: ValidationError) -> InvalidEvent:
    errors: list[FieldError] = []
    reason: RejectReason = "schema"
    for err in exc.errors(include_url=False, include_input=False):
        kind = err["type"]
        if kind == "union_tag_invalid":
            reason = "unknown_type"
            tag = err.get("ctx", {}).get("tag", "?")
            errors.append(FieldError("type", f"unknown event type {tag!r}"))
        elif kind == "union_tag_not_found":
            errors.append(FieldError("type", "field required"))
        elif kind == "extra_forbidden":
            errors.append(FieldError(_field_path(err["loc"], True), "unknown field"))
        else:
            errors.append(FieldError(_field_path(err["loc"], True), err["msg"]))
    return InvalidEvent(reason, errors)


def validate_event(raw: Any) -> Event:
    """Validate an already-decoded JSON value (a dict) as an event, upcasting old versions."""
    if not isinstance(raw, dict):
        raise InvalidEvent("schema", [FieldError("", "an event must be a JSON object")])
    try:
        raw = upcast(raw)
    except UpcastError as exc:
        raise InvalidEvent("upcast_failed", [FieldError("dataschema", str(exc))]) from None
    try:
        return EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None


def parse_event(data: bytes | bytearray | memoryview | str) -> Event:
    """Decode and validate one event from JSON text."""
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            "too_large", [FieldError("", f"event is larger than {MAX_EVENT_BYTES} bytes")]
        )
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent("invalid_json", [FieldError("", f"invalid JSON: {exc}")]) from None
    return validate_event(raw)


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON form of an event, without unset optional attributes."""
    return event.model_dump(mode="json", exclude_none=True)


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes of an event: what goes on `vendorwatch.events` and into exports."""
    return orjson.dumps(event_to_dict(event))
