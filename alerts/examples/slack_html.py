"""A small HTML imitation of how Slack draws a Block Kit message, for the README screenshot.

It supports what `render_blocks` emits (header, mrkdwn section, divider, context) and the subset
of mrkdwn we use (*bold*, _italic_, `code`, newlines). It is a picture aid, not a Slack client.
"""

from __future__ import annotations

import html
import re
from typing import Any

_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w])_([^_\n]+)_(?![\w])")


def mrkdwn_to_html(text: str) -> str:
    """Convert Slack mrkdwn (already entity-escaped) to safe HTML."""
    # Slack text arrives with &amp; &lt; &gt; escaped; undo that, then escape for HTML.
    plain = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    parts = _CODE.split(plain)
    out: list[str] = []
    for i, part in enumerate(parts):
        if i % 2:  # inside a code span: no further formatting
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        chunk = html.escape(part)
        chunk = _BOLD.sub(r"<b>\1</b>", chunk)
        chunk = _ITALIC.sub(r"<i>\1</i>", chunk)
        out.append(chunk)
    joined = "".join(out).replace("\n", "<br>")
    return joined.replace("  ", "&nbsp;&nbsp;")  # keep the indentation of "events:" lines


def _block(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "header":
        return f'<div class="header">{html.escape(block["text"]["text"])}</div>'
    if kind == "section":
        return f'<div class="section">{mrkdwn_to_html(block["text"]["text"])}</div>'
    if kind == "divider":
        return '<hr class="divider">'
    if kind == "context":
        items = " ".join(mrkdwn_to_html(e["text"]) for e in block["elements"])
        return f'<div class="context">{items}</div>'
    return ""


_STYLE = """
body { margin: 0; background: #fff; font: 14px/1.4 -apple-system, 'Segoe UI', 'DejaVu Sans',
  'Noto Color Emoji', sans-serif; color: #1d1c1d; }
.channel { padding: 10px 20px; border-bottom: 1px solid #ddd; font-weight: 900; font-size: 18px; }
.message { display: flex; padding: 12px 20px; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff;
  font-weight: 700; display: flex; align-items: center; justify-content: center;
  margin-right: 8px; flex: none; }
.name { font-weight: 900; }
.app { background: #e8e8e8; color: #616061; font-size: 10px; font-weight: 700; padding: 1px 3px;
  border-radius: 2px; margin: 0 4px; }
.time { color: #616061; font-size: 12px; }
.header { font-size: 18px; font-weight: 900; margin: 6px 0 4px; }
.section { margin: 2px 0 6px; }
.divider { border: none; border-top: 1px solid #ddd; margin: 6px 0; }
.context { color: #616061; font-size: 12px; }
code { color: #e01e5a; background: #f6f6f6; border: 1px solid #e1e1e1; border-radius: 3px;
  padding: 0 2px; font-size: 11px; font-family: Monaco, Menlo, 'DejaVu Sans Mono', monospace; }
"""


def render_html(payload: dict[str, Any], channel: str = "#vendor-risk") -> str:
    """A standalone HTML page showing the payload as one message in a channel."""
    blocks = "\n".join(_block(b) for b in payload.get("blocks", []))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>vendorwatch Slack preview</title>
<style>{_STYLE}</style></head>
<body>
<div class="channel">{html.escape(channel)}</div>
<div class="message">
  <div class="avatar">vw</div>
  <div class="body">
    <div><span class="name">vendorwatch</span><span class="app">APP</span>
      <span class="time">10:30 AM</span></div>
    {blocks}
  </div>
</div>
</body></html>
"""
