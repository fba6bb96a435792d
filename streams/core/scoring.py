"""The scoring model, written to be checked line by line against docs/scoring.md.

`score(state, policy, at)` computes a vendor's explained score directly from its facts:

- data at stake A (0-1): the records the vendor holds as of `at` are summed per classification
  (none after an offboarding, unless shared again); each classification is worth its weight
  times a logarithmic volume factor of its total, and classifications combine like independent
  exposures, A = 1 - prod(1 - a_c).
- each signal's hazard x_s >= 0 is a sum over its facts of weight x scale x decay: the weight,
  scaled by what the event says (stake %, seniority, incident severity, ...), halved every
  `half_life_days` of event time between the event and `at`.
- mitigation subtracts hazard: repeated statements of a kind within `repeat_window_days` count
  once, and together they offset at most `max_offset_ratio` of the risk present when the latest
  of them was made (decayed), and of the risk present now.
- likelihood L = 1 - exp(-H) saturates smoothly, and the score is 100 x A x L.
- contributions split the score between signals in proportion to their hazard, and mitigation
  gets the (negative) difference it made, so the contributions add up to the score. Each cites
  at most `MAX_CITED_FACTS` of its latest events.

This is the reference implementation: it walks the vendor's history on every call, which is
what a reviewer wants and what `vendorwatch score` and replay reports need. The live pipeline
scores a vendor after every event and cannot afford O(history) per event; it uses the
incremental engine in `_incremental.py`, which keeps running aggregates. The property tests in
tests/streams/core/test_reference_equals_incremental.py hold the two to the same `Score`, float
for float. To change a rule: change it here and in docs/scoring.md, run those tests, and bring
`_incremental.py` along until they pass.

Floats are compared exactly, so the order of operations is part of the model: terms are summed
in (event time, arrival) order as a left fold (`decayed_sum`), classifications combine in the
order of `Classification`, and the competitors' current holdings are listed strongest first. The
per-fact rules (`RULES`, `stake_hazard`, `holding_hazard`, `client_hazard`, `class_worth`,
`counted_statements` and their `*_detail` words) and `current_reports` (which ownership reports
still hold) are shared by both implementations.

No I/O and no wall clock: `at` is an event time passed in, so live scoring and replay agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, Protocol

from vendorwatch.schemas.events import Classification, iso
from vendorwatch.streams.core.names import NearMiss, Resolver, VendorNames, canonical, near_miss
from vendorwatch.streams.core.policy import Policy, Severity
from vendorwatch.streams.core.state import Fact, VendorState, latest, latest_index

DAY = 86_400.0
"""Seconds per day: half-lives are in days, event times in unix seconds."""

OFFBOARDED = "vendor.offboarded"
"""The event type after which the vendor holds none of the data shared before it."""

SIGNALS: tuple[str, ...] = (
    "competitor_ownership",
    "key_person_to_competitor",
    "peer_client_pause",
    "security_incident",
    "workforce_growth",
    "demand_surge",
    "vendor_mitigation",
)
"""Every signal, in the order their hazards are added up; mitigation is the last."""

MAX_CITED_FACTS = 25
"""How many events a contribution cites at most: the latest ones, with a count of the others.

Why a bound: a decaying signal keeps every term it ever had, and citing them all made a
vendor's score record grow with its history (about 50 KB per record after 2,000 events over
three years, most of it events decayed to nothing). The latest terms are the ones that weigh
most in a decaying sum. The points still count every event; `vendorwatch history VENDOR` lists
them all. Read at call time (tests patch it)."""


MAX_NOTES = 10
"""How many notes a score shows at most: the latest ones, after a count of the others."""

NOTED_TYPES = frozenset(
    {
        "person.moved",
        "ownership.stake_acquired",
        "ownership.acquired",
        "funding.round",
        "client.paused",
        "client.resumed",
        "client.terminated",
    }
)
"""Fact types that name organisations, and so may carry a note (`fact_note`)."""


class Contribution(NamedTuple):
    """One signal's share of a score, and the events behind it."""

    signal: str
    points: float
    event_ids: tuple[str, ...]
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal,
            "points": self.points,
            "event_ids": list(self.event_ids),
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Score:
    """A vendor's explained risk as of an event time, under one policy version."""

    vendor_id: str
    name: str
    score: float
    severity: Severity
    data_at_stake: float
    likelihood: float
    contributions: tuple[Contribution, ...]
    data_event_ids: tuple[str, ...]
    policy_version: str
    as_of: datetime
    event_count: int = field(default=0, compare=False)
    notes: tuple[str, ...] = ()
    """What the score deliberately left out and a reader should know: moves ignored because
    they were not from the vendor, names close to a known organisation that did not resolve
    (`fact_note`). Latest `MAX_NOTES`, oldest first."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; the shape of `vendorwatch score --json` items and the scores topic."""
        return {
            "vendor_id": self.vendor_id,
            "name": self.name,
            "score": self.score,
            "severity": self.severity,
            "data_at_stake": self.data_at_stake,
            "likelihood": self.likelihood,
            "policy_version": self.policy_version,
            "as_of": iso(self.as_of),
            "event_count": self.event_count,
            "contributions": [c.to_dict() for c in self.contributions],
            "data_event_ids": list(self.data_event_ids),
            "notes": list(self.notes),
        }


# --- time ------------------------------------------------------------------------------------


