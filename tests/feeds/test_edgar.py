"""The EDGAR connector on filings in the SEC's formats, replayed over HTTP with sockets off."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.feeds.conftest import FETCHED, FIXTURES
from vendorwatch.feeds.candidates import Candidate
from vendorwatch.feeds.connectors.edgar import EdgarConnector, FilingReader, read_submissions
from vendorwatch.feeds.connectors.rss import PoliteFetcher
from vendorwatch.feeds.gazetteer import Gazetteer

EDGAR = FIXTURES / "edgar"
UA = "vendorwatch tests security-team@example.org"


def _transport(requests: list[httpx.Request], first_429: bool = False) -> httpx.MockTransport:
    state = {"refused": not first_429}

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if not state["refused"]:
            state["refused"] = True
            return httpx.Response(429, headers={"Retry-After": "2"})
        name = Path(request.url.path).name
        path = EDGAR / name
        return httpx.Response(200, content=path.read_bytes()) if path.exists() else (
            httpx.Response(404))  # fmt: skip

    return httpx.MockTransport(handler)


def _connector(requests: list[httpx.Request], waits: list[float], **kwargs) -> EdgarConnector:
    fetcher = PoliteFetcher(httpx.Client(transport=_transport(requests, **kwargs)),
                            min_interval=0, sleep=waits.append, user_agent=UA)  # fmt: skip
    return EdgarConnector(fetcher, FilingReader(_gazetteer(), fetched=FETCHED))


_GZ: list[Gazetteer] = []


def _gazetteer() -> Gazetteer:
    return _GZ[0]


@pytest.fixture(autouse=True)
def _use(gazetteer: Gazetteer) -> None:
    _GZ[:] = [gazetteer]


def test_filings_become_candidates() -> None:
    requests: list[httpx.Request] = []
    waits: list[float] = []
    found = list(_connector(requests, waits).poll("9999999"))
    assert all(isinstance(c, Candidate) for c in found), found
    by_type = {c.type: c for c in found}  # type: ignore[union-attr]
    assert set(by_type) == {"ownership.stake_acquired", "security.incident", "person.moved",
                            "funding.round"}  # fmt: skip
    stake = by_type["ownership.stake_acquired"]
    assert stake.subject == "scale-ai"
    assert stake.data["investor"] == "Meta"  # "Meta Platforms, Inc." resolves to the competitor
    assert stake.data["stake_pct"] == 49.0
    assert stake.kind == "filing"
    assert stake.time.isoformat() == "2025-06-16T00:00:00+00:00"
    incident = by_type["security.incident"]
    assert incident.data["severity"] == "high"
    assert "unauthorized access" in incident.provenance.quote
    moved = by_type["person.moved"]
    assert moved.data["person"] == "Jane Doe"
    assert moved.data["to_org"] == "undisclosed"
    funding = by_type["funding.round"]
    assert funding.data["amount_usd"] == 1e9
    assert funding.time.isoformat() == "2025-04-28T00:00:00+00:00"
    for c in found:
        assert c.event(reviewer=None).provenance.url.startswith("https://www.sec.gov/Archives/")  # type: ignore[union-attr]
    # the 10-Q is not read, and every request names the requester
    assert not any(r.url.path.endswith("form10q.htm") for r in requests)
    assert all(r.headers["User-Agent"] == UA for r in requests)


def test_each_quote_is_the_filing_text_at_its_span() -> None:
    found = list(_connector([], []).poll("9999999"))
    for c in found:
        assert isinstance(c, Candidate)
        name = c.provenance.source.rsplit("/", 1)[-1]
        text = (EDGAR / name).read_text(encoding="utf-8")
        start, end = c.provenance.span
        assert text[start:end] == c.provenance.quote


def test_a_429_is_waited_out_and_a_resumed_cursor_reads_nothing_again() -> None:
    requests: list[httpx.Request] = []
    waits: list[float] = []
    connector = _connector(requests, waits, first_429=True)
    first = list(connector.poll("9999999"))
    assert 2.0 in waits
    assert len(first) == 4
    seen = set(connector.seen)
    again = _connector([], [])
    again.seen = seen
    assert list(again.poll("9999999")) == []


def test_the_sec_user_agent_is_required() -> None:
    fetcher = PoliteFetcher(httpx.Client(transport=_transport([])), user_agent="vendorwatch")
    with pytest.raises(ValueError, match="User-Agent"):
        EdgarConnector(fetcher, FilingReader(_gazetteer()))


def test_requests_to_the_sec_are_spaced_at_least_a_tenth_of_a_second() -> None:
    fetcher = PoliteFetcher(httpx.Client(transport=_transport([])), min_interval=0, user_agent=UA)
    EdgarConnector(fetcher, FilingReader(_gazetteer()))
    assert fetcher.min_interval == 0.1


def test_not_a_submissions_index() -> None:
    with pytest.raises(ValueError, match="not an EDGAR submissions index"):
        read_submissions(b"{}", "x")
