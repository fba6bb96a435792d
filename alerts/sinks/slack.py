"""Slack incoming-webhook delivery: a Block Kit renderer and the sink that posts it.

`render_blocks` is pure so it can be unit- and property-tested, and so the README example is
produced by the same code. It never fails on long or hostile input: it truncates to Slack's
limits with a visible note, and escapes mrkdwn control characters in every value that comes from
events, so a vendor called `<!channel>` pings nobody.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from vendorwatch.alerts.notification import (
    AlertItem,
    ContributionView,
    EvidenceView,
    Notification,
    Severity,
    severity_rank,
)
from vendorwatch.alerts.redact import install_library_log_filters, register_secret, reveal
from vendorwatch.alerts.sink import DeliveryResult, check_sink_name, error_code, post

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
MAX_CONTEXT_TEXT = 2000  # kept well under Slack's limit for a context element
MAX_MESSAGE_TEXT = 30_000  # our budget for all text: Slack cuts messages near 40,000 characters
MAX_SUMMARY = 1500  # per alert item; longer summaries end with "(summary truncated)"
TOP_CONTRIBUTIONS = 10
MAX_EVENT_IDS = 5
MAX_SOURCES = 3  # quoted sources per alert item
MAX_QUOTE = 300

SEVERITY_EMOJI: dict[Severity, str] = {
    "info": "ℹ️",
    "low": "🔵",
    "medium": "🟡",
    "high": "🟠",
    "critical": "🔴",
}
RESOLVED_EMOJI = "✅"

Block = dict[str, Any]
_NOTE_ROOM = 80  # characters kept free in a section for a "… N more not shown" note
_KEY_SALT = os.urandom(16)  # rate-limit keys are per-process hashes, not URL fingerprints


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack treats as control sequences in mrkdwn.

    `<!channel>`, `<@U123>` and `<http://x|label>` only work with a literal `<`; escaping `&`
    first keeps already-escaped-looking input literal too.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> str:
    """Flatten untrusted text for plain_text fields: no newlines or control characters."""
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def _code(text: str) -> str:
    """An escaped inline-code span; backticks inside would end the span early."""
    return "`" + escape_mrkdwn(text.replace("`", "'").replace("\n", " ")) + "`"


def truncate(text: str, limit: int, note: str = "…") -> str:
    """Cut escaped mrkdwn to `limit` characters, ending with `note`, never inside an entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(note), 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]  # drop a half-cut &amp; / &lt; / &gt;
    return cut + note


def _utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text or " "}}


def _event_list(event_ids: tuple[str, ...]) -> str:
    shown = ", ".join(_code(e[:80]) for e in event_ids[:MAX_EVENT_IDS])
    hidden = len(event_ids) - MAX_EVENT_IDS
    return shown + (f" (+{hidden} more)" if hidden > 0 else "")


