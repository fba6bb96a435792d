"""From alert transitions to notifications: grouping, repeats, silences, then delivery.

The rules (streams.core.rules) decide *what* fires, in event time. This module decides *when and how
often people hear about it*, in wall-clock time, like Alertmanager: transitions of one vendor
that arrive within the group wait go out as one notification listing every alert still firing
for that vendor plus those that just resolved; an alert that stays firing is repeated at most
once per repeat interval; silenced alerts are left out (and a notification with nothing left is
not sent).

`build_notification` is pure (it takes `now`); `Notifier` keeps the small state around it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vendorwatch.alerts.notification import (
    AlertItem,
    ContributionView,
    EvidenceView,
    Notification,
    max_severity,
    severity_rank,
)
from vendorwatch.alerts.silences import SilenceBook
from vendorwatch.streams.core.policy import Policy


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _item(record: dict[str, Any]) -> AlertItem:
    return AlertItem(
        fingerprint=record["fingerprint"],
        rule=record["rule"],
        severity=record["severity"],
        status=record["status"],
        summary=record["summary"],
        starts_at=_dt(record["starts_at"]),  # type: ignore[arg-type]
        ends_at=_dt(record["ends_at"]),
        event_ids=tuple(record["event_ids"]),
        evidence=tuple(EvidenceView(**e) for e in record.get("evidence") or ()),
    )


def _key(prefix: str, parts: Iterable[str]) -> str:
    digest = hashlib.sha256("\x00".join(sorted(parts)).encode()).hexdigest()[:32]
    return f"{prefix}-{digest}"


@dataclass(slots=True)
class VendorAlerts:
    """What the notifier knows of one vendor: its firing alerts and the latest score context."""

    firing: dict[str, dict[str, Any]] = field(default_factory=dict)
    """fingerprint -> the transition record that started it."""
    context: dict[str, Any] | None = None
    """The latest transition record (score, contributions, policy version)."""
    last_notified: float | None = None
    """Wall-clock time of the last notification sent for this vendor."""


def build_notification(
    vendor: VendorAlerts,
    batch: Sequence[dict[str, Any]],
    silences: SilenceBook,
    now: datetime,
    *,
    key: str,
) -> Notification | None:
    """The notification for a vendor after `batch` (already absorbed into `vendor`): every
    firing alert plus the ones `batch` resolved, minus silenced ones; None if nothing is left."""
    latest = batch[-1] if batch else vendor.context
    if latest is None:
        return None
    resolved = [r for r in batch if r["status"] == "resolved"]
    records = [*vendor.firing.values(), *resolved]
    items = [_item(r) for r in records if silences.matching(r["vendor_id"], r["rule"], now) is None]
    if not items:
        return None
    items.sort(
        key=lambda i: (
            i.status != "firing",
            -severity_rank(i.severity),
            i.rule,
        )
    )
    first = batch[0] if batch else latest
    return Notification(
        idempotency_key=key,
        group_key=latest["vendor_id"],
        vendor_id=latest["vendor_id"],
        vendor_name=latest["vendor_name"],
        status="firing" if any(i.status == "firing" for i in items) else "resolved",
        severity=max_severity([i.severity for i in items]),
        alerts=tuple(items),
        score=latest["score"],
        previous_score=first["previous_score"] if batch else latest["score"],
        score_severity=latest["score_severity"],
        previous_score_severity=(
            first["previous_score_severity"] if batch else latest["score_severity"]
        ),
        contributions=tuple(
            ContributionView(
                signal=c["signal"],
                points=c["points"],
                event_ids=tuple(c["event_ids"]),
                detail=c.get("detail", ""),
            )
            for c in latest["contributions"]
        ),
        policy_version=latest["policy_version"],
        as_of=_dt(latest["as_of"]),  # type: ignore[arg-type]
    )


class Notifier:
    """Per-vendor alert memory for the notify agent (the vendors of its partitions)."""

    def __init__(self, policy: Policy, silences: SilenceBook) -> None:
        self.policy = policy
        self.silences = silences
        self.vendors: dict[str, VendorAlerts] = {}

    def absorb(self, record: dict[str, Any]) -> VendorAlerts:
        """Fold one transition record into the vendor's firing set."""
        vendor = self.vendors.setdefault(record["vendor_id"], VendorAlerts())
        if record["status"] == "firing":
            vendor.firing[record["fingerprint"]] = record
        else:
            vendor.firing.pop(record["fingerprint"], None)
        vendor.context = record
        return vendor

    def on_batch(
        self, vendor_id: str, batch: Sequence[dict[str, Any]], now: float
    ) -> Notification | None:
        """Absorb a vendor's transitions from one group wait and build their notification.

        The idempotency key is derived from the transition ids, so a redelivered batch after a
        crash produces the same key and the delivery ledger drops the duplicate.
        """
        vendor = self.vendors.setdefault(vendor_id, VendorAlerts())
        for record in batch:
            self.absorb(record)
        key = _key("n", (r["id"] for r in batch))
        notification = build_notification(
            vendor, batch, self.silences, datetime.fromtimestamp(now, UTC), key=key
        )
        if notification is not None:
            vendor.last_notified = now
        return notification

    def due_repeats(self, now: float) -> list[Notification]:
        """Notifications for vendors whose alerts stayed firing for a repeat interval."""
        interval = self.policy.alerts.repeat_interval_hours * 3600
        due = []
        for vendor_id, vendor in self.vendors.items():
            if not vendor.firing:
                continue
            if vendor.last_notified is None:
                vendor.last_notified = now  # learned at start-up: the interval starts now
                continue
            if now - vendor.last_notified < interval:
                continue
            bucket = str(math.floor(now / interval))
            key = _key("r", [vendor_id, bucket, *vendor.firing])
            notification = build_notification(
                vendor, [], self.silences, datetime.fromtimestamp(now, UTC), key=key
            )
            vendor.last_notified = now
            if notification is not None:
                due.append(notification)
        return due

    def active_counts(self) -> dict[tuple[str, str], int]:
        """(severity, rule) -> number of firing alerts, for the alerts_active gauge."""
        counts: dict[tuple[str, str], int] = {}
        for vendor in self.vendors.values():
            for record in vendor.firing.values():
                label = (record["severity"], record["rule"])
                counts[label] = counts.get(label, 0) + 1
        return counts
