"""Per-vendor state and `apply`, the policy-free half of the fold.

The state keeps *facts*: each accepted event reduced to its event time, arrival sequence, id and
payload, filed by
what it is about (a dataset, an investor, a client, or its type). It deliberately stores no
interpretation: whether an investor is a competitor, how much a signal weighs or how fast it
fades is decided by `scoring.score` (docs/scoring.md) under a policy. That is what lets a new
policy be tried on the same history, and lets `score(state, policy, at)` answer for any past
instant `at`.

Rules that make the fold deterministic (tested with hypothesis):
- an event's identity is (`source`, `id`), as CloudEvents defines it: a repeat is ignored
  (at-least-once delivery becomes exactly-once effect), while another source's event that
  happens to reuse the id is a different event and is kept;
- a producer can take back its own events: `event.retracted` names one, and any event may name
  one it `replaces` (schemas/events.py). The event taken back is *withdrawn*: removed from the
  fact lists, kept in `withdrawn` (it still happened: it is in the history and counted as an
  event), so the scoring never sees it. A retraction that arrives first is remembered and the
  event is withdrawn on arrival. Whatever the arrival order, the facts left are the same;
- every fact list is kept sorted by (event time, arrival), where arrival is the order in which
  `apply` saw the vendor's events (a counter per vendor state). Events with distinct times give
  the same state whatever order they arrived in; events with the *same* time apply in log order:
  a `data.revoked` that arrives after a `data.shared` of the same instant leaves the dataset not
  held. "Latest" always means latest in event time, ties broken by arrival, never by id: an id
  is a producer's label and says nothing about which of two simultaneous reports came last.

`apply` updates the state in place and returns it: the fold owns its state, and copying a
vendor's history on every event would make the live pipeline quadratic. Use `copy()` to keep an
old version.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from vendorwatch.schemas.events import Event, Payload, Provenance, unix_seconds
from vendorwatch.streams.core.names import VendorNames, canonical

KEYED_BY_DATASET = frozenset({"data.shared", "data.revoked"})
KEYED_BY_CLIENT = frozenset({"client.paused", "client.resumed", "client.terminated"})
KEYED_BY_INVESTOR = frozenset({"ownership.stake_acquired", "ownership.divested"})


EventKey = tuple[str, str]
"""(source, id): an event's identity."""

RETRACTED = "event.retracted"


def event_key(event: Event) -> EventKey:
    """An event's identity, (`source`, `id`)."""
    return (event.source, event.id)


def taken_back(event: Event) -> EventKey | None:
    """The event this one takes back (retracts or replaces), or None: always one of the same
    source, which is the only one allowed to take its own word back."""
    if event.type == RETRACTED:
        return (event.source, event.data.id)  # type: ignore[union-attr]
    if event.replaces is not None:
        return (event.source, event.replaces)
    return None


class Fact(NamedTuple):
    """An accepted event as the scoring needs it. Ordered by (event time, arrival).

    A named tuple rather than a dataclass because `apply` makes one per event and sorting
    compares them: tuples are built and compared in C, several times faster. Within a vendor's
    state arrival numbers are unique, so nothing after them ever decides an order; the hash
    uses (time, id), which is also unique within a state.
    """

    t: float
    """Event time as unix seconds (UTC)."""
    seq: int
    """Arrival: the how-many-th event its vendor state accepted (1, 2, ...). Breaks ties of
    event time in log order, so a later report of the same instant is the latest."""
    event_id: str
    type: str
    data: Payload
    source: str = ""
    """The event's CloudEvents `source`: with `event_id`, its identity."""
    also: tuple[str, ...] = ()
    """For a fact reported more than once, the ids of the other reports of it (`scoring.claims`
    builds such facts; the state stores each report as its own fact, with none)."""

    def __hash__(self) -> int:
        return hash((self.t, self.event_id))


def _upto(facts: list[Fact], t: float) -> list[Fact]:
    """The prefix of a sorted fact list with event time <= t."""
    if not facts or facts[-1].t <= t:
        return facts
    return facts[: bisect_right(facts, t, key=lambda f: f.t)]


