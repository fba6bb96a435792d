"""`vendorwatch names`: the organisation names an event file uses that resolve to nothing the
policy or the vendors know, with how often each was seen and the closest known name.

Why: a name that does not resolve is not counted (a stake by "Microsoft Research" is not a
stake by Microsoft), so a misspelt competitor or an unlisted subsidiary would lower scores
silently. Scores carry a note for near misses and the worker counts them
(`vendorwatch_unresolved_names_total`); this command is the list to act on: add an alias to the
policy, or a `vendor.alias_added` event, and score again.

Offline, like `score`: no broker, no Kafka client.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from vendorwatch.streams.cli.common import (
    EventsOpt,
    JsonOpt,
    PolicyOpt,
    ScenarioOpt,
    app,
    console,
    events_source,
    fail,
    policy_option,
)
from vendorwatch.streams.core.names import NEAR_MISS_SCORE, canonical, closest
from vendorwatch.streams.core.policy import Policy
from vendorwatch.streams.core.scoring import noted_facts
from vendorwatch.streams.core.state import Fact, VendorState
from vendorwatch.streams.eventfile import fold_lines, open_events


@dataclass(frozen=True, slots=True)
class Unresolved:
    """An organisation name seen in events that resolved to no known organisation."""

    name: str
    count: int
    fields: tuple[str, ...]
    """Where it was seen: investor, acquirer, to_org, from_org, client."""
    closest: str | None
    similarity: float

    @property
    def near_miss(self) -> bool:
        return self.similarity >= NEAR_MISS_SCORE

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": self.count,
            "fields": list(self.fields),
            "closest": self.closest,
            "similarity": self.similarity,
            "near_miss": self.near_miss,
        }


def organisation_names(fact: Fact) -> Iterator[tuple[str, str]]:
    """(field, name) of every organisation a fact names."""
    data: Any = fact.data
    if fact.type == "person.moved":
        yield "from_org", data.from_org
        yield "to_org", data.to_org
    elif fact.type == "ownership.stake_acquired":
        yield "investor", data.investor
    elif fact.type == "ownership.acquired":
        yield "acquirer", data.acquirer
    elif fact.type == "funding.round":
        for investor in data.investors:
            yield "investors", investor
    elif fact.type.startswith("client."):
        yield "client", data.client


def unresolved_names(states: Iterable[VendorState], policy: Policy) -> list[Unresolved]:
    """Every organisation name in the vendors' facts that is none of the policy's organisations
    (competitors, our own) nor a vendor's (id, registered name, aliases), with its count, the
    fields it appeared in, and the closest known name: near misses first, then by similarity."""
    states = list(states)
    known = policy.resolver.known()
    for state in states:
        vendor = state.names()
        for key in sorted(vendor.keys):
            known.setdefault(key, vendor.name)
    counts: Counter[str] = Counter()
    fields: dict[str, dict[str, None]] = {}
    for state in states:
        for fact in noted_facts(state, float("inf")):
            for field, name in organisation_names(fact):
                if canonical(name) in known:
                    continue
                counts[name] += 1
                fields.setdefault(name, {})[field] = None
    found = []
    for name, count in counts.items():
        near = closest(canonical(name), known)
        found.append(
            Unresolved(
                name,
                count,
                tuple(fields[name]),
                near.closest if near else None,
                near.similarity if near else 0.0,
            )
        )
    found.sort(key=lambda u: (not u.near_miss, -u.similarity, -u.count, u.name))
    return found


def names_table(found: list[Unresolved]) -> Table | Text:
    """The unresolved names as `vendorwatch names` prints them."""
    if not found:
        return Text("every organisation name resolved", style="green")
    title = f"unresolved organisation names (near miss: similarity >= {NEAR_MISS_SCORE:g})"
    table = Table(title=title)
    for column in ("name", "count", "seen as", "closest known", "similarity", "near miss"):
        table.add_column(column, justify="right" if column in ("count", "similarity") else "left")
    for u in found:
        table.add_row(
            u.name,
            str(u.count),
            ", ".join(u.fields),
            u.closest or "",
            f"{u.similarity:.1f}",
            Text("yes", style="bold yellow") if u.near_miss else "",
        )
    return table


@app.command()
def names(
    scenario: ScenarioOpt = None,
    events: EventsOpt = None,
    policy: PolicyOpt = None,
    near_misses: Annotated[
        bool, typer.Option("--near-misses", help="Only the names close to a known one.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """List the organisation names an event file uses that resolve to no competitor, no name of
    ours and no vendor, with counts and the closest known name (near misses first)."""
    path = events_source(scenario, events)
    active_policy = policy_option(policy)
    try:
        with open_events(path) as stream:
            folded = fold_lines(stream)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}", 2) from None
    found = unresolved_names(folded.states.values(), active_policy)
    if near_misses:
        found = [u for u in found if u.near_miss]
    if as_json:
        items = [u.to_dict() for u in found]
        sys.stdout.buffer.write(orjson.dumps(items, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        console.print(names_table(found))
    if folded.errors:
        raise fail(f"{path}: {len(folded.errors)} invalid line(s) skipped")
