"""`vendorwatch history` lines cite the source of events read from documents."""

from __future__ import annotations

from tests.streams.core.test_evidence import PROVENANCE, _event
from vendorwatch.streams.replay.reports import event_summary


def test_history_lines_cite_the_source() -> None:
    assert event_summary(_event("by-hand", None)) == "client=OpenAI"
    line = event_summary(_event("from-news", PROVENANCE))
    assert line == "client=OpenAI\n“Meta ...” — https://news.example.org/a"
