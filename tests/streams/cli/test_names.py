"""`vendorwatch names`: organisation names an event file uses that resolve to nothing known,
with counts and the closest known name; near misses first, so none is silent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from tests.streams.core.rules_helpers import T0, days, event, registered, restricted_data
from vendorwatch.schemas.codec import encode_event
from vendorwatch.schemas.events import Event
from vendorwatch.streams.cli import names as _registers_names  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.cli.main import COMMAND_MODULES


def write(tmp_path: Path, events: list[Event]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n")
    return path


def names_json(*args: str) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["names", *args, "--json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)  # type: ignore[no-any-return]


def stake(investor: str, n: int) -> Event:
    return event(
        "ownership.stake_acquired", {"investor": investor, "stake_pct": 30}, at=T0 + days(n)
    )


def test_a_stake_by_microsoft_research_is_listed_as_a_near_miss_of_microsoft(
    tmp_path: Path,
) -> None:
    events = [
        registered(),
        restricted_data(),
        stake("Microsoft Research", 1),
        stake("Microsoft Research", 2),
        stake("Microsoft Corporation", 3),  # resolves: not listed
        event("client.paused", {"client": "Anthropic"}, at=T0 + days(4)),
        event("client.paused", {"client": "Google LLC"}, at=T0 + days(5)),  # our organisation
        event(
            "person.moved",
            {"person": "A", "role": "CTO", "from_org": "Acme, Inc.", "to_org": "Cohere"},
            at=T0 + days(6),
        ),
    ]
    listed = names_json("--events", str(write(tmp_path, events)))
    assert listed[0] == {
        "name": "Microsoft Research",
        "count": 2,
        "fields": ["investor"],
        "closest": "Microsoft",
        "similarity": listed[0]["similarity"],
        "near_miss": True,
    }
    assert listed[0]["similarity"] >= 88
    by_name = {item["name"]: item for item in listed}
    assert set(by_name) == {"Microsoft Research", "Anthropic", "Cohere"}
    assert not by_name["Anthropic"]["near_miss"]
    assert not by_name["Cohere"]["near_miss"]
    assert names_json("--events", str(write(tmp_path, events)), "--near-misses") == [listed[0]]


def test_every_name_of_the_demo_scenario_resolves() -> None:
    assert names_json("--scenario", "demo") == []
    result = CliRunner().invoke(app, ["names", "--scenario", "demo"])
    assert "every organisation name resolved" in result.output


def test_the_command_is_registered_for_the_entry_point() -> None:
    assert COMMAND_MODULES["names"] == "names"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ([], "give exactly one of --scenario demo or --events FILE"),
        (["--scenario", "demo", "--events", "x.jsonl"], "give exactly one"),
        (["--scenario", "other"], "unknown scenario 'other'"),
    ],
)
def test_misuse_of_the_input_options_exits_2_with_usage(args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(app, ["names", *args])
    assert result.exit_code == 2
    assert "Usage: " in result.stderr
    assert complaint in " ".join(result.stderr.split())  # the error box wraps long lines


def test_events_from_standard_input(tmp_path: Path) -> None:
    events = [registered(), stake("Microsoft Research", 1)]
    data = write(tmp_path, events).read_bytes()
    result = CliRunner().invoke(app, ["names", "--events", "-", "--json"], input=data)
    assert result.exit_code == 0, result.output
    assert [item["name"] for item in orjson.loads(result.stdout)] == ["Microsoft Research"]
