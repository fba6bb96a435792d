"""`score(state, policy, at)`: the policy half of the fold, a pure function of its arguments.

The model, in one paragraph (the README has the long form):
- data at stake A (0-1): every dataset the vendor holds as of `at` is worth its classification
  weight times a logarithmic volume factor; datasets combine like independent exposures,
  A = 1 - prod(1 - a_d).
- each signal adds hazard x_s >= 0: its weight, scaled by what the event says (stake %, seniority,
  incident severity, ...), halved every `half_life_days` of event time between the event and `at`.
- mitigation subtracts hazard, at most `max_offset_ratio` of the positive total.
- likelihood L = 1 - exp(-H) saturates smoothly, and the score is 100 * A * L.
- contributions split the score between signals in proportion to their hazard, and mitigation
  gets the (negative) difference it made, so the contributions add up to the score.

No I/O and no wall clock: `at` is an event time passed in, so live scoring and replay agree.

How it stays fast. The live pipeline scores a vendor after every one of its events, so scoring
must not walk the vendor's whole history each time. A signal's hazard is a sum of decaying terms,
sum_i b_i * 2^(-(at - t_i)/h), and such a sum can be folded left over the terms in event-time
order, keeping only its value at the latest term's time: adding a newer term and reading the
value at any later `at` are both O(1) (`_Fold`). Everything `score` needs from a vendor's facts
under one policy (`_Aggregates`) is kept that way, in a cache beside the state, and brought up
to date with the one fact each `apply` adds. A score as of an instant before the vendor's latest
event (`--as-of`, replay of the past) builds the same aggregates from the facts known then.
Folding a fact takes only its base hazard (`_*_base`): the words that explain it (`_*_detail`)
cost more than the arithmetic and are needed only when an explanation is read, so they are
formatted then, once per fact kept (a live fold formats just the facts added since the last
read), and the explanation is cached until the aggregate changes. A signal that is not part of
the score (mitigation with nothing to offset) never formats its words at all.

Both ways run the same float operations in the same order (terms in (event time, id) order,
datasets by id, stakes by strength), so the cached score equals the from-scratch score exactly,
whatever order the events arrived in; `tests/streams/core` holds both to that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, NamedTuple, cast

from pydantic import BaseModel

from vendorwatch.streams.core.policy import Policy, Severity, normalise_org
from vendorwatch.streams.core.state import (
    KEYED_BY_CLIENT,
    KEYED_BY_DATASET,
    Fact,
    VendorState,
    latest,
)

DAY = 86_400.0
SIGNALS: tuple[str, ...] = (
    "competitor_ownership",
    "key_person_to_competitor",
    "peer_client_pause",
    "security_incident",
    "workforce_growth",
    "demand_surge",
    "vendor_mitigation",
)
_FOREVER = math.inf


_new_tuple = tuple.__new__
"""`_new_tuple(Contribution, fields)` builds a Contribution without the Python-level `__new__`
of a named tuple; `_explain` makes several per score."""


class Contribution(NamedTuple):
    """One signal's share of a score, and the events behind it.

    An immutable named tuple: several are built per score, and a tuple is built in C.
    """

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
            "as_of": self.as_of.isoformat().replace("+00:00", "Z"),
            "event_count": self.event_count,
            "contributions": [c.to_dict() for c in self.contributions],
            "data_event_ids": list(self.data_event_ids),
        }


def _seconds(half_life_days: float | None) -> float | None:
    return None if half_life_days is None else half_life_days * DAY


def _decay(half_life: float | None, age: float) -> float:
    """2^(-age / half_life), both in seconds; no half-life means no decay."""
    if half_life is None or age <= 0:
        return 1.0
    return 0.5 ** (age / half_life)


def _pct(value: float) -> str:
    return f"{value:g}%"


def _usd(value: float | None) -> str:
    if value is None:
        return ""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f" (${value / size:.3g}{unit})"
    return f" (${value:,.0f})"


# --- what one fact says under a policy -----------------------------------------------------
# The policy as the fact functions read it.


def _plain(model: BaseModel) -> SimpleNamespace:
    """A policy section's fields as plain attributes (nested sections too); values unchanged."""
    return SimpleNamespace(
        **{name: _plain(value) if isinstance(value, BaseModel) else value for name, value in model}
    )


class _Plan:
    """What the fact functions below read from a policy, readable at plain-attribute speed.

    A policy is a tree of pydantic models, and reading a pydantic model's field goes through
    `BaseModel.__getattr__`'s hook: each of the three reads in `policy.signals.workforce_growth`
    costs several plain attribute reads. The hazard of every fact folded reads half a dozen
    such fields, which made those reads most of what building a vendor's aggregates costs. A
    plan holds the same values (the same objects: the same numbers, the same arithmetic) in
    `SimpleNamespace`s, built once per policy version (`_plan`).
    """

    __slots__ = ("_competitors", "_own_names", "data", "signals")

    def __init__(self, policy: Policy) -> None:
        self.signals: Any = _plain(policy.signals)
        self.data: Any = _plain(policy.data)
        # Policy.competitor and Policy.is_own_organisation read these through the same hook.
        self._competitors: dict[str, str] = policy._competitor_index
        self._own_names: frozenset[str] = policy._own_names

    def competitor(self, org: str) -> str | None:
        """`Policy.competitor`: the competitor `org` names, or None."""
        return self._competitors.get(normalise_org(org))

    def is_own_organisation(self, org: str) -> bool:
        """`Policy.is_own_organisation`."""
        return normalise_org(org) in self._own_names


