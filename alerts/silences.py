"""Silences: "don't notify about this vendor (and rule) until then", kept as events.

A silence is created and expired by records on `vendorwatch.silences`, so the system stays
event-sourced: every worker folds the topic into a `SilenceBook`, a restart reads it back, and
the history says who silenced what, when and why. Silences act on notifications (wall-clock
time, like Alertmanager's), never on scores or alert state.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from vendorwatch.schemas.events import VENDOR_ID_PATTERN


class Silence(BaseModel):
    """One silence: a vendor, optionally one rule, until an instant, with a reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: Annotated[str, StringConstraints(pattern=r"^s-[0-9a-f]{12}$")]
    vendor_id: Annotated[str, StringConstraints(pattern=VENDOR_ID_PATTERN)]
    rule: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")] | None = None
    until: AwareDatetime
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    created_at: AwareDatetime
    created_by: Annotated[str, StringConstraints(max_length=200)] = ""

    def matches(self, vendor_id: str, rule: str) -> bool:
        return self.vendor_id == vendor_id and (self.rule is None or self.rule == rule)


class SilenceRecord(BaseModel):
    """What travels on the silences topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["created", "expired"]
    silence: Silence | None = None
    id: str | None = None
    at: AwareDatetime

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json", exclude_none=True))


def new_silence(
    vendor_id: str,
    until: datetime,
    reason: str,
    rule: str | None = None,
    *,
    now: datetime,
    created_by: str = "",
) -> SilenceRecord:
    """A 'created' record for a new silence (validated; raises ValueError on bad input)."""
    if until <= now:
        raise ValueError("--until must be in the future")
    silence = Silence(
        id=f"s-{secrets.token_hex(6)}",
        vendor_id=vendor_id,
        rule=rule,
        until=until,
        reason=reason,
        created_at=now,
        created_by=created_by,
    )
    return SilenceRecord(kind="created", silence=silence, at=now)


def expire_record(silence_id: str, *, now: datetime) -> SilenceRecord:
    return SilenceRecord(kind="expired", id=silence_id, at=now)


class SilenceBook:
    """The fold of the silences topic: every silence ever made and which were expired early."""

    def __init__(self) -> None:
        self.silences: dict[str, Silence] = {}
        self.expired_at: dict[str, datetime] = {}

    def apply(self, record: SilenceRecord) -> None:
        if record.kind == "created" and record.silence is not None:
            self.silences[record.silence.id] = record.silence
        elif record.kind == "expired" and record.id is not None:
            self.expired_at.setdefault(record.id, record.at)

    def apply_bytes(self, value: bytes) -> None:
        self.apply(SilenceRecord.model_validate(orjson.loads(value)))

    def is_active(self, silence: Silence, now: datetime) -> bool:
        ended = self.expired_at.get(silence.id)
        return silence.until > now and (ended is None or ended > now)

    def active(self, now: datetime) -> list[Silence]:
        return sorted(
            (s for s in self.silences.values() if self.is_active(s, now)),
            key=lambda s: (s.until, s.id),
        )

    def matching(self, vendor_id: str, rule: str, now: datetime) -> Silence | None:
        """The active silence covering this alert, if any."""
        for silence in self.silences.values():
            if silence.matches(vendor_id, rule) and self.is_active(silence, now):
                return silence
        return None

    def describe(self, now: datetime) -> list[dict[str, Any]]:
        """Every silence with its state, newest first (for `vendorwatch silence list`)."""
        rows = []
        for s in sorted(self.silences.values(), key=lambda s: s.created_at, reverse=True):
            state = "active" if self.is_active(s, now) else "expired"
            rows.append({**s.model_dump(mode="json"), "state": state})
        return rows


def utcnow() -> datetime:
    """Wall-clock now, for the adapters (silences are a wall-clock notion)."""
    return datetime.now(UTC)
