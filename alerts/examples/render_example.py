"""Render the README's sample Slack message from the Scale AI case.

    .venv/bin/python alerts/examples/render_example.py            # JSON payload only
    .venv/bin/python alerts/examples/render_example.py --png      # also docs/slack_message.png

The payload is produced by `render_blocks`, so the example in the docs is whatever the code
sends today; rerun this after changing the renderer. The PNG is a screenshot of an HTML
imitation of Slack's look (see slack_html.py), taken with headless Chromium when available.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.notifier import Notifier
from vendorwatch.alerts.silences import SilenceBook
from vendorwatch.alerts.sinks.slack import render_blocks
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.core.processor import Processor
from vendorwatch.streams.eventfile import demo_scenario_path, read_events

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
JSON_OUT = HERE / "slack_scale_ai.json"
PNG_OUT = REPO / "docs" / "slack_message.png"


def scale_ai_notification() -> Notification:
    """The notification the live demo sends for Scale AI, built by the real code path.

    The bundled scenario goes through the same `Processor` (fold, score, alert rules) as the
    score agent and the same `Notifier` as the notify agent; the demo loads the scenario in one
    burst, so all of Scale AI's transitions fall in one group wait, as here.
    """
    policy = load_policy()
    with demo_scenario_path().open("rb") as stream:
        events, _ = read_events(stream)
    processor = Processor(policy)
    transitions = [
        t.to_record() for event in events for t in processor.process(0, event).transitions
    ]
    notifier = Notifier(policy, SilenceBook())
    scale = [r for r in transitions if r["vendor_id"] == "scale-ai"]
    # "now" is the last transition's event time, so the example is the same on every run
    now = datetime.fromisoformat(scale[-1]["as_of"].replace("Z", "+00:00")).timestamp()
    notification = notifier.on_batch("scale-ai", scale, now=now)
    assert notification is not None
    return notification


def write_json(path: Path = JSON_OUT) -> dict:
    payload = render_blocks(scale_ai_notification())
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return payload


def screenshot(payload: dict, out: Path = PNG_OUT) -> bool:
    """Screenshot the HTML imitation with headless Chromium; False if Chromium is missing."""
    sys.path.insert(0, str(HERE))
    from slack_html import render_html  # a sibling script, not part of the package

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "slack.html"
        page.write_text(render_html(payload), encoding="utf-8")
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={tmp}/profile",
                f"--screenshot={out}",
                "--window-size=900,700",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", action="store_true", help="also write docs/slack_message.png")
    args = parser.parse_args()
    payload = write_json()
    print(f"wrote {JSON_OUT.relative_to(REPO)} ({len(payload['blocks'])} blocks)")
    if args.png:
        if screenshot(payload):
            print(f"wrote {PNG_OUT.relative_to(REPO)}")
        else:
            print("chromium not found; skipped the screenshot", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
