"""Whatever the text, the extractor does not fail, and every candidate keeps its invariants:
the quote is the text at its span, the event validates, the id is stable."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.feeds.conftest import SEEDS
from vendorwatch.feeds.documents import Document
from vendorwatch.feeds.extract import extract
from vendorwatch.feeds.gazetteer import Gazetteer

SEED_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt")))


@st.composite
def texts(draw: st.DrawFn) -> str:
    """Pieces of the seed articles, shuffled, with arbitrary text in between."""
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(SEED_TEXT) - 1))
        pieces.append(SEED_TEXT[start : start + draw(st.integers(0, 600))])
        pieces.append(draw(st.text(max_size=40)))
    return "".join(pieces)


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=texts())
def test_any_text(text: str, gazetteer: Gazetteer) -> None:
    document = Document(source="prop.txt", text=text, language="fr",
                        published=datetime(2025, 6, 20, tzinfo=UTC))  # fmt: skip
    candidates = extract(document, gazetteer)
    assert [c.id for c in candidates] == [c.id for c in extract(document, gazetteer)]
    for c in candidates:
        start, end = c.provenance.span
        assert text[start:end] == c.provenance.quote
        assert c.event(reviewer=None).subject == c.subject
        assert 0 <= c.confidence <= 1
