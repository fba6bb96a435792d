"""The live pipeline's scoring engine: the same `Score` as `scoring.score`, in O(1) per event.

Trade-off. `scoring.score` is the reference: it reads a vendor's whole history on every call,
O(history). The live agent and replay score a vendor after *every* event, which would make a
vendor's history quadratic to fold. So this module keeps, beside each vendor state and per
policy version, running aggregates of its facts (`_Aggregates`) and brings them forward with
the one fact each `apply` adds:

- a decaying sum sum_i b_i x decay(at - t_i) is kept as its value at its latest term (`_Fold`):
  adding a newer term and reading it at any later instant are each one decay and one add. The
  reference evaluates the same sum as the same left fold (`scoring.decayed_sum`), so the floats
  agree exactly;
- the latest ownership report per competitor, the latest word per client and the worth per
  dataset are kept as facts arrive (a late, out-of-order fact refolds just its own signal; a
  late ownership report only has to lose one comparison);
- the words that explain a fact are formatted only when an explanation is read, once per fact
  cited (`Figures` pins each signal with a snapshot that costs nothing while it does not
  change), because formatting costs more than the arithmetic and most scores are never read;
- the policy is read through `_Plan`, plain attributes holding the same values as the pydantic
  policy (the fact rules read half a dozen fields per fact).

What it costs: memory per vendor and policy version (the aggregates), and a second
implementation of the model. The per-fact rules (`scoring.RULES` and friends), `decay`, the
citation bound and the `Score` it returns are shared with the reference, not copied; what is
written twice is how facts combine into signals and signals into a score. Any change there is
made in `scoring.py` first and brought here until tests/streams/core/
test_reference_equals_incremental.py passes: it demands equal `Score`s on generated histories,
including instants before the latest event, late events and a small citation bound.

A score as of an instant before the vendor's latest event (`--as-of`, replay of the past)
builds the same aggregates from the facts known then.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from pydantic import BaseModel

from vendorwatch.schemas.events import Classification
from vendorwatch.streams.core.names import Resolver, VendorNames, canonical
from vendorwatch.streams.core.policy import Policy, Severity
from vendorwatch.streams.core.scoring import (
    DAY,
    NOTED_TYPES,
    OFFBOARDED,
    RULES,
    Contribution,
    Describe,
    Hazard,
    Score,
    client_detail,
    client_hazard,
    client_key,
    client_word,
    combine_classes,
    counted_statements,
    current_reports,
    decay,
    fact_ids,
    fact_note,
    first_cited,
    funding_detail,
    held,
    holding_detail,
    holding_hazard,
    incident_claims,
    instant,
    mitigation_hazard,
    move_claims,
    move_hazard,
    noted_facts,
    report_competitor,
    reported,
    same_holding,
    shown_notes,
    stake_strength,
    with_uncited,
)
from vendorwatch.streams.core.state import (
    KEYED_BY_CLIENT,
    KEYED_BY_DATASET,
    KEYED_BY_INVESTOR,
    Fact,
    VendorState,
    latest,
)

_FOREVER = math.inf

_CLAIMED = frozenset({"person.moved", "security.incident"})
"""Kinds whose facts are merged into claims before they are summed: each new report refolds the
kind (O(reports of that kind)), since it may change an earlier claim rather than add one."""

_new_contribution = cast(Any, tuple.__new__)
"""`_new_contribution(Contribution, fields)` builds a Contribution in C, without the named
tuple's Python-level `__new__`; `Figures.explain` makes several per score."""


# --- the policy, read fast ---------------------------------------------------------------------


def _plain(model: BaseModel) -> SimpleNamespace:
    """A policy section's fields as plain attributes (nested sections too); values unchanged."""
    return SimpleNamespace(
        **{name: _plain(value) if isinstance(value, BaseModel) else value for name, value in model}
    )


