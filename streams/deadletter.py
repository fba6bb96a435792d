"""Dead-letter records: what was rejected, why, and where it came from, so nothing is lost.

The original bytes are kept exactly (UTF-8 text when they decode, base64 otherwise) so that a
fixed validator or a corrected producer can re-drive them.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from vendorwatch.schemas.codec import InvalidEvent


def original_payload(value: bytes | None) -> dict[str, str]:
    """The rejected bytes in a JSON-safe, lossless form."""
    if value is None:
        return {"encoding": "none", "value": ""}
    try:
        return {"encoding": "utf-8", "value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "value": base64.b64encode(value).decode("ascii")}


def dead_letter(
    value: bytes | None,
    error: InvalidEvent,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    key: bytes | None,
    rejected_by: str,
) -> bytes:
    """The JSON record written to `vendorwatch.events.dlq` for one rejected message."""
    record: dict[str, Any] = {
        "reason": error.reason,
        "errors": [{"field": e.field, "message": e.message} for e in error.errors],
        "message": str(error),
        "origin": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp_ms": timestamp_ms,
            "key": original_payload(key) if key is not None else None,
        },
        "rejected_by": rejected_by,
        "original": original_payload(value),
    }
    return orjson.dumps(record)
