"""Feeds end to end: the seed articles through extraction and review into a real worker, which
pages on Scale AI with a Slack message quoting the article (a local HTTP server plays Slack).

Extraction and review run through the CLI as an analyst runs them; the accepted events go to
`vendorwatch.events.raw` like any others, after the vendor inventory (Scale AI's registration
and the data shared with it, from the demo scenario): nothing feed-specific in the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from tests.feeds.conftest import SEEDS
from vendorwatch.streams.cli import feeds as _registers_feeds  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .receivers import receiving
from .workers import demo_lines, produce, wait_until

pytestmark = pytest.mark.integration
runner = CliRunner()


def _cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_accepted_seed_candidates_page_on_scale_ai_quoting_the_article(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    candidates = tmp_path / "candidates.jsonl"
    _cli("feeds", "extract", str(SEEDS), "--vendors", str(SEEDS / "vendors.jsonl"),
         "--out", str(candidates), "--json")  # fmt: skip
    pending = json.loads(_cli("feeds", "review", str(candidates), "--json"))
    scale = [c for c in pending if c["subject"] == "scale-ai"]
    assert {c["type"] for c in scale} >= {"funding.round", "client.paused", "person.moved"}
    for c in scale:
        edits: list[str] = []
        if c["type"] == "funding.round":  # the reviewer reads the "levée de fonds" as a stake
            stake = {"investor": "Meta", "stake_pct": 49, "amount_usd": c["data"]["amount_usd"]}
            edits = ["--set", "type=ownership.stake_acquired", "--set", f"data={json.dumps(stake)}"]
        _cli("feeds", "review", str(candidates), "--accept", c["id"], "--reviewer", "analyst",
             *edits)  # fmt: skip
    accepted = (tmp_path / "candidates.accepted.jsonl").read_bytes().splitlines()
    assert len(accepted) == len(scale)

    inventory = [
        line
        for line in demo_lines()
        if orjson.loads(line)["subject"] == "scale-ai"
        and orjson.loads(line)["type"] in {"vendor.registered", "data.shared"}
    ]
    with receiving() as slack:
        worker = worker_factory(
            fresh_kafka.bootstrap_servers, env={"VENDORWATCH_SLACK_WEBHOOK_URL": slack.url}
        )
        worker.wait_ready()
        produce(fresh_kafka.bootstrap_servers, topics.RAW, [*inventory, *accepted])
        wait_until(lambda: slack.snapshot(), "a Slack message", timeout=60,
                   describe=worker.describe)  # fmt: skip
        (page, *_) = slack.snapshot()
        text = page.text()
        assert "`scale-ai`" in text
        assert "*competitor_stake*" in text
        assert "_sources:_" in text
        assert "14,3 milliards de dollars de la part de Meta" in text  # the article's sentence
        assert "HyperAI" in text  # its publisher, as the source's label

        # the API cites the sources too: the alerts' evidence and the events' provenance
        detail = worker.get("/vendors/scale-ai").json()
        stake_alert = next(a for a in detail["alerts"] if a["rule"] == "competitor_stake")
        (evidence,) = stake_alert["evidence"]
        assert "14,3 milliards de dollars" in evidence["quote"]
        assert evidence["url"].endswith("004_c5024c2e11454a9d.txt")
        cited = [e for e in detail["recent_events"] if "provenance" in e]
        assert cited
        assert all(e["provenance"]["reviewer"] == "analyst" for e in cited)
