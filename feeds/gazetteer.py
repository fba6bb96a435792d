"""Organisations named in a text: the policy's and the registry's names, found before anything
else reads the text.

A statistical French model tags "Meta" and "Handshake" as people and "Scale AI" as a place in
the seed articles; the organisations that matter to vendorwatch are few and known (the policy's
competitors and own organisation, the registered vendors, each with aliases), so they are
matched by name first. Every surface form found is resolved with the scoring resolver's
`canonical` form (streams/core/names.py), so "Scale AI Inc." in an article is the vendor
`scale-ai` exactly as it would be in an event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vendorwatch.schemas.codec import InvalidEvent, parse_event
from vendorwatch.schemas.events import AliasAddedEvent, VendorRegisteredEvent
from vendorwatch.streams.core.names import canonical
from vendorwatch.streams.core.policy import Policy

COMPETITOR = "competitor"
ORGANISATION = "organisation"
VENDOR = "vendor"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Entity:
    """An organisation the monitor knows."""

    name: str
    """Display name (the policy's or the registered name)."""
    kind: str
    """COMPETITOR, ORGANISATION (our own), VENDOR or UNKNOWN (a capitalised name in a pattern)."""
    vendor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """An organisation named at [start, end) of a text, as written there."""

    entity: Entity
    surface: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Vendor:
    """A registered vendor and the names it goes by."""

    vendor_id: str
    name: str
    aliases: tuple[str, ...] = ()


def read_registry(path: Path) -> list[Vendor]:
    """The vendors registered in an event file (`vendor.registered`, `vendor.alias_added`); every
    other line is ignored, so the demo scenario or an exported history serves as a registry."""
    names: dict[str, str] = {}
    aliases: dict[str, list[str]] = {}
    with path.open("rb") as stream:
        for raw in stream:
            line = raw.strip()
            if not line or (b"vendor.registered" not in line and b"vendor.alias_added" not in line):
                continue
            try:
                event = parse_event(line)
            except InvalidEvent:
                continue
            if isinstance(event, VendorRegisteredEvent):
                names[event.subject] = event.data.name
                aliases.setdefault(event.subject, []).extend(event.data.aliases)
            elif isinstance(event, AliasAddedEvent):
                aliases.setdefault(event.subject, []).append(event.data.alias)
    return [Vendor(v, names.get(v, v), tuple(aliases.get(v, ()))) for v in names]


class Gazetteer:
    """Every name the policy and the registry know, and a matcher for them in text."""

    def __init__(self, policy: Policy, vendors: Iterable[Vendor]) -> None:
        self._by_key: dict[str, Entity] = {}
        surfaces: set[str] = set()
        # vendors first: a registered vendor's name wins over a competitor sharing it
        for vendor in vendors:
            entity = Entity(vendor.name, VENDOR, vendor.vendor_id)
            for name in (vendor.name, *vendor.aliases):
                self._add(name, entity, surfaces)
        own = Entity(policy.organisation.name, ORGANISATION)
        for name in (policy.organisation.name, *policy.organisation.aliases):
            self._add(name, own, surfaces)
        for competitor in policy.competitors:
            entity = Entity(competitor.name, COMPETITOR)
            for name in (competitor.name, *competitor.aliases):
                self._add(name, entity, surfaces)
        ordered = sorted(surfaces, key=len, reverse=True)  # longest first: "Scale AI" not "Scale"
        self._pattern = re.compile(
            r"(?<![\w@.-])(?:" + "|".join(re.escape(s) for s in ordered) + r")(?![\w@-])"
        )
        self._lower = re.compile(self._pattern.pattern, re.IGNORECASE)

    def _add(self, name: str, entity: Entity, surfaces: set[str]) -> None:
        key = canonical(name)
        if not key:
            return
        self._by_key.setdefault(key, entity)
        surfaces.add(name)
        if canonical(name) != canonical(name.split(",")[0]):
            surfaces.add(name.split(",")[0])

    def resolve(self, name: str) -> Entity | None:
        """The known organisation `name` refers to (by canonical form), or None."""
        return self._by_key.get(canonical(name))

    def vendor(self, vendor_id: str) -> Entity | None:
        """The registered vendor with this id."""
        return next((e for e in self._by_key.values() if e.vendor_id == vendor_id), None)

    def mentions(self, text: str, offset: int = 0) -> list[Mention]:
        """Known organisations named in `text`, in order, with offsets shifted by `offset`.

        Names are matched as written (case-sensitive: "Scale" the company, not "scale" the
        noun); a name of five letters or more also matches in capitals ("OPENAI")."""
        found: list[Mention] = []
        taken: set[int] = set()
        for pattern, strict in ((self._pattern, True), (self._lower, False)):
            for m in pattern.finditer(text):
                if m.start() in taken:
                    continue
                surface = m.group(0)
                if not strict and (len(surface) < 5 or not surface.isupper()):
                    continue
                entity = self.resolve(surface)
                if entity is None:
                    continue
                taken.add(m.start())
                found.append(Mention(entity, surface, offset + m.start(), offset + m.end()))
        found.sort(key=lambda mention: mention.start)
        return found


_CAPITALISED = re.compile(
    r"(?<![\w’'])(?:[A-Z][\w.&-]*[A-Za-z0-9]|[A-Z])(?:\s+(?:[A-Z][\w.&-]*[A-Za-z0-9]|AI|IA|Labs?))*"
)
_NOT_NAMES = frozenset(
    [
        "Or",
        "Les",
        "La",
        "Le",
        "Des",
        "Un",
        "Une",
        "Il",
        "Elle",
        "Ils",
        "Elles",
        "Ce",
        "Cette",
        "Ces",
        "Et",
        "Mais",
        "Selon",
        "Pour",
        "Dans",
        "En",
        "Au",
        "Aux",
        "Quand",
        "The",
        "A",
        "An",
        "It",
        "This",
        "That",
        "These",
        "Those",
        "And",
        "But",
        "According",
        "In",
        "On",
        "For",
        "Lundi",
        "Mardi",
        "Mercredi",
        "Jeudi",
        "Vendredi",
        "Samedi",
        "Dimanche",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "PDG",
        "CEO",
        "CTO",
        "IA",
        "AI",
    ]
)


def capitalised_names(text: str, offset: int = 0) -> list[tuple[str, int, int]]:
    """Capitalised word groups that may name an organisation the monitor does not know
    ("GitHub"), for the patterns that say an organisation must stand there ("acquise par X",
    "ancien PDG de X"). Not used to find organisations anywhere else."""
    found = []
    for m in _CAPITALISED.finditer(text):
        words = m.group(0).split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if not words:
            continue
        name = " ".join(words)
        start = m.start() + m.group(0).index(words[0])
        found.append((name, offset + start, offset + start + len(name)))
    return found


def slug(name: str) -> str:
    """A vendor-id slug for an organisation that is not registered ("GitHub" -> "github")."""
    key = re.sub(r"[^a-z0-9]+", "-", canonical(name)).strip("-")
    return (key or "unknown")[:64]
