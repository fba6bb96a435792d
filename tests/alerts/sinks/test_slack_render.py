"""Block Kit rendering: Slack's limits, mrkdwn escaping, resolved wording, the README example."""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.alerts.delivery_helpers import T0, item, notification
from tests.examples import examples
from vendorwatch.alerts.notification import (
    SEVERITIES,
    AlertItem,
    ContributionView,
    Notification,
    max_severity,
)
from vendorwatch.alerts.sinks.slack import (
    MAX_BLOCKS,
    MAX_HEADER_TEXT,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_TEXT,
    escape_mrkdwn,
    render_blocks,
    truncate,
)

REPO = Path(__file__).resolve().parents[3]
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    """Every mrkdwn string in a payload, including the fallback text."""
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        elif block["type"] == "context":
            texts.extend(e["text"] for e in block["elements"])
    return texts


def assert_within_slack_limits(payload: dict[str, Any]) -> None:
    blocks = payload["blocks"]
    assert 1 <= len(blocks) <= MAX_BLOCKS
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= MAX_HEADER_TEXT
        elif block["type"] == "section":
            assert block["text"]["type"] == "mrkdwn"
            assert 1 <= len(block["text"]["text"]) <= MAX_SECTION_TEXT
        elif block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
            assert all(1 <= len(e["text"]) <= MAX_SECTION_TEXT for e in block["elements"])
        else:
            assert block["type"] == "divider"
    assert 1 <= len(payload["text"]) <= MAX_SECTION_TEXT
    total = sum(len(t) for t in mrkdwn_texts(payload)[1:]) + len(blocks[0]["text"]["text"])
    assert total <= MAX_MESSAGE_TEXT
    for text in mrkdwn_texts(payload):
        # no control sequence can come through: our templates never emit < or >, so any
        # that appears would be unescaped event text
        assert "<" not in text
        assert ">" not in text
        assert not ENTITY.search(text), f"bare & in {text[:80]!r}"
    json.dumps(payload)  # serialisable as-is


def test_basic_firing_layout() -> None:
    payload = render_blocks(notification())
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds[0] == "header"
    assert kinds[-1] == "context"
    header = payload["blocks"][0]["text"]["text"]
    assert "CRITICAL" in header
    assert "Scale AI" in header
    score = payload["blocks"][1]["text"]["text"]
    assert "72.4 (+41.0 from 31.4) · high → critical" in score
    body = "\n".join(mrkdwn_texts(payload))
    assert "`evt-2025-06-12-meta-stake`" in body
    assert "Meta took a 49% stake in Scale AI ($14.3B)." in body
    assert "policy-3f9c2a1e" in payload["blocks"][-1]["elements"][0]["text"]
    assert "2025-06-12 09:00 UTC" in payload["blocks"][-1]["elements"][0]["text"]
    assert_within_slack_limits(payload)


def test_first_score_and_unchanged_severity() -> None:
    n = notification(previous_score=None, previous_score_severity=None)
    assert "72.4 (first score) · critical" in render_blocks(n)["blocks"][1]["text"]["text"]


def test_resolved_renders_distinctly() -> None:
    n = notification(item(resolved=True), score=20.0, score_severity="low")
    payload = render_blocks(n)
    header = payload["blocks"][0]["text"]["text"]
    assert header.startswith("✅ RESOLVED")
    assert "CRITICAL" not in header
    body = "\n".join(mrkdwn_texts(payload))
    assert "All alerts resolved" in body
    assert "resolved at 2025-06-15 09:00 UTC" in body
    assert "🔥" not in body
    assert payload["text"].startswith("✅ Resolved")


def test_mixed_notification_lists_firing_before_resolved() -> None:
    n = notification(item("old_rule", "low", resolved=True), item("competitor_stake"))
    texts = [b["text"]["text"] for b in render_blocks(n)["blocks"] if b["type"] == "section"]
    firing = next(i for i, t in enumerate(texts) if "*competitor_stake*" in t)
    resolved = next(i for i, t in enumerate(texts) if "*old_rule*" in t)
    assert firing < resolved
    assert "1 resolved" in texts[0]


def test_channel_mentions_in_event_text_are_escaped() -> None:
    hostile = "<!channel> & <@U024BE7LH> <https://evil.example|click>"
    n = notification(
        item(summary=hostile, event_ids=("<!here>",)),
        vendor_name=hostile,
        contributions=(
            ContributionView(signal="<!everyone>", points=1, event_ids=("<x>",), detail=hostile),
        ),
    )
    payload = render_blocks(n)
    assert_within_slack_limits(payload)
    header, *rest = payload["blocks"]
    dumped = json.dumps({"text": payload["text"], "blocks": rest})
    assert "<!channel>" not in dumped
    assert "<@U024BE7LH>" not in dumped
    assert "&lt;!channel&gt; &amp; &lt;@U024BE7LH&gt;" in dumped
    # the header is plain_text, which Slack shows literally (no mentions, no links)
    assert header["text"]["type"] == "plain_text"
    assert "<!channel>" in header["text"]["text"]


