"""Bytes <-> events, with errors a producer can act on.

`parse_event` is the one door into the domain: JSON decoding (orjson), upcasting of older schema
versions, then validation against the discriminated union. Every failure becomes an
`InvalidEvent` whose message names the field (`data.stake_pct: ...`) and whose `reason` is a small
closed set suitable for a metrics label and the dead-letter record.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from vendorwatch.schemas._fast import dump_json, json_validator
from vendorwatch.schemas.events import EVENT_TYPES, Event, iso, unix_seconds
from vendorwatch.schemas.versions import CURRENT_VERSIONS, UpcastError, dataschema_for, upcast

MAX_EVENT_BYTES = 256 * 1024
"""An event larger than this is rejected before decoding: payloads are small by design."""


class RejectReason(StrEnum):
    """Why an input is not an event: the one closed list of reasons.

    It is the `reason` of the dead-letter record and the label of
    `vendorwatch_events_rejected_total` (streams/worker/metrics.py uses this class), so the set
    is small and fixed; the detail (which field, what is wrong) goes into the errors instead.
    """

    INVALID_JSON = "invalid_json"
    SCHEMA = "schema"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "too_large"
    UPCAST_FAILED = "upcast_failed"
    TIME_IN_FUTURE = "time_in_future"


EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
_validate_json = json_validator(EVENT_ADAPTER)
"""`parse_event` runs for each of a million events of a fold: the validator without wrapper."""
CURRENT_DATASCHEMAS: dict[str, str] = {t: dataschema_for(t) for t in CURRENT_VERSIONS}
"""CloudEvents `type` -> the `dataschema` URN of its current version."""


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
    reason = RejectReason.SCHEMA
    for err in exc.errors(include_url=False, include_input=False):
        kind = err["type"]
        if kind == "union_tag_invalid":
            reason = RejectReason.UNKNOWN_TYPE
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
        raise InvalidEvent(RejectReason.SCHEMA, [FieldError("", "an event must be a JSON object")])
    try:
        raw = upcast(raw)
    except UpcastError as exc:
        raise InvalidEvent(
            RejectReason.UPCAST_FAILED, [FieldError("dataschema", str(exc))]
        ) from None
    try:
        return EVENT_ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise _from_validation_error(exc) from None


def parse_event(data: bytes | bytearray | memoryview | str) -> Event:
    """Decode and validate one event from JSON text.

    The common case takes one step: pydantic validates the JSON text directly, without first
    building Python dicts (about a third of the cost of the event). Anything else takes the
    general path, `orjson.loads` then `validate_event`, which upcasts older schema versions and
    words the errors: input that fails the direct validation, and events that declare a
    vendorwatch schema version other than the current one. Both paths accept the same events
    and build the same models (tests/schemas/test_codec_properties.py holds them to it).
    """
    if len(data) > MAX_EVENT_BYTES:
        raise InvalidEvent(
            RejectReason.TOO_LARGE,
            [FieldError("", f"event is larger than {MAX_EVENT_BYTES} bytes")],
        )
    if isinstance(data, memoryview):
        data = data.tobytes()
    try:
        event: Event = _validate_json(data)
    except ValidationError:
        return _decode_and_validate(data)
    dataschema = event.dataschema
    if dataschema is not None and dataschema != CURRENT_DATASCHEMAS[event.type]:
        return _decode_and_validate(data)  # an explicit version: the upcaster decides
    return event


def _decode_and_validate(data: bytes | bytearray | str) -> Event:
    """The general path: orjson, then upcasting and validation with field-named errors."""
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(
            RejectReason.INVALID_JSON, [FieldError("", f"invalid JSON: {exc}")]
        ) from None
    return validate_event(raw)


def check_event_time(event: Event, now: float, max_skew: float) -> None:
    """Refuse an event dated more than `max_skew` seconds after `now` (unix seconds).

    The fold scores "as of" the latest event time it has seen, so one event from the future (a
    typo: 2052 for 2025) would leave its vendor scored as of that future for good. The verdict
    is taken once, where input is validated (the score step, `POST /events`, `ingest`), with the
    caller's clock; it is deliberately not part of `parse_event`, because replay and rebuild
    re-parse the history, which holds only accepted events, and must never judge it again
    against a later clock (replay stays deterministic). Exactly `max_skew` ahead is accepted.
    """
    limit = now + max_skew
    if unix_seconds(event.time) > limit:
        raise InvalidEvent(
            RejectReason.TIME_IN_FUTURE,
            [
                FieldError(
                    "time",
                    f"{iso(event.time)} is in the future: more than {max_skew:g} s after "
                    f"now ({iso(now)}); the latest accepted time is {iso(limit)}",
                )
            ],
        )


def event_to_dict(event: Event) -> dict[str, Any]:
    """The JSON form of an event, without unset optional attributes."""
    return event.model_dump(mode="json", exclude_none=True)


def encode_event(event: Event) -> bytes:
    """Canonical JSON bytes of an event (unset optional attributes left out): what goes on
    `vendorwatch.events` and into exports. Once per event in the worker, hence `dump_json`."""
    return dump_json(event, exclude_none=True)