def decay(half_life_days: float | None, age_seconds: float) -> float:
    """What is left of a hazard `age_seconds` of event time after its event: 2^(-age/half-life).

    No half-life means the signal does not fade; an age <= 0 (the event is not older than the
    instant) leaves it whole. The one place the decay formula is written.
    """
    if half_life_days is None or age_seconds <= 0:
        return 1.0
    return 0.5 ** (age_seconds / (half_life_days * DAY))


def instant(at: datetime | float | None, state: VendorState) -> float:
    """`at` as unix seconds; None means the vendor's latest event (0.0 before any)."""
    if at is None:
        return state.last_t if state.last_t is not None else 0.0
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware (event time is UTC)")
        return at.timestamp()
    return float(at)


# --- what one fact says under a policy -------------------------------------------------------
# Each kind of fact has two rules: its hazard before decay (None when the fact does not count:
# not a competitor, nothing added, ...) and the words that explain it once it counts. They
# read only the fact and the policy, so the incremental engine runs them unchanged (it passes
# a faster view of the same policy, see `_incremental._Plan`).


class PolicyView(Protocol):
    """What the fact rules read of a policy: `Policy` itself, or `_incremental._Plan`."""

    @property
    def signals(self) -> Any: ...

    @property
    def data(self) -> Any: ...

    @property
    def resolver(self) -> Resolver: ...

    def competitor(self, org: str) -> str | None: ...

    def is_own_organisation(self, org: str) -> bool: ...


Hazard = Callable[[Any, PolicyView], float | None]
"""(fact.data, policy) -> the fact's hazard before decay, or None when it does not count."""
Describe = Callable[[Fact, PolicyView], str]
"""(fact, policy) -> the words that explain a fact whose hazard counts."""


def _pct(value: float) -> str:
    return f"{value:g}%"


def _usd(value: float | None) -> str:
    if value is None:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f" (${value / size:.3g}{unit})"
    return f" (${value:,.0f})"


def key_person_hazard(data: Any, policy: PolicyView) -> float | None:
    """weight x seniority, for a move to a competitor. Whether it left the vendor is checked by
    `move_hazard` (the vendor's names are not the policy's)."""
    sig = policy.signals.key_person_to_competitor
    if policy.competitor(data.to_org) is None:
        return None
    return sig.weight * sig.seniority[data.seniority]


def move_hazard(vendor: VendorNames) -> Hazard:
    """`key_person_hazard` for the moves that leave this vendor: `from_org` must be one of its
    names (its id, registered name and aliases, `vendor.alias_added`). A move filed under a
    vendor it did not leave says nothing about that vendor; it is noted (`fact_note`)."""

    def hazard(data: Any, policy: PolicyView) -> float | None:
        if not vendor.includes(data.from_org):
            return None
        return key_person_hazard(data, policy)

    return hazard


def key_person_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    return f"{data.person} ({data.role}) joined {policy.competitor(data.to_org)}"


def incident_hazard(data: Any, policy: PolicyView) -> float | None:
    """weight x severity."""
    sig = policy.signals.security_incident
    return sig.weight * sig.severity[data.severity]


def incident_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    return f"{data.severity} incident: {data.title}"


def workforce_hazard(data: Any, policy: PolicyView) -> float | None:
    """weight x min(1, added / reference_added) x (1 + remote_weight x remote share); growth
    only."""
    sig = policy.signals.workforce_growth
    if data.contractors_added <= 0:
        return None
    remote = (data.remote_share_pct or 0.0) / 100.0
    base = sig.weight * min(1.0, data.contractors_added / sig.reference_added)
    base *= 1.0 + sig.remote_weight * remote
    return base


def workforce_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    share = f", {_pct(data.remote_share_pct)} remote" if data.remote_share_pct else ""
    return f"+{data.contractors_added:,} contractors in {data.period_days} days{share}"


def demand_hazard(data: Any, policy: PolicyView) -> float | None:
    """weight x log2(factor), from `min_factor` up; an unreported factor is `assumed_factor`."""
    sig = policy.signals.demand_surge
    factor = data.factor if data.factor is not None else sig.assumed_factor
    if factor < sig.min_factor:
        return None
    return sig.weight * math.log2(factor)


def demand_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    if data.factor is not None:
        return f"demand x{data.factor:g}"
    return f"demand x{policy.signals.demand_surge.assumed_factor:g} (not reported; policy assumes)"


def mitigation_hazard(data: Any, policy: PolicyView) -> float | None:
    """weight x kind (statement < remediation < audit); it offsets, see `score`."""
    sig = policy.signals.vendor_mitigation
    return sig.weight * sig.kinds[data.kind]


def mitigation_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    text = data.text if len(data.text) <= 80 else data.text[:79] + "…"
    return f"{data.kind}: {text}"


def acquisition_hazard(data: Any, policy: PolicyView) -> float | None:
    """acquisition_weight, when the acquirer is a competitor."""
    if policy.competitor(data.acquirer) is None:
        return None
    return policy.signals.competitor_ownership.acquisition_weight


def acquisition_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    competitor = policy.competitor(data.acquirer)
    return f"acquired by {competitor} (competitor){_usd(data.amount_usd)}"


def _funding_competitors(data: Any, policy: PolicyView) -> set[str]:
    """The competitors among a round's investors, each once (aliases name the same one)."""
    return {c for i in data.investors if (c := policy.competitor(i))}


def funding_hazard(data: Any, policy: PolicyView) -> float | None:
    """funding_investor_weight per distinct competitor among the investors."""
    names = _funding_competitors(data, policy)
    if not names:
        return None
    return policy.signals.competitor_ownership.funding_investor_weight * len(names)


