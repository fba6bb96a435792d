"""A breach list as incidents: Have I Been Pwned's public breach catalogue (CC BY 4.0).

Each breach names the breached organisation (`Name`, `Title`) and its `Domain`; a breach whose
title or name is a registered vendor (the gazetteer, by canonical form) or whose domain is one
of a vendor's domains (`domains`) becomes a `security.incident` candidate for that vendor:
title, the records exposed (`PwnCount`), a severity from the data classes exposed (passwords
or financial data: high), the breach date as its time. Breaches of organisations that are not
vendors are skipped. The cursor is the set of breach names already read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from vendorwatch.feeds.candidates import Candidate
from vendorwatch.feeds.connectors.structured import object_span
from vendorwatch.feeds.documents import Document, DocumentError
from vendorwatch.feeds.extract import Proposal, to_candidate
from vendorwatch.feeds.gazetteer import VENDOR, Entity, Gazetteer

HIGH_CLASSES = frozenset(
    {
        "Passwords",
        "Credit cards",
        "Bank account numbers",
        "Auth tokens",
        "Partial credit card data",
        "Security questions and answers",
    }
)
"""Data classes that make a breach high severity (credentials, payment data)."""
SOURCE_CONFIDENCE = 0.9
"""HIBP verifies breaches before listing them; unverified ones count less (x0.6)."""


def read_breaches(
    data: bytes,
    source: str,
    gazetteer: Gazetteer,
    *,
    domains: Mapping[str, Iterable[str]] | None = None,
    seen: set[str] | None = None,
    fetched: datetime | None = None,
) -> Iterator[Candidate | DocumentError]:
    """Candidates for the breaches of registered vendors in a HIBP `breaches` JSON array; names
    in `seen` are skipped and added as they are read."""
    text = data.decode("utf-8", errors="replace")
    try:
        breaches = json.loads(text)
    except ValueError:
        yield DocumentError(source, "not a JSON breach list")
        return
    if not isinstance(breaches, list):
        yield DocumentError(source, "not a JSON breach list (expected an array)")
        return
    by_domain = {d.casefold(): v for v, ds in (domains or {}).items() for d in ds}
    document = Document(
        source=source,
        text=text,
        language="en",
        publisher="Have I Been Pwned",
        fetched=fetched or datetime.now(UTC),
        kind="breach",
    )
    seen = seen if seen is not None else set()
    search_from = 0
    for breach in breaches:
        if not isinstance(breach, dict) or "Name" not in breach:
            continue
        name = str(breach["Name"])
        anchor = text.find(json.dumps(name), search_from)
        search_from = max(search_from, anchor)
        if name in seen:
            continue
        seen.add(name)
        vendor = _vendor(breach, gazetteer, by_domain)
        if vendor is None or anchor < 0:
            continue
        candidate = _candidate(document, breach, vendor, object_span(text, anchor))
        if candidate is not None:
            yield candidate


def _vendor(breach: dict[str, Any], gazetteer: Gazetteer, by_domain: dict[str, str]):
    for name in (breach.get("Title"), breach.get("Name")):
        entity = gazetteer.resolve(str(name)) if name else None
        if entity is not None and entity.kind == VENDOR:
            return entity
    domain = str(breach.get("Domain") or "").casefold()
    if domain in by_domain:
        return gazetteer.vendor(by_domain[domain]) or Entity(domain, VENDOR, by_domain[domain])
    return None


def _candidate(document: Document, breach: dict[str, Any], vendor: Entity, span: tuple[int, int]):
    classes = [str(c) for c in breach.get("DataClasses") or []]
    severity = "high" if HIGH_CLASSES & set(classes) else "medium"
    title = f"{breach.get('Title') or breach['Name']} breach"
    data: dict[str, Any] = {
        "title": title[:200],
        "severity": severity,
        "description": ("Data exposed: " + ", ".join(classes))[:4000],
    }
    if isinstance(breach.get("PwnCount"), int):
        data["records_exposed"] = breach["PwnCount"]
    try:
        when = datetime.fromisoformat(str(breach.get("BreachDate"))).replace(tzinfo=UTC)
    except ValueError:
        when = None
    confidence = SOURCE_CONFIDENCE * (1.0 if breach.get("IsVerified", True) else 0.6)
    reasons = [f"HIBP breach {breach['Name']!r}", f"severity {severity} from the data classes"]
    if not breach.get("IsVerified", True):
        reasons.append("unverified breach")
    proposal = Proposal(
        "security.incident", vendor, data, span[0], span[1], confidence, reasons, time=when
    )
    return to_candidate(document, proposal)