_PLANS: dict[str, _Plan] = {}


def _plan(policy: Policy) -> _Plan:
    """The plan of a policy, per version (same content, same numbers), as `streams.core.rules` keeps
    its rule plans."""
    plan = _PLANS.get(policy.version)
    if plan is None:
        plan = _PLANS[policy.version] = _Plan(policy)
    return plan


# --- what one fact says under a plan ---------------------------------------------------------
# Two halves per kind of fact. The hazard half (`_*_base`) returns the fact's hazard before decay,
# or None when the fact does not count (not a competitor, nothing added, ...); it runs for every
# fact as it is folded, so it does arithmetic only. The detail half (`_*_detail`) returns the
# words that explain a fact that counts; formatting them costs more than the arithmetic and is
# needed only when an explanation is read, so the aggregates ask for it lazily, once per fact they
# keep. Each half reads only the fact and the plan, so they agree however far apart they run.

Base = Callable[[Any, Policy], float | None]
"""(fact.data, plan) -> the fact's hazard before decay, or None when it does not count."""
Describe = Callable[[Fact, Policy], str]
"""(fact, plan) -> the words that explain a fact whose hazard counts."""


def _key_person_base(data: Any, plan: _Plan) -> float | None:
    sig = plan.signals.key_person_to_competitor
    if plan.competitor(data.to_org) is None or plan.competitor(data.from_org) is not None:
        return None  # not to a competitor, or a move between competitors
    return sig.weight * sig.seniority[data.seniority]


def _key_person_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    return f"{data.person} ({data.role}) joined {plan.competitor(data.to_org)}"


def _incident_base(data: Any, plan: _Plan) -> float | None:
    sig = plan.signals.security_incident
    return sig.weight * sig.severity[data.severity]


def _incident_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    return f"{data.severity} incident: {data.title}"


def _workforce_base(data: Any, plan: _Plan) -> float | None:
    sig = plan.signals.workforce_growth
    if data.contractors_added <= 0:
        return None
    remote = (data.remote_share_pct or 0.0) / 100.0
    base = sig.weight * min(1.0, data.contractors_added / sig.reference_added)
    base *= 1.0 + sig.remote_weight * remote
    return base


def _workforce_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    share = f", {_pct(data.remote_share_pct)} remote" if data.remote_share_pct else ""
    return f"+{data.contractors_added:,} contractors in {data.period_days} days{share}"


def _demand_base(data: Any, plan: _Plan) -> float | None:
    sig = plan.signals.demand_surge
    factor = data.factor if data.factor is not None else sig.assumed_factor
    if factor < sig.min_factor:
        return None
    return sig.weight * math.log2(factor)


def _demand_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    if data.factor is not None:
        return f"demand x{data.factor:g}"
    return f"demand x{plan.signals.demand_surge.assumed_factor:g} (not reported; policy assumes)"


def _mitigation_base(data: Any, plan: _Plan) -> float | None:
    sig = plan.signals.vendor_mitigation
    return sig.weight * sig.kinds[data.kind]


def _mitigation_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    text = data.text if len(data.text) <= 80 else data.text[:79] + "…"
    return f"{data.kind}: {text}"


def _acquisition_base(data: Any, plan: _Plan) -> float | None:
    if plan.competitor(data.acquirer) is None:
        return None
    return plan.signals.competitor_ownership.acquisition_weight


def _acquisition_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    competitor = plan.competitor(data.acquirer)
    return f"acquired by {competitor} (competitor){_usd(data.amount_usd)}"


def _funding_competitors(data: Any, plan: _Plan) -> set[str]:
    """The competitors among a round's investors, each once (aliases name the same one)."""
    return {c for i in data.investors if (c := plan.competitor(i))}


def _funding_base(data: Any, plan: _Plan) -> float | None:
    names = _funding_competitors(data, plan)
    if not names:
        return None
    return plan.signals.competitor_ownership.funding_investor_weight * len(names)


def _funding_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    names = sorted(_funding_competitors(data, plan))
    return f"{', '.join(names)} invested in its {data.round} round"


def _stake_base(data: Any, plan: _Plan) -> float:
    sig = plan.signals.competitor_ownership
    return (
        sig.weight * min(1.0, data.stake_pct / sig.full_stake_pct)
        + sig.board_seat_weight * data.board_seats
        + sig.voting_control_weight * data.voting_control
    )


def _stake_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    seats = f", {data.board_seats} board seat(s)" if data.board_seats else ""
    control = ", voting control" if data.voting_control else ""
    return (
        f"{plan.competitor(data.investor)} (competitor) holds {_pct(data.stake_pct)}"
        f"{_usd(data.amount_usd)}{seats}{control}"
    )


def _client_base(fact: Fact, plan: _Plan) -> float | None:
    """The latest word of one client: paused or ended counts, resumed does not."""
    if fact.type == "client.resumed":
        return None
    data: Any = fact.data
    if plan.is_own_organisation(data.client):
        return None  # our own decision is not evidence about the vendor
    sig = plan.signals.peer_client_pause
    return sig.weight * (sig.terminated_multiplier if fact.type == "client.terminated" else 1.0)


