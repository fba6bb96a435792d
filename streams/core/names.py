"""Organisation names: the one resolver scoring, alert rules and feeds use to decide which
organisation a name in an event refers to (docs/scoring.md, "Names").

Events are written by people and feeds that spell organisations as they like: "Microsoft",
"Microsoft Corporation", "Microsoft Corp."; "OpenAI" and "OpenAI, Inc."; "Google LLC" for our
own organisation. Matching those by exact string made a competitor's stake score 0 and our
own pause count as a peer's, silently. So every name is reduced to a *canonical form*:

- the legal form is stripped with `cleanco` (a maintained list of legal forms in many
  jurisdictions: Inc., Corp., LLC, GmbH, S.A., ...), rather than a list of our own;
- then case, punctuation and spacing are ignored (`normalise_org`).

The canonical form needs no policy, so the fold may key facts by it (`state.py`: "OpenAI" and
"OpenAI, Inc." are one client). Which organisation a canonical form *is* comes from the
policy (competitors and the organisation itself, each with aliases: `Resolver`) or from the
vendor's own history (its registered name, its aliases and `vendor.alias_added`:
`VendorNames`).

A name that resolves to nothing but is close to a known name ("Microsoft Research" and
Microsoft) is a *near miss* (`closest`, `NEAR_MISS_SCORE`): it is not counted as the known
organisation (a division is not the company, and a guess must not move a score), but it is
never silent either: the score carries a note, the worker counts it, and `vendorwatch names`
lists it, so the policy's aliases can be fixed.

Pure: no I/O, memoised per name (the same few hundred names recur in every event).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from cleanco import basename
from rapidfuzz import fuzz, process

NEAR_MISS_SCORE = 88.0
"""A name that does not resolve is a near miss of a known name when rapidfuzz's `WRatio` of
their canonical forms is at least this (0-100). 88 keeps "Microsoft Research" (90 against
"microsoft") and "Open AI" (92 against "openai"), and leaves out names that share only a word
with a known one ("Acme Labs" scores 85.5 against "meta superintelligence labs")."""

NEAR_MISS_MIN_LENGTH = 3
"""Canonical names shorter than this (spaces aside) are never near misses: `WRatio` scores
"x" 90 against "xai", which says nothing."""

_NON_WORD = re.compile(r"[^\w]+")


@functools.lru_cache(maxsize=1 << 14)
def normalise_org(name: str) -> str:
    """Compare organisation names loosely: 'Meta Platforms, Inc.' and 'meta platforms inc' match.

    Memoised: the same few hundred names recur in every event, and the regex is the costliest
    step of `apply` and of competitor matching."""
    return _NON_WORD.sub(" ", name.casefold()).strip()


@functools.lru_cache(maxsize=1 << 14)
def canonical(name: str) -> str:
    """The canonical form of an organisation name: legal form stripped (`cleanco`), then
    `normalise_org`. "Microsoft Corporation", "Microsoft Corp." and "microsoft" are all
    "microsoft". A name that is only a legal form ("Inc.") keeps its normalised self rather
    than becoming empty."""
    return normalise_org(basename(name)) or normalise_org(name)


class Near(NamedTuple):
    """The known name closest to one that did not resolve, and how close (0-100)."""

    closest: str
    """The known organisation's display name (a competitor, our organisation, the vendor)."""
    similarity: float

    @property
    def is_near_miss(self) -> bool:
        return self.similarity >= NEAR_MISS_SCORE


class NearMiss(NamedTuple):
    """A name that did not resolve but is close to a known organisation's."""

    name: str
    """The name as the event spelt it."""
    closest: str
    similarity: float
    kind: str
    """What the known name is: "competitor", "organisation" (our own) or "vendor"."""

    def describe(self) -> str:
        """The words a score's note and `vendorwatch names` use."""
        return f'"{self.name}" is close to {self.closest} ({self.similarity:.0f}%)'


