"""One complete, valid JSON event per type (every optional field set), for the schema tests."""

from __future__ import annotations

import copy
from typing import Any

ENVELOPE: dict[str, Any] = {
    "specversion": "1.0",
    "source": "urn:vendorwatch:test",
    "time": "2025-06-12T14:00:00Z",
    "subject": "scale-ai",
    "datacontenttype": "application/json",
}

PAYLOADS: dict[str, dict[str, Any]] = {
    "vendor.registered": {
        "name": "Scale AI",
        "aliases": ["Scale", "Scale AI Inc."],
        "category": "data labelling",
        "country": "US",
    },
    "vendor.alias_added": {"alias": "Scale Inc."},
    "data.shared": {
        "dataset": "gemini-preference-pairs",
        "classification": "restricted",
        "records": 2_000_000,
        "description": "Preference pairs",
    },
    "data.revoked": {"dataset": "gemini-preference-pairs", "reason": "contract ended"},
    "vendor.offboarded": {"reason": "contract ended, deletion certified"},
    "ownership.stake_acquired": {
        "investor": "Meta",
        "stake_pct": 49.0,
        "amount_usd": 14.3e9,
        "board_seats": 1,
        "voting_control": False,
    },
    "ownership.divested": {"investor": "Meta", "amount_usd": 15e9},
    "ownership.acquired": {"acquirer": "Meta", "amount_usd": 30e9},
    "funding.round": {
        "round": "Series F",
        "amount_usd": 1e9,
        "investors": ["Accel", "Meta"],
        "valuation_usd": 13.8e9,
    },
    "person.moved": {
        "person": "Alexandr Wang",
        "role": "CEO",
        "from_org": "Scale AI",
        "to_org": "Meta",
        "seniority": "executive",
    },
    "client.paused": {"client": "OpenAI", "reason": "Suspended some collaborations"},
    "client.resumed": {"client": "OpenAI", "reason": "Review finished"},
    "client.terminated": {"client": "xAI", "reason": "Ended the contract"},
    "security.incident": {
        "title": "Public Google Docs exposed client data",
        "severity": "high",
        "records_exposed": 85_000,
        "description": "Shared documents were left public",
    },
    "workforce.changed": {
        "contractors": 1000,
        "contractors_added": 1000,
        "period_days": 182,
        "remote_share_pct": 60.0,
        "description": "Hiring through staffing agencies",
    },
    "demand.changed": {"factor": 3.0, "description": "Demand tripled"},
    "vendor.statement": {"kind": "audit", "text": "An independent audit found no leak."},
    "event.retracted": {"id": "example-data.shared", "reason": "sent for the wrong vendor"},
}


def example(event_type: str, **envelope: Any) -> dict[str, Any]:
    """A fresh copy of the example event of `event_type`, with envelope overrides."""
    return {
        **copy.deepcopy(ENVELOPE),
        "id": f"example-{event_type}",
        "type": event_type,
        "data": copy.deepcopy(PAYLOADS[event_type]),
        **envelope,
    }
