"""RSS and Atom feeds: each entry becomes a document, fetched politely and remembered.

`feedparser` reads the feed (RSS 0.9x-2.0, Atom); an entry's content or summary is its text
(HTML reduced to the article by trafilatura, or taken as plain text when it is short). A
`Cursor` keeps the ids of entries already read, so polling again yields only new ones.
`PoliteFetcher` waits between requests to one host and honours `429`/`503` with `Retry-After`,
a bounded number of times.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx

from vendorwatch.feeds.documents import MAX_DOCUMENT_BYTES, Document, DocumentError, make_document

USER_AGENT = "vendorwatch-feeds/1 (vendor risk monitor; set VENDORWATCH_FEEDS_CONTACT)"


class FetchError(RuntimeError):
    """A source that could not be fetched (after retries): one line naming it."""


@dataclass(slots=True)
class PoliteFetcher:
    """GETs with a minimum interval between requests and back-off on 429/503."""

    client: httpx.Client
    min_interval: float = 1.0
    """Seconds between two requests (the SEC asks for at most 10 per second: 0.1 there)."""
    max_retries: int = 3
    max_wait: float = 300.0
    user_agent: str = USER_AGENT
    """The SEC requires one naming the requester and a contact address."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    _last: float | None = None

    def get(self, url: str) -> bytes:
        for attempt in range(self.max_retries + 1):
            if self._last is not None:
                wait = self.min_interval - (self.clock() - self._last)
                if wait > 0:
                    self.sleep(wait)
            self._last = self.clock()
            try:
                response = self.client.get(url, headers={"User-Agent": self.user_agent})
            except httpx.HTTPError as exc:
                raise FetchError(f"{url}: {type(exc).__name__}") from None
            if response.status_code in (429, 503) and attempt < self.max_retries:
                self.sleep(min(self.max_wait, retry_after(response, attempt)))
                continue
            if response.status_code != 200:
                raise FetchError(f"{url}: HTTP {response.status_code}")
            if len(response.content) > MAX_DOCUMENT_BYTES:
                raise FetchError(f"{url}: over {MAX_DOCUMENT_BYTES} bytes")
            return response.content
        raise FetchError(f"{url}: still refused after {self.max_retries} retries")


def retry_after(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait: the `Retry-After` header (seconds or an HTTP date), else 2^attempt."""
    value = response.headers.get("Retry-After", "").strip()
    if re.fullmatch(r"\d+", value):
        return float(value)
    if value:
        try:
            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return float(2**attempt)


@dataclass(slots=True)
class Cursor:
    """Entry ids already read, per feed, saved as JSON."""

    path: Path
    seen: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Cursor:
        if not path.exists():
            return cls(path)
        return cls(path, json.loads(path.read_text(encoding="utf-8")))

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.seen, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def is_new(self, feed: str, entry_id: str) -> bool:
        return entry_id not in self.seen.get(feed, [])

    def mark(self, feed: str, entry_id: str) -> None:
        self.seen.setdefault(feed, []).append(entry_id)


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


def read_feed(
    data: bytes, feed_url: str, cursor: Cursor, *, fetched: datetime | None = None
) -> Iterator[Document | DocumentError]:
    """The new entries of a feed as documents (or the error of each unreadable one); each is
    marked in the cursor as it is yielded."""
    parsed = feedparser.parse(data)
    if parsed.bozo and not parsed.entries:
        yield DocumentError(feed_url, "not an RSS or Atom feed")
        return
    publisher = parsed.feed.get("title")
    for entry in parsed.entries:
        entry_id = entry.get("id") or entry.get("link") or entry.get("title", "")
        if not cursor.is_new(feed_url, entry_id):
            continue
        cursor.mark(feed_url, entry_id)
        content = entry.get("content", [{}])[0].get("value") or entry.get("summary", "")
        text = re.sub(r"<[^>]+>", " ", content) if len(content) < 2000 else content
        title = entry.get("title", "")
        try:
            yield make_document(
                f"{title}.\n\n{text}".encode(),
                entry.get("link") or feed_url,
                publisher=publisher,
                published=_entry_time(entry),
                fetched=fetched,
                html=len(content) >= 2000 or None,
            )
        except DocumentError as exc:
            yield exc
