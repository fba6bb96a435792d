"""`vendorwatch feeds run` against a real local HTTP server standing in for an RSS publisher,
the SEC (index and archives) and a breach list, serving the recorded fixtures; auto-accepted
filings go to a real broker's raw topic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from tests.feeds.conftest import FIXTURES, SEEDS
from vendorwatch.streams.cli import feeds as _registers_feeds  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .workers import read_topic

pytestmark = pytest.mark.integration
runner = CliRunner()
UA = "vendorwatch tests security-team@example.org"


class _Fixtures(BaseHTTPRequestHandler):
    """Serves a fixture by the last segment of the path; remembers User-Agents; answers the
    first request for the feed with 429 and Retry-After: 1."""

    agents: ClassVar[list[str]] = []
    refused: ClassVar[set[str]] = set()

    def do_GET(self) -> None:
        self.agents.append(self.headers.get("User-Agent", ""))
        name = self.path.rsplit("/", 1)[-1]
        if name == "feed.xml" and name not in self.refused:
            self.refused.add(name)
            self.send_response(429)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        found = [p for p in FIXTURES.rglob(name) if p.is_file()]
        body = found[0].read_bytes() if found else b""
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Fixtures]]]:
    handler = type("Handler", (_Fixtures,), {"agents": [], "refused": set()})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def _config(tmp_path: Path, base: str) -> Path:
    config = {
        "user_agent": UA,
        "min_interval_seconds": 0,
        "auto_accept": ["filing"],
        "sources": [
            {"kind": "rss", "url": f"{base}/feed.xml"},
            {"kind": "edgar", "ciks": ["9999999"], "data_url": base,
             "archives_url": f"{base}/Archives"},
            {"kind": "breach", "url": f"{base}/breaches.json",
             "domains": {"turing": ["turing.example"]}},
        ],
    }  # fmt: skip
    path = tmp_path / "feeds.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run(config: Path, state: Path, *extra: str) -> str:
    result = runner.invoke(app, ["feeds", "run", "--config", str(config), "--state-dir",
                                 str(state), "--vendors", str(SEEDS / "vendors.jsonl"), "--once",
                                 *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return result.stdout


def test_one_poll_reads_every_source_and_a_second_reads_nothing_again(
    server: tuple[str, type[_Fixtures]], tmp_path: Path, fresh_kafka: EmbeddedBroker
) -> None:
    base, handler = server
    config, state = _config(tmp_path, base), tmp_path / "state"
    out = _run(config, state, "--send", "--bootstrap-servers", fresh_kafka.bootstrap_servers)
    lines = (state / "candidates.jsonl").read_bytes().splitlines()
    kinds = {orjson.loads(line)["kind"] for line in lines}
    assert kinds == {"news", "filing", "breach"}
    filings = [orjson.loads(line) for line in lines if orjson.loads(line)["kind"] == "filing"]
    assert len(filings) == 4
    assert "4 auto-accepted, 4 sent" in out
    # the news report of Meta's stake and the 13D are one fact: the filing stands, citing it
    (stake,) = [f for f in filings if f["type"] == "ownership.stake_acquired"]
    assert [c["source"] for c in stake["citations"]] == [
        "https://news.example.org/2025/06/13/scale-meta"
    ]

    # the filings reached the raw topic as events with their provenance; news did not
    records = read_topic(fresh_kafka.bootstrap_servers, topics.RAW, at_least=4)
    sent = [orjson.loads(r.value) for r in records]
    assert {e["id"] for e in sent} == {f["id"] for f in filings}
    assert all(e["provenance"]["url"].startswith(base + "/Archives/") for e in sent)
    # every request named the requester, and the feed's 429 was waited out and retried
    assert set(handler.agents) == {UA}
    assert handler.refused == {"feed.xml"}
    assert any(c["kind"] == "news" for c in map(orjson.loads, lines))

    again = _run(config, state)
    assert again.startswith("0 new candidate(s), 0 auto-accepted")
    assert len((state / "candidates.jsonl").read_bytes().splitlines()) == len(lines)


def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_text("user_agent: x\nsources: [{kind: gopher}]\n", encoding="utf-8")
    result = runner.invoke(app, ["feeds", "run", "--config", str(path), "--once"])
    assert result.exit_code == 2
    assert "sources.0" in result.stderr
    assert "Traceback" not in result.output