def _client_detail(fact: Fact, plan: _Plan) -> str:
    data: Any = fact.data
    return f"{data.client} {'ended' if fact.type == 'client.terminated' else 'paused'} work"


def _dataset_worth(fact: Fact, plan: _Plan) -> float | None:
    """What one held dataset is worth (0-1), or None once it is revoked."""
    if fact.type != "data.shared":
        return None
    data: Any = fact.data
    volume = plan.data.volume
    scale = min(1.0, math.log10(1 + data.records) / math.log10(1 + volume.reference_records))
    worth = plan.data.classification_weights[data.classification]
    return min(1.0, worth * (volume.floor + (1 - volume.floor) * scale))


_SUMMED: dict[str, tuple[str, Base, Describe]] = {
    "person.moved": ("key_person_to_competitor", _key_person_base, _key_person_detail),
    "security.incident": ("security_incident", _incident_base, _incident_detail),
    "workforce.changed": ("workforce_growth", _workforce_base, _workforce_detail),
    "demand.changed": ("demand_surge", _demand_base, _demand_detail),
    "vendor.statement": ("vendor_mitigation", _mitigation_base, _mitigation_detail),
    "ownership.acquired": ("competitor_ownership", _acquisition_base, _acquisition_detail),
    "funding.round": ("competitor_ownership", _funding_base, _funding_detail),
}
"""Unkeyed fact types whose every fact adds a decaying term to a signal."""
_OWNERSHIP_KINDS = frozenset({"ownership.acquired", "funding.round"})


# --- aggregates ------------------------------------------------------------------------------

MAX_CITED_FACTS = 25
"""How many events a contribution cites at most: the latest ones, with a count of the others.

Why a bound: a decaying signal keeps every term it ever had, and its contribution used to cite
them all, so a vendor's score record grew with its history (about 50 KB per record after 2,000
events over three years, most of it events decayed to nothing), and so did the work of every
score the live agent publishes. The latest terms are the ones that weigh most in a decaying
sum. The points still count every event; `vendorwatch history VENDOR` lists them all."""


def _first_cited(n: int) -> int:
    """Index of the first cited fact among `n`: the latest `MAX_CITED_FACTS` are cited."""
    return max(0, n - MAX_CITED_FACTS)


def _with_uncited(uncited: int, details: list[str]) -> str:
    """The detail of a contribution: its cited facts' details, after a count of earlier ones."""
    words = "; ".join(details)
    if not uncited:
        return words
    return f"{uncited} earlier event{'s' if uncited != 1 else ''} not cited; {words}"


Snapshot = tuple[Any, ...]
"""A signal's explanation pinned as it stands (`_Fold.snapshot`): its first item is the object
whose `explained_at(snapshot)` reads it back."""


