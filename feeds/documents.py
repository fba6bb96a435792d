"""Documents: the text a connector read, with where it came from and when.

A document is what every connector produces and what the extractor reads: the main text (the
article, not the page around it), its source (URL or path), publisher, publication and fetch
times, language and a content hash. The hash is what makes candidate ids deterministic and what
cursors remember.

Reading is where bad input is stopped, one clear error per document: binary files, files over
`MAX_DOCUMENT_BYTES`, HTML with no main text, text in a language the extractor does not read.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, get_args

from vendorwatch.feeds.normalise import RELATIVE_DATE, parse_relative

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
"""Files larger than this are refused unread: a news article or a filing's main document is a
few hundred kilobytes at most, and the extractor holds a document in memory."""

SourceKind = Literal["news", "filing", "breach"]
"""What kind of source a document comes from: auto-accept is set per kind (`feeds.review`)."""
SOURCE_KINDS: tuple[str, ...] = get_args(SourceKind)

LANGUAGES = ("fr", "en")
"""The languages the extractor has rules for."""

_STOPWORDS: dict[str, frozenset[str]] = {
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "des",
            "est",
            "et",
            "une",
            "un",
            "du",
            "que",
            "qui",
            "dans",
            "pour",
            "sur",
            "avec",
            "pas",
            "au",
            "aux",
            "ses",
            "son",
            "sont",
            "ont",
            "cette",
            "ce",
            "leur",
            "été",
        ]
    ),
    "en": frozenset(
        [
            "the",
            "and",
            "of",
            "to",
            "is",
            "that",
            "for",
            "with",
            "on",
            "was",
            "are",
            "by",
            "has",
            "have",
            "its",
            "it",
            "this",
            "from",
            "at",
            "be",
        ]
    ),
}


class DocumentError(ValueError):
    """A document that cannot be read: the message is one line a user can act on."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


@dataclass(frozen=True, slots=True)
class Document:
    """One article or filing, as the extractor reads it."""

    source: str
    """URL, or the path as given for a local file."""
    text: str
    """The main text; every candidate's span is a pair of offsets into it."""
    language: str
    publisher: str | None = None
    published: datetime | None = None
    """When the source published it (None: unknown; the fetch time then stands in)."""
    published_estimated: bool = False
    """True when the publication time was inferred (a dateline such as "il y a 9 jours")."""
    fetched: datetime = field(default_factory=lambda: datetime.now(UTC))
    title: str | None = None
    kind: str = "news"
    """What kind of source it is ("news", "filing", "breach"): auto-accept is set per kind."""

    @property
    def content_hash(self) -> str:
        """sha256 of the text: the same article read twice is the same document."""
        return content_hash(self.text)

    @property
    def reference_time(self) -> datetime:
        """The time relative dates in the text are resolved against."""
        return self.published or self.fetched