def funding_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    names = sorted(_funding_competitors(data, policy))
    return f"{', '.join(names)} invested in its {data.round} round"


def stake_hazard(data: Any, policy: PolicyView) -> float:
    """weight x min(1, stake / full_stake) + board_seat_weight x seats + voting control weight.

    The caller checks that the investor is a competitor (stakes are compared per competitor)."""
    sig = policy.signals.competitor_ownership
    return (
        sig.weight * min(1.0, data.stake_pct / sig.full_stake_pct)
        + sig.board_seat_weight * data.board_seats
        + sig.voting_control_weight * data.voting_control
    )


def stake_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    seats = f", {data.board_seats} board seat(s)" if data.board_seats else ""
    control = ", voting control" if data.voting_control else ""
    return (
        f"{policy.competitor(data.investor)} (competitor) holds {_pct(data.stake_pct)}"
        f"{_usd(data.amount_usd)}{seats}{control}"
    )


def holding_hazard(fact: Fact, policy: PolicyView) -> float | None:
    """What a competitor's current ownership report weighs: a stake its `stake_hazard`, an
    acquisition `acquisition_weight`, a divestment nothing (None)."""
    if fact.type == "ownership.acquired":
        return acquisition_hazard(fact.data, policy)
    if fact.type == "ownership.stake_acquired":
        return stake_hazard(fact.data, policy)
    return None


def holding_detail(fact: Fact, policy: PolicyView) -> str:
    """The words for a current holding: `Meta (competitor) holds 49% ...` or `acquired by ...`."""
    if fact.type == "ownership.acquired":
        return acquisition_detail(fact, policy)
    return stake_detail(fact, policy)


def report_competitor(fact: Fact, policy: PolicyView) -> str | None:
    """The competitor an ownership report (stake, divestment, acquisition) is about, or None."""
    data: Any = fact.data
    return policy.competitor(data.acquirer if fact.type == "ownership.acquired" else data.investor)


def same_holding(earlier: Fact, later: Fact) -> bool:
    """Whether `later`, the next ownership report of one competitor after `earlier`, reports
    the same fact (section 12): another report of its acquisition, or of a stake with the same
    percentage, board seats and voting control. A divestment is no holding to report twice."""
    if earlier.type != later.type:
        return False
    if later.type == "ownership.acquired":
        return True
    if later.type != "ownership.stake_acquired":
        return False
    a: Any = earlier.data
    b: Any = later.data
    return (
        a.stake_pct == b.stake_pct
        and a.board_seats == b.board_seats
        and a.voting_control == b.voting_control
    )


def current_reports(
    runs: dict[str, list[Fact]], last_acquisition: Fact | None
) -> list[tuple[str, Fact]]:
    """(competitor, holding) for the competitors whose latest report still holds.

    `runs` holds, per competitor, its latest ownership report (stake, divestment or acquisition
    by it) last, after the reports of the same fact just before it (`holding_runs`);
    `last_acquisition` is the latest acquisition by anyone. A report holds unless it is a
    divestment or an acquisition by someone else came after it: whoever buys the vendor
    outright ends every earlier holding, including an earlier acquirer's. The holding is the
    run's `claim`: dated by its first report, as its latest states it, citing every report.
    What a stake report says (0%, no seat, no control counts for nothing) is left to the
    caller. In competitor order, so both implementations see the same list.
    """
    held = []
    for competitor in sorted(runs):
        reports = runs[competitor]
        fact = reports[-1]
        if fact.type == "ownership.divested":
            continue
        if last_acquisition is not None and fact < last_acquisition:
            continue  # superseded by a later acquisition by someone else
        held.append((competitor, claim(reports)))
    return held


def holding_runs(
    state: VendorState, policy: PolicyView, at: float
) -> tuple[dict[str, list[Fact]], Fact | None]:
    """Per competitor, its latest ownership report known at `at` with the reports of the same
    fact just before it (`same_holding`, none of them ended by an acquisition by someone else
    in between), in (event time, arrival) order; and the latest acquisition by anyone (None
    without one): what `current_reports` reads. Latest is by (event time, arrival), so the
    order the reports arrived in decides only between reports of one instant."""
    mine: dict[str, list[Fact]] = {}
    reports = [f for facts in state.stakes.values() for f in facts if f.t <= at]
    acquisitions = state.facts("ownership.acquired", at)
    for fact in (*reports, *acquisitions):
        competitor = report_competitor(fact, policy)
        if competitor is not None:
            mine.setdefault(competitor, []).append(fact)
    runs: dict[str, list[Fact]] = {}
    for competitor, facts in mine.items():
        facts.sort()
        last = facts[-1]
        # The latest acquisition by someone else before the latest report ended what came
        # before it: no report older than it is a report of the current holding.
        ended = next(
            (a for a in reversed(acquisitions) if a < last and a not in facts),
            None,
        )
        run = [last]
        for fact in reversed(facts[:-1]):
            if (ended is not None and fact < ended) or not same_holding(fact, run[-1]):
                break
            run.append(fact)
        run.reverse()
        runs[competitor] = run
    return runs, (acquisitions[-1] if acquisitions else None)


def stake_strength(hazard: float, fact: Fact, half_life_days: float | None) -> float:
    """Orders holdings by strength at any instant after both, to list the strongest first.

    With decay, b1 x decay(at - t1) > b2 x decay(at - t2) does not depend on `at`, and is
    log2(b1) + t1/h > log2(b2) + t2/h (h in seconds); without decay it is b1 > b2.
    """
    if half_life_days is None:
        return hazard
    return math.log2(hazard) + fact.t / (half_life_days * DAY)


