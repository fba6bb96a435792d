"""Seeded bad input for the volume test: malformed JSON, non-UTF-8, oversize, wrong types,
unknown types, hostile strings, future times, non-objects and bad binary-mode CloudEvents, plus
valid events (some carrying hostile text where text is allowed) to interleave with them.

Every bad message comes with the reason the worker must give, computed by the same decoder the
worker runs (`parse_message` + `check_event_time`); a candidate that turns out valid is not
used as a bad one, so the generator can be reckless and the oracle stays exact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tests.schemas.event_examples import PAYLOADS, example
from vendorwatch.schemas.binary import parse_message
from vendorwatch.schemas.codec import MAX_EVENT_BYTES, InvalidEvent, check_event_time
from vendorwatch.schemas.versions import dataschema_for
from vendorwatch.streams.settings import DEFAULT_MAX_FUTURE_SKEW

Headers = list[tuple[str, bytes]]

HOSTILE = [
    "../../../../etc/passwd",
    "<script>alert(1)</script>",
    "'; DROP TABLE vendors; --",
    "%s%s%s%n",
    "${jndi:ldap://127.0.0.1/a}",
    "{{7*7}}",
    "\u0000\u0001\u0002",
    "\u202egnp.exe",
    "\r\nSet-Cookie: admin=1",
    "A" * 5000,
    "😀" * 300,
    "Z̷̢͎̈́a̸̠͊l̴̰̀g̷͚̈o̵̱͐",
    "\\u0000\\",
    " ",
    "",
]
"""Strings that have broken parsers, logs, terminals and templates."""

WRONG_VALUES: list[Any] = [123, -1, 1.5, True, None, [], {}, [1, 2], {"a": 1}, "", "x" * 600]
TYPES = sorted(PAYLOADS)


@dataclass(frozen=True)
class Message:
    """One raw-topic message: value, headers, key, and the reason it must be refused (None for a
    valid event, whose id is then `event_id`)."""

    value: bytes | None
    headers: Headers
    key: bytes | None
    reason: str | None
    kind: str
    event_id: str | None = None


def verdict(value: bytes | None, headers: Headers) -> str | None:
    """The worker's verdict on a message: its reject reason, or None if it is a valid event."""
    try:
        event = parse_message(value, headers)
        check_event_time(event, time.time(), DEFAULT_MAX_FUTURE_SKEW)
    except InvalidEvent as exc:
        return str(exc.reason)
    return None


