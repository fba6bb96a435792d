"""`vendorwatch score` and `vendorwatch schemas export`: the acceptance story of the foundation.

Most tests drive the typer app in-process (fast); two run the installed console script to prove
the entry point and the exit codes a shell sees.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from vendorwatch.streams.cli import schemas as _registers_schemas  # noqa: F401
from vendorwatch.streams.cli import score as _registers_score  # noqa: F401
from vendorwatch.streams.cli.common import app
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.eventfile import demo_scenario_path

RISK_SIGNALS = {
    "competitor_ownership",
    "key_person_to_competitor",
    "peer_client_pause",
    "security_incident",
    "workforce_growth",
    "demand_surge",
}


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def scores_json(*args: str) -> list[dict[str, Any]]:
    result = invoke("score", *args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_before_the_meta_deal_scale_ai_is_not_high() -> None:
    scores = {s["vendor_id"]: s for s in scores_json("--scenario", "demo", "--as-of", "2025-06-01")}
    assert scores["scale-ai"]["severity"] not in {"high", "critical"}
    assert scores["scale-ai"]["as_of"] == "2025-06-01T23:59:59.999999Z"


def test_at_the_end_of_2025_scale_ai_is_first_critical_and_explained() -> None:
    scores = scores_json("--scenario", "demo", "--as-of", "2025-12-31")
    scale = scores[0]
    assert scale["vendor_id"] == "scale-ai"
    assert scale["name"] == "Scale AI"
    assert scale["severity"] == "critical"
    assert scale["policy_version"] == load_policy().version
    contributions = scale["contributions"]
    largest = max(contributions, key=lambda c: c["points"])
    assert contributions[0] == largest
    assert largest["signal"] == "competitor_ownership"
    assert "demo-scale-ai-meta-stake" in largest["event_ids"]
    pauses = [c for c in contributions if c["signal"] == "peer_client_pause"]
    assert len(pauses) == 1
    assert pauses[0]["points"] > 0
    # Google runs the monitor: its own pause is not evidence about Scale AI.
    assert "demo-scale-ai-paused-by-google" not in pauses[0]["event_ids"]
    assert {"demo-scale-ai-paused-by-xai", "demo-scale-ai-paused-by-openai"} <= set(
        pauses[0]["event_ids"]
    )
    total = sum(c["points"] for c in contributions)
    assert total == pytest.approx(scale["score"], abs=0.01 * len(contributions))


def test_the_other_vendors_rank_below_each_for_a_stated_reason() -> None:
    scores = scores_json("--scenario", "demo", "--as-of", "2025-12-31")
    others = scores[1:]
    assert {s["vendor_id"] for s in others} == {
        "handshake",
        "appen",
        "prolific",
        "turing",
        "staffing-agency",
    }
    assert [s["score"] for s in scores] == sorted((s["score"] for s in scores), reverse=True)
    for vendor in others:
        assert vendor["score"] < scores[0]["score"]
        reasons = [c for c in vendor["contributions"] if c["signal"] in RISK_SIGNALS]
        assert reasons, f"{vendor['vendor_id']} has no contribution explaining its score"
        assert all(c["event_ids"] and c["detail"] for c in reasons)


def test_the_people_table_shows_the_ranking() -> None:
    result = invoke("score", "--scenario", "demo", "--as-of", "2025-12-31")
    assert result.exit_code == 0, result.output
    assert "scale-ai" in result.stdout
    assert "critical" in result.stdout
    assert result.stdout.index("scale-ai") < result.stdout.index("handshake")
    assert load_policy().version in result.stdout


def write_events(tmp_path: Path, extra_lines: list[bytes], at: int) -> Path:
    lines = demo_scenario_path().read_bytes().splitlines()
    lines[at:at] = extra_lines
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


BAD_EVENT = orjson.dumps(
    {
        "specversion": "1.0",
        "id": "bad-stake",
        "source": "test",
        "type": "ownership.stake_acquired",
        "time": "2025-06-12T14:00:00Z",
        "subject": "scale-ai",
        "data": {"investor": "Meta", "stake_pct": 149},
    }
)


def test_an_invalid_line_fails_with_its_number_and_field(tmp_path: Path) -> None:
    path = write_events(tmp_path, [BAD_EVENT], at=2)
    result = invoke("score", "--events", str(path))
    assert result.exit_code == 1
    assert "line 3: data.stake_pct: Input should be less than or equal to 100" in result.stderr
    assert "1 invalid line(s)" in result.stderr
    assert result.stdout == ""


def test_skip_invalid_scores_the_rest_and_counts_what_it_skipped(tmp_path: Path) -> None:
    path = write_events(tmp_path, [BAD_EVENT, b"{not json"], at=2)
    result = invoke(
        "score", "--events", str(path), "--skip-invalid", "--json", "--as-of", "2025-12-31"
    )
    assert result.exit_code == 0, result.output
    assert "skipped 2 invalid line(s)" in result.stderr
    assert "line 3: data.stake_pct" in result.stderr
    assert "line 4: invalid JSON" in result.stderr
    scores = orjson.loads(result.stdout)
    assert scores == scores_json("--scenario", "demo", "--as-of", "2025-12-31")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ([], "give exactly one of --scenario demo or --events FILE"),
        (["--scenario", "demo", "--events", "x.jsonl"], "give exactly one"),
        (["--scenario", "other"], "unknown scenario 'other'"),
        (["--scenario", "demo", "--as-of", "yesterday"], "is not an ISO-8601 date or time"),
        (["--scenario", "demo", "--as-of", "2025-13-01"], "is not an ISO-8601 date or time"),
        (["--scenario", "demo", "--frobnicate"], "No such option: --frobnicate"),
    ],
)
def test_misuse_exits_2_with_usage(args: list[str], complaint: str) -> None:
    result = invoke("score", *args)
    assert result.exit_code == 2
    assert "Usage: " in result.stderr
    assert complaint in " ".join(result.stderr.split())  # the error box wraps long lines


def test_an_invalid_policy_exits_2_naming_the_field(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "organisation: {name: Google}\nsignals:\n  key_person_to_competitor:\n"
        "    half_life_days: -3\n"
    )
    result = invoke("score", "--scenario", "demo", "--policy", str(policy))
    assert result.exit_code == 2
    assert f"invalid policy {policy}" in result.stderr
    assert "signals.key_person_to_competitor.half_life_days" in result.stderr


def test_another_policy_changes_the_version_on_every_score(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("organisation: {name: Google}\ncompetitors: [{name: Meta}]\n")
    scores = scores_json("--scenario", "demo", "--policy", str(policy))
    assert {s["policy_version"] for s in scores} == {load_policy(policy).version}
    assert load_policy(policy).version != load_policy().version


def test_schemas_export_writes_one_file_per_type(tmp_path: Path) -> None:
    result = invoke("schemas", "export", str(tmp_path / "schemas"))
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "schemas").glob("*.json"))
    assert len(files) == 18
    assert "ownership.stake_acquired.json" in {f.name for f in files}


def installed_script() -> str:
    script = Path(sys.executable).with_name("vendorwatch")
    found = str(script) if script.exists() else shutil.which("vendorwatch")
    if found is None:
        pytest.fail("the vendorwatch console script is not installed (pip install -e .)")
    return found


def test_the_installed_script_scores_the_demo() -> None:
    proc = subprocess.run(
        [installed_script(), "score", "--scenario", "demo", "--as-of", "2025-12-31", "--json"],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout)[0]["vendor_id"] == "scale-ai"


def test_the_installed_script_exits_2_on_misuse() -> None:
    proc = subprocess.run(
        [installed_script(), "score", "--as-of", "2025-12-31"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "Usage: vendorwatch score" in proc.stderr


def test_json_carries_the_alerts_firing_at_t_as_replay_does() -> None:
    """`score --json` items are `replay --json` items: the score record plus `alerts`."""
    scores = {s["vendor_id"]: s for s in scores_json("--scenario", "demo", "--as-of", "2025-06-20")}
    assert all(isinstance(s["alerts"], list) for s in scores.values())
    rules = {a["rule"] for a in scores["scale-ai"]["alerts"]}
    assert "key_person_to_competitor" in rules
    (move,) = [a for a in scores["scale-ai"]["alerts"] if a["rule"] == "key_person_to_competitor"]
    assert move["starts_at"] == "2025-06-12T15:00:00Z"
    assert move["event_ids"] == ["demo-scale-ai-wang-to-meta"]
    assert scores["appen"]["alerts"] == []


def test_the_people_table_lists_the_alerts_firing_at_t() -> None:
    june = invoke("score", "--scenario", "demo", "--as-of", "2025-06-20")
    assert june.exit_code == 0, june.output
    assert "alerts firing as of 2025-06-20" in june.stdout
    summary = "left Scale AI for Meta"  # the key-person alert's summary (scores say "joined")
    assert summary in " ".join(june.stdout.split())
    end = invoke("score", "--scenario", "demo", "--as-of", "2025-12-31")
    assert summary not in " ".join(end.stdout.split())  # ended 90 days after the move
    assert "competitor_stake" in end.stdout


def test_without_as_of_the_answer_is_as_of_now() -> None:
    before = datetime.now(UTC)
    scores = scores_json("--scenario", "demo")
    as_of = datetime.fromisoformat(scores[0]["as_of"])
    assert before <= as_of <= datetime.now(UTC)