def client_hazard(fact: Fact, policy: PolicyView) -> float | None:
    """A client's latest word: paused counts weight, ended weight x terminated_multiplier,
    resumed nothing; the monitoring organisation's own decisions do not count."""
    if fact.type == "client.resumed":
        return None
    data: Any = fact.data
    if policy.is_own_organisation(data.client):
        return None
    sig = policy.signals.peer_client_pause
    return sig.weight * (sig.terminated_multiplier if fact.type == "client.terminated" else 1.0)


def client_detail(fact: Fact, policy: PolicyView) -> str:
    data: Any = fact.data
    return f"{data.client} {'ended' if fact.type == 'client.terminated' else 'paused'} work"


def held(fact: Fact | None, offboarded: Fact | None) -> bool:
    """Whether a dataset whose latest fact is `fact` is held: it was shared, and not before the
    vendor's latest offboarding (data shared after an offboarding counts again)."""
    return (
        fact is not None
        and fact.type == "data.shared"
        and (offboarded is None or fact > offboarded)
    )


def class_worth(classification: Classification, records: int, policy: PolicyView) -> float:
    """What the data of one classification is worth (0-1), from the total records held in it:
    min(1, classification weight x (floor + (1 - floor) x volume scale)), where the volume scale
    is min(1, log10(1 + records) / log10(1 + reference_records)).

    Why per classification and not per dataset: a dataset id is how an inventory happens to be
    split, not how much is exposed. Ten datasets of 100 internal records are 1,000 internal
    records, worth what one dataset of 1,000 is."""
    volume = policy.data.volume
    scale = min(1.0, math.log10(1 + records) / math.log10(1 + volume.reference_records))
    worth = policy.data.classification_weights[classification]
    return min(1.0, worth * (volume.floor + (1 - volume.floor) * scale))


def combine_classes(records: dict[Classification, int], policy: PolicyView) -> float:
    """Data at stake from the records held per classification: 1 - prod(1 - worth) over the
    classifications held, in the order of `Classification` (public to restricted)."""
    keep = 1.0
    for classification in Classification:
        total = records.get(classification)
        if total is not None:
            keep *= 1.0 - class_worth(classification, total, policy)
    return 1.0 - keep


# --- facts counted once ------------------------------------------------------------------------
# The same fact often arrives more than once: two outlets report one CTO move, a vendor updates
# an incident ("critical" then "low, no data accessed"). Summing the reports would count the
# fact twice, so reports of one fact are merged into one *claim* first: a Fact dated by its
# first report (when it became known, where its decay starts), saying what its latest report
# says, and citing every report (`Fact.also`). Corroboration does not raise the score: a second
# outlet repeating a fact makes it no more dangerous; the explanation says how many reports
# there are, which is how a reader judges how well established it is.


def claim(reports: Sequence[Fact]) -> Fact:
    """One fact from its reports, in (event time, arrival) order (see above)."""
    first, last = reports[0], reports[-1]
    if len(reports) == 1:
        return first
    return first._replace(data=last.data, also=tuple(f.event_id for f in reports[1:]))


def normal_title(title: str) -> str:
    """An incident title as compared between reports: case and spacing ignored."""
    return " ".join(title.casefold().split())


def incident_claims(facts: Iterable[Fact], policy: PolicyView) -> list[Fact]:
    """Each incident once, in order of first report: reports with the same `incident_id`, or
    without one, the same title (`normal_title`) within `same_title_window_days` of the
    incident's first report, are one incident."""
    window = policy.signals.security_incident.same_title_window_days * DAY
    current: dict[tuple[bool, str], list[Fact]] = {}
    order: list[list[Fact]] = []
    for fact in facts:
        data: Any = fact.data
        key = (True, data.incident_id) if data.incident_id else (False, normal_title(data.title))
        reports = current.get(key)
        if reports is None or (not key[0] and fact.t - reports[0].t > window):
            reports = current[key] = []
            order.append(reports)
        reports.append(fact)
    return [claim(reports) for reports in order]


def move_claims(facts: Iterable[Fact], policy: PolicyView, vendor: VendorNames) -> list[Fact]:
    """Each move that leaves the vendor for a competitor once, in order of first report.

    Reports of one person (`names.canonical` of the name) joining one competitor are one move.
    A later move of that person back to the vendor (`to_org` one of its names) cancels the
    person's earlier moves: they have come back. Moves that do not leave the vendor for a
    competitor are not claims (`move_hazard` would not count them; `fact_note` says why)."""
    current: dict[str, dict[str, list[Fact]]] = {}
    order: list[list[Fact]] = []
    for fact in facts:
        data: Any = fact.data
        person = canonical(data.person)
        if vendor.includes(data.to_org):
            for reports in current.pop(person, {}).values():
                reports.clear()  # cancelled: dropped below
            continue
        competitor = policy.competitor(data.to_org)
        if competitor is None or not vendor.includes(data.from_org):
            continue
        moves = current.setdefault(person, {})
        reports = moves.get(competitor)
        if reports is None:
            reports = moves[competitor] = []
            order.append(reports)
        reports.append(fact)
    return [claim(reports) for reports in order if reports]


def fact_ids(fact: Fact) -> tuple[str, ...]:
    """The ids of the events behind a fact: its own, and those of its other reports."""
    return (fact.event_id, *fact.also) if fact.also else (fact.event_id,)


