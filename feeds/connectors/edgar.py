"""SEC EDGAR filings as candidates: ownership, acquisitions, departures, incidents, funding.

Read from the SEC's own formats, with the standard library: the submissions index
(`data.sec.gov/submissions/CIK##########.json`: form, items, dates and primary document of each
filing) and the filings' primary documents. `edgartools` was considered: it wraps the same
endpoints but brings pandas and pyarrow and its own HTTP layer, for the five fields used here.

What a filing says, in vendorwatch's terms:

- Schedule 13D / 13G (and amendments): a holder crossing 5% -> `ownership.stake_acquired`
  (investor = the reporting person, stake = the percent of class on the cover page);
- Form 8-K item 1.05 (material cybersecurity incident) -> `security.incident` (high);
  item 5.02 (departure of an officer) -> `person.moved` (the destination is rarely stated:
  "undisclosed"); items 1.01 / 2.01 (a material agreement / a completed acquisition) ->
  `ownership.acquired` when the text names who acquires the company;
- Form D (an exempt offering) -> `funding.round` with the amount sold.

Filings are stated facts: their candidates are of kind "filing", which a deployment may
auto-accept (feeds/review.py). The SEC asks for a User-Agent naming the requester with a
contact address and at most 10 requests a second (`SEC_MIN_INTERVAL`); `EdgarConnector`
refuses to run without that User-Agent.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vendorwatch.feeds.candidates import Candidate
from vendorwatch.feeds.connectors.rss import FetchError, PoliteFetcher
from vendorwatch.feeds.documents import Document, DocumentError, looks_like_html, main_text
from vendorwatch.feeds.extract import Proposal, to_candidate
from vendorwatch.feeds.gazetteer import Entity, Gazetteer, slug

SEC_MIN_INTERVAL = 0.1
"""At most 10 requests per second, as the SEC's fair-access policy asks."""
STAKE_FORMS = frozenset({"SC 13D", "SC 13G", "SC 13D/A", "SC 13G/A", "SCHEDULE 13D",
                         "SCHEDULE 13G", "SCHEDULE 13D/A", "SCHEDULE 13G/A"})  # fmt: skip
FILING_CONFIDENCE = 0.9


@dataclass(frozen=True, slots=True)
class Filing:
    """One filing of the submissions index."""

    cik: str
    company: str
    accession: str
    form: str
    filed: datetime
    items: tuple[str, ...]
    primary_document: str

    archives_url: str = "https://www.sec.gov/Archives"

    @property
    def url(self) -> str:
        folder = self.accession.replace("-", "")
        return f"{self.archives_url}/edgar/data/{int(self.cik)}/{folder}/{self.primary_document}"


def read_submissions(
    data: bytes, source: str, archives_url: str = "https://www.sec.gov/Archives"
) -> list[Filing]:
    """The filings listed in a submissions JSON (its `filings.recent` arrays)."""
    try:
        raw = json.loads(data)
        recent = raw["filings"]["recent"]
        cik = str(raw["cik"]).zfill(10)
        company = str(raw["name"])
    except (ValueError, KeyError, TypeError):
        raise DocumentError(source, "not an EDGAR submissions index") from None
    filings = []
    for i, accession in enumerate(recent["accessionNumber"]):
        items = str(recent.get("items", [""] * (i + 1))[i] or "")
        filings.append(
            Filing(
                cik=cik,
                company=company,
                accession=accession,
                form=recent["form"][i],
                filed=datetime.fromisoformat(recent["filingDate"][i]).replace(tzinfo=UTC),
                items=tuple(x.strip() for x in items.split(",") if x.strip()),
                primary_document=recent["primaryDocument"][i],
                archives_url=archives_url,
            )
        )
    return filings


def is_relevant(filing: Filing) -> bool:
    """Whether vendorwatch reads this filing at all."""
    if filing.form in STAKE_FORMS or filing.form in {"D", "D/A"}:
        return True
    return filing.form == "8-K" and bool({"1.01", "2.01", "5.02", "1.05"} & set(filing.items))


