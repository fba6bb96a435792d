"""Scoring the extractor against a hand-labelled gold file: precision and recall.

The gold file (tests/feeds/fixtures/seeds/gold.yaml for the seed articles) lists, per document,
the facts a reviewer would want proposed. A candidate matches a gold fact when its type is one
of the fact's `types`, its subject is the fact's and every `match` field agrees; each fact is
matched at most once. Precision is the share of candidates that match a fact, recall the share
of facts matched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vendorwatch.feeds.candidates import Candidate
from vendorwatch.streams.core.names import canonical


@dataclass(frozen=True, slots=True)
class GoldFact:
    document: str
    types: tuple[str, ...]
    subject: str
    match: dict[str, Any]
    historical: bool = False
    note: str = ""


def load_gold(path: Path) -> list[GoldFact]:
    """The facts of a gold file."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        GoldFact(
            doc,
            tuple(f["types"]),
            f["subject"],
            f.get("match") or {},
            bool(f.get("historical")),
            f.get("note", ""),
        )
        for doc, facts in raw["documents"].items()
        for f in facts
    ]


def _agrees(expected: Any, actual: Any) -> bool:
    if isinstance(actual, list):
        return any(_agrees(expected, item) for item in actual)
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return abs(actual - expected) <= 0.01 * abs(expected)
    if isinstance(expected, str) and isinstance(actual, str):
        return canonical(expected) == canonical(actual)
    return False


def matches(fact: GoldFact, candidate: Candidate) -> bool:
    """Whether `candidate` is a correct reading of `fact`."""
    if candidate.type not in fact.types or candidate.subject != fact.subject:
        return False
    data = candidate.data
    for name, expected in fact.match.items():
        actual = data.get(name)
        if name == "investors" and actual is None:
            actual = data.get("investor")
        if actual is None or not _agrees(expected, actual):
            return False
    return not fact.historical or candidate.historical


@dataclass(slots=True)
class Score:
    """The outcome of scoring: counts, the two ratios and what went wrong."""

    candidates: int = 0
    facts: int = 0
    true_positives: int = 0
    unmatched_candidates: list[tuple[str, Candidate]] = field(default_factory=list)
    missed_facts: list[GoldFact] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_positives / self.candidates if self.candidates else 0.0

    @property
    def recall(self) -> float:
        matched = self.facts - len(self.missed_facts)
        return matched / self.facts if self.facts else 0.0


def score(gold: list[GoldFact], found: dict[str, list[Candidate]]) -> Score:
    """Score the candidates of each document (`found`: document name -> candidates)."""
    result = Score(facts=len(gold))
    remaining = list(gold)
    for document, candidates in found.items():
        for candidate in candidates:
            result.candidates += 1
            hit = next(
                (f for f in remaining if f.document == document and matches(f, candidate)), None
            )
            if hit is None:
                result.unmatched_candidates.append((document, candidate))
            else:
                remaining.remove(hit)
                result.true_positives += 1
    result.missed_facts = remaining
    return result