class Generator:
    """Bad and valid messages from one seed."""

    def __init__(self, seed: int, vendors: int = 40) -> None:
        self.rng = random.Random(seed)
        self.vendors = [f"fuzz-vendor-{i:03d}" for i in range(vendors)]
        self.serial = 0
        self.minute = 0

    # --- valid ------------------------------------------------------------------------------

    def _next_time(self) -> str:
        self.minute += 1
        day, minute = divmod(self.minute, 1440)
        return f"2025-03-{1 + day % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"

    def event(self, event_type: str | None = None, vendor: str | None = None) -> dict[str, Any]:
        self.serial += 1
        return example(
            event_type or self.rng.choice(TYPES),
            id=f"fuzz-{self.serial:06d}",
            subject=vendor or self.rng.choice(self.vendors),
            time=self._next_time(),
        )

    def valid(self, vendor: str | None = None) -> Message:
        """A valid event; one in five carries a hostile string in a free-text field."""
        while True:
            event = self.event(vendor=vendor)
            if self.rng.random() < 0.2 and event["type"] == "vendor.statement":
                event["data"]["text"] = self.rng.choice(HOSTILE)[:4000]
            elif self.rng.random() < 0.2 and event["type"] == "vendor.registered":
                event["data"]["name"] = self.rng.choice(HOSTILE)[:200]
            value = orjson.dumps(event)
            if verdict(value, []) is None:
                return Message(value, [], event["subject"].encode(), None, "valid", event["id"])

    # --- bad --------------------------------------------------------------------------------

    def _truncated(self) -> tuple[bytes | None, Headers]:
        value = orjson.dumps(self.event())
        return value[: self.rng.randrange(0, len(value) - 1)], []

    def _junk_text(self) -> tuple[bytes | None, Headers]:
        junk = ["{", "}", "[", "{'id': 1}", "NaN", '{"a":}', "", " ", "nul", "tru", '{"id": 1,}']
        junk += ['{"specversion": "1.0"', "\t\n", '"\\ud800"', "1e999999", "{" * 5000]
        return self.rng.choice(junk).encode(), []

    def _non_utf8(self) -> tuple[bytes | None, Headers]:
        if self.rng.random() < 0.5:
            raw = bytearray(self.rng.randbytes(self.rng.randrange(1, 300)))
            raw[self.rng.randrange(len(raw))] = 0xFF
            return bytes(raw), []
        value = orjson.dumps(self.event())
        cut = self.rng.randrange(1, len(value) - 1)
        return value[:cut] + b"\xc3\x28\xff" + value[cut:], []

    def _oversize(self) -> tuple[bytes | None, Headers]:
        event = self.event("vendor.statement")
        event["data"]["text"] = "x" * (MAX_EVENT_BYTES + self.rng.randrange(1, 40_000))
        return orjson.dumps(event), []

    def _wrong_type(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        if self.rng.random() < 0.5:
            key = self.rng.choice(["id", "source", "time", "subject", "specversion", "data"])
            event[key] = self.rng.choice(WRONG_VALUES)
        elif event["data"]:
            key = self.rng.choice(sorted(event["data"]))
            event["data"][key] = self.rng.choice(WRONG_VALUES)
        if self.rng.random() < 0.2:
            event.pop(self.rng.choice(["id", "source", "time", "subject", "type", "data"]), None)
        return orjson.dumps(event), []

    def _unknown_type(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        event["type"] = self.rng.choice(
            ["vendor.exploded", "VENDOR.REGISTERED", "data.shared.v2", "", *HOSTILE[:6]]
        )
        return orjson.dumps(event), []

    def _hostile(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        field = self.rng.choice(["id", "subject", "source", "time", "dataschema", "specversion"])
        event[field] = self.rng.choice(HOSTILE)
        extra = self.rng.choice(HOSTILE)
        if self.rng.random() < 0.3:
            event[extra[:50] or "x"] = extra  # an unknown attribute named by a hostile string
        return orjson.dumps(event), []

    def _future(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        event["time"] = self.rng.choice(["2052-01-01T00:00:00Z", "2999-12-31T23:59:59Z"])
        return orjson.dumps(event), []

    def _bad_version(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        event["dataschema"] = dataschema_for(event["type"], self.rng.choice([99, 1000]))
        return orjson.dumps(event), []

    def _not_an_object(self) -> tuple[bytes | None, Headers]:
        return self.rng.choice([b"[]", b"1", b'"event"', b"null", b"true", b"[1, 2]"]), []

    def _binary(self) -> tuple[bytes | None, Headers]:
        event = self.event()
        data = orjson.dumps(event.pop("data"))
        headers = [(f"ce_{k}", str(v).encode()) for k, v in event.items()]
        choice = self.rng.randrange(5)
        if choice == 0:
            data = data[:-1]
        elif choice == 1:
            headers = [(n, b"vendor.exploded" if n == "ce_type" else v) for n, v in headers]
        elif choice == 2:
            headers = [(n, b"\xff\xfe" if n == "ce_subject" else v) for n, v in headers]
        elif choice == 3:
            headers.append(("content-type", b"text/plain"))
        else:
            headers = [(n, v) for n, v in headers if n != "ce_id"]
        return data, headers

    KINDS: tuple[tuple[str, float], ...] = (
        ("malformed_json", 0.14),
        ("junk_text", 0.06),
        ("non_utf8", 0.12),
        ("oversize", 0.005),
        ("wrong_type", 0.22),
        ("unknown_type", 0.12),
        ("hostile", 0.18),
        ("future", 0.04),
        ("bad_version", 0.01),
        ("not_an_object", 0.05),
        ("binary_mode", 0.055),
    )

    def bad(self) -> Message:
        """A bad message of a random kind, with the reason the worker must give."""
        makers: dict[str, Callable[[], tuple[bytes | None, Headers]]] = {
            "malformed_json": self._truncated,
            "junk_text": self._junk_text,
            "non_utf8": self._non_utf8,
            "oversize": self._oversize,
            "wrong_type": self._wrong_type,
            "unknown_type": self._unknown_type,
            "hostile": self._hostile,
            "future": self._future,
            "bad_version": self._bad_version,
            "not_an_object": self._not_an_object,
            "binary_mode": self._binary,
        }
        names, weights = zip(*self.KINDS, strict=True)
        while True:
            kind = self.rng.choices(names, weights)[0]
            value, headers = makers[kind]()
            reason = verdict(value, headers)
            if reason is not None:
                key = self.rng.choice([None, b"", self.rng.choice(self.vendors).encode(), b"\xff"])
                return Message(value, headers, key, reason, kind)
