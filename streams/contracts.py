"""Every JSON contract vendorwatch offers other systems, in one place, for `schemas export`.

* `<type>.json`: each input event type (`schemas.export.json_schemas`), as before;
* `topics/<topic>.json`: the records of each topic vendorwatch writes (the history topic holds
  events, so its schema is the union of the event types);
* `webhook/notification.json`: the body of a webhook delivery;
* `api/openapi.json`: the HTTP API (`streams.worker.openapi`).

Why here and not in `schemas`: the notification and silence models belong to alerting, which the
event contract may not import; this module sits above both. It imports no Faust and no Kafka
client, so the offline `vendorwatch schemas export` can use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.silences import SilenceRecord
from vendorwatch.schemas.events import Event, VendorId
from vendorwatch.schemas.export import json_schemas, write_schemas
from vendorwatch.schemas.records import AlertRecord, EventDeadLetter, ScoreRecord
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.version import package_version
from vendorwatch.streams.worker.openapi import openapi_document

DRAFT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_BASE = "urn:vendorwatch:schema:"


class DeliveryDeadLetter(BaseModel):
    """A notification that never got through, on `vendorwatch.alerts.dlq` (keyed by vendor id):
    which sink, why, after how many attempts, and the whole notification to re-drive it. It never
    holds the endpoint URL or a secret (alerts/delivery.py `dlq_record`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["vendorwatch.alerts.dlq/v1"] = Field(alias="schema")
    idempotency_key: str
    vendor_id: VendorId
    sink: str
    reason: str
    attempts: int = Field(ge=0)
    failed_at: AwareDatetime
    notification: Notification


TOPIC_RECORDS: dict[str, tuple[Any, str]] = {
    topics.EVENTS: (Event, "The history: every accepted event, canonical JSON, keyed by vendor."),
    topics.EVENTS_DLQ: (EventDeadLetter, "Rejected input with its reason and original bytes."),
    topics.SCORES: (ScoreRecord, "A vendor's explained score, each time it changes."),
    topics.ALERTS: (AlertRecord, "An alert rule starting or stopping to fire for a vendor."),
    topics.ALERTS_DLQ: (DeliveryDeadLetter, "A notification no sink could deliver."),
    topics.SILENCES: (SilenceRecord, "A silence created or expired."),
}
"""Every topic vendorwatch writes, but the raw one (anything producers send), and its record."""


def _schema(model: Any, name: str, title: str, description: str) -> dict[str, Any]:
    schema = TypeAdapter(model).json_schema(mode="serialization", by_alias=True)
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_BASE + name,
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
        "title": title,
        "description": description,
    }


def topic_schemas() -> dict[str, dict[str, Any]]:
    """`topics/<topic>.json` -> the JSON Schema of the topic's records."""
    return {
        f"topics/{topic}.json": _schema(model, f"topic:{topic}", topic, description)
        for topic, (model, description) in TOPIC_RECORDS.items()
    }


def webhook_schema() -> dict[str, Any]:
    """The JSON Schema of a webhook body (a `Notification`)."""
    return _schema(
        Notification,
        "webhook:notification",
        "vendorwatch webhook notification",
        "The body of a signed webhook delivery (docs/integration.md): one vendor's alerts.",
    )


def all_contracts() -> dict[str, dict[str, Any]]:
    """Relative path -> document, for every contract (see the module docstring)."""
    return {
        **json_schemas(),
        **topic_schemas(),
        "webhook/notification.json": webhook_schema(),
        "api/openapi.json": openapi_document(package_version()),
    }


def export_contracts(directory: Path) -> list[Path]:
    """Write every contract under `directory`; returns the files written."""
    return write_schemas(directory, all_contracts())
