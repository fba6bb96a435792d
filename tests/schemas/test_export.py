"""JSON Schema export: the committed copies match the models, and they validate real events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from tests.schemas.event_examples import example
from vendorwatch.schemas import EVENT_TYPES
from vendorwatch.schemas.export import export_schemas, json_schemas, render
from vendorwatch.streams.eventfile import demo_scenario_path

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json"


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    schema = orjson.loads((COMMITTED / f"{event_type}.json").read_bytes())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schemas_match_the_models() -> None:
    """Fails when a model changes without `make schemas`: producers would validate stale rules."""
    expected = {name: render(schema) for name, schema in json_schemas().items()}
    committed = {p.name: p.read_bytes() for p in COMMITTED.glob("*.json")}
    assert sorted(committed) == sorted(expected)
    stale = [name for name in expected if committed[name] != expected[name]]
    assert not stale, f"run `make schemas`: {stale} differ from the models"


def test_export_writes_one_schema_per_type(tmp_path: Path) -> None:
    written = export_schemas(tmp_path / "out")
    assert len(written) == len(EVENT_TYPES) == 18
    assert {p.name for p in written} == {f"{t}.json" for t in EVENT_TYPES}
    for path in written:
        assert path.read_bytes() == (COMMITTED / path.name).read_bytes()


def demo_events() -> list[dict[str, Any]]:
    lines = demo_scenario_path().read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.strip()]


def test_the_json_schemas_accept_every_demo_event() -> None:
    events = demo_events()
    assert len(events) >= 20
    for event in events:
        validator(event["type"]).validate(event)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_the_json_schemas_accept_every_complete_example(event_type: str) -> None:
    validator(event_type).validate(example(event_type))


@pytest.mark.parametrize(
    ("mutate", "complaint"),
    [
        (lambda e: e["data"].update(stake_pct=101), "101 is greater than the maximum of 100"),
        (lambda e: e["data"].update(stake=0.49), "Additional properties are not allowed"),
        (lambda e: e.update(subject="Scale AI"), "does not match"),
        (lambda e: e.update(type="client.paused"), "'ownership.stake_acquired' was expected"),
        (lambda e: e.pop("time"), "'time' is a required property"),
    ],
)
def test_the_json_schemas_reject_bad_events(mutate: Any, complaint: str) -> None:
    event = example("ownership.stake_acquired")
    mutate(event)
    with pytest.raises(jsonschema.ValidationError) as info:
        validator("ownership.stake_acquired").validate(event)
    assert complaint in info.value.message
