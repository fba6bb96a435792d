"""The OpenAPI 3.1 document of the worker's HTTP API, built from pydantic models and a route table.

Why generated: the bodies the API returns are the records of the topics (`schemas.records`) and
the events themselves (`schemas.events`), so their JSON Schemas come from the same models the
topic schemas come from, and cannot disagree with them. The routes, statuses and headers are the
small table below, next to the views in `web.py`; `tests/integration/test_openapi_live.py` runs
schemathesis against a real worker, so a view that answers something this document does not
describe fails the build. The document is served at `GET /openapi.json` and committed as
`schemas/json/api/openapi.json` (`make schemas`).

No Faust here: the offline `vendorwatch schemas export` writes the document too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from vendorwatch.schemas.codec import RejectReason
from vendorwatch.schemas.events import Event, EventId, VendorId
from vendorwatch.schemas.records import AlertRecord, ScoreRecord, Severity

MAX_EVENTS_PER_REQUEST = 1000
"""`POST /events` takes one event or a list of 1 to this many."""

_BODY = ConfigDict(extra="forbid", frozen=True)


class VendorSummary(BaseModel):
    """One vendor in `GET /vendors`, highest score first."""

    model_config = _BODY

    vendor_id: VendorId
    name: str
    score: float
    severity: Severity
    policy_version: str
    updated_at: str = Field(description="Event time the score is as of (ISO 8601, UTC).")


class VendorDetail(ScoreRecord):
    """A vendor's latest score record with its firing alerts and its latest events."""

    alerts: list[AlertRecord] = Field(description="Alerts firing now, oldest first.")
    recent_events: list[Event] = Field(description="The vendor's latest events, newest first.")


class Accepted(BaseModel):
    """The ids of the events a request accepted, in request order."""

    model_config = _BODY

    accepted: list[EventId]


class Error(BaseModel):
    """A refusal: what is wrong, in one sentence."""

    model_config = _BODY

    error: str


class RejectedItem(BaseModel):
    """Why one item of a `POST /events` body was refused."""

    model_config = _BODY

    index: int = Field(ge=0, description="Position of the item in the request body.")
    reason: RejectReason
    error: str


class Rejected(BaseModel):
    """Some items of a `POST /events` body are not valid events; none was accepted."""

    model_config = _BODY

    error: str
    errors: list[RejectedItem]


class Alive(BaseModel):
    """The process answers."""

    model_config = _BODY

    status: Literal["ok"]
    version: str = Field(description="The installed vendorwatch version.")


class Ready(BaseModel):
    """The read view has caught up with the topics."""

    model_config = _BODY

    status: Literal["ready"]
    vendors: int = Field(ge=0)


class Recovering(BaseModel):
    """The read view is still reading the topics."""

    model_config = _BODY

    status: Literal["recovering"]


@dataclass(frozen=True)
class Answer:
    """One documented response: a JSON body of one of `models`, or another media type."""

    description: str
    models: tuple[Any, ...] = ()
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    """One operation of the API."""

    path: str
    method: str
    operation_id: str
    summary: str
    answers: dict[int, Answer]
    body: Any = None
    secured: bool = False
    path_params: dict[str, Any] = field(default_factory=dict)


EventBody = Event | list[Event]
UNAUTHORIZED = Answer(
    "Missing or wrong bearer token (or no token configured).",
    (Error,),
    headers={"WWW-Authenticate": "How to authenticate: `Bearer`."},
)

