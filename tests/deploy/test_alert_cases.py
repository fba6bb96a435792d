"""The pipeline alert cases that pin a gap, run against a rule file that has the gap.

Some promtool cases in deploy/prometheus/tests/ describe situations in which a plausible rule set
stays silent: a partition with lag that never committed (no commit-time series at all), a sink
that retries for minutes without a single final outcome, a replica that stops and so drops out of
DNS service discovery. tests/deploy/fixtures/blind.rules.yml is such a rule set. For each case two
things must hold, or the case would not be worth keeping:

* the case as written fails on the blind rules (promtool exits non-zero), and
* the same input with "nothing fires" expected for the alerts that should have caught it passes
  on the blind rules (and fails on the deployed ones), so the failure is the missing alert and
  not, say, an annotation's wording.
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool

REPO = Path(__file__).resolve().parents[2]
RULE_TESTS = REPO / "deploy" / "prometheus" / "tests"
SITE_RULES = REPO / "deploy" / "prometheus" / "rules" / "site.rules.yml"
DEPLOYED_RULES = REPO / "deploy" / "prometheus" / "rules" / "vendorwatch.rules.yml"
BLIND_RULES = Path(__file__).resolve().parent / "fixtures" / "blind.rules.yml"

CASES: dict[tuple[str, str], tuple[str, ...]] = {
    (
        "pipeline_alerts_test.yml",
        "a partition stuck from its assignment, which has never committed",
    ): (
        "VendorwatchConsumerStuck",
        "VendorwatchConsumerLagGrowing",
    ),
    ("pipeline_alerts_test.yml", "a sink retrying for minutes without one success"): (
        "VendorwatchDeliveryFailing",
        "VendorwatchAlertsDLQGrowing",
    ),
    (
        "pipeline_alerts_test.yml",
        "one notification retried every 5 minutes under Retry-After, never delivered",
    ): (
        "VendorwatchDeliveryFailing",
        "VendorwatchAlertsDLQGrowing",
    ),
    ("workers_missing_test.yml", "a replica that stops drops out of discovery"): (
        "VendorwatchWorkersMissing",
        "VendorwatchWorkerDown",
        "VendorwatchNoWorkers",
    ),
}
"""(test file, case name) -> the alerts that should catch the situation."""


def _case(file_name: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The test file (without its cases) and the one case called ``name``."""
    document = yaml.safe_load((RULE_TESTS / file_name).read_text(encoding="utf-8"))
    (case,) = [test for test in document["tests"] if test["name"] == name]
    return document, case


def _site_rules(document: dict[str, Any]) -> list[str]:
    """The case's own site file (expected replicas, link bases), resolved to an absolute path."""
    site = [f for f in document["rule_files"] if Path(f).name != "vendorwatch.rules.yml"]
    return [str((RULE_TESTS / f).resolve()) for f in site] or [str(SITE_RULES)]


def _promtool(
    tmp_path: Path,
    document: dict[str, Any],
    case: dict[str, Any],
    rules: Path = BLIND_RULES,
) -> tuple[int, str]:
    test_file = tmp_path / "case_test.yml"
    unit = {
        "rule_files": [str(rules), *_site_rules(document)],
        "evaluation_interval": document.get("evaluation_interval", "1m"),
        "tests": [case],
    }
    test_file.write_text(yaml.safe_dump(unit, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [require_tool("promtool"), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def _nothing_fires(case: dict[str, Any], alertnames: tuple[str, ...]) -> dict[str, Any]:
    """The case's input, expecting none of ``alertnames`` wherever the case expects an alert."""
    quiet = copy.deepcopy(case)
    firing_times = sorted({t["eval_time"] for t in case["alert_rule_test"] if t["exp_alerts"]})
    assert firing_times, f"{case['name']} expects no alert at all"
    quiet["alert_rule_test"] = [
        {"eval_time": when, "alertname": name, "exp_alerts": []}
        for when in firing_times
        for name in alertnames
    ]
    return quiet


@pytest.mark.parametrize(("file_name", "name"), list(CASES), ids=[name for _, name in CASES])
def test_the_case_fails_on_rules_that_cannot_fire(
    tmp_path: Path, file_name: str, name: str
) -> None:
    document, case = _case(file_name, name)
    code, output = _promtool(tmp_path, document, case)
    assert code != 0, f"{name!r} passes on the blind rules:\n{output}"
    assert "FAILED" in output, output


@pytest.mark.parametrize(("file_name", "name"), list(CASES), ids=[name for _, name in CASES])
def test_on_those_rules_nothing_fires_in_the_case(
    tmp_path: Path, file_name: str, name: str
) -> None:
    document, case = _case(file_name, name)
    quiet = _nothing_fires(case, CASES[file_name, name])
    code, output = _promtool(tmp_path, document, quiet)
    assert code == 0, output
    # ...while the deployed rules do fire there, so the expectation of silence can fail.
    code, output = _promtool(tmp_path, document, quiet, rules=DEPLOYED_RULES)
    assert code != 0, output
