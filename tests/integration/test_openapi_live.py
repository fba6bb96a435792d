"""The OpenAPI document against the running API: a real worker on a real broker serves the same
document as the committed one, and schemathesis sends it generated requests, valid and invalid,
to every operation; every answer must be documented (status, media type, body) and none a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .workers import (
    INGEST_TOKEN,
    WorkerProcess,
)

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "json" / "api" / "openapi.json"
DOCUMENT: dict[str, Any] = orjson.loads(COMMITTED.read_bytes())
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_worker_serves_the_committed_document(api_worker: WorkerProcess) -> None:
    response = api_worker.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == DOCUMENT


def test_a_documented_vendor_matches_its_schema(api_worker: WorkerProcess) -> None:
    """The generated vendor ids almost never exist: one real 200 body is checked here."""
    operation = schema["/vendors/{vendor_id}"]["GET"]
    case = operation.Case(path_parameters={"vendor_id": "scale-ai"})
    response = case.call_and_validate(base_url=api_worker.base_url, checks=CHECKS)
    assert response.status_code == 200
    assert response.json()["alerts"], "the demo leaves scale-ai with firing alerts"


def test_a_token_that_is_not_text_is_refused_as_documented(api_worker: WorkerProcess) -> None:
    """Found by probing: a non-ASCII Authorization header once made the view raise (500)."""
    for token in (b"Bearer \xff\xfe", b"Bearer caf\xc3\xa9"):
        response = api_worker.post("/events", content=b"{}", headers={"Authorization": token})
        assert response.status_code == 401
        assert response.json() == {"error": "missing or wrong bearer token"}


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: Any, api_worker: WorkerProcess
) -> None:
    case.call_and_validate(
        base_url=api_worker.base_url,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
        checks=CHECKS,
    )
