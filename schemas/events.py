"""The event model every producer writes to: a CloudEvents 1.0 envelope around a typed payload.

Why CloudEvents: producers in any language already know the envelope (`id`, `source`, `type`,
`time`, `subject`), so vendorwatch only has to specify the `data` payload per `type`. The envelope
is a discriminated union on `type`, which gives one precise error ("data.stake_pct: less than or
equal to 100") instead of a list of failures against every possible payload.

Everything is bounded (string lengths, list sizes, percentages, amounts) because events arrive
from outside the trust boundary and end up in tables, Slack messages and metrics labels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, overload

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
)

from vendorwatch.schemas._fast import unix_seconds as unix_seconds  # the fold reads times so

VENDOR_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
"""Vendor ids are slugs: they become Kafka keys, URL path segments and metric label values."""

VendorId = Annotated[str, StringConstraints(pattern=VENDOR_ID_PATTERN)]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=4000)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[!-~]+$")]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
Usd = Annotated[float, Field(ge=0, le=1e14, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0, le=10**12)]
Names = Annotated[list[Name], Field(max_length=50)]


def _to_utc(value: datetime) -> datetime:
    """Every instant is written in UTC, so equal instants serialise identically."""
    return value.astimezone(UTC)


EventTime = Annotated[AwareDatetime, PlainSerializer(_to_utc, return_type=datetime)]
"""When it happened, with the offset the producer wrote. Aware datetimes compare and hash by
instant whatever their offset, so the fold only needs that; the conversion to UTC happens when
an event is written out (`vendorwatch.events`, exports). Converting at validation instead would
be a Python call for every event read, about a seventh of the cost of parsing one."""


@overload
def iso(t: None) -> None: ...
@overload
def iso(t: float | datetime) -> str: ...
def iso(t: float | datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a `Z`: `2025-06-01T12:00:00Z` (None stays None).

    The one way vendorwatch writes an instant (scores, alert records, replay reports), given as
    unix seconds (event time in the fold) or an aware datetime; here because every layer
    already imports the event model and it imports nothing of vendorwatch."""
    if t is None:
        return None
    moment = datetime.fromtimestamp(t, UTC) if isinstance(t, int | float) else t.astimezone(UTC)
    return moment.isoformat().replace("+00:00", "Z")


class Classification(StrEnum):
    """How sensitive a dataset shared with a vendor is; the policy weighs each level."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"


class Payload(BaseModel):
    """Base of every `data` payload: immutable, and unknown fields are an error, not ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorRegistered(Payload):
    """A vendor enters the monitor's inventory."""

    name: Name
    aliases: Annotated[list[Name], Field(max_length=20)] = []
    category: Name | None = None
    country: Name | None = None


class AliasAdded(Payload):
    """Another name the vendor is known by (news and filings use several)."""

    alias: Name


class DataShared(Payload):
    """We share a dataset with the vendor: this is what is at stake."""

    dataset: Identifier
    classification: Classification
    records: Count
    description: Text | None = None


class DataRevoked(Payload):
    """The vendor no longer holds the dataset (access removed, deletion certified)."""

    dataset: Identifier
    reason: Text | None = None


class VendorOffboarded(Payload):
    """The relationship has ended: the vendor holds none of the data shared before this event.

    One event instead of a `data.revoked` per dataset, because offboarding is how a relationship
    ends in practice and an inventory is rarely complete; data shared after it counts again."""

    reason: Text | None = None


class StakeAcquired(Payload):
    """An investor now holds `stake_pct` of the vendor (the resulting holding, not the delta)."""

    investor: Name
    stake_pct: Percent
    amount_usd: Usd | None = None
    board_seats: Annotated[int, Field(ge=0, le=50)] = 0
    voting_control: bool = False


class Divestment(Payload):
    """An investor no longer holds any of the vendor: its earlier stake, seats, control or
    acquisition end (a stake report of 0% says the same; this type says it explicitly)."""

    investor: Name
    amount_usd: Usd | None = None


