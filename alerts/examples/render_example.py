"""Render the README's sample Slack message from the Scale AI case (FACTS.md).

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
from datetime import UTC, datetime
from pathlib import Path

from vendorwatch.alerts.notification import AlertItem, ContributionView, Notification
from vendorwatch.alerts.slack import render_blocks

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
JSON_OUT = HERE / "slack_scale_ai.json"
PNG_OUT = REPO / "docs" / "slack_message.png"


def _t(day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, tzinfo=UTC)


def scale_ai_notification() -> Notification:
    """Scale AI after Meta's stake, Alexandr Wang's move and three labs pausing work.

    Days within June 2025 are illustrative (the articles give the month); figures are real.
    """
    stake, wang = "evt-2025-06-12-meta-stake", "evt-2025-06-12-wang-joins-meta"
    pauses = (
        "evt-2025-06-13-google-pauses-scale",
        "evt-2025-06-14-openai-pauses-scale",
        "evt-2025-06-16-xai-pauses-scale",
    )
    return Notification(
        idempotency_key="ntf-vendor-scale-ai-20250616T1030Z-firing-4",
        group_key="vendor-scale-ai",
        vendor_id="vendor-scale-ai",
        vendor_name="Scale AI",
        status="firing",
        severity="critical",
        alerts=(
            AlertItem(
                fingerprint="5f0c9e2a7b31d4e8",
                rule="competitor_stake",
                severity="critical",
                status="firing",
                summary="Meta, a named competitor, took a 49% stake in Scale AI for $14.3B.",
                starts_at=_t(12),
                ends_at=None,
                event_ids=(stake,),
            ),
            AlertItem(
                fingerprint="a83d51c09e6f2b17",
                rule="key_person_to_competitor",
                severity="high",
                status="firing",
                summary=(
                    "Alexandr Wang, Scale AI's CEO, moved to Meta to lead Meta "
                    "Superintelligence Labs with Nat Friedman."
                ),
                starts_at=_t(12, 9, 5),
                ends_at=None,
                event_ids=(wang,),
            ),
            AlertItem(
                fingerprint="c2e7f4a19b085d36",
                rule="peer_pauses",
                severity="high",
                status="firing",
                summary=(
                    "3 peer clients paused work with Scale AI within 4 days: Google, OpenAI, xAI."
                ),
                starts_at=_t(16, 10, 30),
                ends_at=None,
                event_ids=pauses,
            ),
        ),
        score=78.6,
        previous_score=31.4,
        score_severity="critical",
        previous_score_severity="medium",
        contributions=(
            ContributionView(
                signal="competitor_ownership",
                points=38.0,
                event_ids=(stake,),
                detail="Meta holds 49% ($14.3B); named competitor",
            ),
            ContributionView(
                signal="key_person_moved",
                points=17.5,
                event_ids=(wang,),
                detail="CEO Alexandr Wang → Meta Superintelligence Labs",
            ),
            ContributionView(
                signal="peer_pauses",
                points=14.0,
                event_ids=pauses,
                detail="Google, OpenAI and xAI paused within 4 days",
            ),
            ContributionView(
                signal="contractor_workforce",
                points=6.1,
                event_ids=("evt-2025-05-20-scale-workforce",),
                detail="large remote contractor pool labels our restricted data",
            ),
            ContributionView(
                signal="data_at_stake",
                points=3.0,
                event_ids=("evt-2025-02-03-share-rlhf-prefs",),
                detail="restricted: 1.2M preference records shared",
            ),
        ),
        policy_version="policy-3f9c2a1e",
        as_of=_t(16, 10, 30),
    )


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
