"""Prometheus and Alertmanager configuration, checked by their own tools (promtool, amtool).

``promtool test rules`` runs the unit tests in deploy/prometheus/tests/, which feed series into the
real rule engine and compare the alerts that fire, labels and rendered annotations included.
The remaining tests tie the rules to the rest of the repository: every metric a rule reads is one
the worker defines, and every alert has a unit test and a route.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from tests.conftest import require_tool  # tests/conftest.py: skip locally, fail in CI
from tests.test_docs import anchors
from vendorwatch.alerts import metrics as delivery
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker import metrics
from vendorwatch.streams.worker.metrics import LATENCY_BUCKETS

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "vendorwatch.rules.yml"
SITE_RULES = PROMETHEUS_DIR / "rules" / "site.rules.yml"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
OPERATIONS = REPO / "docs" / "operations.md"
LINKS_QUERY = 'with query "vendorwatch:links:info"'

ALERTMANAGER_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"

DELIVERY_METRICS = {
    "vendorwatch_notifications_total",
    "vendorwatch_delivery_latency_seconds",
    "vendorwatch_delivery_retries_total",
    "vendorwatch_delivery_rate_limited_total",
}
"""Defined in alerts/metrics.py, next to the sinks."""


def _run(*args: str | Path) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _rules(*paths: Path) -> list[dict[str, Any]]:
    """The rules of ``paths`` (default: every rule file Prometheus loads)."""
    rules = []
    for path in paths or RULE_FILES:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        rules += [rule for group in document["groups"] for rule in group["rules"]]
    return rules


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def test_promtool_check_config() -> None:
    promtool = require_tool("promtool")
    output = _run(promtool, "check", "config", CONFIG)
    assert "SUCCESS" in output
    assert f"{len(RULE_FILES)} rule files found" in output


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    output = _run(promtool, "check", "rules", *RULE_FILES)
    for path in RULE_FILES:
        assert f"SUCCESS: {len(_rules(path))} rules found" in output, path


def test_promtool_test_rules() -> None:
    promtool = require_tool("promtool")
    assert RULE_TESTS, "no rule unit tests found"
    output = _run(promtool, "test", "rules", *RULE_TESTS)
    assert output.count("SUCCESS") == len(RULE_TESTS), output


def test_amtool_check_config() -> None:
    amtool = require_tool("amtool")
    output = _run(amtool, "check-config", ALERTMANAGER_CONFIG)
    assert "SUCCESS" in output


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=VendorwatchConsumerStuck", "component=pipeline"], "pipeline"),
        (["alertname=VendorwatchWorkersMissing", "component=pipeline"], "pipeline"),
        (["alertname=competitor_stake", "vendor=scale-ai", "severity=critical"], "vendor-risk"),
    ],
)
def test_alertmanager_routes(labels: list[str], receiver: str) -> None:
    amtool = require_tool("amtool")
    _run(
        amtool,
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}",
        *labels,
    )


def test_every_alert_has_a_unit_test_and_the_labels_routing_needs() -> None:
    tested = "\n".join(path.read_text(encoding="utf-8") for path in RULE_TESTS)
    for alert in _alerts():
        name = alert["alert"]
        assert f"alertname: {name}\n" in tested, f"{name} has no promtool unit test"
        assert alert["labels"]["severity"] in {"warning", "critical"}, name
        assert alert["labels"]["component"] == "pipeline", name
        assert {"summary", "description", "dashboard", "runbook_url"} <= set(
            alert["annotations"]
        ), name


def test_alert_links_are_built_from_the_site_bases() -> None:
    """The absolute bases live in one place, site.rules.yml; each alert only appends its part."""
    for alert in _alerts():
        name, annotations = alert["alert"], alert["annotations"]
        assert LINKS_QUERY in annotations["dashboard"], name
        assert ".Labels.dashboards_url" in annotations["dashboard"], name
        assert annotations["dashboard"].endswith("{{ end }}/d/vendorwatch-pipeline"), name
        assert LINKS_QUERY in annotations["runbook_url"], name
        assert ".Labels.runbooks_url" in annotations["runbook_url"], name
        assert annotations["runbook_url"].endswith("{{ end }}#" + name.lower()), name


def test_every_runbook_url_names_a_section_of_operations_md() -> None:
    sections = anchors(OPERATIONS)
    for alert in _alerts():
        fragment = alert["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert fragment in sections, f"{alert['alert']}: docs/operations.md has no #{fragment}"


def test_the_site_rules_hold_absolute_link_bases_and_an_expected_replica_count() -> None:
    rules = {rule["record"]: rule for rule in _rules(SITE_RULES)}
    links = rules["vendorwatch:links:info"]
    assert links["expr"] == "vector(1)"
    for label in ("dashboards_url", "runbooks_url"):
        assert re.fullmatch(r"https?://[^\s#]+[^/#\s]", links["labels"][label]), label
    assert links["labels"]["runbooks_url"].endswith("docs/operations.md")
    expected = rules["job:vendorwatch_worker_replicas:expected"]
    assert re.fullmatch(r"vector\([1-9][0-9]*\)", expected["expr"])
    assert expected["labels"] == {"job": "vendorwatch-worker"}


def test_every_site_file_of_the_unit_tests_defines_what_site_rules_does() -> None:
    """A test site may change the values, not which series exist, or a test would miss a rule."""
    deployed = {(r["record"], tuple(sorted(r["labels"]))) for r in _rules(SITE_RULES)}
    sites = sorted((PROMETHEUS_DIR / "tests" / "sites").glob("*.yml"))
    assert sites
    for site in sites:
        assert {(r["record"], tuple(sorted(r["labels"]))) for r in _rules(site)} == deployed


def _exposed_names(module: object) -> set[str]:
    """Names under which a module's metrics are exposed (counters with their _total)."""
    names = set()
    for value in vars(module).values():
        if isinstance(value, MetricWrapperBase):
            (family,) = value.describe()
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def _referenced_metrics(expr: str) -> set[str]:
    """Raw vendorwatch metric names an expression reads (recording-rule names have colons)."""
    names = set()
    for match in re.finditer(r"(?<![:\w])(vendorwatch_[a-z_]+)\b(?!:)", expr):
        name = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        names.add(name)
    return names


