"""Calibration tables: what a policy makes of typical vendors, as Markdown.

Why: a policy is a dozen weights whose effect on a score is not obvious (a weight multiplies a
hazard, hazards add, the likelihood saturates, the data at stake scales it). A security team
signs off on outcomes ("a competitor buying a vendor that holds our confidential data pages
critical"), not on weights. These tables state the outcomes of a policy for a fixed set of data
profiles and events, computed by the reference scoring (`scoring.score`) on synthetic
histories, so a policy edit shows what it does. docs/scoring.md embeds the tables of the shipped
policy between `<!-- calibration:begin -->` and `<!-- calibration:end -->`, and
tests/streams/core/test_calibration.py fails when they no longer match the policy.

Pure: no I/O and no wall clock; every event is dated at a fixed instant `T0`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from vendorwatch.schemas import Classification, Event, validate_event
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import class_worth, score
from vendorwatch.streams.core.state import VendorState, apply

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
"""When every synthetic event happens, and the instant scored: nothing has decayed yet."""

BEGIN = "<!-- calibration:begin -->"
END = "<!-- calibration:end -->"

VOLUMES: tuple[int, ...] = (1, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)
"""Records per classification in the data-at-stake table."""

VENDOR = "vendor"


class Profile(NamedTuple):
    """A vendor's data inventory: (classification, records) per dataset."""

    label: str
    datasets: tuple[tuple[str, int], ...]


PROFILES: tuple[Profile, ...] = (
    Profile("one restricted, 1M", (("restricted", 1_000_000),)),
    Profile("one restricted, 1 record", (("restricted", 1),)),
    Profile("one confidential, 1M", (("confidential", 1_000_000),)),
    Profile("one confidential, 1k", (("confidential", 1_000),)),
    Profile("one internal, 1M", (("internal", 1_000_000),)),
    Profile("one internal, 1k", (("internal", 1_000),)),
    Profile("ten internal, 100 each", (("internal", 100),) * 10),
)
"""Data profiles, columns of the scenario table."""

Payloads = list[tuple[str, dict[str, Any]]]


def _competitor(policy: Policy) -> str:
    """The competitor the scenarios name: the policy's first (a non-match without any)."""
    return policy.competitors[0].name if policy.competitors else "a competitor"


SCENARIOS: tuple[tuple[str, Callable[[str], Payloads]], ...] = (
    ("competitor acquires the vendor", lambda c: [("ownership.acquired", {"acquirer": c})]),
    (
        "competitor holds 49%",
        lambda c: [("ownership.stake_acquired", {"investor": c, "stake_pct": 49.0})],
    ),
    (
        "competitor holds 10% with voting control",
        lambda c: [
            (
                "ownership.stake_acquired",
                {"investor": c, "stake_pct": 10.0, "voting_control": True},
            )
        ],
    ),
    (
        "executive leaves for competitor",
        lambda c: [
            (
                "person.moved",
                {
                    "person": "A. Person",
                    "role": "CTO",
                    "from_org": "Vendor",
                    "to_org": c,
                    "seniority": "executive",
                },
            )
        ],
    ),
    (
        "critical incident",
        lambda c: [("security.incident", {"title": "Breach", "severity": "critical"})],
    ),
    (
        "two peer clients pause",
        lambda c: [
            ("client.paused", {"client": "Peer Client One"}),
            ("client.paused", {"client": "Peer Client Two"}),
        ],
    ),
)
"""(label, the events of the scenario given the competitor's name): rows of the scenario table."""


def _event(n: int, event_type: str, data: dict[str, Any]) -> Event:
    return validate_event(
        {
            "specversion": "1.0",
            "id": f"calibration-{n}",
            "source": "urn:vendorwatch:calibration",
            "type": event_type,
            "time": T0.isoformat(),
            "subject": VENDOR,
            "data": data,
        }
    )


def scenario_score(policy: Policy, profile: Profile, payloads: Payloads) -> tuple[float, str]:
    """(score, severity) of a vendor holding `profile` right after the events of `payloads`."""
    state = VendorState(VENDOR)
    events: Payloads = [
        ("vendor.registered", {"name": "Vendor"}),
        *(
            ("data.shared", {"dataset": f"ds-{i}", "classification": c, "records": n})
            for i, (c, n) in enumerate(profile.datasets)
        ),
        *payloads,
    ]
    for n, (event_type, data) in enumerate(events):
        apply(state, _event(n, event_type, data))
    result = score(state, policy, T0)
    return result.score, result.severity


def _records(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n // size:,}{unit}"
    return f"{n:,}"


def data_table(policy: Policy) -> str:
    """Data at stake (0-1) per classification (rows) and records held in it (columns)."""
    head = "| classification | " + " | ".join(_records(v) for v in VOLUMES) + " |"
    rule = "|---|" + "---:|" * len(VOLUMES)
    rows = [
        f"| {c.value} | " + " | ".join(f"{class_worth(c, v, policy):.3f}" for v in VOLUMES) + " |"
        for c in Classification
    ]
    return "\n".join([head, rule, *rows])


def scenario_table(policy: Policy) -> str:
    """Score and severity per scenario (rows) and data profile (columns)."""
    competitor = _competitor(policy)
    head = "| scenario | " + " | ".join(p.label for p in PROFILES) + " |"
    rule = "|---|" + "---:|" * len(PROFILES)
    rows = []
    for label, payloads in SCENARIOS:
        cells = []
        for profile in PROFILES:
            value, severity = scenario_score(policy, profile, payloads(competitor))
            cells.append(f"{value:.1f} {severity}")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join([head, rule, *rows])


def tables(policy: Policy) -> str:
    """The calibration section of docs/scoring.md for `policy`, markers included."""
    return "\n".join(
        [
            BEGIN,
            f"Generated from policy `{policy.label}` by"
            " `streams/core/calibration.py`; the competitor is "
            f"{_competitor(policy)}, every event happens at the instant scored (no decay).",
            "",
            "**Data at stake** for records held in one classification (datasets of a"
            " classification are summed first; several classifications combine as"
            " 1 - prod(1 - a_c)):",
            "",
            data_table(policy),
            "",
            "**Score** right after one scenario, per data profile:",
            "",
            scenario_table(policy),
            END,
        ]
    )


def embedded(text: str) -> str | None:
    """The calibration section of a document (markers included), or None without one."""
    start = text.find(BEGIN)
    stop = text.find(END)
    if start < 0 or stop < start:
        return None
    return text[start : stop + len(END)]