class _Plan:
    """What the fact rules (`scoring.RULES`, ...) read from a policy, at plain-attribute speed.

    A policy is a tree of pydantic models, and reading a pydantic model's field goes through
    `BaseModel.__getattr__`'s hook: each of the three reads in `policy.signals.workforce_growth`
    costs several plain attribute reads. The hazard of every fact folded reads half a dozen
    such fields, which made those reads a large part of building a vendor's aggregates. A
    plan holds the same values (the same objects: the same numbers, the same arithmetic) in
    `SimpleNamespace`s, built once per policy version (`_plan`).
    """

    __slots__ = ("data", "resolver", "signals")

    def __init__(self, policy: Policy) -> None:
        self.signals: Any = _plain(policy.signals)
        self.data: Any = _plain(policy.data)
        # Policy.competitor and Policy.is_own_organisation ask the same resolver.
        self.resolver: Resolver = policy.resolver

    def competitor(self, org: str) -> str | None:
        """`Policy.competitor`: the competitor `org` names, or None."""
        return self.resolver.competitor(org)

    def is_own_organisation(self, org: str) -> bool:
        """`Policy.is_own_organisation`."""
        return self.resolver.is_own_organisation(org)


_PLANS: dict[str, _Plan] = {}


def _plan(policy: Policy) -> _Plan:
    """The plan of a policy, per version (same content, same numbers)."""
    plan = _PLANS.get(policy.version)
    if plan is None:
        plan = _PLANS[policy.version] = _Plan(policy)
    return plan


_OWNERSHIP_KINDS = frozenset({"funding.round"})
_NAMING_KINDS = frozenset({"vendor.registered", "vendor.alias_added"})
"""Fact types that change the names a vendor goes by (`VendorState.names`)."""
"""Unkeyed fact types folded into competitor_ownership rather than a signal of their own."""

_RISKLESS = frozenset(
    {"data.shared", "data.revoked", OFFBOARDED, "vendor.registered", "vendor.alias_added"}
)
"""Fact types that change no risk signal: a late one leaves the risk a statement met alone."""

Snapshot = tuple[Any, ...]
"""A signal's explanation pinned as it stands (`_Fold.snapshot`): its first item is the object
whose `explained_at(snapshot)` reads it back."""