def closest(key: str, known: Mapping[str, str]) -> Near | None:
    """The known name most similar to canonical `key` (`known`: canonical -> display name), by
    rapidfuzz's `WRatio`; None when nothing is known or `key` is too short to compare."""
    if not known or len(key.replace(" ", "")) < NEAR_MISS_MIN_LENGTH:
        return None
    found = process.extractOne(key, list(known), scorer=fuzz.WRatio)
    if found is None:
        return None
    match, similarity, _ = found
    return Near(known[match], round(float(similarity), 1))


def near_miss(name: str, known: Mapping[str, str], kind: str) -> NearMiss | None:
    """`name` as a near miss of one of `known` (canonical -> display), or None when it resolves
    to one of them or is not close to any."""
    key = canonical(name)
    if key in known:
        return None
    near = closest(key, known)
    if near is None or not near.is_near_miss:
        return None
    return NearMiss(name, near.closest, near.similarity, kind)


def index(entities: Iterable[tuple[str, Iterable[str]]]) -> dict[str, str]:
    """canonical form -> display name, for each entity's name and aliases (the first entity to
    claim a canonical form keeps it)."""
    found: dict[str, str] = {}
    for display, names in entities:
        for name in names:
            found.setdefault(canonical(name), display)
    return found


class VendorNames(NamedTuple):
    """The names a vendor goes by as of an instant: what a move's `from_org` must be."""

    name: str
    """Its registered name (its id before registration)."""
    keys: frozenset[str]
    """Canonical forms of its id, its registered name and aliases and every `vendor.alias_added`."""

    def known(self) -> dict[str, str]:
        """canonical -> display name, for `near_miss`."""
        return dict.fromkeys(self.keys, self.name)

    def includes(self, org: str) -> bool:
        """Whether `org` names this vendor."""
        return canonical(org) in self.keys


class Resolver:
    """The organisations a policy names: its own organisation and its competitors, each with
    aliases, by canonical form. Built once per policy version (`Policy.resolver`), with its
    near-miss answers memoised (names recur)."""

    __slots__ = ("_competitors", "_near", "_own", "own_keys", "own_name")

    def __init__(
        self, organisation: tuple[str, list[str]], competitors: list[tuple[str, list[str]]]
    ) -> None:
        own_name, own_aliases = organisation
        self.own_name = own_name
        self._own = index([(own_name, [own_name, *own_aliases])])
        self.own_keys: frozenset[str] = frozenset(self._own)
        """Canonical forms of our organisation's names (what `state.clients` is keyed by)."""
        self._competitors = index((name, [name, *aliases]) for name, aliases in competitors)
        self._near: dict[tuple[str, str], NearMiss | None] = {}

    def competitor(self, org: str) -> str | None:
        """The canonical name of the competitor `org` refers to, or None if it is not one."""
        return self._competitors.get(canonical(org))

    def is_own_organisation(self, org: str) -> bool:
        """True when `org` is the organisation running the monitor (or one of its aliases)."""
        return canonical(org) in self.own_keys

    def near_competitor(self, org: str) -> NearMiss | None:
        """`org` as a near miss of a competitor (None: it is one, or is not close to one)."""
        return self._memo(org, "competitor", self._competitors)

    def near_own(self, org: str) -> NearMiss | None:
        """`org` as a near miss of our own organisation."""
        return self._memo(org, "organisation", self._own)

    def known(self) -> dict[str, str]:
        """Every name the policy knows: canonical -> display name (competitors first)."""
        return {**self._own, **self._competitors}

    def _memo(self, org: str, kind: str, known: Mapping[str, str]) -> NearMiss | None:
        key = (org, kind)
        if key in self._near:
            return self._near[key]
        if len(self._near) >= 1 << 14:
            self._near.clear()  # bounded: a feed of random names must not grow it forever
        found = self._near[key] = near_miss(org, known, kind)
        return found