_PERCENT = re.compile(
    r"PERCENT\s+OF\s+CLASS\s+REPRESENTED\s+BY\s+AMOUNT\s+IN\s+ROW\s*\(?\d+\)?\s*:?\s*"
    r"(?P<pct>\d+(?:\.\d+)?)\s*%",
    re.IGNORECASE,
)
_REPORTER = re.compile(
    r"NAMES?\s+OF\s+REPORTING\s+PERSONS?\s*:?\s*(?:I\.R\.S\.[^\n]*\n)?\s*(?P<name>[^\n]+)",
    re.IGNORECASE,
)
_ITEM = re.compile(r"^\s*Item\s+(?P<n>\d\.\d\d)\b[^\n]*$", re.IGNORECASE | re.MULTILINE)
_DEPARTURE = re.compile(
    r"(?P<person>[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z]+),\s+(?:the\s+Company['’]s\s+)?"
    r"(?P<role>(?:Chief|Senior|Executive|Vice|President|General)[^,]{0,60}?),\s+"
    r"(?:notified|informed|resigned|announced|will\s+(?:resign|step\s+down|depart))",
)
_ACQUIRER = re.compile(
    r"(?:acquired\s+by|merge\s+with\s+and\s+into\s+a\s+(?:wholly[- ]owned\s+)?subsidiary\s+of|"
    r"wholly[- ]owned\s+subsidiary\s+of)\s+(?P<who>[A-Z][\w.&,-]*(?:\s+[A-Z][\w.&-]*){0,3})",
)


@dataclass(slots=True)
class FilingReader:
    """Candidates from one filing's primary document."""

    gazetteer: Gazetteer
    fetched: datetime = field(default_factory=lambda: datetime.now(UTC))

    def subject(self, filing: Filing) -> Entity | str:
        entity = self.gazetteer.resolve(filing.company)
        return entity if entity is not None else filing.company

    def candidates(self, filing: Filing, data: bytes) -> list[Candidate]:
        text = data.decode("utf-8", errors="replace")
        if filing.form in {"D", "D/A"}:
            document = self._document(filing, text)
            return self._form_d(filing, document)
        if looks_like_html(text):
            text, _ = main_text(text, filing.url)
        document = self._document(filing, text)
        if filing.form in STAKE_FORMS:
            return self._stake(filing, document)
        return self._eight_k(filing, document)

    def _document(self, filing: Filing, text: str) -> Document:
        return Document(source=filing.url, text=text, language="en", publisher="SEC EDGAR",
                        published=filing.filed, fetched=self.fetched, kind="filing",
                        title=f"{filing.company} {filing.form} {filing.accession}")  # fmt: skip

    def _make(self, document: Document, p: Proposal) -> list[Candidate]:
        made = to_candidate(document, p)
        return [made] if made is not None else []

    def _stake(self, filing: Filing, document: Document) -> list[Candidate]:
        text = document.text
        pct = _PERCENT.search(text)
        reporter = _REPORTER.search(text)
        if not pct or not reporter:
            return []
        investor = reporter.group("name").strip()
        known = self.gazetteer.resolve(investor)
        data = {"investor": known.name if known else investor[:200],
                "stake_pct": float(pct.group("pct"))}  # fmt: skip
        reasons = [f"{filing.form}: {investor} reports {pct.group('pct')}% of the class"]
        start, end = reporter.start(), pct.end()
        return self._make(document, Proposal("ownership.stake_acquired", self.subject(filing),
                                             data, start, end, FILING_CONFIDENCE, reasons,
                                             time=filing.filed))  # fmt: skip

    def _sections(self, text: str) -> Iterator[tuple[str, int, int]]:
        heads = list(_ITEM.finditer(text))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            body_end = len(text[:end].rstrip())
            yield (
                head.group("n"),
                head.start() + len(head.group(0)) - len(head.group(0).lstrip()),
                body_end,
            )

    def _eight_k(self, filing: Filing, document: Document) -> list[Candidate]:
        found: list[Candidate] = []
        subject = self.subject(filing)
        for item, start, end in self._sections(document.text):
            body = document.text[start:end]
            reasons = [f"8-K item {item}"]
            if item == "1.05":
                data: dict[str, Any] = {"title": "Material cybersecurity incident (8-K 1.05)",
                                        "severity": "high", "description": body[:4000]}  # fmt: skip
                found += self._make(document, Proposal("security.incident", subject, data, start,
                                                       end, FILING_CONFIDENCE, reasons,
                                                       time=filing.filed))  # fmt: skip
            elif item == "5.02":
                for m in _DEPARTURE.finditer(body):
                    role = m.group("role").strip()
                    seniority = "executive" if re.search(r"Chief|President", role) else "senior"
                    data = {"person": m.group("person"), "role": role[:200],
                            "from_org": filing.company, "to_org": "undisclosed",
                            "seniority": seniority}  # fmt: skip
                    found += self._make(
                        document,
                        Proposal(
                            "person.moved",
                            subject,
                            data,
                            start,
                            end,
                            FILING_CONFIDENCE * 0.8,
                            [*reasons, "destination not stated in the filing"],
                            time=filing.filed,
                        ),
                    )
            elif item in {"1.01", "2.01"}:
                m = _ACQUIRER.search(body)
                if m:
                    who = m.group("who").rstrip(".,")
                    known = self.gazetteer.resolve(who)
                    data = {"acquirer": known.name if known else who}
                    found += self._make(
                        document,
                        Proposal(
                            "ownership.acquired",
                            subject,
                            data,
                            start,
                            end,
                            FILING_CONFIDENCE,
                            reasons,
                            time=filing.filed,
                        ),
                    )
        return found

    def _form_d(self, filing: Filing, document: Document) -> list[Candidate]:
        try:
            root = ET.fromstring(document.text)  # noqa: S314
        except ET.ParseError:
            return []

        def first(tag: str) -> ET.Element | None:
            return next(iter(root.iter(tag)), None)

        sold, offered = first("totalAmountSold"), first("totalOfferingAmount")
        amount_el = sold if sold is not None and (sold.text or "").strip() else offered
        if amount_el is None or not (amount_el.text or "").strip().replace(".", "").isdigit():
            return []
        amount = float(amount_el.text.strip())  # type: ignore[union-attr]
        quote_start = document.text.find("<offeringSalesAmounts>")
        quote_end = document.text.find("</offeringSalesAmounts>")
        if quote_start < 0 or quote_end < 0:
            quote_start, quote_end = 0, min(len(document.text), 500)
        else:
            quote_end += len("</offeringSalesAmounts>")
        sale = first("dateOfFirstSale")
        when = filing.filed
        value = sale.find("value") if sale is not None else None
        if value is not None and value.text:
            when = datetime.fromisoformat(value.text.strip()).replace(tzinfo=UTC)
        data = {"round": "Form D exempt offering", "amount_usd": amount, "investors": []}
        return self._make(document, Proposal("funding.round", self.subject(filing), data,
                                             quote_start, quote_end, FILING_CONFIDENCE,
                                             [f"Form D: {amount:,.0f} USD sold"],
                                             time=when))  # fmt: skip