def reported(fact: Fact, words: str) -> str:
    """A fact's detail, with how many reports it has when more than one."""
    return f"{words} ({len(fact.also) + 1} reports)" if fact.also else words


class Rule(NamedTuple):
    """The signal an unkeyed fact type feeds, and its two rules."""

    signal: str
    hazard: Hazard
    describe: Describe


RULES: dict[str, Rule] = {
    "person.moved": Rule("key_person_to_competitor", key_person_hazard, key_person_detail),
    "security.incident": Rule("security_incident", incident_hazard, incident_detail),
    "workforce.changed": Rule("workforce_growth", workforce_hazard, workforce_detail),
    "demand.changed": Rule("demand_surge", demand_hazard, demand_detail),
    "vendor.statement": Rule("vendor_mitigation", mitigation_hazard, mitigation_detail),
    "funding.round": Rule("competitor_ownership", funding_hazard, funding_detail),
}
"""Fact types whose every fact adds a decaying term to a signal (stakes, divestments,
acquisitions, client words and datasets are not: only the latest report counts, see
`ownership`, `peer_pauses`, `data_at_stake`)."""


# --- notes: what a score left out on purpose ---------------------------------------------------


def name_misses(kind: str, data: Any, policy: PolicyView, vendor: VendorNames) -> list[NearMiss]:
    """The names in one fact (or event) that did not resolve but are near misses
    (`names.NEAR_MISS_SCORE`): of a competitor (investor, acquirer, funding investors, a move's
    destination), of our own organisation (a client), or of the vendor (a move's `from_org`,
    when the move would otherwise count). What a note says and the worker counts."""
    resolver = policy.resolver
    misses: list[NearMiss | None]
    if kind == "person.moved":
        misses = [resolver.near_competitor(data.to_org)]
        if key_person_hazard(data, policy) is not None and not vendor.includes(data.from_org):
            misses.append(near_miss(data.from_org, vendor.known(), "vendor"))
    elif kind == "ownership.stake_acquired":
        misses = [resolver.near_competitor(data.investor)]
    elif kind == "ownership.acquired":
        misses = [resolver.near_competitor(data.acquirer)]
    elif kind == "funding.round":
        misses = [resolver.near_competitor(i) for i in data.investors]
    elif kind in NOTED_TYPES:
        misses = [resolver.near_own(data.client)]
    else:
        return []
    return [miss for miss in misses if miss is not None]


def fact_note(fact: Fact, policy: PolicyView, vendor: VendorNames) -> str | None:
    """What a reader of the score should know about a fact that names organisations, or None.

    - a move to a competitor from an organisation that is not the vendor: ignored (and, when
      `from_org` is close to one of the vendor's names, which one);
    - a name that did not resolve but is a near miss of a competitor or of our own
      organisation (`name_misses`): not counted as that organisation, and said so, never
      silently.
    """
    if fact.type not in NOTED_TYPES:
        return None
    data: Any = fact.data
    misses = name_misses(fact.type, data, policy, vendor)
    said: list[str] = []
    if (
        fact.type == "person.moved"
        and key_person_hazard(data, policy) is not None
        and not vendor.includes(data.from_org)
    ):
        close = next((miss for miss in misses if miss.kind == "vendor"), None)
        why = f" ({close.describe()}: add it with vendor.alias_added if so)" if close else ""
        said.append(
            f"ignored: {data.person} ({data.role}) left {data.from_org}{why}, not"
            f" {vendor.name}, for {policy.competitor(data.to_org)}"
        )
    for miss in misses:
        if miss.kind == "organisation":
            said.append(f"{miss.describe()}: counted as another client, not as our organisation")
        elif miss.kind == "competitor":
            said.append(f"{miss.describe()}: not counted as {miss.closest}")
    if not said:
        return None
    return f"{'; '.join(said)} [{fact.event_id}]"


def shown_notes(notes: Sequence[str]) -> tuple[str, ...]:
    """The notes a score shows: the latest `MAX_NOTES`, after a count of the earlier ones."""
    if len(notes) <= MAX_NOTES:
        return tuple(notes)
    earlier = len(notes) - MAX_NOTES
    return (f"{earlier} earlier note{'s' if earlier != 1 else ''} not shown", *notes[-MAX_NOTES:])


def noted_facts(state: VendorState, at: float) -> list[Fact]:
    """Every fact known at `at` of a type that may carry a note, in (event time, id) order."""
    facts: list[Fact] = []
    for kind in ("person.moved", "ownership.acquired", "funding.round"):
        facts += state.facts(kind, at)
    for groups in (state.stakes, state.clients):
        for group in groups.values():
            facts += [fact for fact in group if fact.t <= at]
    facts.sort()
    return facts


def notes(state: VendorState, policy: PolicyView, at: float) -> tuple[str, ...]:
    """The score's notes as of `at` (`fact_note` of every fact known then, `shown_notes`)."""
    vendor = state.names(at)
    said = [n for fact in noted_facts(state, at) if (n := fact_note(fact, policy, vendor))]
    return shown_notes(said)


# --- explanations ----------------------------------------------------------------------------


def first_cited(n: int) -> int:
    """Index of the first cited fact among `n`: the latest `MAX_CITED_FACTS` are cited."""
    return max(0, n - MAX_CITED_FACTS)


def with_uncited(uncited: int, details: list[str]) -> str:
    """A contribution's detail: its cited facts' details, after a count of earlier ones."""
    words = "; ".join(details)
    if not uncited:
        return words
    return f"{uncited} earlier event{'s' if uncited != 1 else ''} not cited; {words}"