class _Fold:
    """sum_i b_i * 2^(-(at - t_i)/h) over terms added in (event time, id) order.

    Kept as its value at the latest term's time: adding a newer term multiplies by one decay
    factor and adds, reading at a later `at` multiplies by one more. The numbers depend only on
    the terms and their order, never on how many calls it took to add them.

    The facts are kept for the explanation, which is put together only when read. It cites the
    latest `MAX_CITED_FACTS` facts and counts the earlier ones, so its size and cost stay bounded
    however long the history grows; a fact's detail is formatted the first time it is cited and
    kept (the facts only ever grow until `clear`), so a live vendor's explanation costs one
    detail per new fact, not one per fact per score.
    """

    __slots__ = (
        "_details",
        "_explained",
        "describe",
        "event_ids",
        "facts",
        "half_life",
        "plan",
        "snap",
        "t",
        "value",
    )

    def __init__(self, half_life_days: float | None, describe: Describe, plan: _Plan) -> None:
        self.half_life = _seconds(half_life_days)
        self.describe = describe
        self.plan = plan
        self.clear()

    def clear(self) -> None:
        self.value = 0.0
        self.t = -_FOREVER
        self.facts: list[Fact] = []
        self.event_ids: list[str] = []
        self._details: list[str | None] = []
        """The details of the facts, by index: formatted when first cited, None until then."""
        self._explained: tuple[tuple[str, ...], str] | None = None
        self.snap: Snapshot | None = None
        """What `snapshot` returned since the last change (None: it changed since)."""

    def add(self, fact: Fact, base: float) -> None:
        """Add a term `base` (> 0) at `fact`'s time, not before the latest term's."""
        if self.facts:
            self.value = self.value * _decay(self.half_life, fact.t - self.t) + base
        else:
            self.value = base
        self.t = fact.t
        self.facts.append(fact)
        self.event_ids.append(fact.event_id)
        self._explained = None
        self.snap = None

    def extend(self, facts: Iterable[Fact], base_of: Base, plan: _Plan) -> None:
        """`add` each of `facts`, in order, whose base hazard counts (`_refold`'s loop).

        `add`'s arithmetic is repeated here on locals rather than called: this loop runs for
        every fact of a vendor each time its aggregates are built (every vendor's first score,
        `--as-of`), and a call plus a `_decay` call per fact was half its time. The float
        operations are `add`'s, in the same order (`x * 1.0` is `x`, so no decay is `+ base`).
        """
        kept, event_ids, half_life = self.facts, self.event_ids, self.half_life
        value, last, before = self.value, self.t, len(kept)
        for fact in facts:
            t, event_id, _, data = fact
            base = base_of(data, plan)
            if base is not None and base > 0:
                if not kept:
                    value = base
                elif half_life is None or (age := t - last) <= 0:
                    value = value + base
                else:
                    value = value * 0.5 ** (age / half_life) + base
                last = t
                kept.append(fact)
                event_ids.append(event_id)
        if len(kept) != before:
            self.value, self.t = value, last
            self._explained = None

    def hazard(self, at: float) -> float:
        """The sum as of `at` (not before the latest term); 0 when empty. `_decay` inlined:
        this runs for every signal of every score."""
        half_life = self.half_life
        if half_life is None or at <= self.t:
            return self.value
        return self.value * 0.5 ** ((at - self.t) / half_life)

    def explained(self) -> tuple[tuple[str, ...], str]:
        """(event ids, detail) of the contribution; built once per change, not per score."""
        if self._explained is None:
            self._explained = self._cited(len(self.facts))
        return self._explained

    def _cited(self, n: int) -> tuple[tuple[str, ...], str]:
        """The explanation of the first `n` facts: the latest `MAX_CITED_FACTS` of them cited,
        their details formatted once (and kept) the first time they are cited."""
        start = _first_cited(n)
        details = self._details
        if len(details) < n:
            details.extend([None] * (n - len(details)))
        facts, describe, plan = self.facts, self.describe, self.plan
        for i in range(start, n):
            if details[i] is None:
                details[i] = describe(facts[i], plan)
        cited = cast(list[str], details[start:n])  # every one formatted just above
        return tuple(self.event_ids[start:n]), _with_uncited(start, cited)

    def snapshot(self) -> Snapshot:
        """This fold's explanation as it stands, to be read now or later (`explained_at`).

        The facts list only grows until `clear` replaces it, so the list and its length pin
        the explanation down without formatting a word of it.
        """
        if self.snap is None:
            self.snap = (self, self.facts, len(self.facts))
        return self.snap

    def explained_at(self, snap: Snapshot) -> tuple[tuple[str, ...], str]:
        """`explained()` as it was when `snap` was taken, however the fold changed since."""
        _, facts, n = snap
        if facts is self.facts:
            if n == len(facts):
                return self.explained()
            return self._cited(n)  # the fold grew since: reuse the words formatted so far
        describe, plan = self.describe, self.plan  # cleared (refolded) since
        start = _first_cited(n)
        kept = facts[start:n]
        return (
            tuple(f.event_id for f in kept),
            _with_uncited(start, [describe(f, plan) for f in kept]),
        )


def _stake_key(base: float, fact: Fact, half_life: float | None) -> float:
    """Orders one competitor's stake reports by strength at any instant after both.

    With decay, b1 * 2^(-(at - t1)/h) > b2 * 2^(-(at - t2)/h) does not depend on `at`, and is
    log2(b1) + t1/h > log2(b2) + t2/h; without decay it is b1 > b2.
    """
    if half_life is None:
        return base
    return math.log2(base) + fact.t / half_life


class _Ownership:
    """competitor_ownership: the strongest stake per competitor, plus acquisitions and rounds.

    A stake report is the resulting holding, so per competitor only the strongest report counts
    (equal strength: the earliest report). Reports only ever add candidates, so the strongest
    can be kept as facts arrive, in any order.
    """

    __slots__ = (
        "_explained",
        "_ordered",
        "_stakes_explained",
        "acquired",
        "best",
        "funded",
        "half_life",
        "plan",
        "snap",
    )

    def __init__(self, half_life_days: float | None, plan: _Plan) -> None:
        self.half_life = _seconds(half_life_days)
        self.plan = plan
        self.best: dict[str, tuple[float, Fact, float]] = {}
        """competitor -> (strength key, the report, its base hazard)."""
        self.acquired = _Fold(half_life_days, _acquisition_detail, plan)
        self.funded = _Fold(half_life_days, _funding_detail, plan)
        self._ordered: list[tuple[float, Fact, float]] | None = None
        self._stakes_explained: tuple[list[str], list[str]] | None = None
        """Ids and details of the ordered stakes: kept while only acquisitions and rounds
        change, which is how a live vendor's ownership mostly changes."""
        self._explained: tuple[tuple[str, ...], str] | None = None
        self.snap: Snapshot | None = None

    def offer_stake(self, fact: Fact) -> None:
        data: Any = fact.data
        competitor = self.plan.competitor(data.investor)
        if competitor is None:
            return
        base = _stake_base(data, self.plan)
        if base <= 0:
            return
        key = _stake_key(base, fact, self.half_life)
        held = self.best.get(competitor)
        if held is None or key > held[0] or (key == held[0] and fact < held[1]):
            self.best[competitor] = (key, fact, base)
            self._ordered = None
            self._stakes_explained = None
            self.changed()

    def changed(self) -> None:
        self._explained = None
        self.snap = None

    def ordered(self) -> list[tuple[float, Fact, float]]:
        if self._ordered is None:
            self._ordered = sorted(self.best.values(), key=lambda b: (-b[0], b[1]))
        return self._ordered

    def hazard(self, at: float) -> float:
        stakes = 0.0
        if self.best:  # most vendors have no competitor stake
            half_life = self.half_life
            for _, fact, base in self.ordered():
                stakes += base * _decay(half_life, at - fact.t)
        return stakes + self.acquired.hazard(at) + self.funded.hazard(at)

    def explained(self) -> tuple[tuple[str, ...], str]:
        if self._explained is None:
            if self._stakes_explained is None:
                stakes = self.ordered()
                self._stakes_explained = (
                    [fact.event_id for _, fact, _ in stakes],
                    [_stake_detail(fact, self.plan) for _, fact, _ in stakes],
                )
            stake_ids, stake_details = self._stakes_explained
            acquired_ids, acquired_detail = self.acquired.explained()
            funded_ids, funded_detail = self.funded.explained()
            ids = (*stake_ids, *acquired_ids, *funded_ids)
            details = stake_details + [d for d in (acquired_detail, funded_detail) if d]
            self._explained = (ids, "; ".join(details))
        return self._explained

    def snapshot(self) -> Snapshot:
        """See `_Fold.snapshot`: the ordered stakes list is replaced, never changed in place."""
        if self.snap is None:
            self.snap = (self, self.ordered(), self.acquired.snapshot(), self.funded.snapshot())
        return self.snap

    def explained_at(self, snap: Snapshot) -> tuple[tuple[str, ...], str]:
        """`explained()` as it was when `snap` was taken (the same words, in the same order)."""
        if snap is self.snap:
            return self.explained()
        _, stakes, acquired, funded = snap
        acquired_ids, acquired_detail = self.acquired.explained_at(acquired)
        funded_ids, funded_detail = self.funded.explained_at(funded)
        details = [_stake_detail(fact, self.plan) for _, fact, _ in stakes]
        details += [d for d in (acquired_detail, funded_detail) if d]
        ids = (*(fact.event_id for _, fact, _ in stakes), *acquired_ids, *funded_ids)
        return ids, "; ".join(details)


