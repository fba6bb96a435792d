"""Events read from documents keep their provenance in the vendor state, and an alert's
transition cites it (what the Slack message quotes)."""

from __future__ import annotations

from datetime import UTC, datetime

from vendorwatch.schemas.codec import EVENT_ADAPTER
from vendorwatch.schemas.events import Event
from vendorwatch.streams.core.rules import cited
from vendorwatch.streams.core.state import VendorState, apply

PROVENANCE = {"url": "https://news.example.org/a", "publisher": "HyperAI", "quote": "Meta ...",
              "span": [10, 18], "extractor": "vendorwatch-feeds/1", "confidence": 0.8,
              "reviewer": "ana"}  # fmt: skip


def _event(event_id: str, provenance: dict | None) -> Event:
    raw = {"id": event_id, "source": "urn:t", "type": "client.paused", "subject": "scale-ai",
           "time": datetime(2025, 6, 13, tzinfo=UTC), "data": {"client": "OpenAI"}}  # fmt: skip
    if provenance is not None:
        raw["provenance"] = provenance
    return EVENT_ADAPTER.validate_python(raw)


def test_the_state_keeps_provenance_and_a_transition_cites_it() -> None:
    state = VendorState("scale-ai")
    apply(state, _event("from-news", PROVENANCE))
    apply(state, _event("by-hand", None))
    assert set(state.evidence) == {"from-news"}
    assert state.copy().evidence == state.evidence
    assert cited(state, ("by-hand", "from-news")) == (
        {"event_id": "from-news", "url": "https://news.example.org/a", "publisher": "HyperAI",
         "quote": "Meta ..."},
    )  # fmt: skip


def test_an_event_without_provenance_is_unchanged() -> None:
    event = _event("by-hand", None)
    assert event.provenance is None
    assert "provenance" not in event.model_dump(mode="json", exclude_none=True)
