"""The alert notification: what the alert agent publishes and every delivery sink consumes.

A `Notification` travels on the `vendorwatch.alerts` topic, so it is a frozen pydantic model with
an orjson codec. It is self-contained on purpose: a sink (or a replay of the topic months later)
can render it without looking anything up, which is why it carries the score, its previous value,
the contributions and the event ids behind them.

Text fields that come from events (`vendor_name`, `AlertItem.summary`, `ContributionView.detail`)
are untrusted; renderers must escape them for their target format.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from vendorwatch.streams.core.policy import SEVERITIES, Severity

Status = Literal["firing", "resolved"]


def severity_rank(severity: Severity) -> int:
    """Rank of a severity (info=0 ... critical=4), for comparisons and sorting."""
    return SEVERITIES.index(severity)


def max_severity(severities: tuple[Severity, ...] | list[Severity]) -> Severity:
    """The highest severity in a non-empty collection."""
    return max(severities, key=severity_rank)


_FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class ContributionView(BaseModel):
    """One signal's share of a vendor's score, with the events that produced it."""

    model_config = _FROZEN

    signal: str = Field(min_length=1)
    points: float
    event_ids: tuple[str, ...]
    detail: str = ""


class EvidenceView(BaseModel):
    """Where an event behind an alert was read (an article, a filing): the quote and its URL.

    Only events accepted from `vendorwatch feeds` carry one; the text is untrusted."""

    model_config = _FROZEN

    event_id: str
    url: str
    publisher: str | None = None
    quote: str


class AlertItem(BaseModel):
    """One alert (a vendor x rule pair) inside a notification, firing or resolved."""

    model_config = _FROZEN

    fingerprint: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    severity: Severity
    status: Status
    summary: str
    starts_at: AwareDatetime
    ends_at: AwareDatetime | None
    event_ids: tuple[str, ...]
    evidence: tuple[EvidenceView, ...] = ()
    """The sources of those of `event_ids` read from documents."""

    @model_validator(mode="after")
    def _ends_at_matches_status(self) -> AlertItem:
        # Sinks such as Alertmanager resolve an alert by its endsAt, so a resolved item without
        # one could never reach them as resolved; reject the inconsistency where it is made.
        if self.status == "resolved" and self.ends_at is None:
            raise ValueError("a resolved alert item needs ends_at")
        if self.status == "firing" and self.ends_at is not None:
            raise ValueError("a firing alert item must not have ends_at")
        if self.ends_at is not None and self.ends_at < self.starts_at:
            raise ValueError("ends_at is before starts_at")
        return self


class Notification(BaseModel):
    """A per-vendor group of alert items, as delivered to Slack, webhooks and Alertmanager.

    `idempotency_key` identifies this notification across redeliveries: the delivery ledger and
    the webhook `Idempotency-Key` header use it so a receiver sees it at most once.
    """

    model_config = _FROZEN

    # printable ASCII without spaces: it travels as an HTTP header and a ledger key
    idempotency_key: str = Field(pattern=r"^[!-~]{1,200}$")
    group_key: str = Field(min_length=1)
    vendor_id: str = Field(min_length=1)
    vendor_name: str
    status: Status
    severity: Severity
    alerts: tuple[AlertItem, ...]
    score: float
    previous_score: float | None
    score_severity: Severity
    previous_score_severity: Severity | None
    contributions: tuple[ContributionView, ...]
    policy_version: str
    as_of: AwareDatetime

    @field_validator("contributions")
    @classmethod
    def _largest_first(cls, value: tuple[ContributionView, ...]) -> tuple[ContributionView, ...]:
        # Renderers show the top N; sorting here (stable) means every sink agrees on "top".
        return tuple(sorted(value, key=lambda c: c.points, reverse=True))

    @model_validator(mode="after")
    def _summary_fields_match_items(self) -> Notification:
        # status and severity are derived from the items; a mismatch would make Slack say
        # "resolved" while Alertmanager still fires, so it is refused rather than guessed.
        if self.alerts:
            expected_status: Status = (
                "firing" if any(a.status == "firing" for a in self.alerts) else "resolved"
            )
            if self.status != expected_status:
                raise ValueError(f"status must be {expected_status!r} given the alert items")
            expected_severity = max_severity([a.severity for a in self.alerts])
            if self.severity != expected_severity:
                raise ValueError(f"severity must be {expected_severity!r} (max of the items)")
        return self

    @property
    def firing(self) -> tuple[AlertItem, ...]:
        """The items still firing."""
        return tuple(a for a in self.alerts if a.status == "firing")

    @property
    def resolved(self) -> tuple[AlertItem, ...]:
        """The items that resolved in this notification."""
        return tuple(a for a in self.alerts if a.status == "resolved")

    def log_fields(self) -> dict[str, object]:
        """The fields every log line about this notification carries, so that searching the
        logs for a vendor, an alert fingerprint or an event id finds its notifications and
        their deliveries (an event id: every notification whose alerts it stands behind)."""
        event_ids = dict.fromkeys(e for a in self.alerts for e in a.event_ids)
        return {
            "vendor_id": self.vendor_id,
            "fingerprints": [a.fingerprint for a in self.alerts],
            "event_ids": list(event_ids),
            "idempotency_key": self.idempotency_key,
        }

    def to_json_bytes(self) -> bytes:
        """Serialise for Kafka and the webhook body (datetimes as ISO 8601 with offset)."""
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json_bytes(cls, data: bytes | str) -> Notification:
        """Parse bytes produced by `to_json_bytes` (validates everything again)."""
        return cls.model_validate(orjson.loads(data))