class _PeerPauses:
    """peer_client_pause: the latest word of every other client, folded in event-time order."""

    __slots__ = ("_fold", "_said", "half_life_days", "latest", "plan", "snap")

    def __init__(self, half_life_days: float | None, plan: _Plan) -> None:
        self.half_life_days = half_life_days
        self.plan = plan
        self.latest: dict[str, tuple[Fact, float]] = {}
        """client -> (its latest word, when that counts, and the word's base hazard)."""
        self._fold: _Fold | None = None
        self._said: dict[str, str] = {}
        """event id -> detail of the words in `latest` explained so far. Any client's new word
        refolds them all, and this keeps that from formatting the others' words again."""
        self.snap: Snapshot | None = None

    def set(self, client: str, fact: Fact) -> None:
        """`fact` is now the latest about `client`; it replaces what the client said before."""
        base = _client_base(fact, self.plan)
        held = self.latest.get(client)
        if base is not None and base > 0:
            self.latest[client] = (fact, base)
        elif held is None:
            return
        else:
            del self.latest[client]
        if held is not None:
            self._said.pop(held[0].event_id, None)
        self._fold = None
        self.snap = None

    def _describe(self, fact: Fact, plan: _Plan) -> str:
        said = self._said.get(fact.event_id)
        if said is None:
            said = self._said[fact.event_id] = _client_detail(fact, plan)
        return said

    def fold(self) -> _Fold:
        if self._fold is None:
            self._fold = _Fold(self.half_life_days, self._describe, self.plan)
            # (fact, base) pairs sort by fact: facts are unique, so bases are never compared.
            for fact, base in sorted(self.latest.values()):
                self._fold.add(fact, base)
        return self._fold

    def hazard(self, at: float) -> float:
        return (self._fold or self.fold()).hazard(at)

    def explained(self) -> tuple[tuple[str, ...], str]:
        return self.fold().explained()

    def snapshot(self) -> Snapshot:
        """The snapshot of the fold of the latest words (rebuilt, not changed, when one moves)."""
        if self.snap is None:
            self.snap = self.fold().snapshot()
        return self.snap


class _DataAtStake:
    """The worth of every dataset held, combined as independent exposures (by dataset id)."""

    __slots__ = ("_value", "worth")

    def __init__(self) -> None:
        self.worth: dict[str, tuple[Fact, float]] = {}
        self._value: tuple[float, tuple[str, ...], float] | None = None

    def set(self, dataset: str, fact: Fact, plan: _Plan) -> None:
        """`fact` is now the latest about `dataset`: shared (with its worth) or revoked."""
        worth = _dataset_worth(fact, plan)
        if worth is not None:
            self.worth[dataset] = (fact, worth)
        elif self.worth.pop(dataset, None) is None:
            return
        self._value = None

    def value(self) -> tuple[float, tuple[str, ...], float]:
        """(data at stake 0-1, the data.shared event ids behind it, sorted, and the data at
        stake rounded as a Score shows it: kept, as it changes far less often than scores)."""
        if self._value is None:
            keep = 1.0
            for dataset in sorted(self.worth):
                keep *= 1.0 - self.worth[dataset][1]
            ids = tuple(sorted(fact.event_id for fact, _ in self.worth.values()))
            self._value = (1.0 - keep, ids, round(1.0 - keep, 4))
        return self._value