def test_rules_read_only_metrics_that_exist() -> None:
    known = _exposed_names(metrics) | DELIVERY_METRICS
    for rule in _rules():
        unknown = _referenced_metrics(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}"


def test_delivery_metrics_are_what_the_rules_expect() -> None:
    """alerts/metrics.py owns these; the rules rely on their labels and the 'failed' outcome."""
    exposed = {}
    for metric in (
        delivery.NOTIFICATIONS,
        delivery.DELIVERY_LATENCY,
        delivery.RETRIES,
        delivery.RATE_LIMITED,
    ):
        (family,) = metric.describe()
        suffix = "_total" if family.type == "counter" else ""
        exposed[family.name + suffix] = tuple(metric._labelnames)
    assert exposed == {
        "vendorwatch_notifications_total": ("sink", "outcome"),
        "vendorwatch_delivery_latency_seconds": ("sink",),
        "vendorwatch_delivery_retries_total": ("sink",),
        "vendorwatch_delivery_rate_limited_total": ("sink",),
    }
    assert "failed" in delivery.OUTCOMES


def test_dlq_alerts_name_the_real_dlq_topics() -> None:
    exprs = {alert["alert"]: alert["expr"] for alert in _alerts()}
    assert f'topic="{topics.EVENTS_DLQ}"' in exprs["VendorwatchEventsDLQGrowing"]
    assert f'topic="{topics.ALERTS_DLQ}"' in exprs["VendorwatchAlertsDLQGrowing"]


def test_score_latency_alert_threshold_is_a_bucket_boundary() -> None:
    """histogram_quantile interpolates inside a bucket; a threshold on a bound is exact."""
    (alert,) = [a for a in _alerts() if a["alert"] == "VendorwatchScorePublishSlow"]
    threshold = float(alert["expr"].rsplit(">", 1)[1])
    assert threshold in LATENCY_BUCKETS


def test_workers_are_discovered_by_service_name_on_the_metrics_port() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "vendorwatch-worker"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"]
    assert sd["type"] == "A"
    assert sd["port"] == 6066
    # Rules key off this job name (`up{job="vendorwatch-worker"}`).
    assert 'job="vendorwatch-worker"' in RULES.read_text(encoding="utf-8")
