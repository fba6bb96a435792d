"""The records vendorwatch writes for other systems, as pydantic models: their contract.

Why models of records that are built as plain dicts elsewhere (`streams.core.records`,
`streams.core.rules`, `streams.kafka_io.deadletter`): a consumer in another language needs the
shape as a JSON Schema, and the schema is generated from these models (`vendorwatch schemas
export`). The builders stay dicts on the hot path; the integration tests validate the records a
real worker writes against the exported schemas, so a builder cannot drift from its contract
unnoticed. Nothing of vendorwatch is imported here beyond the event model (the import contract of
this package), so the severity names are spelled out; a test holds them equal to the policy's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vendorwatch.schemas.codec import RejectReason
from vendorwatch.schemas.events import VendorId

Severity = Literal["info", "low", "medium", "high", "critical"]
"""The policy's severity bands, lowest first (streams/core/policy.py `SEVERITIES`)."""

_RECORD = ConfigDict(extra="forbid", frozen=True)


class Contribution(BaseModel):
    """One signal's share of a score, with the events behind it."""

    model_config = _RECORD

    signal: str
    points: float
    event_ids: list[str]
    detail: str


class ScoreRecord(BaseModel):
    """A score change on `vendorwatch.scores` (keyed by vendor id); also the body of
    `GET /vendors/{vendor_id}` without its `alerts` and `recent_events`."""

    model_config = _RECORD

    vendor_id: VendorId
    name: str
    score: float = Field(ge=0, le=100)
    severity: Severity
    data_at_stake: float = Field(ge=0)
    likelihood: float = Field(ge=0)
    policy_version: str
    as_of: AwareDatetime = Field(description="Event time the score is as of.")
    event_count: int = Field(ge=0)
    contributions: list[Contribution]
    data_event_ids: list[str]
    notes: list[str]
    updated_at: AwareDatetime = Field(description="Equal to `as_of` (what the API shows).")
    caused_by: str = Field(description="Id of the event (or deadline) that changed the score.")
    previous_score: float | None
    previous_severity: Severity | None
    published_at: float = Field(description="Wall clock of the writer, unix seconds.")


class Evidence(BaseModel):
    """Where an alert's event was read from, for events accepted from `vendorwatch feeds` (the
    event's `provenance`, shortened to what a notification quotes)."""

    model_config = _RECORD

    event_id: str
    url: str
    publisher: str | None
    quote: str


class AlertRecord(BaseModel):
    """An alert transition on `vendorwatch.alerts` (keyed by vendor id): a rule started or
    stopped firing for a vendor. `id` is deterministic, so a redelivery can be dropped."""

    model_config = _RECORD

    id: str
    vendor_id: VendorId
    vendor_name: str
    rule: str
    fingerprint: str
    status: Literal["firing", "resolved"]
    severity: Severity
    summary: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None
    event_ids: list[str]
    caused_by: str
    score: float
    previous_score: float | None
    score_severity: Severity
    previous_score_severity: Severity | None
    contributions: list[Contribution]
    policy_version: str
    as_of: AwareDatetime
    evidence: list[Evidence] = Field(
        default=[], description="Sources of those of `event_ids` read from documents."
    )


class Payload(BaseModel):
    """Bytes kept losslessly: UTF-8 text when they decode, base64 otherwise, `none` for a
    message without a value."""

    model_config = _RECORD

    encoding: Literal["utf-8", "base64", "none"]
    value: str


class Header(Payload):
    """A Kafka header of a rejected binary-mode CloudEvent (`ce_*`, `content-type`)."""

    name: str


class FieldProblem(BaseModel):
    """One problem with one field (`field` is a dotted path; empty for the whole message)."""

    model_config = _RECORD

    field: str
    message: str


class Origin(BaseModel):
    """Where a rejected message was read."""

    model_config = _RECORD

    topic: str
    partition: int = Field(ge=0)
    offset: int = Field(ge=0)
    timestamp_ms: int | None
    key: Payload | None


class EventDeadLetter(BaseModel):
    """A rejected input on `vendorwatch.events.dlq`: why, where from, and the original bytes
    (with the binary-mode headers when it came in binary mode), enough to re-drive it."""

    model_config = _RECORD

    reason: RejectReason
    errors: list[FieldProblem]
    message: str
    origin: Origin
    rejected_by: str = Field(description="The worker that rejected it.")
    original: Payload
    headers: list[Header] | None = Field(
        default=None, description="Present only for a CloudEvents binary-mode message."
    )