def cite(
    facts: Sequence[Fact], describe: Describe, policy: PolicyView
) -> tuple[tuple[str, ...], str]:
    """(event ids, detail) of the latest `MAX_CITED_FACTS` facts, with a count of the others."""
    start = first_cited(len(facts))
    cited = facts[start:]
    ids = tuple(i for f in cited for i in fact_ids(f))
    return ids, with_uncited(start, [reported(f, describe(f, policy)) for f in cited])


# --- signals ---------------------------------------------------------------------------------

Term = tuple[Fact, float]
"""A fact that counts, and its hazard before decay."""


class Signal(NamedTuple):
    """One signal as of an instant: its hazard and what explains it."""

    hazard: float
    event_ids: tuple[str, ...]
    detail: str


def decayed_sum(terms: Sequence[Term], half_life_days: float | None, at: float) -> float:
    """sum of hazard x decay(half-life, at - t) over `terms`, in (event time, arrival) order.

    Evaluated as a left fold, each running total decayed to the next term's time before the
    term is added, and the last to `at`: the same sum, in the float operations the live engine
    can keep up to date in O(1) per term, so both give the same float.
    """
    total, last = 0.0, None
    for fact, hazard in terms:
        total = hazard if last is None else total * decay(half_life_days, fact.t - last) + hazard
        last = fact.t
    return 0.0 if last is None else total * decay(half_life_days, at - last)


def counted(facts: Iterable[Fact], hazard: Hazard, policy: PolicyView) -> list[Term]:
    """The facts whose hazard counts (> 0), with it, in the order given."""
    terms = []
    for fact in facts:
        base = hazard(fact.data, policy)
        if base is not None and base > 0:
            terms.append((fact, base))
    return terms


def _summed(state: VendorState, policy: PolicyView, kind: str, at: float) -> Signal:
    """Every fact of an unkeyed `kind` known at `at` that counts, decayed and summed."""
    rule = RULES[kind]
    facts = state.facts(kind, at)
    if kind == "security.incident":
        facts = incident_claims(facts, policy)
    terms = counted(facts, rule.hazard, policy)
    half_life = getattr(policy.signals, rule.signal).half_life_days
    ids, detail = cite([fact for fact, _ in terms], rule.describe, policy)
    return Signal(decayed_sum(terms, half_life, at), ids, detail)


def ownership(state: VendorState, policy: PolicyView, at: float) -> Signal:
    """competitor_ownership: what each competitor holds now, plus funding rounds with
    competitors among the investors.

    The latest ownership report per competitor states what it holds (a stake with its seats
    and control, an acquisition, or nothing: a divestment or a 0% report), unless a later
    acquisition by someone else ended it (`current_reports`); reports of the same holding are
    one claim (dated by the first, citing all). Holdings are listed and added strongest first
    (ties: earliest); then the decayed sum of the funding rounds.
    """
    half_life = policy.signals.competitor_ownership.half_life_days
    runs, last_acquisition = holding_runs(state, policy, at)
    holdings = []
    for _, fact in current_reports(runs, last_acquisition):
        base = holding_hazard(fact, policy)
        if base is not None and base > 0:
            holdings.append((stake_strength(base, fact, half_life), fact, base))
    holdings.sort(key=lambda h: (-h[0], h[1]))
    funded = counted(state.facts("funding.round", at), funding_hazard, policy)

    held_total = 0.0
    for _, fact, base in holdings:
        held_total += base * decay(half_life, at - fact.t)
    hazard = held_total + decayed_sum(funded, half_life, at)

    funded_ids, funded_detail = cite([f for f, _ in funded], funding_detail, policy)
    ids = (*(i for _, fact, _ in holdings for i in fact_ids(fact)), *funded_ids)
    details = [reported(fact, holding_detail(fact, policy)) for _, fact, _ in holdings]
    if funded_detail:
        details.append(funded_detail)
    return Signal(hazard, ids, "; ".join(details))


def client_word(facts: list[Fact], at: float) -> Fact | None:
    """A client's latest word as of `at`, citing the reports of the same word just before it
    (`Fact.also`): two outlets reporting one pause are one pause, cited twice. The latest
    report dates it (a client's new report of its pause renews it, section 3)."""
    i = latest_index(facts, at)
    if i < 0:
        return None
    fact = facts[i]
    start = i
    while start and facts[start - 1].type == fact.type:
        start -= 1
    if start == i:
        return fact
    return fact._replace(also=tuple(f.event_id for f in facts[start:i]))


OWN_CLIENT = "organisation:"
"""The prefix of `client_key` for our own organisation, whose words are never a peer's."""


def client_key(name: str, policy: PolicyView) -> str:
    """Which client a name is: the competitor or our own organisation it resolves to (aliases
    of one organisation are one client: "Meta" and "Facebook"), otherwise its canonical form.
    The prefixes cannot occur in a canonical form (no punctuation), so keys never collide."""
    resolver = policy.resolver
    competitor = resolver.competitor(name)
    if competitor is not None:
        return f"competitor:{competitor}"
    if resolver.is_own_organisation(name):
        return f"{OWN_CLIENT}{resolver.own_name}"
    return canonical(name)


def client_groups(state: VendorState, policy: PolicyView) -> dict[str, list[Fact]]:
    """Each client's words (`client_key`), in (event time, arrival) order.

    The state keeps them per canonical name, which needs no policy; which names are one
    organisation is the policy's to say, so they are grouped here, at scoring time: a new
    alias regroups the same history. The state's lists are not changed."""
    groups: dict[str, list[Fact]] = {}
    for facts in state.clients.values():
        key = client_key(facts[0].data.client, policy)  # type: ignore[attr-defined]
        held = groups.get(key)
        groups[key] = facts if held is None else sorted((*held, *facts))
    return groups


