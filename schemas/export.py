"""JSON Schema export, one file per event type, for producers that validate in other languages.

`write_schemas` writes any set of documents by relative path; `vendorwatch schemas export` uses it
for every contract (streams/contracts.py adds the topics, the webhook body and the HTTP API).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from vendorwatch.schemas.events import EVENT_TYPES
from vendorwatch.schemas.versions import CURRENT_VERSIONS, dataschema_for


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) of every event type at its current version."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, cls in sorted(EVENT_TYPES.items()):
        schema = cls.model_json_schema(mode="validation")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": dataschema_for(event_type),
            "title": f"vendorwatch {event_type} v{CURRENT_VERSIONS[event_type]}",
            **{k: v for k, v in schema.items() if k != "title"},
        }
        out[f"{event_type}.json"] = schema
    return out


def render(schema: dict[str, Any]) -> bytes:
    """Stable bytes for a schema file (sorted keys, indented, trailing newline)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_schemas(directory: Path, documents: Mapping[str, dict[str, Any]]) -> list[Path]:
    """Write each document at its relative path under `directory` (folders created as needed);
    returns the files written."""
    written = []
    for name, schema in documents.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render(schema))
        written.append(path)
    return written


def export_schemas(directory: Path) -> list[Path]:
    """Write every event type's schema into `directory`; returns the files written."""
    return write_schemas(directory, json_schemas())
