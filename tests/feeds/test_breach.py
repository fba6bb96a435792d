"""The breach connector on a catalogue in HIBP's format: vendors' breaches become incidents."""

from __future__ import annotations

from tests.feeds.conftest import FETCHED, FIXTURES
from vendorwatch.feeds.candidates import Candidate
from vendorwatch.feeds.connectors.breach import read_breaches
from vendorwatch.feeds.gazetteer import Gazetteer

DATA = (FIXTURES / "breach" / "breaches.json").read_bytes()
SOURCE = "https://haveibeenpwned.com/api/v3/breaches"


def _read(gazetteer: Gazetteer, **kwargs) -> list[Candidate]:
    found = list(read_breaches(DATA, SOURCE, gazetteer, fetched=FETCHED, **kwargs))
    assert all(isinstance(c, Candidate) for c in found)
    return found  # type: ignore[return-value]


def test_vendor_breaches_become_incidents(gazetteer: Gazetteer) -> None:
    found = _read(gazetteer, domains={"turing": ["turing.example"]})
    by_subject = {c.subject: c for c in found}
    assert set(by_subject) == {"appen", "turing"}  # Adobe is not a vendor
    appen = by_subject["appen"]
    assert appen.type == "security.incident"
    assert appen.data["severity"] == "medium"
    assert appen.data["records_exposed"] == 5400
    assert appen.time.isoformat() == "2025-03-02T00:00:00+00:00"
    assert appen.time_precision == "day"
    assert appen.kind == "breach"
    turing = by_subject["turing"]
    assert turing.data["severity"] == "high"  # passwords
    assert turing.confidence < appen.confidence  # unverified
    text = DATA.decode()
    for c in found:
        start, end = c.provenance.span
        assert text[start:end] == c.provenance.quote
        assert c.provenance.quote.startswith("{")
        assert c.event(reviewer=None).type == "security.incident"


def test_the_cursor_skips_breaches_already_read(gazetteer: Gazetteer) -> None:
    seen: set[str] = set()
    assert len(_read(gazetteer, seen=seen)) == 1  # Appen by title; Turing needs its domain
    assert seen == {"Adobe", "ExampleLabelling", "TuringWorkers"}
    assert _read(gazetteer, seen=seen, domains={"turing": ["turing.example"]}) == []


def test_not_a_breach_list(gazetteer: Gazetteer) -> None:
    (error,) = list(read_breaches(b"<html>", SOURCE, gazetteer))
    assert "not a JSON breach list" in str(error)