class Acquisition(Payload):
    """Someone buys the vendor outright."""

    acquirer: Name
    amount_usd: Usd | None = None


class FundingRound(Payload):
    """A financing round; it matters when a competitor is among the investors."""

    round: Name
    amount_usd: Usd
    investors: Names = []
    valuation_usd: Usd | None = None


class Seniority(StrEnum):
    """How much of the vendor's knowledge and access a departing person carries."""

    EXECUTIVE = "executive"
    SENIOR = "senior"
    STAFF = "staff"


class KeyPersonMoved(Payload):
    """A person leaves one organisation for another (the vendor is usually `from_org`)."""

    person: Name
    role: Name
    from_org: Name
    to_org: Name
    seniority: Seniority = Seniority.SENIOR


class ClientChange(Payload):
    """Another client of the vendor pauses, resumes or ends its work with it."""

    client: Name
    reason: Text | None = None


class IncidentSeverity(StrEnum):
    """Severity of a security incident as the vendor or the press reports it."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class SecurityIncident(Payload):
    """A breach, leak or compromise at the vendor.

    `incident_id` names the incident across reports: a later report with the same id (an update:
    "low, no data accessed") states what the incident is now and replaces the earlier ones. Without
    one, reports with the same title within the policy's `same_title_window_days` are taken as
    one incident (docs/scoring.md, "Facts counted once")."""

    incident_id: Identifier | None = None
    title: Name
    severity: IncidentSeverity
    records_exposed: Count | None = None
    description: Text | None = None


class WorkforceChanged(Payload):
    """The vendor's contractor pool changed: more hands, often remote, can see shared data."""

    contractors: Count
    contractors_added: Annotated[int, Field(ge=-(10**9), le=10**9)] = 0
    period_days: Annotated[int, Field(ge=1, le=3650)] = 30
    remote_share_pct: Percent | None = None
    description: Text | None = None


class DemandChanged(Payload):
    """The vendor's demand moved: a surge means onboarding many new clients and workers fast."""

    factor: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)] | None = None
    description: Text | None = None


class StatementKind(StrEnum):
    """How much weight a mitigating statement deserves: words < remediation < independent audit."""

    STATEMENT = "statement"
    REMEDIATION = "remediation"
    AUDIT = "audit"


class VendorStatement(Payload):
    """The vendor says or does something that mitigates the risk."""

    kind: StatementKind = StatementKind.STATEMENT
    text: Text


class Provenance(BaseModel):
    """Where an event read from a document comes from: the evidence behind a score.

    Set by `vendorwatch feeds` when an analyst accepts a candidate extracted from an article, a
    filing or a breach list; absent on events written by hand. It travels as one extension
    attribute of the JSON (structured-mode) CloudEvent, `provenance`, so an event without it is
    exactly what it was before; alerts and `vendorwatch history` quote it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    """The document: its URL, or the path it was read from."""
    publisher: Name | None = None
    quote: Text
    """The sentence(s) the event was read from, exactly as in the document."""
    span: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]] | None = None
    """[start, end) character offsets of the quote in the document's text."""
    extractor: Identifier
    """The extractor and its version, e.g. `vendorwatch-feeds/1`."""
    confidence: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    reviewer: Name | None = None
    """Who accepted it (None: accepted by a source's auto-accept setting)."""


class Retraction(Payload):
    """The producer takes back one of its own earlier events: it no longer counts anywhere.

    `id` names an event of the *same source* and the same subject (vendor): a source can take
    back only what it said itself. The retracted event stays in the history, as does this one;
    scores and alerts read as if it had never been sent. A retraction that arrives before the
    event it names is kept, and the event is ignored when it arrives."""

    id: EventId
    reason: Text | None = None