class _Aggregates:
    """What `score` needs from one vendor's facts under one policy, as of an instant.

    `build` makes them from the facts known as of the instant; `update` brings them forward by
    one newly applied fact. A fact that arrives late (older than the latest of its kind) makes
    `update` rebuild just that part from the state, so the result is the same as `build`'s.
    """

    __slots__ = (
        "data",
        "mitigation",
        "name",
        "ownership",
        "pauses",
        "plan",
        "risks",
        "summed",
        "synced",
    )

    def __init__(self, policy: Policy) -> None:
        self.plan = plan = _plan(policy)
        sig = plan.signals
        self.synced = 0
        self.name: str | None = None
        """The registered name, if the vendor is registered."""
        self.data = _DataAtStake()
        self.ownership = _Ownership(sig.competitor_ownership.half_life_days, plan)
        self.pauses = _PeerPauses(sig.peer_client_pause.half_life_days, plan)
        self.summed: dict[str, _Fold] = {
            kind: _Fold(getattr(sig, signal).half_life_days, describe, plan)
            for kind, (signal, _, describe) in _SUMMED.items()
            if kind not in _OWNERSHIP_KINDS
        }
        self.summed["ownership.acquired"] = self.ownership.acquired
        self.summed["funding.round"] = self.ownership.funded
        # (signal name, aggregate) in the order of SIGNALS; the objects are updated in place.
        self.risks: tuple[tuple[str, Any], ...] = (
            ("competitor_ownership", self.ownership),
            ("key_person_to_competitor", self.summed["person.moved"]),
            ("peer_client_pause", self.pauses),
            ("security_incident", self.summed["security.incident"]),
            ("workforce_growth", self.summed["workforce.changed"]),
            ("demand_surge", self.summed["demand.changed"]),
        )
        self.mitigation = self.summed["vendor.statement"]

    @classmethod
    def build(cls, state: VendorState, policy: Policy, upto: float) -> _Aggregates:
        agg = cls(policy)
        for kind in _SUMMED:
            agg._refold(state, kind, upto)
        for facts in state.stakes.values():
            for fact in facts:
                if fact.t > upto:
                    break
                agg.ownership.offer_stake(fact)
        for client, facts in state.clients.items():
            fact = latest(facts, upto)
            if fact is not None:
                agg.pauses.set(client, fact)
        for dataset, facts in state.datasets.items():
            fact = latest(facts, upto)
            if fact is not None:
                agg.data.set(dataset, fact, agg.plan)
        registered = latest(state.by_type.get("vendor.registered", []), upto)
        agg.name = registered.data.name if registered is not None else None  # type: ignore[attr-defined]
        agg.synced = state.event_count(upto)
        return agg

    def _refold(self, state: VendorState, kind: str, upto: float) -> None:
        """Fold every fact of an unkeyed `kind` known at `upto`, in (event time, id) order."""
        fold = self.summed[kind]
        fold.clear()
        fold.extend(state.facts(kind, upto), _SUMMED[kind][1], self.plan)
        if kind in _OWNERSHIP_KINDS:
            self.ownership.changed()

    def update(self, state: VendorState, fact: Fact) -> None:
        """Bring the aggregates forward by `fact`, the one fact applied since they were synced."""
        kind = fact.type
        data: Any = fact.data
        if kind in self.summed:
            facts = state.by_type[kind]
            if facts[-1] is not fact:
                self._refold(state, kind, _FOREVER)  # a late arrival: refold in order
            else:
                base = _SUMMED[kind][1](data, self.plan)
                if base is not None and base > 0:
                    self.summed[kind].add(fact, base)
                    if kind in _OWNERSHIP_KINDS:
                        self.ownership.changed()
        elif kind in KEYED_BY_CLIENT:
            client = normalise_org(data.client)
            if state.clients[client][-1] is fact:
                self.pauses.set(client, fact)
        elif kind in KEYED_BY_DATASET:
            if state.datasets[data.dataset][-1] is fact:
                self.data.set(data.dataset, fact, self.plan)
        elif kind == "ownership.stake_acquired":
            self.ownership.offer_stake(fact)
        elif kind == "vendor.registered" and state.by_type[kind][-1] is fact:
            self.name = data.name
        self.synced += 1


def _cached_aggregates(state: VendorState, policy: Policy) -> _Aggregates:
    """The aggregates of all of `state`'s facts under `policy`, kept beside the state.

    Keyed by policy version (same content, same numbers), synced by the count of applied events:
    one behind is brought forward with `state.last_fact`; anything else is rebuilt.
    """
    cached: _Aggregates | None = state.caches.get(policy.version)
    count = len(state.seen)
    if cached is not None and cached.synced == count:
        return cached
    if cached is not None and cached.synced == count - 1 and state.last_fact is not None:
        cached.update(state, state.last_fact)
        return cached
    cached = _Aggregates.build(state, policy, _FOREVER)
    state.caches[policy.version] = cached
    return cached


def data_at_stake(state: VendorState, policy: Policy, at: float) -> tuple[float, tuple[str, ...]]:
    """Worth of the data the vendor holds as of `at` (0-1), and the data.shared event ids."""
    held, plan = _DataAtStake(), _plan(policy)
    for dataset, facts in state.datasets.items():
        fact = latest(facts, at)
        if fact is not None:
            held.set(dataset, fact, plan)
    stake, ids, _ = held.value()
    return stake, ids


