"""`vendorwatch feeds extract` and `feeds review` as a user runs them (offline, no network)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
from typer.testing import CliRunner

from tests.feeds.conftest import SEEDS
from vendorwatch.schemas.codec import parse_event
from vendorwatch.streams.cli import feeds as _registers_feeds  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.eventfile import read_events

runner = CliRunner()
SEED_004 = SEEDS / "004_c5024c2e11454a9d.txt"
VENDORS = SEEDS / "vendors.jsonl"


def test_extract_json_on_seed_004() -> None:
    result = runner.invoke(app, ["feeds", "extract", str(SEED_004), "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    text = SEED_004.read_text(encoding="utf-8")
    kinds = {(c["type"], c["subject"], c["data"].get("client")) for c in found}
    assert ("funding.round", "scale-ai", None) in kinds
    assert {
        ("client.paused", "scale-ai", "Google"),
        ("client.paused", "scale-ai", "OpenAI"),
    } <= kinds
    for c in found:
        assert set(c) >= {"type", "subject", "time", "data", "provenance"}
        p = c["provenance"]
        assert set(p) >= {"source", "quote", "span", "extractor", "confidence", "reasons"}
        assert text[p["span"][0] : p["span"][1]] == p["quote"]
    (funding,) = [c for c in found if c["type"] == "funding.round"]
    assert funding["data"]["amount_usd"] == 14.3e9
    (demand,) = [c for c in found if c["subject"] == "handshake"]
    assert demand["data"]["factor"] == 3


def test_bad_documents_get_one_line_each_and_the_others_are_read(tmp_path: Path) -> None:
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "junk.html").write_text("<html><body><nav>x</nav></body></html>", "utf-8")
    shutil.copy(SEED_004, tmp_path / "seed.txt")
    result = runner.invoke(app, ["feeds", "extract", str(tmp_path), "--json"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 2
    assert any("binary file" in e for e in errors)
    assert any("no article text" in e for e in errors)
    assert len(json.loads(result.stdout)) >= 8


def _folder_with_sidecars(tmp_path: Path) -> Path:
    """The seed articles, each with its `.meta.json` sidecar, one of them in a subfolder."""
    folder = tmp_path / "articles"
    (folder / "older").mkdir(parents=True)
    for path in sorted(SEEDS.glob("00*")):
        where = folder / "older" if path.name.startswith("000_") else folder
        shutil.copy(path, where / path.name)
    assert len(list(folder.rglob("*.meta.json"))) == 5
    return folder


def _extract_json(*paths: str) -> list[dict]:
    result = runner.invoke(app, ["feeds", "extract", *paths, "--json"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no sidecar was read as a document
    return json.loads(result.stdout)


def test_a_folder_with_sidecars_reads_the_documents_with_their_metadata(tmp_path: Path) -> None:
    folder = _folder_with_sidecars(tmp_path)
    found = _extract_json(str(folder))
    documents = sorted(folder.rglob("*.txt"))
    assert {c["provenance"]["source"] for c in found} <= {str(p) for p in documents}
    assert found == _extract_json(*map(str, documents))
    # 004's sidecar says it was fetched on 2025-06-29 12:00: "il y a 9 jours" is the 20th
    (funding,) = [c for c in found if c["type"] == "funding.round"]
    assert funding["time"].startswith("2025-06-20T12:00:00")


def test_sidecars_named_by_a_shell_glob_or_a_quoted_one_are_skipped(tmp_path: Path) -> None:
    folder = _folder_with_sidecars(tmp_path)
    expected = _extract_json(str(folder))
    shell_expanded = sorted(str(p) for p in folder.iterdir() if p.is_file())  # `articles/*`
    assert any(p.endswith(".meta.json") for p in shell_expanded)
    assert _extract_json(*shell_expanded, str(folder / "older")) == expected
    assert _extract_json(str(folder / "**" / "*")) == expected  # quoted: extract expands it


def test_a_glob_that_matches_nothing_is_misuse(tmp_path: Path) -> None:
    result = runner.invoke(app, ["feeds", "extract", str(tmp_path / "*.txt")])
    assert result.exit_code == 2
    assert f"no such file or folder: {tmp_path / '*.txt'}" in result.stderr


def test_missing_path_is_misuse() -> None:
    result = runner.invoke(app, ["feeds", "extract", "/nonexistent/article.txt"])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def _candidates(tmp_path: Path) -> Path:
    out = tmp_path / "candidates.jsonl"
    result = runner.invoke(
        app, ["feeds", "extract", str(SEED_004), "--vendors", str(VENDORS), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _pending(path: Path) -> list[dict]:
    result = runner.invoke(app, ["feeds", "review", str(path), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_review_accept_reject_merge_and_replay(tmp_path: Path) -> None:
    path = _candidates(tmp_path)
    pending = _pending(path)
    by_kind = {(c["type"], c["data"].get("client")): c["id"] for c in pending}
    funding = by_kind[("funding.round", None)]

    # accept the funding as a stake, with edits: the event validates and carries provenance
    stake = json.dumps({"investor": "Meta", "stake_pct": 49, "amount_usd": 14.3e9})
    result = runner.invoke(app, ["feeds", "review", str(path), "--accept", funding[:14],
                                 "--reviewer", "ana", "--set", "type=ownership.stake_acquired",
                                 "--set", f"data={stake}"])  # fmt: skip
    assert result.exit_code == 0, result.output
    accepted = tmp_path / "candidates.accepted.jsonl"
    events, errors = read_events(accepted.open("rb"))
    assert not errors
    (event,) = events
    assert event.type == "ownership.stake_acquired"
    assert event.data.stake_pct == 49
    assert event.provenance is not None
    assert event.provenance.reviewer == "ana"
    assert "14,3 milliards de dollars" in event.provenance.quote

    # reject needs a reason; then it is recorded
    statement = next(c["id"] for c in pending if c["type"] == "vendor.statement")
    result = runner.invoke(app, ["feeds", "review", str(path), "--reject", statement,
                                 "--reviewer", "ana"])  # fmt: skip
    assert result.exit_code == 2
    reason = "words, not a remediation"
    result = runner.invoke(app, ["feeds", "review", str(path), "--reject", statement,
                                 "--reviewer", "ana", "--reason", reason])  # fmt: skip
    assert result.exit_code == 0, result.output

    # an edit that makes the event invalid is refused with one line, nothing recorded
    google = by_kind[("client.paused", "Google")]
    result = runner.invoke(app, ["feeds", "review", str(path), "--accept", google,
                                 "--reviewer", "ana", "--set", "client="])  # fmt: skip
    assert result.exit_code == 1
    assert "client" in result.stderr

    left = _pending(path)
    assert {c["id"] for c in left} == {c["id"] for c in pending} - {funding, statement}

    # the log is an audit trail that replays: the accepted events come back from it alone
    from vendorwatch.feeds.review import accepted_events, read_log

    log = read_log(tmp_path / "candidates.review.jsonl")
    assert [d.type for d in log] == ["feeds.candidate.accepted", "feeds.candidate.rejected"]
    assert [parse_event(line) for line in accepted_events(log)] == [event]
    assert orjson.loads(accepted.read_bytes()) == orjson.loads(accepted_events(log)[0])


def test_merge_needs_the_same_fact(tmp_path: Path) -> None:
    path = _candidates(tmp_path)
    pending = _pending(path)
    pauses = [c["id"] for c in pending if c["type"] == "client.paused"]
    statement = next(c["id"] for c in pending if c["type"] == "vendor.statement")
    result = runner.invoke(app, ["feeds", "review", str(path), "--merge", pauses[0], "--into",
                                 statement, "--reviewer", "ana"])  # fmt: skip
    assert result.exit_code == 1
    assert "cannot merge" in result.stderr
    result = runner.invoke(app, ["feeds", "review", str(path), "--merge", pauses[0], "--into",
                                 pauses[1], "--reviewer", "ana"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert pauses[0] not in {c["id"] for c in _pending(path)}


def test_news_is_not_auto_accepted_by_filing_kind(tmp_path: Path) -> None:
    path = _candidates(tmp_path)
    result = runner.invoke(app, ["feeds", "review", str(path), "--auto-accept", "filing"])
    assert result.exit_code == 0, result.output
    assert len(_pending(path)) == 9
    assert not (tmp_path / "candidates.accepted.jsonl").exists()
