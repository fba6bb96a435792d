"""Dead-letter records: what was rejected, why, and where it came from, so nothing is lost.

The original bytes are kept exactly (UTF-8 text when they decode, base64 otherwise) so that a
fixed validator or a corrected producer can re-drive them.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Sequence
from typing import Any

import orjson

from vendorwatch.schemas.codec import MAX_EVENT_BYTES, InvalidEvent

MAX_LOGGED_ID_CHARS = 200
"""Ids taken from rejected input are cut to this length: they come from untrusted bytes."""


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
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> bytes:
    """The JSON record written to `vendorwatch.events.dlq` for one rejected message.

    `headers` are the ones that carry a CloudEvents binary-mode event (`ce_*`, `content-type`):
    with the original value they are the whole event, so the record keeps them (`headers`,
    present only when there are any)."""
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
    if headers:
        record["headers"] = [{"name": name, **original_payload(v)} for name, v in headers]
    return orjson.dumps(record)


def _short_text(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    text = "".join(ch if ch.isprintable() else "?" for ch in value[:MAX_LOGGED_ID_CHARS])
    return text + "…" if len(value) > MAX_LOGGED_ID_CHARS else text


def claimed_in(item: object) -> dict[str, str]:
    """`event_id` and `vendor_id` from an already decoded item, where it names them."""
    claimed: dict[str, str] = {}
    if isinstance(item, dict):
        for field, name in (("id", "event_id"), ("subject", "vendor_id")):
            text = _short_text(item.get(field))
            if text is not None:
                claimed[name] = text
    return claimed


def claimed_ids(value: bytes | None, key: bytes | None = None) -> dict[str, str]:
    """The `event_id` and `vendor_id` a rejected message claims, for its log line (best effort).

    Input that failed validation often still names its event and vendor, and with them an
    operator can find the producer's mistake. Garbage names nothing; then the Kafka key stands in
    for the vendor, since producers key by vendor id. Values are shortened and made printable:
    they are untrusted and end up in a log line. Oversized input is not parsed at all.
    """
    claimed: dict[str, str] = {}
    if value is not None and len(value) <= MAX_EVENT_BYTES:
        with contextlib.suppress(orjson.JSONDecodeError):
            claimed = claimed_in(orjson.loads(value))
    if "vendor_id" not in claimed and key:
        try:
            text = _short_text(key.decode("utf-8"))
        except UnicodeDecodeError:
            text = None
        if text is not None:
            claimed["vendor_id"] = text
    return claimed
