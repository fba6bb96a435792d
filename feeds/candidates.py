"""Candidates: events proposed from documents, each with the evidence behind it, waiting for an
analyst (feeds/review.py).

A candidate is a full event (it validates against the event schema) plus what a reviewer needs
to judge it: the quote and its character span in the document, the extractor and its version,
a confidence with its reasons, whether its time is only estimated or historical, whether its
subject is a registered vendor. Reports of the same fact in several documents cluster into one
candidate citing all of them (`cluster`).

Ids are deterministic: a hash of the document's content, the extractor's version and what was
read (type, subject, key and span), so extracting the same document again proposes the same
candidates and a review log stays valid.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from vendorwatch.schemas.codec import EVENT_ADAPTER
from vendorwatch.schemas.events import Event, Provenance, iso
from vendorwatch.streams.core.names import canonical

EXTRACTOR = "vendorwatch-feeds"
EXTRACTOR_VERSION = "1"
EXTRACTOR_ID = f"{EXTRACTOR}/{EXTRACTOR_VERSION}"
"""Named on every candidate; a new version of the rules gives new candidate ids."""

KEY_FIELDS: dict[str, str] = {
    "ownership.stake_acquired": "investor",
    "ownership.acquired": "acquirer",
    "ownership.divested": "investor",
    "funding.round": "round",
    "person.moved": "person",
    "client.paused": "client",
    "client.resumed": "client",
    "client.terminated": "client",
    "security.incident": "title",
}
"""The field that tells two facts of one type about one vendor apart (a pause by Google is not
a pause by OpenAI); types not listed have one fact per vendor and time."""

CLUSTER_WINDOW = timedelta(days=45)
"""Reports of one fact are this close in event time at most (news repeats a fact for weeks)."""


class Evidence(BaseModel):
    """One document's support for a candidate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    publisher: str | None = None
    published: datetime | None = None
    document: str
    """sha256 of the document's text."""
    quote: str
    span: tuple[int, int]
    extractor: str = EXTRACTOR_ID
    confidence: Annotated[float, Field(ge=0, le=1)]
    reasons: list[str] = []


class Candidate(BaseModel):
    """An event proposed from one or more documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: str
    subject: str
    time: datetime
    time_precision: str
    """"day", "month", "year" or "published" (the text gave no date: the publication date)."""
    data: dict[str, Any]
    registered: bool
    """Whether the subject is a registered vendor (otherwise a slug of the name read)."""
    historical: bool = False
    """The fact is well before its article (background, not news)."""
    kind: str = "news"
    """The source kind ("news", "filing", "breach"): auto-accept is decided per kind."""
    provenance: Evidence
    citations: list[Evidence] = []
    """Other documents reporting the same fact."""

    @property
    def time_estimated(self) -> bool:
        return self.time_precision != "day"

    @property
    def confidence(self) -> float:
        return self.provenance.confidence

    def key(self) -> tuple[str, str, str]:
        """(type, subject, canonical key field): what makes two candidates one fact."""
        field = KEY_FIELDS.get(self.type)
        value = str(self.data.get(field, "")) if field else ""
        return self.type, self.subject, canonical(value) if value else ""

    def event(self, *, reviewer: str | None = None, data: dict[str, Any] | None = None) -> Event:
        """The event this candidate proposes, with its provenance (validated)."""
        quote = self.provenance.quote
        return EVENT_ADAPTER.validate_python(
            {
                "specversion": "1.0",
                "id": self.id,
                "source": f"urn:vendorwatch:feeds:{self.kind}",
                "type": self.type,
                "time": self.time,
                "subject": self.subject,
                "data": self.data if data is None else data,
                "provenance": Provenance(
                    url=self.provenance.source[:2048],
                    publisher=(self.provenance.publisher or None)
                    and self.provenance.publisher[:200],
                    quote=quote if len(quote) <= 4000 else quote[:3999] + "…",
                    span=self.provenance.span,
                    extractor=self.provenance.extractor,
                    confidence=self.provenance.confidence,
                    reviewer=reviewer,
                ),
            }
        )

    def summary(self) -> dict[str, Any]:
        """The JSON `vendorwatch feeds extract --json` prints for it."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "time": iso(self.time),
            "time_precision": self.time_precision,
            "time_estimated": self.time_estimated,
            "historical": self.historical,
            "registered": self.registered,
            "data": self.data,
            "provenance": self.provenance.model_dump(mode="json"),
        }
        if self.citations:
            out["citations"] = [c.model_dump(mode="json") for c in self.citations]
        return out


def candidate_id(
    document_hash: str, type_: str, subject: str, key: str, span: tuple[int, int]
) -> str:
    """Deterministic: same document, extractor version and reading -> same id."""
    raw = "\x1f".join([EXTRACTOR_ID, document_hash, type_, subject, key, f"{span[0]}:{span[1]}"])
    return "feeds-" + hashlib.sha256(raw.encode()).hexdigest()[:24]


KIND_TRUST = {"filing": 2, "breach": 1, "news": 0}
"""Which source kind stands for a fact several report: a filing states it, news reports it."""


def _richer(a: Candidate, b: Candidate) -> Candidate:
    """The better of two reports of one fact: the more trusted source kind (a filing over the
    article about it), then more data fields filled, then higher confidence, then the id
    (deterministic)."""

    def rank(c: Candidate) -> tuple[int, int, float, str]:
        filled = sum(v not in (None, "", [], 0) for v in c.data.values())
        return KIND_TRUST.get(c.kind, 0), filled, c.confidence, c.id

    return a if rank(a) >= rank(b) else b


def cluster(candidates: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per fact: reports with the same key whose times are within
    `CLUSTER_WINDOW` merge into the richest of them, which cites the others. Historical facts
    cluster by key alone (a 2018 acquisition cited in two articles is one fact)."""
    merged: list[Candidate] = []
    for candidate in sorted(candidates, key=lambda c: (c.time, c.id)):
        for i, kept in enumerate(merged):
            if kept.key() != candidate.key():
                continue
            close = abs(kept.time - candidate.time) <= CLUSTER_WINDOW
            if not (close or (kept.historical and candidate.historical)):
                continue
            best = _richer(kept, candidate)
            other = candidate if best is kept else kept
            seen = {(*best.provenance.span, best.provenance.document, best.provenance.source)}
            citations = []
            for evidence in [*best.citations, other.provenance, *other.citations]:
                marker = (*evidence.span, evidence.document, evidence.source)
                if marker not in seen:
                    seen.add(marker)
                    citations.append(evidence)
            merged[i] = best.model_copy(update={"citations": citations})
            break
        else:
            merged.append(candidate)
    return merged


def dump_candidates(candidates: Iterable[Candidate]) -> bytes:
    """JSON Lines, one candidate per line (what `feeds extract --out` writes and `feeds review`
    reads)."""
    return b"".join(orjson.dumps(c.model_dump(mode="json")) + b"\n" for c in candidates)


def load_candidates(data: bytes) -> list[Candidate]:
    """Candidates from JSON Lines (blank lines skipped)."""
    return [Candidate.model_validate_json(line) for line in data.splitlines() if line.strip()]