def content_hash(text: str) -> str:
    """sha256 (hex) of a document's text as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def detect_language(text: str) -> str | None:
    """ "fr" or "en" by counting common function words, or None when neither dominates.

    Enough for telling French from English news (what the extractor's rules are written for);
    anything else is refused rather than misread."""
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ]+", text[:20_000].casefold())
    if len(words) < 5:
        return None
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(counts, key=counts.__getitem__)
    other = min(counts, key=counts.__getitem__)
    if counts[best] < max(3, 0.05 * len(words)) or counts[best] < 2 * counts[other]:
        return None
    return best


def decode(data: bytes, source: str) -> str:
    """Bytes as text (UTF-8, with or without BOM, else Windows-1252), or a DocumentError for
    binary content."""
    if b"\x00" in data[:8192]:
        raise DocumentError(source, "binary file (not text or HTML)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1252", errors="replace")
    if text.count("\ufffd") > len(text) / 100:
        raise DocumentError(source, "binary file (not text or HTML)")
    return text


_HTML = re.compile(r"^\s*(?:<!doctype\s+html|<html|<head|<body|<article|<div|<p[\s>])", re.I)


def looks_like_html(text: str) -> bool:
    """True when the content is an HTML page rather than plain text."""
    return bool(_HTML.match(text[:1000]))


def main_text(html: str, source: str) -> tuple[str, dict[str, str | None]]:
    """The article of an HTML page (trafilatura drops navigation, ads and comments) and the
    metadata it found (title, sitename, date)."""
    import trafilatura

    text = trafilatura.extract(html, include_comments=False, include_tables=False)
    if not text or len(text.strip()) < 40:
        raise DocumentError(source, "HTML page with no article text")
    meta = trafilatura.extract_metadata(html, extensive=False)  # no guessing from "© 2025"
    found = {
        "title": getattr(meta, "title", None),
        "publisher": getattr(meta, "sitename", None),
        "published": getattr(meta, "date", None),
    }
    return text, found


_DATELINE = re.compile(r"^\s*(?:date\s+)?(?P<expr>" + RELATIVE_DATE.pattern + r")\s*", re.I | re.M)


def dateline(text: str, fetched: datetime) -> datetime | None:
    """The publication time a page states near its top ("il y a 9 jours", "date 2023-05"),
    resolved against the fetch time; None if there is none."""
    head = text[:400]
    for m in _DATELINE.finditer(head):
        line_end = head.find("\n", m.start())
        line = head[m.start() : line_end if line_end != -1 else len(head)]
        if len(line.strip()) > len(m.group(0).strip()) + 60:
            continue  # a date inside a sentence is not a dateline
        when = parse_relative(m.group("expr"), fetched)
        if when is not None and when <= fetched:
            return when
    return None


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 date or instant from metadata (a date alone is midnight UTC)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def make_document(
    data: bytes,
    source: str,
    *,
    publisher: str | None = None,
    published: datetime | None = None,
    fetched: datetime | None = None,
    language: str | None = None,
    kind: str = "news",
    html: bool | None = None,
) -> Document:
    """A document from raw bytes: decoded, the main text taken from HTML, the language checked
    and the publication time found (given, the page's metadata, or its dateline)."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            source, f"{len(data)} bytes is over the {MAX_DOCUMENT_BYTES} byte limit per document"
        )
    text = decode(data, source)
    title = None
    if html or (html is None and looks_like_html(text)):
        text, meta = main_text(text, source)
        title = meta["title"]
        publisher = publisher or meta["publisher"]
        published = published or parse_time(meta["published"])
    if not text.strip():
        raise DocumentError(source, "empty document")
    fetched = fetched or datetime.now(UTC)
    estimated = False
    if published is None:
        published = dateline(text, fetched)
        estimated = published is not None
    lang = language or detect_language(text)
    if lang not in LANGUAGES:
        raise DocumentError(
            source, f"unknown language (the extractor reads {', '.join(LANGUAGES)})"
        )
    return Document(
        source=source,
        text=text,
        language=lang,
        publisher=publisher,
        published=published,
        published_estimated=estimated,
        fetched=fetched,
        title=title,
        kind=kind,
    )


SIDECAR_SUFFIX = ".meta.json"
"""Metadata beside a local file: `article.txt.meta.json` with `url`, `publisher`, `published`,
`fetched`, `language` (all optional)."""

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".html", ".htm"})
"""What a folder is searched for: the files the extractor can read as documents."""


def is_sidecar(path: Path) -> bool:
    """True for a `.meta.json` sidecar: it describes the document beside it (`read_file` reads
    it with that document) and is not a document of its own."""
    return path.name.lower().endswith(SIDECAR_SUFFIX)


def documents_in(folder: Path) -> list[Path]:
    """The documents of a folder and its subfolders, in name order: its text and HTML files
    (`TEXT_SUFFIXES`; a sidecar ends in `.json`, so none is taken for a document)."""
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES
    ]


def read_file(path: Path, *, fetched: datetime | None = None) -> Document:
    """A local text or HTML file as a document, with its sidecar metadata if there is one."""
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DocumentError(source, exc.strerror or "cannot read") from None
    if size > MAX_DOCUMENT_BYTES:
        raise DocumentError(
            source, f"{size} bytes is over the {MAX_DOCUMENT_BYTES} byte limit per document"
        )
    meta: dict[str, str] = {}
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if sidecar.is_file():
        try:
            meta = json.loads(sidecar.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise DocumentError(str(sidecar), f"invalid metadata: {exc}") from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(source, exc.strerror or "cannot read") from None
    document = make_document(
        data,
        meta.get("url") or source,
        publisher=meta.get("publisher"),
        published=parse_time(meta.get("published")),
        fetched=parse_time(meta.get("fetched")) or fetched,
        language=meta.get("language"),
        html=path.suffix.lower() in {".html", ".htm"} or None,
    )
    return replace(document, kind=meta.get("kind", document.kind))