@dataclass(slots=True)
class EdgarConnector:
    """Polls the submissions index of each CIK and reads the filings not read before."""

    fetcher: PoliteFetcher
    reader: FilingReader
    seen: set[str] = field(default_factory=set)
    """Accession numbers already read: the cursor."""
    data_url: str = "https://data.sec.gov"
    archives_url: str = "https://www.sec.gov/Archives"
    """Where the index and the filings are (a mirror may stand in)."""

    def __post_init__(self) -> None:
        if "@" not in self.fetcher.user_agent:
            raise ValueError("the SEC requires a User-Agent with a contact e-mail address")
        self.fetcher.min_interval = max(self.fetcher.min_interval, SEC_MIN_INTERVAL)

    def poll(self, cik: str) -> Iterator[Candidate | DocumentError]:
        url = f"{self.data_url}/submissions/CIK{cik.zfill(10)}.json"
        try:
            filings = read_submissions(self.fetcher.get(url), url, self.archives_url)
        except (FetchError, DocumentError) as exc:
            yield exc if isinstance(exc, DocumentError) else DocumentError(url, str(exc))
            return
        for filing in filings:
            if filing.accession in self.seen or not is_relevant(filing):
                continue
            try:
                data = self.fetcher.get(filing.url)
            except FetchError as exc:
                yield DocumentError(filing.url, str(exc))
                continue  # not marked: retried at the next poll
            self.seen.add(filing.accession)
            yield from self.reader.candidates(filing, data)


__all__ = ["EdgarConnector", "Filing", "FilingReader", "read_submissions", "slug"]