def latest_index(facts: list[Fact], t: float) -> int:
    """The index of the latest fact at or before t (event time, then arrival), or -1."""
    if facts and facts[-1].t <= t:
        return len(facts) - 1
    return bisect_right(facts, t, key=lambda f: f.t) - 1


def latest(facts: list[Fact], t: float) -> Fact | None:
    """The latest fact at or before t (event time, then arrival), or None."""
    i = latest_index(facts, t)
    return facts[i] if i >= 0 else None


@dataclass(slots=True)
class VendorState:
    """Everything known about one vendor, as facts; see the module docstring for the rules."""

    vendor_id: str
    seen: set[EventKey] = field(default_factory=set)
    """The (source, id) of every event applied, withdrawn ones included."""
    by_type: dict[str, list[Fact]] = field(default_factory=dict)
    """Facts not tied to a key, per event type (moves, incidents, statements, ...)."""
    datasets: dict[str, list[Fact]] = field(default_factory=dict)
    """data.shared / data.revoked per dataset id: the latest one says whether it is held."""
    stakes: dict[str, list[Fact]] = field(default_factory=dict)
    """ownership.stake_acquired / ownership.divested per normalised investor name: the latest
    report says what the investor holds."""
    clients: dict[str, list[Fact]] = field(default_factory=dict)
    """client.paused / resumed / terminated per client, by canonical name (`names.canonical`:
    "OpenAI" and "OpenAI, Inc." are one client, and a resume under either spelling ends a pause
    under the other). Aliases of one organisation ("Meta", "Facebook") are the policy's to
    know, so the score groups these lists by organisation (`scoring.client_groups`)."""
    withdrawn: list[Fact] = field(default_factory=list)
    """Facts taken back (retracted or replaced), in the order they were withdrawn."""
    taken: set[EventKey] = field(default_factory=set)
    """The (source, id) of every event taken back so far, arrived or not."""
    revision: int = 0
    """How many times a fact was withdrawn: a cache built before a withdrawal is stale."""
    first_t: float | None = None
    last_t: float | None = None
    arrived: int = 0
    """How many events this state accepted: the arrival number of the latest fact."""
    last_fact: Fact | None = field(default=None, compare=False, repr=False)
    """The fact the latest `apply` added: what a cache synced one event ago is missing."""
    evidence: dict[str, Provenance] = field(default_factory=dict, compare=False, repr=False)
    """The provenance of the events read from documents (`vendorwatch feeds`), by event id:
    what an alert quotes as its source. Derived from the events like the facts."""
    caches: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """Derived data kept by `scoring` per policy version, so a score after each event does not
    re-read the whole history. Not part of the state's value: excluded from equality, not copied."""

    def facts(self, event_type: str, upto: float) -> list[Fact]:
        """Facts of one unkeyed type with event time <= upto."""
        return _upto(self.by_type.get(event_type, []), upto)

    def name(self, upto: float | None = None) -> str:
        """The vendor's registered name as of `upto` (its id until it is registered)."""
        horizon = float("inf") if upto is None else upto
        fact = latest(self.by_type.get("vendor.registered", []), horizon)
        return fact.data.name if fact is not None else self.vendor_id  # type: ignore[attr-defined]

    def names(self, upto: float | None = None) -> VendorNames:
        """The names the vendor goes by as of `upto`: its id, the name and aliases of its latest
        registration, and every alias added by then (what a move's `from_org` must be)."""
        horizon = float("inf") if upto is None else upto
        registered: Any = latest(self.by_type.get("vendor.registered", []), horizon)
        spelt = [self.vendor_id]
        if registered is not None:
            spelt += [registered.data.name, *registered.data.aliases]
        spelt += [f.data.alias for f in _upto(self.by_type.get("vendor.alias_added", []), horizon)]  # type: ignore[attr-defined]
        name = registered.data.name if registered is not None else self.vendor_id
        return VendorNames(name, frozenset(canonical(n) for n in spelt))

    def event_count(self, upto: float | None = None) -> int:
        """How many distinct events are known at or before `upto`."""
        if upto is None or (self.last_t is not None and self.last_t <= upto):
            return len(self.seen)
        groups = (
            *self.by_type.values(),
            *self.datasets.values(),
            *self.stakes.values(),
            *self.clients.values(),
        )
        withdrawn = sum(1 for fact in self.withdrawn if fact.t <= upto)
        return sum(len(_upto(facts, upto)) for facts in groups) + withdrawn

    def copy(self) -> VendorState:
        """An independent copy (facts are immutable, so the lists are copied, not the facts)."""

        def lists(d: dict[str, list[Fact]]) -> dict[str, list[Fact]]:
            return {k: list(v) for k, v in d.items()}

        return VendorState(
            vendor_id=self.vendor_id,
            seen=set(self.seen),
            withdrawn=list(self.withdrawn),
            taken=set(self.taken),
            revision=self.revision,
            by_type=lists(self.by_type),
            datasets=lists(self.datasets),
            stakes=lists(self.stakes),
            clients=lists(self.clients),
            first_t=self.first_t,
            last_t=self.last_t,
            arrived=self.arrived,
            last_fact=self.last_fact,
            evidence=dict(self.evidence),
        )


