"""What replay results say to people and machines: firing alerts, score records, backtest
reports and the per-vendor timeline. Pure functions of results.

No Kafka client here (only `fold`): `vendorwatch score`, an offline command, reports through
`replay_items` too, so `score --json` and `replay --json` are one shape and one set of values.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from vendorwatch.schemas.events import Event, iso
from vendorwatch.streams.core import records
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.rules import Firing
from vendorwatch.streams.core.scoring import DAY, Score
from vendorwatch.streams.replay.fold import AlertMark, PolicyResult, ScoreChange, Step, Window

log = structlog.get_logger(__name__)


def firing_dict(firing: Firing) -> dict[str, Any]:
    """A firing alert as JSON (the fields of an alert record that describe the alert itself)."""
    return {
        "rule": firing.rule,
        "fingerprint": firing.fingerprint,
        "severity": firing.severity,
        "summary": firing.summary,
        "starts_at": iso(firing.starts_at),
        "event_ids": list(firing.event_ids),
    }


def replay_items(
    result: PolicyResult, *, vendor: str | None = None, window: Window | None = None
) -> list[dict[str, Any]]:
    """`replay --json`: `vendorwatch score --json` items plus `alerts` (firing at the horizon)
    and, with a `--from` window, `transitions` (alerts that fired or resolved inside it)."""
    items = []
    marks_by_vendor: dict[str, list[AlertMark]] = {}
    for mark in result.marks:
        marks_by_vendor.setdefault(mark.vendor_id, []).append(mark)
    for score in result.sorted_scores():
        if vendor is not None and score.vendor_id != vendor:
            continue
        windowed = window is not None and window.start is not None
        if windowed and score.vendor_id not in result.window_vendors:
            continue
        item = score.to_dict()
        firing = result.firing.get(score.vendor_id, {})
        item["alerts"] = [
            firing_dict(f) for f in sorted(firing.values(), key=lambda f: (f.starts_at, f.rule))
        ]
        if windowed:
            marks = sorted(marks_by_vendor.get(score.vendor_id, []), key=lambda m: (m.at, m.rule))
            item["transitions"] = [m.to_dict() for m in marks]
        items.append(item)
    return items


def score_record(change: ScoreChange, published_at: float | None = None) -> dict[str, Any]:
    """A replayed change as the record the live worker publishes on `vendorwatch.scores`: the
    one builder, `streams.core.records.score_record`, so a rebuild writes what the worker would.
    `published_at` defaults to now (the core takes no clock)."""
    return records.score_record(
        change.current,
        change.previous,
        change.caused_by,
        published_at=time.time() if published_at is None else published_at,
    )


# --- backtest ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirstAlert:
    """When a vendor first alerted under each policy, and the difference in days (B - A)."""

    vendor_id: str
    a: AlertMark | None
    b: AlertMark | None

    @property
    def days_later(self) -> float | None:
        """How many days after A policy B alerted (negative: earlier); None if one never did."""
        if self.a is None or self.b is None:
            return None
        return round((self.b.at - self.a.at) / DAY, 2)

    @property
    def first(self) -> str:
        """'A', 'B', 'same', or 'none'."""
        if self.a is None and self.b is None:
            return "none"
        if self.b is None:
            return "A"
        if self.a is None:
            return "B"
        if self.a.at == self.b.at:
            return "same"
        return "A" if self.a.at < self.b.at else "B"

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor_id": self.vendor_id,
            "first": self.first,
            "days_later": self.days_later,
            "a": self.a.to_dict() if self.a else None,
            "b": self.b.to_dict() if self.b else None,
        }


@dataclass(slots=True)
class BacktestReport:
    """Two policies over the same history, side by side."""

    policies: tuple[Policy, Policy]
    window: Window
    first_alerts: list[FirstAlert]
    rule_firsts: dict[str, dict[str, tuple[float | None, float | None]]]
    """vendor -> rule -> (first firing under A, under B), only where they differ."""
    monthly: list[tuple[str, int, int]]
    """(YYYY-MM, firing alerts under A, under B) for every month with any."""
    severity_differences: list[tuple[str, Score | None, Score | None]]
    totals: tuple[int, int]
    fired_only: tuple[list[str], list[str]]
    """Vendors that alerted only under A, only under B."""

    @property
    def differences(self) -> int:
        """0 when the two policies behave the same on this history."""
        return (
            sum(1 for f in self.first_alerts if f.first not in {"same", "none"})
            + sum(len(rules) for rules in self.rule_firsts.values())
            + sum(1 for _, a, b in self.monthly if a != b)
            + len(self.severity_differences)
        )

    def to_dict(self) -> dict[str, Any]:
        a, b = self.policies
        return {
            "policies": [
                {"label": p.label, "version": p.version, "role": r} for p, r in ((a, "A"), (b, "B"))
            ],
            "from": iso(self.window.start),
            "to": iso(self.window.end),
            "alerts_fired": {"A": self.totals[0], "B": self.totals[1]},
            "differences": self.differences,
            "first_alerts": [f.to_dict() for f in self.first_alerts],
            "rule_first_firing": {
                vendor: {
                    rule: {"A": iso(ta), "B": iso(tb), "days_later": _days(ta, tb)}
                    for rule, (ta, tb) in sorted(rules.items())
                }
                for vendor, rules in sorted(self.rule_firsts.items())
            },
            "monthly": [{"month": m, "A": ca, "B": cb} for m, ca, cb in self.monthly],
            "severity_differences": [
                {
                    "vendor_id": vendor,
                    "A": {"score": sa.score, "severity": sa.severity} if sa else None,
                    "B": {"score": sb.score, "severity": sb.severity} if sb else None,
                }
                for vendor, sa, sb in self.severity_differences
            ],
            "alerted_only_under": {"A": self.fired_only[0], "B": self.fired_only[1]},
        }


def _days(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((b - a) / DAY, 2)


def _month(t: float) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return f"{moment.year:04d}-{moment.month:02d}"


def backtest_report(a: PolicyResult, b: PolicyResult, window: Window) -> BacktestReport:
    """Compare the alerts two policies fired within `window` and their scores at its end.

    Pure: it only looks at the two results (both from the same read of the history).
    """
    fired_a = [m for m in a.marks if m.status == "firing" and window.contains(m.at)]
    fired_b = [m for m in b.marks if m.status == "firing" and window.contains(m.at)]

    def firsts(marks: list[AlertMark]) -> tuple[dict[str, AlertMark], dict[tuple[str, str], float]]:
        by_vendor: dict[str, AlertMark] = {}
        by_rule: dict[tuple[str, str], float] = {}
        for mark in sorted(marks, key=lambda m: (m.at, m.rule)):
            by_vendor.setdefault(mark.vendor_id, mark)
            by_rule.setdefault((mark.vendor_id, mark.rule), mark.at)
        return by_vendor, by_rule

    first_a, rules_a = firsts(fired_a)
    first_b, rules_b = firsts(fired_b)
    vendors = sorted(set(first_a) | set(first_b))
    first_alerts = [FirstAlert(v, first_a.get(v), first_b.get(v)) for v in vendors]
    rule_firsts: dict[str, dict[str, tuple[float | None, float | None]]] = {}
    for key in sorted(set(rules_a) | set(rules_b)):
        ta, tb = rules_a.get(key), rules_b.get(key)
        if ta != tb:
            rule_firsts.setdefault(key[0], {})[key[1]] = (ta, tb)
    months_a = Counter(_month(m.at) for m in fired_a)
    months_b = Counter(_month(m.at) for m in fired_b)
    monthly = [(m, months_a[m], months_b[m]) for m in sorted(set(months_a) | set(months_b))]
    severity_differences = []
    for vendor in sorted(set(a.scores) | set(b.scores)):
        sa, sb = a.scores.get(vendor), b.scores.get(vendor)
        if (sa.severity if sa else None) != (sb.severity if sb else None):
            severity_differences.append((vendor, sa, sb))
    return BacktestReport(
        policies=(a.policy, b.policy),
        window=window,
        first_alerts=first_alerts,
        rule_firsts=rule_firsts,
        monthly=monthly,
        severity_differences=severity_differences,
        totals=(len(fired_a), len(fired_b)),
        fired_only=(sorted(set(first_a) - set(first_b)), sorted(set(first_b) - set(first_a))),
    )


# --- history of one vendor ---------------------------------------------------------------------


def event_summary(event: Event) -> str:
    """A one-line description of an event's payload for timelines."""
    data = event.data.model_dump(exclude_none=True, exclude_defaults=True)
    parts = []
    for key, value in data.items():
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        if len(text) > 60:
            text = text[:59] + "…"
        parts.append(f"{key}={text}")
    summary = " ".join(parts)
    source = event.provenance
    if source is not None:  # read from a document (`vendorwatch feeds`): cite it
        quote = source.quote if len(source.quote) <= 120 else source.quote[:119] + "…"
        summary += f"\n“{quote}” — {source.url}"
    return summary


def timeline_items(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """`history --json`: every evaluation of the vendor in log order, with the score it led to:
    its events, and the deadlines at which time alone changed something (`event` null,
    `caused_by` "time:<instant>", `offset` null), each before the event it preceded."""
    items = []
    for step in steps:
        items.append(
            {
                "partition": step.partition,
                "offset": step.offset,
                "event": (
                    step.event.model_dump(mode="json", exclude_none=True)
                    if step.event is not None
                    else None
                ),
                "caused_by": step.caused_by,
                "score": step.score.score,
                "severity": step.score.severity,
                "as_of": iso(step.score.as_of.timestamp()),
                "previous_score": step.previous.score if step.previous else None,
                "changed": step.changed,
                "duplicate": step.duplicate,
                "contributions": [c.to_dict() for c in step.score.contributions],
                "transitions": [
                    {
                        "rule": t.rule,
                        "status": t.status,
                        "severity": t.severity,
                        "summary": t.summary,
                    }
                    for t in step.transitions
                ],
            }
        )
    return items


# --- export ------------------------------------------------------------------------------------
