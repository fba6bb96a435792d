"""`parse_event` validates JSON text in one step when it can; it must agree with the general path
(`orjson.loads` + `validate_event`, which upcasts and words errors) on every input."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.strategies import raw_events
from vendorwatch.schemas import InvalidEvent, encode_event, parse_event, validate_event
from vendorwatch.schemas.codec import event_to_dict
from vendorwatch.schemas.versions import dataschema_for

SETTINGS = settings(max_examples=examples(300), deadline=None)


def general_path(data: bytes) -> Any:
    """What the general path makes of `data`: the event, or the rejection."""
    try:
        return validate_event(orjson.loads(data))
    except orjson.JSONDecodeError:
        return "invalid_json"
    except InvalidEvent as exc:
        return (exc.reason, str(exc))


def parsed(data: bytes) -> Any:
    try:
        return parse_event(data)
    except InvalidEvent as exc:
        return "invalid_json" if exc.reason == "invalid_json" else (exc.reason, str(exc))


def with_dataschema(raw: dict[str, Any], choice: str) -> dict[str, Any]:
    if choice == "current":
        return {**raw, "dataschema": dataschema_for(raw["type"])}
    if choice == "v1" and raw["type"] == "ownership.stake_acquired":
        data = dict(raw["data"])
        data["stake"] = data.pop("stake_pct") / 100
        if "amount_usd" in data:
            data["amount"] = data.pop("amount_usd")
        return {**raw, "data": data, "dataschema": dataschema_for(raw["type"], 1)}
    if choice == "future":
        return {**raw, "dataschema": f"urn:vendorwatch:schema:{raw['type']}:v9"}
    if choice == "foreign":
        return {**raw, "dataschema": "https://schemas.example.com/event.json"}
    return raw


@SETTINGS
@given(
    raw=raw_events(),
    dataschema=st.sampled_from(["none", "current", "v1", "future", "foreign"]),
)
def test_both_paths_agree_on_valid_events_of_any_version(
    raw: dict[str, Any], dataschema: str
) -> None:
    data = orjson.dumps(with_dataschema(raw, dataschema))
    assert parsed(data) == general_path(data)


mutations = st.sampled_from(
    [
        lambda e: e.update(type="client.kidnapped"),
        lambda e: e.update(extra=1),
        lambda e: e["data"].update(extra=1),
        lambda e: e.update(time="2025-01-01T00:00:00"),
        lambda e: e.update(subject="Not A Slug"),
        lambda e: e.pop("id"),
        lambda e: e.pop("data"),
        lambda e: e.update(data=[]),
        lambda e: e.update(specversion=1.0),
        lambda e: e.update(id=12),
    ]
)


@SETTINGS
@given(raw=raw_events(), mutate=mutations)
def test_both_paths_reject_invalid_events_with_the_same_error(
    raw: dict[str, Any], mutate: Any
) -> None:
    mutate(raw)
    data = orjson.dumps(raw)
    assert isinstance(parsed(data), tuple)
    assert parsed(data) == general_path(data)


@SETTINGS
@given(raw=raw_events(), cut=st.integers(0, 400), junk=st.binary(max_size=4))
@example(raw={"type": "x"}, cut=0, junk=b"\xef\xbb\xbf")
def test_both_paths_agree_on_damaged_bytes(raw: dict[str, Any], cut: int, junk: bytes) -> None:
    text = orjson.dumps(raw)
    data = text[:cut] + junk + text[cut:]
    assert parsed(data) == general_path(data)


@SETTINGS
@given(raw=raw_events())
def test_encoding_is_a_fixed_point(raw: dict[str, Any]) -> None:
    event = parse_event(orjson.dumps(raw))
    assert parse_event(encode_event(event)) == event
    assert encode_event(parse_event(encode_event(event))) == encode_event(event)


@SETTINGS
@given(raw=raw_events())
def test_canonical_bytes_are_the_json_of_the_event_dict(raw: dict[str, Any]) -> None:
    """`encode_event` lets pydantic-core write the JSON; the bytes must be what the dict form
    gives through orjson, as the histories written before that change hold."""
    event = parse_event(orjson.dumps(raw))
    assert encode_event(event) == orjson.dumps(event_to_dict(event))