def _groups(state: VendorState, kind: str, data: Any) -> tuple[dict[str, list[Fact]], str]:
    """The fact lists a fact of `kind` is filed in, and its key there."""
    if kind in KEYED_BY_DATASET:
        return state.datasets, data.dataset
    if kind in KEYED_BY_CLIENT:
        return state.clients, canonical(data.client)
    if kind in KEYED_BY_INVESTOR:
        return state.stakes, canonical(data.investor)
    return state.by_type, kind


def _withdraw(state: VendorState, key: EventKey) -> None:
    """Take the event `key` back: remove its fact, if it arrived, from the lists it is in."""
    state.taken.add(key)
    if key not in state.seen:
        return  # not arrived yet: `apply` withdraws it on arrival
    for groups in (state.by_type, state.datasets, state.stakes, state.clients):
        for name, facts in groups.items():
            for i, fact in enumerate(facts):
                if fact.event_id == key[1] and fact.source == key[0]:
                    del facts[i]
                    if not facts:
                        del groups[name]
                    state.withdrawn.append(fact)
                    state.revision += 1
                    return


def apply(state: VendorState, event: Event) -> VendorState:
    """Fold one validated event into its vendor's state; a repeated (source, id) changes nothing.

    This runs once per event of every fold, so the common case of filing a fact (events arrive
    in event-time order, or at the same time as the latest) is an append, and the event time is
    read with `unix_seconds`.
    """
    key = (event.source, event.id)
    seen = state.seen
    if key in seen:
        return state
    seen.add(key)
    provenance = event.provenance
    if provenance is not None:
        state.evidence[event.id] = provenance
    t = unix_seconds(event.time)
    kind = event.type
    data: Any = event.data
    state.arrived += 1
    fact = Fact(t, state.arrived, key[1], kind, data, key[0])
    if state.first_t is None or t < state.first_t:
        state.first_t = t
    if state.last_t is None or t > state.last_t:
        state.last_t = t
    if kind == RETRACTED or event.replaces is not None:
        _withdraw(state, taken_back(event))  # type: ignore[arg-type]
    if key in state.taken:  # retracted (or replaced) before it arrived
        state.withdrawn.append(fact)
        state.revision += 1
        state.last_fact = None
        return state
    groups, name = _groups(state, kind, data)
    facts = groups.get(name)
    if facts is None:
        groups[name] = [fact]
    elif fact > facts[-1]:
        facts.append(fact)  # the common case: events arrive in event-time order
    else:
        insort(facts, fact)
    state.last_fact = fact
    return state


def fold(events: list[Event] | Any) -> dict[str, VendorState]:
    """Fold a sequence of events into per-vendor states (the offline path and the tests)."""
    states: dict[str, VendorState] = {}
    for event in events:
        state = states.get(event.subject)
        if state is None:
            state = states[event.subject] = VendorState(event.subject)
        apply(state, event)
    return states