def _header(n: Notification) -> Block:
    vendor = _plain(n.vendor_name) or _plain(n.vendor_id)
    if n.status == "resolved":
        prefix = f"{RESOLVED_EMOJI} RESOLVED · "
    else:
        prefix = f"{SEVERITY_EMOJI[n.severity]} {n.severity.upper()} · "
    text = prefix + vendor
    if len(text) > MAX_HEADER_TEXT:
        text = text[: MAX_HEADER_TEXT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def score_line(n: Notification) -> str:
    """e.g. `72.4 (+41.0 from 31.4) · high → critical`; shared with the text fallback."""
    if n.previous_score is None:
        change = f"{n.score:.1f} (first score)"
    else:
        change = f"{n.score:.1f} ({n.score - n.previous_score:+.1f} from {n.previous_score:.1f})"
    prev = n.previous_score_severity
    severity = (
        f"{prev} → {n.score_severity}" if prev and prev != n.score_severity else n.score_severity
    )
    return f"{change} · {severity}"


def _status_section(n: Notification) -> Block:
    # names are cut early so that the score line below always survives
    vendor = truncate(escape_mrkdwn(n.vendor_name), 300)
    vendor_id = _code(n.vendor_id[:100])
    firing, resolved = len(n.firing), len(n.resolved)
    if n.status == "resolved":
        what = f"{RESOLVED_EMOJI} *All alerts resolved* for *{vendor}* {vendor_id}"
    else:
        what = f"*{firing} alert{'s' if firing != 1 else ''} firing* for *{vendor}* {vendor_id}"
        if resolved:
            what += f" · {resolved} resolved"
    text = f"{what}\n*Risk score* {score_line(n)}"
    return _section(truncate(text, MAX_SECTION_TEXT))


def _contribution_line(c: ContributionView) -> str:
    """`• *signal* +38.0 — detail` and its event ids; the detail is cut first, not the ids."""
    line = f"• *{escape_mrkdwn(c.signal[:100])}* {c.points:+.1f}"
    if c.detail:
        line += " — " + truncate(escape_mrkdwn(c.detail), 300)
    if c.event_ids:
        line += f"\n    events: {_event_list(c.event_ids)}"
    return line


def _pack(lines: list[str], title: str, max_sections: int) -> tuple[list[str], int]:
    """Pack lines into at most `max_sections` texts, leaving room for a note in each.

    Returns the texts and how many lines made it in.
    """
    limit = MAX_SECTION_TEXT - _NOTE_ROOM
    texts: list[str] = []
    current, packed = title, 0
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current, packed = candidate, packed + 1
            continue
        if len(texts) + 1 >= max_sections:
            break
        texts.append(current)
        current, packed = line, packed + 1
    texts.append(current)
    return texts, packed


def _contribution_sections(n: Notification, budget: int) -> list[Block]:
    if not n.contributions or budget <= 0:
        return []
    lines = [_contribution_line(c) for c in n.contributions[:TOP_CONTRIBUTIONS]]
    texts, packed = _pack(lines, "*Top contributions*", budget)
    hidden = len(n.contributions) - packed
    if hidden > 0:
        texts[-1] += f"\n_… {hidden} more contribution{'s' if hidden != 1 else ''} not shown_"
    return [_section(t) for t in texts]


def _ordered_items(n: Notification) -> list[AlertItem]:
    """Firing first, most severe first; resolved after; input order otherwise."""
    return sorted(n.alerts, key=lambda a: (a.status != "firing", -severity_rank(a.severity)))


_SAFE_URL = re.compile(r"^https?://[^\s<>|]{1,1000}$")


def _source_line(e: EvidenceView) -> str:
    """`> “quote” — <url|publisher>`: the sentence an event was read from, and a link to it
    (a link only for a plain http(s) URL; anything else is shown as code)."""
    quote = truncate(escape_mrkdwn(_plain(e.quote)), MAX_QUOTE)
    label = escape_mrkdwn(_plain(e.publisher or "source"))[:80].replace("|", "/") or "source"
    link = f"<{e.url}|{label}>" if _SAFE_URL.match(e.url) else f"{label} {_code(e.url[:200])}"
    return f"> “{quote}” — {link}"


def _sources(item: AlertItem) -> str:
    if not item.evidence:
        return ""
    lines = [_source_line(e) for e in item.evidence[:MAX_SOURCES]]
    hidden = len(item.evidence) - MAX_SOURCES
    if hidden > 0:
        lines.append(f"_… {hidden} more source{'s' if hidden != 1 else ''}_")
    return "\n_sources:_\n" + "\n".join(lines)


def _alert_section(item: AlertItem) -> Block:
    rule = escape_mrkdwn(item.rule[:200])
    if item.status == "firing":
        head = f"🔥 *{rule}* · {item.severity} · firing since {_utc(item.starts_at)}"
    else:
        ended = _utc(item.ends_at) if item.ends_at else "?"
        head = f"{RESOLVED_EMOJI} *{rule}* resolved at {ended} (was {item.severity})"
    head = truncate(head, 500)
    tail = f"\n_events:_ {_event_list(item.event_ids)}" if item.event_ids else ""
    tail += _sources(item)
    room = min(MAX_SUMMARY, MAX_SECTION_TEXT - len(head) - len(tail) - 1)
    summary = truncate(escape_mrkdwn(item.summary), room, "… _(summary truncated)_")
    return _section(f"{head}\n{summary}{tail}")


def _context(n: Notification) -> Block:
    policy = _code(n.policy_version[:64])
    ref = _code(n.idempotency_key[:100])
    text = f"policy {policy} · as of {_utc(n.as_of)} · ref {ref}"
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_CONTEXT_TEXT)}],
    }


