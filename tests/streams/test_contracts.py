"""The committed contracts (schemas/json/**) are what the models generate, the OpenAPI document
is valid OpenAPI 3.1, and every topic schema is a valid JSON Schema that refuses a wrong record.
The live checks (real records, the running API) are in tests/integration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from vendorwatch.schemas.export import render
from vendorwatch.schemas.records import Severity
from vendorwatch.streams.contracts import TOPIC_RECORDS, all_contracts, export_contracts
from vendorwatch.streams.core.policy import SEVERITIES
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker.openapi import ROUTES

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json"


def committed(name: str) -> dict[str, Any]:
    return orjson.loads((COMMITTED / name).read_bytes())


def test_the_committed_contracts_are_what_the_models_generate() -> None:
    """Fails when a model or route changes without `make schemas`."""
    expected = {name: render(doc) for name, doc in all_contracts().items()}
    on_disk = {str(p.relative_to(COMMITTED)): p.read_bytes() for p in COMMITTED.rglob("*.json")}
    assert sorted(on_disk) == sorted(expected)
    stale = [name for name in expected if on_disk[name] != expected[name]]
    assert not stale, f"run `make schemas`: {stale} differ from the models"


def test_export_writes_every_contract(tmp_path: Path) -> None:
    written = export_contracts(tmp_path)
    assert len(written) == len(all_contracts())
    for path in written:
        assert path.read_bytes() == (COMMITTED / path.relative_to(tmp_path)).read_bytes()


def test_the_openapi_document_is_valid_openapi_3_1() -> None:
    document = committed("api/openapi.json")
    assert document["openapi"] == "3.1.0"
    validate(document, cls=OpenAPIV31SpecValidator)


def test_the_openapi_document_names_every_route() -> None:
    paths = committed("api/openapi.json")["paths"]
    assert {(r.path, r.method) for r in ROUTES} == {
        (path, method) for path, ops in paths.items() for method in ops
    }
    assert paths["/events"]["post"]["security"] == [{"bearerAuth": []}]


def test_every_topic_vendorwatch_writes_has_a_schema() -> None:
    written = {t.name for t in topics.ALL_TOPICS} - {topics.RAW}
    assert set(TOPIC_RECORDS) == written
    for topic in written:
        jsonschema.Draft202012Validator.check_schema(committed(f"topics/{topic}.json"))
    jsonschema.Draft202012Validator.check_schema(committed("webhook/notification.json"))


def test_the_record_models_spell_the_policys_severities() -> None:
    assert Severity.__args__ == SEVERITIES  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("topic", "record", "complaint"),
    [
        (topics.SCORES, {"vendor_id": "acme"}, "is a required property"),
        (topics.EVENTS_DLQ, {"reason": "bored"}, "is not one of"),
        (topics.ALERTS, {"status": "exploded"}, "is not one of"),
    ],
)
def test_a_topic_schema_refuses_a_wrong_record(
    topic: str, record: dict[str, Any], complaint: str
) -> None:
    validator = jsonschema.Draft202012Validator(committed(f"topics/{topic}.json"))
    messages = [error.message for error in validator.iter_errors(record)]
    assert any(complaint in m for m in messages), messages


def test_a_malformed_whsec_secret_stops_the_worker_at_start_without_echoing_it() -> None:
    from vendorwatch.streams.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as info:
        load_settings(webhook_secret="whsec_not*base64!padding")
    assert "whsec_ secret must be non-empty base64" in str(info.value)
    assert "not*base64" not in str(info.value)
    assert load_settings(webhook_secret="whsec_" + "QUJD" * 8).webhook_secret is not None