class _Envelope(BaseModel):
    """CloudEvents 1.0 attributes shared by every event type, and one extension attribute.

    `replaces` (a CloudEvents extension attribute) corrects an earlier event: it names the `id`
    of an event from the same source and subject that this one supersedes. The earlier event
    stops counting and this one counts in its place (a mistyped stake, a wrong date); both stay
    in the history. Event identity is (`source`, `id`), as CloudEvents defines it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: EventId
    source: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    time: EventTime
    subject: VendorId
    dataschema: Annotated[str, StringConstraints(max_length=512)] | None = None
    datacontenttype: Literal["application/json"] | None = None
    provenance: Provenance | None = None
    """Extension attribute: the source behind an event that came from a feed (`Provenance`)."""
    replaces: EventId | None = None


class VendorRegisteredEvent(_Envelope):
    type: Literal["vendor.registered"]
    data: VendorRegistered


class AliasAddedEvent(_Envelope):
    type: Literal["vendor.alias_added"]
    data: AliasAdded


class DataSharedEvent(_Envelope):
    type: Literal["data.shared"]
    data: DataShared


class DataRevokedEvent(_Envelope):
    type: Literal["data.revoked"]
    data: DataRevoked


class VendorOffboardedEvent(_Envelope):
    type: Literal["vendor.offboarded"]
    data: VendorOffboarded


class StakeAcquiredEvent(_Envelope):
    type: Literal["ownership.stake_acquired"]
    data: StakeAcquired


class DivestmentEvent(_Envelope):
    type: Literal["ownership.divested"]
    data: Divestment


class AcquisitionEvent(_Envelope):
    type: Literal["ownership.acquired"]
    data: Acquisition


class FundingRoundEvent(_Envelope):
    type: Literal["funding.round"]
    data: FundingRound


class KeyPersonMovedEvent(_Envelope):
    type: Literal["person.moved"]
    data: KeyPersonMoved


class ClientPausedEvent(_Envelope):
    type: Literal["client.paused"]
    data: ClientChange


class ClientResumedEvent(_Envelope):
    type: Literal["client.resumed"]
    data: ClientChange


class ClientTerminatedEvent(_Envelope):
    type: Literal["client.terminated"]
    data: ClientChange


class SecurityIncidentEvent(_Envelope):
    type: Literal["security.incident"]
    data: SecurityIncident


class WorkforceChangedEvent(_Envelope):
    type: Literal["workforce.changed"]
    data: WorkforceChanged


class DemandChangedEvent(_Envelope):
    type: Literal["demand.changed"]
    data: DemandChanged


class VendorStatementEvent(_Envelope):
    type: Literal["vendor.statement"]
    data: VendorStatement


class RetractionEvent(_Envelope):
    type: Literal["event.retracted"]
    data: Retraction


EVENT_CLASSES: tuple[type[_Envelope], ...] = (
    VendorRegisteredEvent,
    AliasAddedEvent,
    DataSharedEvent,
    DataRevokedEvent,
    VendorOffboardedEvent,
    StakeAcquiredEvent,
    DivestmentEvent,
    AcquisitionEvent,
    FundingRoundEvent,
    KeyPersonMovedEvent,
    ClientPausedEvent,
    ClientResumedEvent,
    ClientTerminatedEvent,
    SecurityIncidentEvent,
    WorkforceChangedEvent,
    DemandChangedEvent,
    VendorStatementEvent,
    RetractionEvent,
)

Event = Annotated[
    VendorRegisteredEvent
    | AliasAddedEvent
    | DataSharedEvent
    | DataRevokedEvent
    | VendorOffboardedEvent
    | StakeAcquiredEvent
    | DivestmentEvent
    | AcquisitionEvent
    | FundingRoundEvent
    | KeyPersonMovedEvent
    | ClientPausedEvent
    | ClientResumedEvent
    | ClientTerminatedEvent
    | SecurityIncidentEvent
    | WorkforceChangedEvent
    | DemandChangedEvent
    | VendorStatementEvent
    | RetractionEvent,
    Field(discriminator="type"),
]
"""Any vendorwatch event; validate with `schemas.codec.parse_event`."""

EVENT_TYPES: dict[str, type[_Envelope]] = {
    cls.model_fields["type"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in EVENT_CLASSES
}
"""CloudEvents `type` -> model class."""