def _timestamp(at: datetime | float | None, state: VendorState) -> float:
    if at is None:
        return state.last_t if state.last_t is not None else 0.0
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("`at` must be timezone-aware (event time is UTC)")
        return at.timestamp()
    return float(at)


def score(
    state: VendorState,
    policy: Policy,
    at: datetime | float | None = None,
    *,
    cached: bool = True,
) -> Score:
    """The vendor's explained score as of event time `at` (default: its latest event).

    As of the latest event or later, the aggregates cached beside the state are used and kept up
    to date (O(signals) per call in the live pipeline); before it, or with `cached=False`, they
    are built from the facts known at `at`. Both give the same Score.
    """
    t = _timestamp(at, state)
    if cached and (state.last_t is None or t >= state.last_t):
        aggregates = _cached_aggregates(state, policy)
    else:
        aggregates = _Aggregates.build(state, policy, t)
    return _explain(state, policy, t, aggregates)


def figures(state: VendorState, policy: Policy) -> Figures:
    """The vendor's score as of its latest event, as numbers: what the live pipeline needs after
    every event (the explanation is built only if read, see `Figures`)."""
    t = state.last_t if state.last_t is not None else 0.0
    return _figures(state, policy, t, _cached_aggregates(state, policy), len(state.seen))


def _explain(state: VendorState, policy: Policy, t: float, aggregates: _Aggregates) -> Score:
    """Combine the signals as of `t` into the score and its contributions (one code path with
    the live pipeline's numbers, so both give the same floats)."""
    return _figures(state, policy, t, aggregates, state.event_count(t)).explain()


def _figures(
    state: VendorState, policy: Policy, t: float, aggregates: _Aggregates, count: int
) -> Figures:
    """The numbers of the score as of `t`, and snapshots of the signals that explain them.

    This runs after every event in the live pipeline, so it does only the arithmetic (the float
    operations of the formulas in the module docstring, in the same order) and takes a snapshot
    per signal, which costs nothing while the signal does not change.
    """
    data = aggregates.data
    stake, data_ids, shown_stake = data._value or data.value()
    risks: list[tuple[str, float, Snapshot]] = []
    positive = 0.0
    for name, signal in aggregates.risks:
        if type(signal) is _Fold:  # `_Fold.hazard` inlined (same operations): most signals are
            hazard = signal.value
            if signal.half_life is not None and t > signal.t:
                hazard *= 0.5 ** ((t - signal.t) / signal.half_life)
        else:
            hazard = signal.hazard(t)
        if hazard > 0:
            positive += hazard
            risks.append((name, hazard, signal.snap or signal.snapshot()))
    mitigation = aggregates.mitigation
    offset = mitigation.value
    if mitigation.half_life is not None and t > mitigation.t:  # `_Fold.hazard` again
        offset *= 0.5 ** ((t - mitigation.t) / mitigation.half_life)
    if offset > 0:  # else it stays 0.0, what min() would give; the plan is read only if needed
        offset = min(offset, aggregates.plan.signals.vendor_mitigation.max_offset_ratio * positive)
    scale = 100.0 * stake
    exposure = 1.0 - math.exp(-positive)
    unmitigated = scale * exposure
    if offset > 0:
        likelihood = 1.0 - math.exp(-(positive - offset))
        value = scale * likelihood
        mitigated = mitigation.snap or mitigation.snapshot()
    else:  # offset is 0 (both of its candidates are >= 0), and positive - 0.0 is positive
        likelihood, value, mitigated = exposure, unmitigated, None
    return Figures(
        state.vendor_id,
        aggregates.name or state.vendor_id,
        round(value, 2),
        shown_stake,
        likelihood,
        data_ids,
        policy,
        t,
        count,
        risks,
        positive,
        unmitigated,
        value,
        mitigated,
    )


def _explained_at(snap: Snapshot) -> tuple[tuple[str, ...], str]:
    """(event ids, detail) of a signal as it was when `snap` was taken."""
    owner: Any = snap[0]
    if owner.snap is snap:  # unchanged since (every change drops `snap`): the cached words
        return owner._explained or owner.explained()  # type: ignore[no-any-return]
    return owner.explained_at(snap)  # type: ignore[no-any-return]


