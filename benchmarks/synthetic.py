"""Deterministic synthetic event streams for the benchmarks: valid events as raw JSON bytes.

The mix imitates what a third-party-risk team sees over a few years: mostly data shared and
revoked, clients pausing and resuming, workforce and demand reports, a few stakes, moves and
incidents. Arrival is roughly in event-time order, with a small share of late events (a report
that reaches the pipeline days after the fact) so the fold's out-of-order path is exercised too.
A few events carry their `dataschema`, and a few of the stake reports are still schema v1, so the
upcaster runs as it would on a real history.

Names are drawn from the default policy so that competitor matching has real work to do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from vendorwatch.schemas.versions import dataschema_for
from vendorwatch.streams.core.policy import Policy, load_policy

START = datetime(2022, 1, 1, tzinfo=UTC).timestamp()
SPAN_SECONDS = 3 * 365 * 86_400.0
LATE_SHARE = 0.02
"""Share of events that arrive after newer ones (by up to 30 days of event time)."""

OTHER_ORGS = (
    "Anthropic",
    "Cohere",
    "Mistral AI",
    "Nvidia",
    "Amazon",
    "Apple",
    "Salesforce",
    "Sequoia Capital",
    "Andreessen Horowitz",
    "Accel",
    "SoftBank",
    "Tiger Global",
)
DATASETS = tuple(f"dataset-{i:02d}" for i in range(12))
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

# (event type, relative frequency); one `vendor.registered` per vendor comes first regardless.
MIX: tuple[tuple[str, float], ...] = (
    ("vendor.alias_added", 1.0),
    ("data.shared", 20.0),
    ("data.revoked", 5.0),
    ("client.paused", 12.0),
    ("client.resumed", 8.0),
    ("client.terminated", 2.0),
    ("ownership.stake_acquired", 4.0),
    ("ownership.acquired", 0.5),
    ("ownership.divested", 0.5),
    ("funding.round", 3.0),
    ("person.moved", 10.0),
    ("security.incident", 5.0),
    ("workforce.changed", 12.0),
    ("demand.changed", 8.0),
    ("vendor.statement", 9.5),
    ("vendor.offboarded", 0.2),
    ("event.retracted", 0.3),
)


class _Gen:
    """Payload makers per event type; one instance per stream so the seed fixes everything."""

    def __init__(self, rng: random.Random, policy: Policy) -> None:
        self.rng = rng
        competitors = [n for c in policy.competitors for n in c.names()]
        own = policy.organisation.names()
        self.investors = [*competitors, *OTHER_ORGS]
        self.clients = [*own, *competitors, *OTHER_ORGS]
        self.employers = [*competitors, *OTHER_ORGS, *own]
        self.makers: dict[str, Callable[[str], dict[str, Any]]] = {
            "vendor.registered": self.registered,
            "vendor.alias_added": lambda v: {"alias": f"{v.title()} {rng.choice(('Inc', 'Ltd'))}"},
            "data.shared": self.shared,
            "data.revoked": lambda _: {"dataset": rng.choice(DATASETS), "reason": "contract ended"},
            "vendor.offboarded": lambda _: {"reason": "contract ended"},
            "client.paused": lambda _: {"client": rng.choice(self.clients), "reason": "review"},
            "client.resumed": lambda _: {"client": rng.choice(self.clients)},
            "client.terminated": lambda _: {"client": rng.choice(self.clients)},
            "ownership.stake_acquired": self.stake,
            "ownership.acquired": lambda _: {
                "acquirer": rng.choice(self.investors),
                "amount_usd": 1e9,
            },
            "ownership.divested": lambda _: {"investor": rng.choice(self.investors)},
            "funding.round": self.funding,
            "person.moved": self.moved,
            "security.incident": self.incident,
            "workforce.changed": self.workforce,
            "demand.changed": self.demand,
            "vendor.statement": self.statement,
            "event.retracted": self.retracted,
        }
        self.ids: dict[str, list[str]] = {}
        """Event ids per vendor so far: what a retraction or a correction can name."""

    def registered(self, vendor: str) -> dict[str, Any]:
        return {
            "name": vendor.replace("-", " ").title(),
            "category": "data labelling",
            "country": self.rng.choice(("US", "GB", "AU", "IN", "PH")),
        }

    def shared(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {
            "dataset": r.choice(DATASETS),
            "classification": r.choice(CLASSIFICATIONS),
            "records": r.choice((100, 5_000, 50_000, 1_000_000, 20_000_000)),
        }

    def stake(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {
            "investor": r.choice(self.investors),
            "stake_pct": round(r.uniform(1, 60), 1),
            "amount_usd": float(r.choice((5e6, 1e8, 2e9))),
            "board_seats": r.choice((0, 0, 1, 2)),
            "voting_control": r.random() < 0.05,
        }

    def funding(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {
            "round": r.choice(("Seed", "Series A", "Series B", "Series C")),
            "amount_usd": float(r.choice((1e7, 5e7, 2e8))),
            "investors": r.sample(self.investors, r.randint(1, 4)),
        }

    def moved(self, vendor: str) -> dict[str, Any]:
        r = self.rng
        return {
            "person": f"Person {r.randrange(10_000)}",
            "role": r.choice(("CEO", "CTO", "Head of Data", "Engineer")),
            "from_org": vendor.title(),
            "to_org": r.choice(self.employers),
            "seniority": r.choice(("executive", "senior", "staff")),
        }

    def incident(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {
            "title": "Credential leak",
            "severity": r.choice(("low", "medium", "high", "critical")),
            "records_exposed": r.randrange(100_000),
        }

    def workforce(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {
            "contractors": r.randrange(100, 20_000),
            "contractors_added": r.randrange(-200, 1_500),
            "period_days": r.choice((30, 90, 182)),
            "remote_share_pct": float(r.randrange(0, 100)),
        }

    def demand(self, _: str) -> dict[str, Any]:
        r = self.rng
        return {"factor": round(r.uniform(0.5, 4), 2)} if r.random() < 0.7 else {}

    def statement(self, _: str) -> dict[str, Any]:
        return {
            "kind": self.rng.choice(("statement", "remediation", "audit")),
            "text": "Customer data remains isolated; access is reviewed quarterly.",
        }

    def retracted(self, vendor: str) -> dict[str, Any]:
        return {"id": self.rng.choice(self.ids[vendor]), "reason": "sent in error"}


def generate(
    n_events: int, n_vendors: int, seed: int = 20250612, policy: Policy | None = None
) -> list[bytes]:
    """`n_events` valid events over `n_vendors` vendors, as JSON bytes in arrival order."""
    rng = random.Random(seed)
    gen = _Gen(rng, policy or load_policy())
    vendors = [f"vendor-{i:05d}" for i in range(n_vendors)]
    types = [t for t, _ in MIX]
    weights = [w for _, w in MIX]
    out: list[bytes] = []
    step = SPAN_SECONDS / max(1, n_events)
    for i in range(n_events):
        t = START + i * step
        if i < n_vendors:
            vendor, event_type = vendors[i], "vendor.registered"
        else:
            vendor = vendors[rng.randrange(n_vendors)]
            event_type = rng.choices(types, weights)[0]
            if event_type == "event.retracted" and not gen.ids.get(vendor):
                event_type = "vendor.statement"
            if rng.random() < LATE_SHARE:
                t -= rng.uniform(0, 30 * 86_400.0)
        event: dict[str, Any] = {
            "specversion": "1.0",
            "id": f"syn-{seed}-{i}",
            "source": "urn:vendorwatch:bench:synthetic",
            "type": event_type,
            "time": datetime.fromtimestamp(round(t), UTC).isoformat().replace("+00:00", "Z"),
            "subject": vendor,
            "data": gen.makers[event_type](vendor),
        }
        earlier = gen.ids.setdefault(vendor, [])
        if earlier and event_type != "event.retracted" and rng.random() < 0.003:
            event["replaces"] = rng.choice(earlier)  # a correction
        earlier.append(event["id"])
        if event_type == "ownership.stake_acquired" and rng.random() < 0.1:
            data = event["data"]
            data["stake"] = round(data.pop("stake_pct") / 100, 4)
            data["amount"] = data.pop("amount_usd")
            event["dataschema"] = dataschema_for(event_type, 1)
        elif rng.random() < 0.05:
            event["dataschema"] = dataschema_for(event_type)
        # orjson returns bytes with a 4 KiB allocation whatever their length; a million of them
        # would hold 4 GB, so keep an exact-size copy.
        out.append(memoryview(orjson.dumps(event)).tobytes())
    return out