def peer_clients(state: VendorState, policy: Policy) -> tuple[tuple[str, ...], ...]:
    """The clients other than our own organisation (`client_key`), each as the canonical names
    its words are filed under in the state (`state.clients`): what `client_groups` works out.

    Kept in `state.caches` per policy version for the alert rules, which read every client's
    latest word after each event: resolving every name each time cost the live pipeline a
    tenth of its time per event. A name is added to `state.clients` only by `apply` and
    removed only by a withdrawal (`state.revision`), so the count of names and the revision
    say when it is stale."""
    key = f"peer clients {policy.version}"
    stamp = (len(state.clients), state.revision)
    cached = state.caches.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]  # type: ignore[no-any-return]
    names: dict[str, tuple[str, ...]] = {}
    for name, facts in state.clients.items():
        client = client_key(facts[0].data.client, policy)  # type: ignore[attr-defined]
        if not client.startswith(OWN_CLIENT):
            names[client] = (*names.get(client, ()), name)
    peers = tuple(names.values())
    state.caches[key] = (stamp, peers)
    return peers


def peer_pauses(state: VendorState, policy: PolicyView, at: float) -> Signal:
    """peer_client_pause: the latest word of every client as of `at` that counts (with the
    reports of it, `client_word`), summed in (event time, arrival) order like any decaying
    signal. A client is an organisation, under any of its names (`client_groups`)."""
    terms = []
    for facts in client_groups(state, policy).values():
        fact = client_word(facts, at)
        base = None if fact is None else client_hazard(fact, policy)
        if fact is not None and base is not None and base > 0:
            terms.append((fact, base))
    terms.sort(key=lambda term: term[0])
    half_life = policy.signals.peer_client_pause.half_life_days
    ids, detail = cite([fact for fact, _ in terms], client_detail, policy)
    return Signal(decayed_sum(terms, half_life, at), ids, detail)


def data_at_stake(
    state: VendorState, policy: PolicyView, at: float
) -> tuple[float, tuple[str, ...]]:
    """Worth of the data the vendor holds as of `at` (0-1), and the ids of the data.shared
    events behind it, sorted.

    A dataset is held when its latest fact as of `at` shares it, after the latest offboarding
    (`held`). Records are summed per classification, each classification is worth
    `class_worth` of its total, and classifications combine as independent exposures
    (`combine_classes`)."""
    offboarded = latest(state.by_type.get(OFFBOARDED, []), at)
    records: dict[Classification, int] = {}
    ids: list[str] = []
    for facts in state.datasets.values():
        fact = latest(facts, at)
        if fact is None or not held(fact, offboarded):
            continue
        data: Any = fact.data
        records[data.classification] = records.get(data.classification, 0) + data.records
        ids.append(fact.event_id)
    return combine_classes(records, policy), tuple(sorted(ids))


def counted_statements(facts: Iterable[Fact], policy: PolicyView) -> list[Term]:
    """The statements that count, with their hazard before decay, in the order given.

    A statement of a kind counts unless a counted statement of the same kind came less than
    `repeat_window_days` before it: six press releases saying the same thing in a week are one
    statement, and a vendor cannot talk its score down by repeating itself. (Measured from the
    last *counted* one, so a statement a week for a year counts once per window, not once.)"""
    sig = policy.signals.vendor_mitigation
    window = sig.repeat_window_days * DAY
    last: dict[str, float] = {}
    terms: list[Term] = []
    for fact in facts:
        base = mitigation_hazard(fact.data, policy)
        if base is None or base <= 0:
            continue
        kind: str = fact.data.kind  # type: ignore[attr-defined]
        before = last.get(kind)
        if before is not None and fact.t - before < window:
            continue
        last[kind] = fact.t
        terms.append((fact, base))
    return terms


def mitigation(state: VendorState, policy: PolicyView, at: float) -> tuple[Signal, float | None]:
    """vendor_mitigation as of `at`: the counted statements decayed and summed, and the event
    time of the latest counted one (None without any): the instant whose risks it may offset."""
    terms = counted_statements(state.facts("vendor.statement", at), policy)
    sig = policy.signals.vendor_mitigation
    ids, detail = cite([fact for fact, _ in terms], mitigation_detail, policy)
    made = terms[-1][0].t if terms else None
    return Signal(decayed_sum(terms, sig.half_life_days, at), ids, detail), made


def prior_hazard(state: VendorState, policy: PolicyView, made: float, at: float) -> float:
    """The risk present when the latest counted statement was made, decayed to `at`.

    Each risk signal's hazard as of `made` (from the facts with event time <= `made`), decayed
    from `made` to `at` with that signal's half-life, summed in the order of SIGNALS. What a
    mitigation may offset: a statement made before a risk existed says nothing about it."""
    total = 0.0
    for name, signal in signals(state, policy, made).items():
        if name != "vendor_mitigation" and signal.hazard > 0:
            half_life = getattr(policy.signals, name).half_life_days
            total += signal.hazard * decay(half_life, at - made)
    return total


