"""The sources of an alert's events (read by `vendorwatch feeds`) in the Slack message: the
quote, and a link to the article only when its URL is a plain http(s) URL."""

from __future__ import annotations

from tests.alerts.delivery_helpers import item, notification
from vendorwatch.alerts.notification import EvidenceView
from vendorwatch.alerts.sinks.slack import MAX_SECTION_TEXT, render_blocks

QUOTE = "Scale AI a reçu une levée de fonds de 14,3 milliards de dollars de la part de Meta."


def _text(*evidence: EvidenceView) -> str:
    alert = item().model_copy(update={"evidence": evidence})
    payload = render_blocks(notification(alert))
    (section,) = [b for b in payload["blocks"] if "_sources:_" in b.get("text", {}).get("text", "")]
    assert len(section["text"]["text"]) <= MAX_SECTION_TEXT
    return section["text"]["text"]


def test_the_quote_and_a_link_to_the_article() -> None:
    text = _text(EvidenceView(event_id="e1", url="https://news.example.org/a", publisher="HyperAI",
                              quote=QUOTE))  # fmt: skip
    assert f"> “{QUOTE}” — <https://news.example.org/a|HyperAI>" in text


def test_hostile_quotes_and_urls_cannot_inject_mrkdwn() -> None:
    text = _text(EvidenceView(event_id="e1", url="javascript:alert(1)|<!channel>",
                              publisher="<!here>", quote="<!channel> & <@U123>"))  # fmt: skip
    assert "<!channel>" not in text
    assert "<!here>" not in text
    assert "<@U123>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "<javascript" not in text


def test_long_quotes_and_many_sources_are_cut_visibly() -> None:
    many = [EvidenceView(event_id=f"e{i}", url=f"https://n.example.org/{i}", quote="x" * 5000)
            for i in range(5)]  # fmt: skip
    text = _text(*many)
    assert "… 2 more sources" in text
    assert text.count("https://n.example.org/") == 3


def test_an_alert_without_sources_has_no_sources_line() -> None:
    payload = render_blocks(notification(item()))
    assert "_sources:_" not in str(payload)