class _Fold:
    """sum_i b_i * 2^(-(at - t_i)/h) over terms added in (event time, arrival) order.

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
        "facts",
        "half_life",
        "plan",
        "snap",
        "t",
        "value",
    )

    def __init__(self, half_life_days: float | None, describe: Describe, plan: _Plan) -> None:
        self.half_life = half_life_days
        self.describe = describe
        self.plan = plan
        self.clear()

    def clear(self) -> None:
        self.value = 0.0
        self.t = -_FOREVER
        self.facts: list[Fact] = []
        self._details: list[str | None] = []
        """The details of the facts, by index: formatted when first cited, None until then."""
        self._explained: tuple[tuple[str, ...], str] | None = None
        self.snap: Snapshot | None = None
        """What `snapshot` returned since the last change (None: it changed since)."""

    def add(self, fact: Fact, base: float) -> None:
        """Add a term `base` (> 0) at `fact`'s time, not before the latest term's."""
        if self.facts:
            self.value = self.value * decay(self.half_life, fact.t - self.t) + base
        else:
            self.value = base
        self.t = fact.t
        self.facts.append(fact)
        self._explained = None
        self.snap = None

    def extend(self, facts: Iterable[Fact], base_of: Hazard, plan: _Plan) -> None:
        """`add` each of `facts`, in order, whose base hazard counts (`_refold`'s loop).

        `add`'s arithmetic is repeated here on locals rather than called: this loop runs for
        every fact of a vendor each time its aggregates are built (every vendor's first score,
        `--as-of`). The float operations are `add`'s, in the same order.
        """
        kept, half_life = self.facts, self.half_life
        value, last, before = self.value, self.t, len(kept)
        for fact in facts:
            t, _, _, _, data, _, _ = fact
            base = base_of(data, plan)
            if base is not None and base > 0:
                value = base if not kept else value * decay(half_life, t - last) + base
                last = t
                kept.append(fact)
        if len(kept) != before:
            self.value, self.t = value, last
            self._explained = None
            self.snap = None

    def hazard(self, at: float) -> float:
        """The sum as of `at` (not before the latest term); 0 when empty."""
        return self.value * decay(self.half_life, at - self.t) if self.facts else 0.0

    def explained(self) -> tuple[tuple[str, ...], str]:
        """(event ids, detail) of the contribution; built once per change, not per score."""
        if self._explained is None:
            self._explained = self._cited(len(self.facts))
        return self._explained

    def _cited(self, n: int) -> tuple[tuple[str, ...], str]:
        """The explanation of the first `n` facts: the latest `MAX_CITED_FACTS` of them cited,
        their details formatted once (and kept) the first time they are cited."""
        start = first_cited(n)
        details = self._details
        if len(details) < n:
            details.extend([None] * (n - len(details)))
        facts, describe, plan = self.facts, self.describe, self.plan
        for i in range(start, n):
            if details[i] is None:
                details[i] = reported(facts[i], describe(facts[i], plan))
        cited = cast(list[str], details[start:n])  # every one formatted just above
        ids = tuple(i for f in facts[start:n] for i in fact_ids(f))
        return ids, with_uncited(start, cited)

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
        start = first_cited(n)
        kept = facts[start:n]
        return (
            tuple(i for f in kept for i in fact_ids(f)),
            with_uncited(start, [reported(f, describe(f, plan)) for f in kept]),
        )


class _Ownership:
    """competitor_ownership: what each competitor holds now, plus funding rounds.

    Keeps each competitor's latest ownership report, after the reports of the same holding just
    before it (`scoring.holding_runs`), and the latest acquisition by anyone
    (`scoring.current_reports` reads them). "Latest" is the largest fact in (event time,
    arrival) order, and a newly applied fact is the last to arrive, so a new report that is not
    older than any offered before joins or restarts its competitor's run in O(1). An older one
    may split or join any run, so `offer` says so and the caller refolds the reports
    (`_Aggregates._refold_ownership`, O(ownership reports)). The holdings are worked out from
    those few facts when the score is next read.
    """

    __slots__ = (
        "_explained",
        "_ordered",
        "_stakes_explained",
        "funded",
        "half_life",
        "last_acquisition",
        "newest",
        "plan",
        "runs",
        "snap",
    )

    def __init__(self, half_life_days: float | None, plan: _Plan) -> None:
        self.half_life = half_life_days
        self.plan = plan
        self.runs: dict[str, list[Fact]] = {}
        """competitor -> its latest ownership report (stake, divestment or acquisition), after
        the reports of the same holding just before it."""
        self.last_acquisition: Fact | None = None
        """The latest acquisition by anyone: it ends every earlier holding but its own."""
        self.newest: Fact | None = None
        """The latest ownership report offered, by anyone."""
        self.funded = _Fold(half_life_days, funding_detail, plan)
        self._ordered: list[tuple[float, Fact, float]] | None = None
        self._stakes_explained: tuple[list[str], list[str]] | None = None
        """Ids and details of the ordered holdings: kept while only funding rounds change."""
        self._explained: tuple[tuple[str, ...], str] | None = None
        self.snap: Snapshot | None = None

    def clear(self) -> None:
        """Forget every ownership report (the funding rounds are kept)."""
        self.runs = {}
        self.last_acquisition = None
        self.newest = None
        self._ordered = None
        self._stakes_explained = None
        self.changed()

    def offer(self, fact: Fact) -> bool:
        """A stake, divestment or acquisition report, newer than every report offered before
        (False, and nothing changed, when it is not: the caller refolds). Then no acquisition
        lies between its competitor's latest report and it but the latest acquisition."""
        if self.newest is not None and fact < self.newest:
            return False  # late: it may split or join any competitor's run
        self.newest = fact
        before = self.last_acquisition
        competitor = report_competitor(fact, self.plan)
        if competitor is not None:
            run = self.runs.get(competitor)
            if run is None:
                self.runs[competitor] = [fact]
            else:
                last = run[-1]
                if (before is not None and last < before) or not same_holding(last, fact):
                    # An acquisition by someone else since its last report ended that holding.
                    self.runs[competitor] = [fact]
                else:
                    run.append(fact)
        elif fact.type != "ownership.acquired":
            return True  # not a competitor's holding: changes nothing
        if fact.type == "ownership.acquired":
            self.last_acquisition = fact
        self._ordered = None
        self._stakes_explained = None
        self.changed()
        return True

    def changed(self) -> None:
        self._explained = None
        self.snap = None

    def ordered(self) -> list[tuple[float, Fact, float]]:
        """(strength, report, base hazard) of the current holdings, strongest first."""
        if self._ordered is None:
            plan, half_life = self.plan, self.half_life
            holdings = []
            for _, fact in current_reports(self.runs, self.last_acquisition):
                base = holding_hazard(fact, plan)
                if base is not None and base > 0:
                    holdings.append((stake_strength(base, fact, half_life), fact, base))
            holdings.sort(key=lambda h: (-h[0], h[1]))
            self._ordered = holdings
        return self._ordered

    def hazard(self, at: float) -> float:
        held = 0.0
        if self.runs:  # most vendors have no competitor among their owners
            half_life = self.half_life
            for _, fact, base in self._ordered if self._ordered is not None else self.ordered():
                held += base * decay(half_life, at - fact.t)
        return held + self.funded.hazard(at)

    def explained(self) -> tuple[tuple[str, ...], str]:
        if self._explained is None:
            if self._stakes_explained is None:
                holdings = self.ordered()
                self._stakes_explained = (
                    [i for _, fact, _ in holdings for i in fact_ids(fact)],
                    [reported(fact, holding_detail(fact, self.plan)) for _, fact, _ in holdings],
                )
            held_ids, held_details = self._stakes_explained
            funded_ids, funded_detail = self.funded.explained()
            ids = (*held_ids, *funded_ids)
            details = held_details + ([funded_detail] if funded_detail else [])
            self._explained = (ids, "; ".join(details))
        return self._explained

    def snapshot(self) -> Snapshot:
        """See `_Fold.snapshot`: the ordered holdings list is replaced, never changed in place."""
        if self.snap is None:
            self.snap = (self, self.ordered(), self.funded.snapshot())
        return self.snap

    def explained_at(self, snap: Snapshot) -> tuple[tuple[str, ...], str]:
        """`explained()` as it was when `snap` was taken (the same words, in the same order)."""
        if snap is self.snap:
            return self.explained()
        _, holdings, funded = snap
        funded_ids, funded_detail = self.funded.explained_at(funded)
        details = [reported(fact, holding_detail(fact, self.plan)) for _, fact, _ in holdings]
        if funded_detail:
            details.append(funded_detail)
        ids = (*(i for _, fact, _ in holdings for i in fact_ids(fact)), *funded_ids)
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
        base = client_hazard(fact, self.plan)
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
            said = self._said[fact.event_id] = client_detail(fact, plan)
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
    """The data held, as records per classification, combined as `scoring.combine_classes`.

    Per data event the totals of one classification move by one dataset's records (integers, so
    the sums are exact in any order); the worth is recomputed from at most four totals when
    read. An offboarding drops every dataset held before it (O(datasets), once)."""

    __slots__ = ("_value", "datasets", "held", "offboarded", "plan", "records")

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.held: dict[str, Fact] = {}
        """dataset -> its data.shared fact, while the vendor holds it."""
        self.records: dict[Classification, int] = {}
        """Records held per classification."""
        self.datasets: dict[Classification, int] = {}
        """How many datasets are held per classification (a class with none is not held)."""
        self.offboarded: Fact | None = None
        self._value: tuple[float, tuple[str, ...], float] | None = None

    def _count(self, fact: Fact, sign: int) -> None:
        data: Any = fact.data
        classification = data.classification
        self.records[classification] = self.records.get(classification, 0) + sign * data.records
        left = self.datasets.get(classification, 0) + sign
        if left:
            self.datasets[classification] = left
        else:
            del self.datasets[classification]
            del self.records[classification]

    def set(self, dataset: str, fact: Fact) -> None:
        """`fact` is now the latest about `dataset`: shared (held unless offboarded since) or
        revoked."""
        before = self.held.pop(dataset, None)
        if before is not None:
            self._count(before, -1)
        if held(fact, self.offboarded):
            self.held[dataset] = fact
            self._count(fact, +1)
        elif before is None:
            return
        self._value = None

    def offboard(self, fact: Fact) -> None:
        """`fact` is now the vendor's latest offboarding: what was shared before it is gone."""
        self.offboarded = fact
        for dataset, shared in list(self.held.items()):
            if not held(shared, fact):
                del self.held[dataset]
                self._count(shared, -1)
                self._value = None

    def value(self) -> tuple[float, tuple[str, ...], float]:
        """(data at stake 0-1, the data.shared event ids behind it, sorted, and the data at
        stake rounded as a Score shows it: kept, as it changes far less often than scores)."""
        if self._value is None:
            stake = combine_classes(self.records, self.plan)
            ids = tuple(sorted(fact.event_id for fact in self.held.values()))
            self._value = (stake, ids, round(stake, 4))
        return self._value


class _Aggregates:
    """What `score` needs from one vendor's facts under one policy, as of an instant.

    `build` makes them from the facts known as of the instant; `update` brings them forward by
    one newly applied fact. A fact that arrives late (older than the latest of its kind) makes
    `update` rebuild just that part from the state, so the result is the same as `build`'s.
    """

    __slots__ = (
        "_moves",
        "clients",
        "data",
        "mitigation",
        "name",
        "noted",
        "notes",
        "ownership",
        "pauses",
        "plan",
        "policy",
        "prior",
        "revision",
        "risks",
        "said",
        "summed",
        "synced",
        "vendor",
    )

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.plan = plan = _plan(policy)
        sig = plan.signals
        self.synced = 0
        self.revision = 0
        """The state's `revision` when built: a withdrawal since makes these stale."""
        self.name: str | None = None
        """The registered name, if the vendor is registered."""
        self.vendor = VendorNames("", frozenset())
        """The vendor's names, which a move's `from_org` must be (`scoring.move_hazard`)."""
        self._moves: Hazard = move_hazard(self.vendor)
        self.noted: list[tuple[Fact, str]] = []
        """(fact, its note) for every fact with a note (`scoring.fact_note`), in fact order."""
        self.notes: tuple[str, ...] = ()
        """The notes a score shows (`scoring.shown_notes`), rebuilt when `noted` changes."""
        self.data = _DataAtStake(plan)
        self.ownership = _Ownership(sig.competitor_ownership.half_life_days, plan)
        self.pauses = _PeerPauses(sig.peer_client_pause.half_life_days, plan)
        self.clients: dict[str, list[str]] = {}
        """client (`scoring.client_key`) -> the canonical names its words are filed under in the
        state (`state.clients`): several when it was named by several aliases."""
        self.summed: dict[str, _Fold] = {
            kind: _Fold(getattr(sig, signal).half_life_days, describe, plan)
            for kind, (signal, _, describe) in RULES.items()
            if kind not in _OWNERSHIP_KINDS
        }
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
        self.said: dict[str, float] = {}
        """Statement kind -> event time of its latest counted statement (the repeat window)."""
        self.prior: tuple[float, tuple[tuple[float, float | None], ...]] | None = None
        """(made, ((hazard, half-life), ...)): each risk signal's hazard as of the latest
        counted statement, what the mitigation may offset (`scoring.prior_hazard`)."""

    @classmethod
    def build(cls, state: VendorState, policy: Policy, upto: float) -> _Aggregates:
        agg = cls(policy)
        agg.vendor = state.names(upto)
        agg._moves = move_hazard(agg.vendor)
        agg._renote(state, upto)
        for kind in RULES:
            agg._refold(state, kind, upto)
        agg._refold_ownership(state, upto)
        for facts in state.clients.values():
            names = agg.clients.setdefault(client_key(facts[0].data.client, agg.plan), [])  # type: ignore[attr-defined]
            names.append(canonical(facts[0].data.client))  # type: ignore[attr-defined]
        for client, names in agg.clients.items():
            fact = client_word(agg._client_facts(state, names), upto)
            if fact is not None:
                agg.pauses.set(client, fact)
        agg.data.offboarded = latest(state.by_type.get(OFFBOARDED, []), upto)
        for dataset, facts in state.datasets.items():
            fact = latest(facts, upto)
            if fact is not None:
                agg.data.set(dataset, fact)
        registered = latest(state.by_type.get("vendor.registered", []), upto)
        agg.name = registered.data.name if registered is not None else None  # type: ignore[attr-defined]
        agg.synced = state.event_count(upto)
        agg.revision = state.revision
        agg._set_prior(state, upto)
        return agg

    def _refold_ownership(self, state: VendorState, upto: float) -> None:
        """Offer every ownership report known at `upto` again, in (event time, arrival) order
        (a build, or a report that arrived late: it may split or join a holding's reports)."""
        ownership = self.ownership
        ownership.clear()
        reports = [f for facts in state.stakes.values() for f in facts if f.t <= upto]
        reports += state.facts("ownership.acquired", upto)
        reports.sort()
        for fact in reports:
            ownership.offer(fact)

    @staticmethod
    def _client_facts(state: VendorState, names: list[str]) -> list[Fact]:
        """One client's words (`scoring.client_groups`): the state's list of its one name, or
        the lists of its several names merged in (event time, arrival) order."""
        if len(names) == 1:
            return state.clients[names[0]]
        return sorted(fact for name in names for fact in state.clients[name])

    def _hazard(self, kind: str) -> Hazard:
        """The rule of an unkeyed kind's facts: moves count only from the vendor."""
        return self._moves if kind == "person.moved" else RULES[kind].hazard

    def _renote(self, state: VendorState, upto: float) -> None:
        """Note every fact known at `upto` again (the vendor's names changed, or a build)."""
        vendor, plan = self.vendor, self.plan
        self.noted = [
            (fact, note)
            for fact in noted_facts(state, upto)
            if (note := fact_note(fact, plan, vendor))
        ]
        self.notes = shown_notes([note for _, note in self.noted])

    def _note(self, fact: Fact) -> None:
        """Note one new fact (in its place, if it arrived late)."""
        note = fact_note(fact, self.plan, self.vendor)
        if note is None:
            return
        noted = self.noted
        if not noted or noted[-1][0] < fact:
            noted.append((fact, note))
        else:
            insort(noted, (fact, note))
        self.notes = shown_notes([note for _, note in noted])

    def _refold(self, state: VendorState, kind: str, upto: float) -> None:
        """Fold every fact of an unkeyed `kind` known at `upto`, in (event time, arrival) order."""
        fold = self.summed[kind]
        fold.clear()
        if kind == "vendor.statement":  # only the statements that count (`counted_statements`)
            terms = counted_statements(state.facts(kind, upto), self.plan)
            fold.extend([fact for fact, _ in terms], mitigation_hazard, self.plan)
            self.said = {fact.data.kind: fact.t for fact, _ in terms}  # type: ignore[attr-defined]
            return
        facts = state.facts(kind, upto)
        if kind == "security.incident":
            facts = incident_claims(facts, self.plan)
        elif kind == "person.moved":
            facts = move_claims(facts, self.plan, self.vendor)
        fold.extend(facts, self._hazard(kind), self.plan)
        if kind in _OWNERSHIP_KINDS:
            self.ownership.changed()

    def _set_prior(self, state: VendorState, upto: float) -> None:
        """Work out `prior` for the latest counted statement, from the facts known at `upto`.

        When no known fact is later than the statement (the live case: statements arrive in
        order), these aggregates are those as of the statement and are read at its instant;
        otherwise the aggregates as of the statement are built (a late arrival, O(history))."""
        fold = self.mitigation
        if not fold.facts:
            self.prior = None
            return
        made = fold.t
        last = state.last_t if state.last_t is not None else made
        source = self if made >= min(upto, last) else _Aggregates.build(state, self.policy, made)
        signals = self.plan.signals
        terms = []
        for name, signal in source.risks:
            hazard = signal.hazard(made)
            if hazard > 0:
                terms.append((hazard, getattr(signals, name).half_life_days))
        self.prior = (made, tuple(terms))

    def prior_hazard(self, at: float) -> float:
        """`scoring.prior_hazard`: the risk present at the latest counted statement, decayed to
        `at` with each signal's half-life (0.0 without a counted statement)."""
        if self.prior is None:
            return 0.0
        made, terms = self.prior
        total = 0.0
        for hazard, half_life in terms:
            total += hazard * decay(half_life, at - made)
        return total

    def update(self, state: VendorState, fact: Fact) -> None:
        """Bring the aggregates forward by `fact`, the one fact applied since they were synced."""
        kind = fact.type
        if kind == "vendor.statement":
            self._update_mitigation(state, fact)
        else:
            self._update(state, fact)
            if self.prior is not None and fact.t <= self.prior[0] and kind not in _RISKLESS:
                self._set_prior(state, _FOREVER)  # late: the risk the statement met changed
        self.synced += 1

    def _update_mitigation(self, state: VendorState, fact: Fact) -> None:
        """A statement: counted when no counted one of its kind is within the repeat window;
        a late one refolds the statements. Either way `prior` follows the latest counted."""
        if state.by_type[fact.type][-1] is not fact:
            self._refold(state, fact.type, _FOREVER)
            self._set_prior(state, _FOREVER)
            return
        base = mitigation_hazard(fact.data, self.plan)
        if base is None or base <= 0:
            return
        kind: str = fact.data.kind  # type: ignore[attr-defined]
        before = self.said.get(kind)
        window = self.plan.signals.vendor_mitigation.repeat_window_days * DAY
        if before is not None and fact.t - before < window:
            return
        self.said[kind] = fact.t
        self.mitigation.add(fact, base)
        self._set_prior(state, _FOREVER)

    def _update(self, state: VendorState, fact: Fact) -> None:
        """Bring the risk and data aggregates forward by `fact` (not a statement)."""
        kind = fact.type
        data: Any = fact.data
        if kind in self.summed:
            facts = state.by_type[kind]
            if facts[-1] is not fact or kind in _CLAIMED:
                # A late arrival, or a report that may restate, cancel or join an earlier
                # fact (`scoring.move_claims`, `incident_claims`): refold in order.
                self._refold(state, kind, _FOREVER)
            else:
                base = self._hazard(kind)(data, self.plan)
                if base is not None and base > 0:
                    self.summed[kind].add(fact, base)
                    if kind in _OWNERSHIP_KINDS:
                        self.ownership.changed()
        elif kind in KEYED_BY_CLIENT:
            client = client_key(data.client, self.plan)
            names = self.clients.setdefault(client, [])
            name = canonical(data.client)
            if name not in names:
                names.append(name)
            # Even a late word may join the reports of the latest one (`scoring.client_word`).
            word = client_word(self._client_facts(state, names), _FOREVER)
            self.pauses.set(client, word)  # type: ignore[arg-type]
        elif kind in KEYED_BY_DATASET:
            if state.datasets[data.dataset][-1] is fact:
                self.data.set(data.dataset, fact)
        elif kind == OFFBOARDED:
            if state.by_type[kind][-1] is fact:
                self.data.offboard(fact)
        elif kind in KEYED_BY_INVESTOR or kind == "ownership.acquired":
            if not self.ownership.offer(fact):
                self._refold_ownership(state, _FOREVER)
        elif kind == "vendor.registered" and state.by_type[kind][-1] is fact:
            self.name = data.name
        if kind in NOTED_TYPES:
            self._note(fact)
        elif kind in _NAMING_KINDS:
            vendor = state.names(_FOREVER)
            if vendor != self.vendor:  # its names changed: moves and notes read them
                self.vendor, self._moves = vendor, move_hazard(vendor)
                self._refold(state, "person.moved", _FOREVER)
                self._renote(state, _FOREVER)


def _cached_aggregates(state: VendorState, policy: Policy) -> _Aggregates:
    """The aggregates of all of `state`'s facts under `policy`, kept beside the state.

    Keyed by policy version (same content, same numbers), synced by the count of applied events:
    one behind is brought forward with `state.last_fact`; anything else is rebuilt, and so is
    everything after a fact was withdrawn (`state.revision`: a retraction or a replacement can
    take any fact away, which running sums cannot subtract exactly).
    """
    cached: _Aggregates | None = state.caches.get(policy.version)
    count = len(state.seen)
    if cached is not None and cached.revision != state.revision:
        cached = None
    if cached is not None and cached.synced == count:
        return cached
    if cached is not None and cached.synced == count - 1 and state.last_fact is not None:
        cached.update(state, state.last_fact)
        return cached
    cached = _Aggregates.build(state, policy, _FOREVER)
    state.caches[policy.version] = cached
    return cached


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
    t = instant(at, state)
    if cached and (state.last_t is None or t >= state.last_t):
        aggregates = _cached_aggregates(state, policy)
    else:
        aggregates = _Aggregates.build(state, policy, t)
    return _explain(state, policy, t, aggregates)


def figures(state: VendorState, policy: Policy, at: float | None = None) -> Figures:
    """The vendor's score as of `at` (default: its latest event), as numbers: what the live
    pipeline needs after every event and at every deadline (the explanation is built only if
    read, see `Figures`). At or after the latest event the cached aggregates serve, decayed to
    `at` in O(signals); before it they are built from the facts known then."""
    last = state.last_t if state.last_t is not None else 0.0
    t = last if at is None else at
    if t >= last:
        return _figures(state, policy, t, _cached_aggregates(state, policy), len(state.seen))
    return _figures(state, policy, t, _Aggregates.build(state, policy, t), state.event_count(t))


def _explain(state: VendorState, policy: Policy, t: float, aggregates: _Aggregates) -> Score:
    """Combine the signals as of `t` into the score and its contributions (one code path with
    the live pipeline's numbers, so both give the same floats)."""
    return _figures(state, policy, t, aggregates, state.event_count(t)).explain()


def _figures(
    state: VendorState, policy: Policy, t: float, aggregates: _Aggregates, count: int
) -> Figures:
    """The numbers of the score as of `t`, and snapshots of the signals that explain them.

    This runs after every event in the live pipeline, so it does only the arithmetic (the float
    operations of `scoring.score`, in the same order) and takes a snapshot per signal, which
    costs nothing while the signal does not change.
    """
    data = aggregates.data
    stake, data_ids, shown_stake = data._value or data.value()
    risks: list[tuple[str, float, Snapshot]] = []
    positive = 0.0
    for name, signal in aggregates.risks:
        hazard = signal.hazard(t)
        if hazard > 0:
            positive += hazard
            risks.append((name, hazard, signal.snap or signal.snapshot()))
    mitigation = aggregates.mitigation
    offset = mitigation_hazard = mitigation.hazard(t)
    if offset > 0:  # else it stays 0.0, what min() would give; the plan is read only if needed
        prior = aggregates.prior_hazard(t)
        ratio = aggregates.plan.signals.vendor_mitigation.max_offset_ratio
        offset = min(offset, ratio * min(positive, prior))
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
        stake,
        mitigation_hazard,
        aggregates.notes,
        aggregates.prior,
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
    them into the `Score` that `scoring.score` gives for that event, exactly, whenever it is
    called (the snapshots hold the facts as they were, not as they are now).

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
        "exact_stake",
        "mitigated",
        "mitigation_hazard",
        "name",
        "notes",
        "policy",
        "positive",
        "prior",
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
        exact_stake: float = 0.0,
        mitigation_hazard: float = 0.0,
        notes: tuple[str, ...] = (),
        prior: tuple[float, tuple[tuple[float, float | None], ...]] | None = None,
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
        self.exact_stake = exact_stake
        """Data at stake before rounding (what a projection in time multiplies by)."""
        self.mitigation_hazard = mitigation_hazard
        """The mitigation's hazard at `t`, before the cap (what a projection decays)."""
        self.notes = notes
        """`Score.notes` (an immutable tuple, replaced when the notes change)."""
        self.prior = prior
        """(made, ((hazard, half-life), ...)): the risk present at the latest counted statement,
        which caps what the mitigation offsets (a projection decays it too); None without."""
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
        """(-points, signal, snapshot) largest first, ties by signal name, without those worth
        0.00 points; and the mitigation's (negative) points, 0.0 when it is not listed."""
        if self._ranked is None:
            unmitigated, positive = self.unmitigated, self.positive
            ranked = [
                (-round(unmitigated * hazard / positive, 2), name, snap)
                for name, hazard, snap in self.risks
            ]
            ranked = [r for r in ranked if r[0] != 0]  # 0.00 points: not listed (`scoring`)
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
                contributions.append(_new_contribution(Contribution, (name, -points, *said)))
            if self.mitigated is not None and mitigation != 0:
                contributions.append(
                    _new_contribution(
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
                self.notes,
            )
        return self._score

    def explained_differently(self, other: Figures) -> bool:
        """`explain()` and `other.explain()` differ in anything but `as_of` and `event_count`
        (what `processor.explained_differently` compares), decided without building either.

        Numbers first (they differ after most events; contributions worth 0.00 points are left
        out, as `explain` does); then, only if every number is equal, the signals' snapshots:
        the same snapshot is the same explanation, and different ones are compared by their
        words (a refold can rebuild an identical explanation).
        """
        if (
            self.score != other.score
            or self.likelihood != other.likelihood
            or self.data_at_stake != other.data_at_stake
            or self.name != other.name
            or self.policy.version != other.policy.version
            or (self.notes is not other.notes and self.notes != other.notes)
        ):
            return True
        ids = self.data_event_ids
        if ids is not other.data_event_ids and ids != other.data_event_ids:
            return True
        mine, my_mitigation = self.ranked()
        theirs, their_mitigation = other.ranked()
        if my_mitigation != their_mitigation or len(mine) != len(theirs):
            return True
        for (points, name, _), (their_points, their_name, _) in zip(mine, theirs, strict=True):
            if points != their_points or name != their_name:
                return True
        pairs = [(a[2], b[2]) for a, b in zip(mine, theirs, strict=True)]
        if self.mitigated is not None and my_mitigation != 0:
            pairs.append((self.mitigated, other.mitigated))  # type: ignore[arg-type]
        return any(a is not b and _explained_at(a) != _explained_at(b) for a, b in pairs)
