"""Schema versions: an old event reads as the current model, a newer one is refused clearly."""

from __future__ import annotations

import copy

import orjson
import pytest

from tests.schemas.event_examples import example
from vendorwatch.schemas import EVENT_TYPES, InvalidEvent, encode_event, parse_event
from vendorwatch.schemas.versions import (
    CURRENT_VERSIONS,
    UPCASTERS,
    dataschema_for,
    upcast,
)

STAKE = "ownership.stake_acquired"


def v1_stake_event() -> dict[str, object]:
    """How a producer wrote a stake before v2: a 0-1 fraction and `amount`."""
    raw = example(STAKE, dataschema=f"urn:vendorwatch:schema:{STAKE}:v1")
    raw["data"] = {"investor": "Meta", "stake": 0.49, "amount": 14.3e9, "board_seats": 1}
    return raw


def test_every_type_has_a_version_and_every_step_an_upcaster() -> None:
    assert set(CURRENT_VERSIONS) == set(EVENT_TYPES)
    assert CURRENT_VERSIONS[STAKE] == 2
    for event_type, current in CURRENT_VERSIONS.items():
        for version in range(1, current):
            assert (event_type, version) in UPCASTERS, (event_type, version)


def test_a_v1_stake_event_reads_as_the_current_model() -> None:
    event = parse_event(orjson.dumps(v1_stake_event()))
    assert event.type == STAKE
    assert event.data.stake_pct == pytest.approx(49.0)  # type: ignore[union-attr]
    assert event.data.amount_usd == 14.3e9  # type: ignore[union-attr]
    assert event.data.board_seats == 1  # type: ignore[union-attr]
    assert event.dataschema == dataschema_for(STAKE) == f"urn:vendorwatch:schema:{STAKE}:v2"
    # ... and is then indistinguishable from the same fact written at v2.
    v2 = example(STAKE, dataschema=dataschema_for(STAKE))
    v2["data"] = {"investor": "Meta", "stake_pct": 49.0, "amount_usd": 14.3e9, "board_seats": 1}
    assert event == parse_event(orjson.dumps(v2))
    assert parse_event(encode_event(event)) == event


def test_upcasting_does_not_mutate_the_input() -> None:
    raw = v1_stake_event()
    before = copy.deepcopy(raw)
    upcast(raw)
    assert raw == before


def test_an_invalid_v1_event_reports_the_current_field() -> None:
    raw = v1_stake_event()
    raw["data"]["stake"] = 1.5  # type: ignore[index]  # 150%
    with pytest.raises(InvalidEvent) as info:
        parse_event(orjson.dumps(raw))
    assert info.value.reason == "schema"
    assert str(info.value).startswith("data.stake_pct: ")


def test_a_future_version_is_refused_with_a_clear_message() -> None:
    raw = example(STAKE, dataschema=f"urn:vendorwatch:schema:{STAKE}:v3")
    with pytest.raises(InvalidEvent) as info:
        parse_event(orjson.dumps(raw))
    assert info.value.reason == "upcast_failed"
    assert [e.field for e in info.value.errors] == ["dataschema"]
    assert str(info.value) == (
        f"dataschema: version 3 of '{STAKE}' is newer than this vendorwatch understands (v2); "
        "upgrade vendorwatch"
    )


@pytest.mark.parametrize(
    "dataschema",
    [
        "urn:vendorwatch:schema:client.paused:v1",  # another type's URN
        f"urn:vendorwatch:schema:{STAKE}:vtwo",
        f"urn:vendorwatch:schema:{STAKE}",
    ],
)
def test_a_vendorwatch_dataschema_that_does_not_match_is_refused(dataschema: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(orjson.dumps(example(STAKE, dataschema=dataschema)))
    assert info.value.reason == "upcast_failed"
    assert str(info.value).startswith("dataschema: ")
    assert "dataschema: dataschema" not in str(info.value)


@pytest.mark.parametrize(
    "dataschema", [None, dataschema_for(STAKE), "https://schemas.example.com/stake.json"]
)
def test_current_absent_or_foreign_dataschema_means_current(dataschema: str | None) -> None:
    raw = example(STAKE) | ({"dataschema": dataschema} if dataschema else {})
    event = parse_event(orjson.dumps(raw))
    assert event.data.stake_pct == 49.0  # type: ignore[union-attr]
    assert event.dataschema == dataschema