class Figures:
    """A vendor's score as of an event, as numbers, with its explanation built only if read.

    Why: the live pipeline and replay score a vendor after every event, but an explained
    `Score` (a contribution per signal with its event ids and words, a datetime, a frozen
    dataclass) is read far less often: when a score is published, an alert starts or ends, or a
    replay reports. So the numbers are computed per event, and each signal behind them is
    pinned by a snapshot that costs nothing while the signal does not change; `explain()` turns
    them into the `Score` the explained path would have made at that event, exactly, whenever it
    is called (the snapshots hold the facts as they were, not as they are now).

    The attributes a reader of a `Score` usually wants (`score`, `severity`, `name`, ...) are
    here too, so the alert rules can work from the numbers.
    """

    __slots__ = (
        "_ranked",
        "_score",
        "data_at_stake",
        "data_event_ids",
        "event_count",
        "exact_likelihood",
        "mitigated",
        "name",
        "policy",
        "positive",
        "risks",
        "score",
        "t",
        "unmitigated",
        "value",
        "vendor_id",
    )

    def __init__(
        self,
        vendor_id: str,
        name: str,
        score: float,
        data_at_stake: float,
        likelihood: float,
        data_event_ids: tuple[str, ...],
        policy: Policy,
        t: float,
        event_count: int,
        risks: list[tuple[str, float, Snapshot]],
        positive: float,
        unmitigated: float,
        value: float,
        mitigated: Snapshot | None,
    ) -> None:
        self.vendor_id = vendor_id
        self.name = name
        self.score = score
        """Rounded, as the Score shows it."""
        self.data_at_stake = data_at_stake
        self.exact_likelihood = likelihood
        """Not rounded: `round` is one of the dearer calls per event, and `likelihood` (rounded,
        as the Score shows it) is read only to explain or when the scores are equal."""
        self.data_event_ids = data_event_ids
        self.policy = policy
        self.t = t
        """Event time of the score, unix seconds (`Score.as_of`)."""
        self.event_count = event_count
        self.risks = risks
        """(signal, hazard > 0, snapshot) in the order of SIGNALS."""
        self.positive = positive
        self.unmitigated = unmitigated
        self.value = value
        """The score before rounding."""
        self.mitigated = mitigated
        """The mitigation's snapshot when it offsets something, else None."""
        self._ranked: tuple[list[tuple[float, str, Snapshot]], float] | None = None
        self._score: Score | None = None

    @property
    def likelihood(self) -> float:
        return round(self.exact_likelihood, 4)

    @property
    def severity(self) -> Severity:
        return self.policy.severity(self.score)

    @property
    def policy_version(self) -> str:
        return self.policy.version

    @property
    def as_of(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        return self.explain().contributions

    def ranked(self) -> tuple[list[tuple[float, str, Snapshot]], float]:
        """(-points, signal, snapshot) largest first, ties by signal name; and the mitigation's
        (negative) points, 0.0 when it offsets nothing."""
        if self._ranked is None:
            unmitigated, positive = self.unmitigated, self.positive
            ranked = [
                (-round(unmitigated * hazard / positive, 2), name, snap)
                for name, hazard, snap in self.risks
            ]
            ranked.sort()  # (points, name) pairs are unique: snapshots are never compared
            mitigation = round(self.value - unmitigated, 2) if self.mitigated is not None else 0.0
            self._ranked = (ranked, mitigation)
        return self._ranked

    def explain(self) -> Score:
        """The explained Score these numbers stand for (built once, then kept)."""
        if self._score is None:
            ranked, mitigation = self._ranked or self.ranked()
            contributions = []
            for points, name, snap in ranked:
                owner = snap[0]  # `_explained_at` inlined for its common case, unchanged since
                said = owner._explained if owner.snap is snap else None
                if said is None:
                    said = _explained_at(snap)
                contributions.append(_new_tuple(Contribution, (name, -points, *said)))
            if self.mitigated is not None:
                contributions.append(
                    _new_tuple(
                        Contribution,
                        ("vendor_mitigation", mitigation, *_explained_at(self.mitigated)),
                    )
                )
            self._score = Score(
                self.vendor_id,
                self.name,
                self.score,
                self.policy.severity(self.score),
                self.data_at_stake,
                self.likelihood,
                tuple(contributions),
                self.data_event_ids,
                self.policy.version,
                datetime.fromtimestamp(self.t, UTC),
                self.event_count,
            )
        return self._score

    def explained_differently(self, other: Figures) -> bool:
        """`explain()` and `other.explain()` differ in anything but `as_of` and `event_count`
        (what `processor.explained_differently` compares), decided without building either.

        Numbers first (they differ after most events); then, only if every number is equal, the
        signals' snapshots: the same snapshot is the same explanation, and different ones are
        compared by their words (a refold can rebuild an identical explanation).
        """
        if (
            self.score != other.score
            or self.likelihood != other.likelihood
            or self.data_at_stake != other.data_at_stake
            or self.name != other.name
            or len(self.risks) != len(other.risks)
            or (self.mitigated is None) != (other.mitigated is None)
            or self.policy.version != other.policy.version
        ):
            return True
        ids = self.data_event_ids
        if ids is not other.data_event_ids and ids != other.data_event_ids:
            return True
        mine, my_mitigation = self.ranked()
        theirs, their_mitigation = other.ranked()
        if my_mitigation != their_mitigation:
            return True
        for (points, name, _), (their_points, their_name, _) in zip(mine, theirs, strict=True):
            if points != their_points or name != their_name:
                return True
        pairs = [(a[2], b[2]) for a, b in zip(mine, theirs, strict=True)]
        if self.mitigated is not None:
            pairs.append((self.mitigated, other.mitigated))  # type: ignore[arg-type]
        return any(a is not b and _explained_at(a) != _explained_at(b) for a, b in pairs)


def score_all(
    states: Iterable[VendorState], policy: Policy, at: datetime | float | None = None
) -> list[Score]:
    """Scores of every vendor known as of `at`, highest first (ties by vendor id)."""
    scores = []
    for state in states:
        if at is not None and (state.first_t is None or state.first_t > _timestamp(at, state)):
            continue  # nothing known about this vendor yet
        scores.append(score(state, policy, at))
    scores.sort(key=lambda s: (-s.score, s.vendor_id))
    return scores