def fallback_text(n: Notification) -> str:
    """The notification text Slack shows in push notifications and old clients."""
    vendor = escape_mrkdwn(n.vendor_name)
    if n.status == "resolved":
        text = f"{RESOLVED_EMOJI} Resolved: {vendor} — score {score_line(n)}"
    else:
        rules = ", ".join(escape_mrkdwn(a.rule) for a in n.firing)
        text = f"[{n.severity.upper()}] {vendor}: {rules} — score {score_line(n)}"
    return truncate(text, MAX_FALLBACK_TEXT)


def render_blocks(n: Notification) -> dict[str, Any]:
    """Render a notification as a Slack incoming-webhook payload within Slack's limits.

    Layout: header (severity or RESOLVED + vendor), status and score change, top contributions
    with their event ids, one section per alert item (firing first), a context line with the
    policy version, event time and idempotency key. Whatever does not fit is replaced by a
    note saying how much was left out.
    """
    head = [_header(n), _status_section(n), *_contribution_sections(n, budget=3)]
    head.append({"type": "divider"})
    context = _context(n)
    items = _ordered_items(n)
    room = MAX_BLOCKS - len(head) - 1  # blocks left for items (and a note); one for context
    used = sum(_text_len(b) for b in (*head, context))
    alert_blocks: list[Block] = []
    for index, alert in enumerate(items):
        more_after = index < len(items) - 1
        if len(alert_blocks) + 1 > room - more_after:  # keep a slot for the note
            break
        block = _alert_section(alert)
        if used + _text_len(block) > MAX_MESSAGE_TEXT - _NOTE_ROOM:
            break
        alert_blocks.append(block)
        used += _text_len(block)
    hidden = len(items) - len(alert_blocks)
    if hidden:
        alert_blocks.append(_section(f"_… {hidden} more alert items not shown_"))
    blocks = [*head, *alert_blocks, context]
    return {
        "text": fallback_text(n),
        "blocks": blocks,
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _text_len(block: Block) -> int:
    """Characters of text in a block (header, section or context)."""
    if "text" in block:
        return len(block["text"]["text"])
    return sum(len(e["text"]) for e in block.get("elements", ()))


def _slack_detail(response: httpx.Response) -> str | None:
    """Slack answers errors with a bare code such as `invalid_payload` or `channel_not_found`."""
    if 200 <= response.status_code < 300:
        return None
    return error_code(response.text[:200])


class SlackSink:
    """Posts notifications to one Slack incoming webhook (at most one message per second)."""

    def __init__(
        self,
        webhook_url: str | SecretStr,
        client: httpx.AsyncClient,
        *,
        name: str = "slack",
        timeout_s: float = 10.0,
        min_interval_s: float = 1.0,
    ) -> None:
        self._url = SecretStr(reveal(webhook_url))
        register_secret(self._url)
        install_library_log_filters()
        self.name = check_sink_name(name)
        self._client = client
        self._timeout_s = timeout_s
        self.min_interval_s = min_interval_s
        # one limiter slot per webhook URL; a salted hash so the key says nothing about the URL
        digest = hashlib.blake2b(
            self._url.get_secret_value().encode(), key=_KEY_SALT, digest_size=8
        ).hexdigest()
        self.rate_limit_key: str | None = f"slack:{digest}"

    def __repr__(self) -> str:
        return f"SlackSink(name={self.name!r}, webhook_url=SecretStr('**********'))"

    async def send(self, n: Notification) -> DeliveryResult:
        """One attempt: render and POST; Slack answers `ok` or an error code."""
        return await post(
            self._client,
            self._url.get_secret_value(),
            content=orjson.dumps(render_blocks(n)),
            headers={"Content-Type": "application/json"},
            timeout_s=self._timeout_s,
            label="slack",
            detail_from_body=_slack_detail,
        )