def key_people(state: VendorState, policy: PolicyView, at: float) -> Signal:
    """key_person_to_competitor: the moves known at `at` that left the vendor (by its names as
    of `at`, `move_hazard`) for a competitor, each once (`move_claims`), decayed and summed."""
    vendor = state.names(at)
    moves = move_claims(state.facts("person.moved", at), policy, vendor)
    terms = counted(moves, move_hazard(vendor), policy)
    half_life = policy.signals.key_person_to_competitor.half_life_days
    ids, detail = cite([fact for fact, _ in terms], key_person_detail, policy)
    return Signal(decayed_sum(terms, half_life, at), ids, detail)


def signals(state: VendorState, policy: PolicyView, at: float) -> dict[str, Signal]:
    """Every signal as of `at`, in the order of SIGNALS (mitigation: `mitigation`)."""
    return {
        "competitor_ownership": ownership(state, policy, at),
        "key_person_to_competitor": key_people(state, policy, at),
        "peer_client_pause": peer_pauses(state, policy, at),
        "security_incident": _summed(state, policy, "security.incident", at),
        "workforce_growth": _summed(state, policy, "workforce.changed", at),
        "demand_surge": _summed(state, policy, "demand.changed", at),
        "vendor_mitigation": mitigation(state, policy, at)[0],
    }


# --- the score -------------------------------------------------------------------------------


class Exposure(NamedTuple):
    """The numbers of a score before rounding, and the signals behind them.

    What `score` rounds and explains; the property tests also compare these floats with the
    live engine's (`_incremental.Figures`), since rounding would hide a last-bit difference.
    """

    at: float
    data_at_stake: float
    data_event_ids: tuple[str, ...]
    risks: dict[str, Signal]
    """The signals with hazard > 0 (mitigation aside), in the order of SIGNALS."""
    mitigation: Signal
    positive: float
    """H+: the sum of the risks' hazards."""
    offset: float
    """What mitigation takes off H+: min(mitigation hazard, max_offset_ratio x min(H+, P)),
    P being the risk present when the latest counted statement was made (`prior_hazard`)."""
    likelihood: float
    value: float
    """The score: 100 x A x (1 - exp(-(H+ - offset)))."""
    unmitigated: float
    """The score without mitigation: 100 x A x (1 - exp(-H+))."""


def exposure(state: VendorState, policy: Policy, at: float) -> Exposure:
    """The vendor's score as of `at` (see the module docstring for the model).

    Mitigation offsets min(its hazard, max_offset_ratio x min(H+, P)), where P is the risk
    present when the latest counted statement was made, decayed to `at` (`prior_hazard`): it
    never offsets a risk that arose after it, nor more than a share of the risk there is now.
    """
    stake, data_ids = data_at_stake(state, policy, at)
    by_signal = signals(state, policy, at)
    del by_signal["vendor_mitigation"]
    mitigated, made = mitigation(state, policy, at)
    risks = {name: signal for name, signal in by_signal.items() if signal.hazard > 0}

    positive = 0.0
    for signal in risks.values():
        positive += signal.hazard
    offset = mitigated.hazard
    if offset > 0 and made is not None:  # a hazard > 0 has a counted statement
        prior = prior_hazard(state, policy, made, at)
        ratio = policy.signals.vendor_mitigation.max_offset_ratio
        offset = min(offset, ratio * min(positive, prior))
    likelihood = 1.0 - math.exp(-(positive - offset))
    value = 100.0 * stake * likelihood
    unmitigated = 100.0 * stake * (1.0 - math.exp(-positive))
    return Exposure(
        at, stake, data_ids, risks, mitigated, positive, offset, likelihood, value, unmitigated
    )


def score(state: VendorState, policy: Policy, at: datetime | float | None = None) -> Score:
    """The vendor's explained score as of event time `at` (default: its latest event).

    Each risk signal gets the share of the unmitigated score its hazard is of H+ (rounded to
    0.01, largest first, ties by name); mitigation, when it offsets anything, gets the
    difference it made, so the contributions add up to the score (up to rounding). A
    contribution that rounds to 0.00 points is left out: with no data at stake every signal is
    worth nothing, and listing them would say the opposite.
    """
    t = instant(at, state)
    x = exposure(state, policy, t)
    contributions = [
        Contribution(name, round(x.unmitigated * s.hazard / x.positive, 2), s.event_ids, s.detail)
        for name, s in x.risks.items()
    ]
    contributions = [c for c in contributions if c.points != 0]  # nothing to explain
    contributions.sort(key=lambda c: (-c.points, c.signal))
    points = round(x.value - x.unmitigated, 2)
    if x.offset > 0 and points != 0:
        contributions.append(
            Contribution("vendor_mitigation", points, x.mitigation.event_ids, x.mitigation.detail)
        )
    rounded = round(x.value, 2)
    return Score(
        vendor_id=state.vendor_id,
        name=state.name(t),
        score=rounded,
        severity=policy.severity(rounded),
        data_at_stake=round(x.data_at_stake, 4),
        likelihood=round(x.likelihood, 4),
        contributions=tuple(contributions),
        data_event_ids=x.data_event_ids,
        policy_version=policy.version,
        as_of=datetime.fromtimestamp(t, UTC),
        event_count=state.event_count(t),
        notes=notes(state, policy, t),
    )


def score_all(
    states: Iterable[VendorState], policy: Policy, at: datetime | float | None = None
) -> list[Score]:
    """Scores of every vendor known as of `at`, highest first (ties by vendor id)."""
    scores = []
    for state in states:
        if at is not None and (state.first_t is None or state.first_t > instant(at, state)):
            continue  # nothing known about this vendor yet
        scores.append(score(state, policy, at))
    scores.sort(key=lambda s: (-s.score, s.vendor_id))
    return scores
