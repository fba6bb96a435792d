"""`vendorwatch feeds run`: poll the configured sources, keep what is new for review.

The configuration (YAML, `FeedsConfig`) names the sources: folders of articles, RSS/Atom feeds,
EDGAR companies by CIK, a breach list. Each poll reads what its cursor has not seen, extracts
candidates and appends the new ones (by id) to the candidates file that `feeds review` reads.
Candidates of the source kinds listed in `auto_accept` (say, `filing`) are accepted at once and
their events returned, for the caller to send to the raw topic; news is never in that list by
default. Cursors live in the state directory, one JSON file, saved after every poll, so a
restarted poller resumes where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vendorwatch.feeds.candidates import Candidate, cluster, dump_candidates, load_candidates
from vendorwatch.feeds.connectors.breach import read_breaches
from vendorwatch.feeds.connectors.edgar import EdgarConnector, FilingReader
from vendorwatch.feeds.connectors.rss import Cursor, FetchError, PoliteFetcher, read_feed
from vendorwatch.feeds.documents import (
    DocumentError,
    SourceKind,
    content_hash,
    documents_in,
    read_file,
)
from vendorwatch.feeds.extract import extract
from vendorwatch.feeds.gazetteer import Gazetteer
from vendorwatch.feeds.review import accept, append_log


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FolderSource(_Strict):
    kind: Literal["folder"]
    path: Path


class RssSource(_Strict):
    kind: Literal["rss"]
    url: str


class EdgarSource(_Strict):
    kind: Literal["edgar"]
    ciks: list[str] = Field(min_length=1)
    data_url: str = "https://data.sec.gov"
    archives_url: str = "https://www.sec.gov/Archives"


class BreachSource(_Strict):
    kind: Literal["breach"]
    url: str = "https://haveibeenpwned.com/api/v3/breaches"
    domains: dict[str, list[str]] = {}
    """vendor id -> its domains, for breaches named by domain only."""


Source = Annotated[
    FolderSource | RssSource | EdgarSource | BreachSource, Field(discriminator="kind")
]


class FeedsConfig(_Strict):
    """What `feeds run` polls, and how politely."""

    user_agent: str = Field(min_length=1)
    """Names the requester with a contact address (the SEC requires it for EDGAR)."""
    interval_seconds: float = Field(default=900, ge=10)
    min_interval_seconds: float = Field(default=1.0, ge=0)
    """Between two requests (EDGAR: never less than 0.1 s)."""
    auto_accept: list[SourceKind] = []
    sources: list[Source] = Field(min_length=1)


def load_config(path: Path) -> FeedsConfig:
    """The configuration, or a ValueError whose message names the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return FeedsConfig.model_validate(raw)
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: {yaml_problem(exc)}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (PyYAML's own text spans several lines
    and quotes the document)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


@dataclass(slots=True)
class PollReport:
    """What one poll found."""

    new: list[Candidate] = field(default_factory=list)
    accepted: list[bytes] = field(default_factory=list)
    """Event lines of the auto-accepted candidates, for the raw topic."""
    errors: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Poller:
    """Polls every source once per `poll()`."""

    config: FeedsConfig
    gazetteer: Gazetteer
    state_dir: Path
    client: httpx.Client
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], None] | None = None

    @property
    def candidates_file(self) -> Path:
        return self.state_dir / "candidates.jsonl"

    def _cursor(self) -> Cursor:
        return Cursor.load(self.state_dir / "cursors.json")

    def _fetcher(self) -> PoliteFetcher:
        fetcher = PoliteFetcher(self.client, min_interval=self.config.min_interval_seconds,
                                user_agent=self.config.user_agent)  # fmt: skip
        if self.sleep is not None:
            fetcher.sleep = self.sleep
        return fetcher

    def poll(self) -> PollReport:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        cursor = self._cursor()
        report = PollReport()
        found: list[Candidate] = []
        fetcher = self._fetcher()
        now = self.clock()
        for source in self.config.sources:
            if isinstance(source, FolderSource):
                found += self._folder(source, cursor, report)
            elif isinstance(source, RssSource):
                found += self._rss(source, cursor, fetcher, report, now)
            elif isinstance(source, EdgarSource):
                found += self._edgar(source, cursor, fetcher, report, now)
            else:
                found += self._breach(source, cursor, fetcher, report, now)
        known = self._known_ids()
        report.new = [c for c in cluster(found) if c.id not in known]  # one per fact
        if report.new:
            with self.candidates_file.open("ab") as out:
                out.write(dump_candidates(report.new))
        for candidate in report.new:
            if candidate.kind in self.config.auto_accept:
                decision, _ = accept(candidate, None, now=now)
                append_log(self.state_dir / "candidates.review.jsonl", decision)
                report.accepted.append(json.dumps(decision.data["event"]).encode())
        cursor.save()
        return report

    def _known_ids(self) -> set[str]:
        if not self.candidates_file.exists():
            return set()
        return {c.id for c in load_candidates(self.candidates_file.read_bytes())}

    def _folder(self, source: FolderSource, cursor: Cursor, report: PollReport):
        found: list[Candidate] = []
        key = f"folder:{source.path}"
        if not source.path.is_dir():
            report.errors.append(f"{source.path}: no such folder")
            return found
        for path in documents_in(source.path):
            try:
                document = read_file(path)
            except DocumentError as exc:
                report.errors.append(str(exc))
                continue
            marker = content_hash(document.text)
            if cursor.is_new(key, marker):
                cursor.mark(key, marker)
                found += extract(document, self.gazetteer)
        return found

    def _rss(self, source, cursor, fetcher, report, now):
        try:
            data = fetcher.get(source.url)
        except FetchError as exc:
            report.errors.append(str(exc))
            return []
        found: list[Candidate] = []
        for item in read_feed(data, source.url, cursor, fetched=now):
            if isinstance(item, DocumentError):
                report.errors.append(str(item))
            else:
                found += extract(item, self.gazetteer)
        return found

    def _edgar(self, source, cursor, fetcher, report, now):
        key = "edgar"
        connector = EdgarConnector(fetcher, FilingReader(self.gazetteer, fetched=now),
                                   seen=set(cursor.seen.get(key, [])),
                                   data_url=source.data_url.rstrip("/"),
                                   archives_url=source.archives_url.rstrip("/"))  # fmt: skip
        found: list[Candidate] = []
        for cik in source.ciks:
            for item in connector.poll(cik):
                if isinstance(item, DocumentError):
                    report.errors.append(str(item))
                else:
                    found.append(item)
        cursor.seen[key] = sorted(connector.seen)
        return found

    def _breach(self, source, cursor, fetcher, report, now):
        try:
            data = fetcher.get(source.url)
        except FetchError as exc:
            report.errors.append(str(exc))
            return []
        key = f"breach:{source.url}"
        seen = set(cursor.seen.get(key, []))
        found: list[Candidate] = []
        for item in read_breaches(data, source.url, self.gazetteer, domains=source.domains,
                                  seen=seen, fetched=now):  # fmt: skip
            if isinstance(item, DocumentError):
                report.errors.append(str(item))
            else:
                found.append(item)
        cursor.seen[key] = sorted(seen)
        return found