def test_escape_and_truncate_never_split_an_entity() -> None:
    assert escape_mrkdwn("a<b>&c") == "a&lt;b&gt;&amp;c"
    escaped = escape_mrkdwn("<" * 100)
    for limit in range(1, 60):
        cut = truncate(escaped, limit)
        assert len(cut) <= limit
        assert not re.search(r"&[a-z]*$", cut.removesuffix("…"))


def test_large_notification_is_truncated_with_visible_notes() -> None:
    contributions = tuple(
        ContributionView(
            signal=f"signal_{i}",
            points=float(100 - i),
            event_ids=tuple(f"evt-{i}-{j}" for j in range(9)),
            detail="d" * 5000,
        )
        for i in range(60)
    )
    items = tuple(item(f"rule_{i}", "high", summary="s" * 5000) for i in range(70))
    n = notification(*items, vendor_name="V" * 300, contributions=contributions)
    payload = render_blocks(n)
    assert_within_slack_limits(payload)
    body = "\n".join(mrkdwn_texts(payload))
    assert "… 50 more contributions not shown" in body
    assert re.search(r"… \d+ more alert items not shown", body)
    assert "(summary truncated)" in body
    assert "(+4 more)" in body  # event ids beyond the first five
    assert payload["blocks"][0]["text"]["text"].endswith("…")
    assert "*Risk score* 72.4" in payload["blocks"][1]["text"]["text"]


def test_many_short_items_fill_exactly_fifty_blocks() -> None:
    n = notification(*(item(f"rule_{i}", "medium") for i in range(80)))
    payload = render_blocks(n)
    assert_within_slack_limits(payload)
    assert len(payload["blocks"]) == MAX_BLOCKS
    assert (
        payload["blocks"][-2]["text"]["text"] == "_… 36 more alert items not shown_"
    )  # 4 + 44 + note + context


def test_long_summary_keeps_event_ids_visible() -> None:
    n = notification(item(summary="<" * 5000, event_ids=("evt-keep-me",)))
    section = next(b["text"]["text"] for b in render_blocks(n)["blocks"] if "evt-keep-me" in str(b))
    assert len(section) <= MAX_SECTION_TEXT
    assert "(summary truncated)" in section


def test_readme_example_is_in_sync_with_the_renderer() -> None:
    path = REPO / "alerts" / "examples" / "render_example.py"
    spec = importlib.util.spec_from_file_location("render_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((REPO / "alerts" / "examples" / "slack_scale_ai.json").read_text())
    fresh = render_blocks(module.scale_ai_notification())
    assert committed == fresh, "run alerts/examples/render_example.py to refresh the example"
    assert_within_slack_limits(fresh)


# --- property: any notification renders within limits --------------------------------------

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("<>&!@`*_"),
    max_size=400,
) | st.sampled_from(["<!channel>", "&amp;", "a" * 6000, "&" * 3100, "<" * 2000])
ids = st.lists(st.text(min_size=1, max_size=120), max_size=12).map(tuple)
times = st.datetimes(timezones=st.just(UTC))
scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@st.composite
def alert_items(draw: st.DrawFn) -> AlertItem:
    starts = draw(times)
    resolved = draw(st.booleans())
    ends = starts + timedelta(seconds=draw(st.integers(0, 10**6))) if resolved else None
    return AlertItem(
        fingerprint=draw(st.text(min_size=1, max_size=20)),
        rule=draw(st.text(min_size=1, max_size=300)),
        severity=draw(st.sampled_from(SEVERITIES)),
        status="resolved" if resolved else "firing",
        summary=draw(texts),
        starts_at=starts,
        ends_at=ends,
        event_ids=draw(ids),
    )


@st.composite
def notifications(draw: st.DrawFn) -> Notification:
    items = tuple(draw(st.lists(alert_items(), min_size=1, max_size=70)))
    contributions = tuple(
        draw(
            st.lists(
                st.builds(
                    ContributionView,
                    signal=st.text(min_size=1, max_size=200),
                    points=scores,
                    event_ids=ids,
                    detail=texts,
                ),
                max_size=70,
            )
        )
    )
    return Notification(
        idempotency_key=draw(st.from_regex(r"[!-~]{1,200}", fullmatch=True)),
        group_key="g",
        vendor_id=draw(st.text(min_size=1, max_size=200)),
        vendor_name=draw(texts),
        status="firing" if any(a.status == "firing" for a in items) else "resolved",
        severity=max_severity([a.severity for a in items]),
        alerts=items,
        score=draw(scores),
        previous_score=draw(st.none() | scores),
        score_severity=draw(st.sampled_from(SEVERITIES)),
        previous_score_severity=draw(st.none() | st.sampled_from(SEVERITIES)),
        contributions=contributions,
        policy_version=draw(st.text(max_size=200)),
        as_of=draw(times),
    )


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notifications())
def test_any_notification_renders_within_slack_limits(n: Notification) -> None:
    payload = render_blocks(n)
    assert_within_slack_limits(payload)
    assert payload["blocks"][0]["type"] == "header"
    assert payload["blocks"][-1]["type"] == "context"


def test_render_is_deterministic() -> None:
    # pure: the same notification (e.g. replayed from the topic) renders byte-identically
    n = notification(as_of=T0)
    assert render_blocks(n) == render_blocks(Notification.from_json_bytes(n.to_json_bytes()))
