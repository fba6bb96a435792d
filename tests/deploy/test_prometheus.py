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
from vendorwatch.alerts import metrics as delivery
from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker import metrics
from vendorwatch.streams.worker.metrics import LATENCY_BUCKETS

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES = PROMETHEUS_DIR / "rules" / "vendorwatch.rules.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))
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


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def test_promtool_check_config() -> None:
    promtool = require_tool("promtool")
    output = _run(promtool, "check", "config", CONFIG)
    assert "SUCCESS" in output
    assert "1 rule files found" in output


def test_promtool_check_rules() -> None:
    promtool = require_tool("promtool")
    output = _run(promtool, "check", "rules", RULES)
    assert f"SUCCESS: {len(_rules())} rules found" in output


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
        assert {"summary", "description", "dashboard"} <= set(alert["annotations"]), name
        assert alert["annotations"]["dashboard"] == "/d/vendorwatch-pipeline", name


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
