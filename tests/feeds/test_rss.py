"""The RSS connector on a recorded feed: entries as documents, the cursor, and politeness
(a 429 with Retry-After). The HTTP exchanges are replayed by httpx's MockTransport: sockets stay
disabled."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.feeds.conftest import FETCHED, FIXTURES
from vendorwatch.feeds.connectors.rss import Cursor, FetchError, PoliteFetcher, read_feed
from vendorwatch.feeds.documents import Document
from vendorwatch.feeds.extract import extract
from vendorwatch.feeds.gazetteer import Gazetteer

FEED = (FIXTURES / "rss" / "feed.xml").read_bytes()
URL = "https://news.example.org/feed.xml"


def test_entries_become_documents_and_candidates(tmp_path: Path, gazetteer: Gazetteer) -> None:
    cursor = Cursor.load(tmp_path / "cursor.json")
    documents = list(read_feed(FEED, URL, cursor, fetched=FETCHED))
    assert all(isinstance(d, Document) for d in documents)
    assert [d.source for d in documents] == [  # type: ignore[union-attr]
        "https://news.example.org/2025/06/13/scale-meta",
        "https://news.example.org/2025/06/20/handshake",
    ]
    first = documents[0]
    assert isinstance(first, Document)
    assert first.language == "en"
    assert first.publisher == "Example Tech News"
    assert first.published is not None
    assert first.published.isoformat().startswith("2025-06-13")
    found = {(c.type, c.subject) for c in extract(first, gazetteer)}
    assert ("ownership.stake_acquired", "scale-ai") in found
    assert ("client.paused", "scale-ai") in found


def test_a_resumed_cursor_reads_only_new_entries(tmp_path: Path) -> None:
    cursor = Cursor.load(tmp_path / "cursor.json")
    assert len(list(read_feed(FEED, URL, cursor, fetched=FETCHED))) == 2
    cursor.save()
    resumed = Cursor.load(tmp_path / "cursor.json")
    assert list(read_feed(FEED, URL, resumed, fetched=FETCHED)) == []


def test_429_with_retry_after_is_honoured() -> None:
    replies = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, content=FEED)]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return replies.pop(0)

    waits: list[float] = []
    fetcher = PoliteFetcher(httpx.Client(transport=httpx.MockTransport(handler)),
                            min_interval=0, sleep=waits.append)  # fmt: skip
    assert fetcher.get(URL) == FEED
    assert waits == [7.0]
    assert len(seen) == 2
    assert seen[0].headers["User-Agent"].startswith("vendorwatch-feeds/")


def test_persistent_refusal_is_one_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(429))
    fetcher = PoliteFetcher(httpx.Client(transport=transport), min_interval=0, max_retries=2,
                            sleep=lambda _: None)  # fmt: skip
    with pytest.raises(FetchError, match="HTTP 429"):
        fetcher.get(URL)


def test_requests_are_spaced() -> None:
    now = [0.0]
    waits: list[float] = []
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"ok"))
    fetcher = PoliteFetcher(httpx.Client(transport=transport), min_interval=2.0,
                            sleep=waits.append, clock=lambda: now[0])  # fmt: skip
    fetcher.get(URL)
    now[0] = 0.5
    fetcher.get(URL)
    assert waits == [1.5]


def test_not_a_feed(tmp_path: Path) -> None:
    (error,) = list(read_feed(b"\x00\x01 not xml", URL, Cursor(tmp_path / "c.json")))
    assert "not an RSS or Atom feed" in str(error)
