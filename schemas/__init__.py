"""vendorwatch's event model: CloudEvents envelope, typed payloads, versions and codecs."""

from vendorwatch.schemas.codec import (
    InvalidEvent,
    encode_event,
    event_to_dict,
    parse_event,
    validate_event,
)
from vendorwatch.schemas.events import EVENT_TYPES, Classification, Event

__all__ = [
    "EVENT_TYPES",
    "Classification",
    "Event",
    "InvalidEvent",
    "encode_event",
    "event_to_dict",
    "parse_event",
    "validate_event",
]
