"""JSON Schema export, one file per event type, for producers that validate in other languages."""

from __future__ import annotations

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


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema into `directory` (created if needed); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in json_schemas().items():
        path = directory / name
        path.write_bytes(render(schema))
        written.append(path)
    return written