ROUTES: tuple[Route, ...] = (
    Route(
        "/vendors",
        "get",
        "listVendors",
        "Every scored vendor, highest score first.",
        {200: Answer("The vendors.", (list[VendorSummary],))},
    ),
    Route(
        "/vendors/{vendor_id}",
        "get",
        "getVendor",
        "A vendor's explained score, its firing alerts and its latest events.",
        {
            200: Answer("The vendor.", (VendorDetail,)),
            404: Answer("No score for this vendor id.", (Error,)),
        },
        path_params={"vendor_id": {"type": "string", "minLength": 1}},
    ),
    Route(
        "/events",
        "post",
        "postEvents",
        "Send one event or a list of events into the pipeline (all or none are accepted).",
        {
            202: Answer("Every event was valid and is on its way to be scored.", (Accepted,)),
            400: Answer(
                "Not JSON, a wrong number of events, or invalid events (none accepted).",
                (Error, Rejected),
            ),
            401: UNAUTHORIZED,
            413: Answer("The body is larger than the worker accepts.", (Error,)),
        },
        body=EventBody,
        secured=True,
    ),
    Route(
        "/healthz",
        "get",
        "health",
        "Liveness: the process answers.",
        {200: Answer("Alive.", (Alive,))},
    ),
    Route(
        "/readyz",
        "get",
        "ready",
        "Readiness: the read view has caught up with the topics.",
        {
            200: Answer("Ready.", (Ready,)),
            503: Answer("Still catching up.", (Recovering,)),
        },
    ),
    Route(
        "/metrics",
        "get",
        "metrics",
        "Prometheus metrics in the text exposition format.",
        {200: Answer("The metrics.", media_type="text/plain")},
    ),
    Route(
        "/openapi.json",
        "get",
        "openapi",
        "This document.",
        {200: Answer("The OpenAPI 3.1 document of this API.", (dict[str, Any],))},
    ),
)


def _name(model: Any) -> str:
    """The component name of a model: its class name (`list[X]` is written inline)."""
    return getattr(model, "__name__", None) or str(model)


def _component_schemas() -> tuple[dict[Any, dict[str, Any]], dict[str, Any]]:
    """JSON Schemas of every body, with shared parts as `#/components/schemas/...` refs."""
    keyed: list[tuple[Any, Literal["validation", "serialization"], TypeAdapter[Any]]] = []
    seen: set[Any] = set()
    for route in ROUTES:
        if route.body is not None:
            keyed.append(((route.path, "body"), "validation", TypeAdapter(route.body)))
        for answer in route.answers.values():
            for model in answer.models:
                if model not in seen:
                    seen.add(model)
                    keyed.append((model, "serialization", TypeAdapter(model)))
    by_key, defs = TypeAdapter.json_schemas(keyed, ref_template="#/components/schemas/{model}")
    return {key: schema for (key, _), schema in by_key.items()}, defs.get("$defs", {})


def _content(answer: Answer, schemas: dict[Any, dict[str, Any]]) -> dict[str, Any]:
    if not answer.models:
        return {answer.media_type: {"schema": {"type": "string"}}}
    options = [schemas[model] for model in answer.models]
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    return {answer.media_type: {"schema": schema}}


def openapi_document(version: str) -> dict[str, Any]:
    """The whole document; `version` is the package version (`info.version`)."""
    schemas, components = _component_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        operation: dict[str, Any] = {
            "operationId": route.operation_id,
            "summary": route.summary,
            "responses": {
                str(status): {
                    "description": answer.description,
                    "content": _content(answer, schemas),
                    **(
                        {
                            "headers": {
                                name: {"description": text, "schema": {"type": "string"}}
                                for name, text in answer.headers.items()
                            }
                        }
                        if answer.headers
                        else {}
                    ),
                }
                for status, answer in sorted(route.answers.items())
            },
        }
        if route.path_params:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": schema}
                for name, schema in route.path_params.items()
            ]
        if route.body is not None:
            body_schema = _bounded_batches(schemas[(route.path, "body")])
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body_schema}},
            }
        if route.secured:
            operation["security"] = [{"bearerAuth": []}]
        paths.setdefault(route.path, {})[route.method] = operation
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "vendorwatch worker API",
            "version": version,
            "description": (
                "Read explained vendor risk scores, send events, check health and scrape "
                "metrics. `POST /events` needs `Authorization: Bearer <VENDORWATCH_INGEST_TOKEN>`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }


def _bounded_batches(schema: dict[str, Any]) -> dict[str, Any]:
    """Give the list form of the request body its limits (1 to `MAX_EVENTS_PER_REQUEST`)."""
    options = []
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "array":
            option = {**option, "minItems": 1, "maxItems": MAX_EVENTS_PER_REQUEST}
        options.append(option)
    return {**schema, "anyOf": options} if "anyOf" in schema else options[0]
