"""The seed articles are the golden test: what the extractor proposes on them, the invariants
every candidate keeps, and precision and recall against the hand-labelled gold file."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from pytest_socket import SocketBlockedError

from tests.feeds.conftest import SEEDS
from vendorwatch.feeds.candidates import Candidate, cluster
from vendorwatch.feeds.documents import read_file
from vendorwatch.feeds.extract import extract
from vendorwatch.feeds.gazetteer import Gazetteer
from vendorwatch.feeds.gold import load_gold, score
from vendorwatch.schemas.codec import encode_event, parse_event

SEED_FILES = sorted(SEEDS.glob("*.txt"))
SEED_004 = SEEDS / "004_c5024c2e11454a9d.txt"


def _extract(path: Path, gazetteer: Gazetteer) -> list[Candidate]:
    return extract(read_file(path), gazetteer)


def test_the_network_is_disabled_while_extracting(gazetteer: Gazetteer) -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert _extract(SEED_004, gazetteer)  # and the extractor works without it


def test_seed_004_proposes_the_scale_ai_facts(gazetteer: Gazetteer) -> None:
    found = {(c.type, c.subject, str(c.data.get("client", ""))): c
             for c in _extract(SEED_004, gazetteer)}  # fmt: skip
    funding = found[("funding.round", "scale-ai", "")]
    assert funding.data["amount_usd"] == 14.3e9
    assert funding.data["investors"] == ["Meta"]
    assert "levée de fonds" in funding.provenance.quote
    assert any("stake is possible" in r for r in funding.provenance.reasons)
    for client in ("Google", "OpenAI", "xAI"):
        assert ("client.paused", "scale-ai", client) in found
    xai = found[("client.paused", "scale-ai", "xAI")]
    assert any("previous sentence" in r for r in xai.provenance.reasons)
    assert xai.confidence < found[("client.paused", "scale-ai", "OpenAI")].confidence
    demand = found[("demand.changed", "handshake", "")]
    assert demand.data["factor"] == 3
    assert "a triplé" in demand.provenance.quote
    assert demand.citations  # "augmenter de façon exponentielle" earlier: the same fact
    assert ("vendor.statement", "scale-ai", "") in found


def test_the_publication_date_comes_from_the_dateline(gazetteer: Gazetteer) -> None:
    document = read_file(SEED_004)  # fetched 2025-06-29T12:00Z, "il y a 9 jours"
    assert document.published is not None
    assert document.published.isoformat() == "2025-06-20T12:00:00+00:00"
    assert document.published_estimated
    candidate = _extract(SEED_004, gazetteer)[0]
    assert candidate.time == document.published
    assert candidate.time_estimated


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_every_candidate_quotes_the_text_at_its_span_and_is_an_event(
    path: Path, gazetteer: Gazetteer
) -> None:
    document = read_file(path)
    candidates = extract(document, gazetteer)
    for c in candidates:
        start, end = c.provenance.span
        assert document.text[start:end] == c.provenance.quote
        assert 0 < c.confidence <= 1
        event = c.event(reviewer="test")
        assert parse_event(encode_event(event)) == event  # a valid event, provenance included
        assert event.provenance is not None
        assert event.provenance.quote == c.provenance.quote


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.name[:3])
def test_ids_are_deterministic(path: Path, gazetteer: Gazetteer) -> None:
    first = [c.id for c in _extract(path, gazetteer)]
    again = [c.id for c in _extract(path, gazetteer)]
    assert first == again
    assert len(set(first)) == len(first)


def test_hedging_and_machine_written_sources_lower_confidence(gazetteer: Gazetteer) -> None:
    rumour = _extract(SEEDS / "003_75af729cf9e3f322.txt", gazetteer)
    assert rumour
    for c in rumour:
        reasons = " ".join(c.provenance.reasons)
        assert "rumour" in reasons
        assert "conditional" in reasons
        assert "low trust" in reasons
        assert c.confidence < 0.3


def test_the_2018_acquisition_is_historical(gazetteer: Gazetteer) -> None:
    (acquired,) = [c for c in _extract(SEEDS / "000_0500f45a7ae3afc2.txt", gazetteer)
                   if c.type == "ownership.acquired"]  # fmt: skip
    assert acquired.historical
    assert acquired.data == {"acquirer": "Microsoft", "amount_usd": 7.5e9}
    assert acquired.time.year == 2018
    assert not acquired.registered  # GitHub is not a registered vendor


def test_reports_of_one_fact_in_two_documents_cluster(gazetteer: Gazetteer) -> None:
    document = read_file(SEED_004)
    copy = document.__class__(**{**{f: getattr(document, f) for f in document.__slots__},
                                 "source": "https://example.org/copy"})  # fmt: skip
    merged = cluster([*extract(document, gazetteer), *extract(copy, gazetteer)])
    assert len(merged) == len(extract(document, gazetteer))
    for c in merged:
        cited = {c.provenance.source, *(e.source for e in c.citations)}
        assert cited == {"https://example.org/copy", str(SEED_004)}


def test_precision_and_recall_on_the_seeds_meet_the_targets(gazetteer: Gazetteer) -> None:
    gold = load_gold(SEEDS / "gold.yaml")
    assert len(gold) >= 15
    found = {path.name: _extract(path, gazetteer) for path in SEED_FILES}
    result = score(gold, found)
    assert result.recall >= 0.8, [f.subject + " " + f.types[0] for f in result.missed_facts]
    assert result.precision >= 0.7, [(d, c.type, c.subject) for d, c in
                                     result.unmatched_candidates]  # fmt: skip
