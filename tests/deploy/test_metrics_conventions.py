"""The worker's metric names are a contract with the rules and dashboards; promtool lints them.

``promtool check metrics`` is the linter Prometheus ships (naming, units, ``_total`` suffixes, help
texts). It reads the text exposition format, so the test exposes the real default registry after
giving every metric a sample: a labelled metric without a child exposes no sample to lint.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from tests.conftest import require_tool  # tests/conftest.py: skip locally, fail in CI
from vendorwatch.streams.kafka_io.topics import ALERTS_DLQ, EVENTS_DLQ
from vendorwatch.streams.worker import metrics

CONTRACT: dict[str, tuple[str, tuple[str, ...]]] = {
    "vendorwatch_vendor_risk_score": ("gauge", ("vendor",)),
    "vendorwatch_vendor_severity": ("gauge", ("vendor",)),
    "vendorwatch_vendor_data_at_stake_ratio": ("gauge", ("vendor",)),
    "vendorwatch_alerts_active": ("gauge", ("severity", "rule")),
    "vendorwatch_events_consumed_total": ("counter", ("topic",)),
    "vendorwatch_events_accepted_total": ("counter", ("type",)),
    "vendorwatch_events_rejected_total": ("counter", ("reason",)),
    "vendorwatch_events_rerouted_total": ("counter", ()),
    "vendorwatch_consumer_lag_messages": ("gauge", ("topic", "partition")),
    "vendorwatch_last_event_timestamp_seconds": ("gauge", ("topic", "partition")),
    "vendorwatch_last_commit_timestamp_seconds": ("gauge", ("topic", "partition")),
    "vendorwatch_score_publish_latency_seconds": ("histogram", ()),
    "vendorwatch_recovery_duration_seconds": ("gauge", ()),
    "vendorwatch_rebalances_total": ("counter", ()),
    "vendorwatch_dlq_messages_total": ("counter", ("topic",)),
    "vendorwatch_scores_published_total": ("counter", ()),
    "vendorwatch_unresolved_names_total": ("counter", ("kind",)),
    "vendorwatch_build_info": ("gauge", ("version", "policy_version")),
}
"""Name -> (type, labels) of every metric in streams/worker/metrics.py, as rules and dashboards use
it."""

LINT_LABEL = "promtool-lint"
"""Label value for the samples this test creates; removed again afterwards."""


def _module_metrics() -> dict[str, MetricWrapperBase]:
    """Every metric object defined in streams/worker/metrics.py, by exposed name."""
    found: dict[str, MetricWrapperBase] = {}
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            (family,) = value.describe()
            suffix = "_total" if family.type == "counter" else ""
            found[family.name + suffix] = value
    return found


def _type_of(metric: MetricWrapperBase) -> str:
    (family,) = metric.describe()
    return family.type


@pytest.fixture
def every_metric_sampled() -> Iterator[None]:
    """Give each streams metric one sample, then take the labelled ones away again."""
    created: list[tuple[MetricWrapperBase, tuple[str, ...]]] = []
    for name, metric in _module_metrics().items():
        kind, labels = CONTRACT[name]
        values = tuple(LINT_LABEL for _ in labels)
        child = metric.labels(*values) if labels else metric
        if labels:
            created.append((metric, values))
        if kind == "counter":
            child.inc()
        elif kind == "gauge":
            child.set(1)
        else:
            child.observe(0.2)
    yield
    for metric, values in created:
        metric.remove(*values)


def test_streams_metrics_match_the_contract() -> None:
    defined = _module_metrics()
    assert set(defined) == set(CONTRACT)
    for name, metric in defined.items():
        kind, labels = CONTRACT[name]
        assert _type_of(metric) == kind, name
        assert tuple(metric._labelnames) == labels, name


@pytest.mark.usefixtures("every_metric_sampled")
def test_promtool_check_metrics_reports_nothing() -> None:
    promtool = require_tool("promtool")
    exposition = generate_latest(REGISTRY)
    text = exposition.decode()
    for name in CONTRACT:
        assert f"\n{name}" in text, f"{name} has no sample in the exposition"
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = (result.stdout + result.stderr).decode()
    assert result.returncode == 0, report
    assert report.strip() == ""


def test_promtool_check_metrics_is_not_a_rubber_stamp() -> None:
    """The linter really runs: a badly named counter is reported."""
    promtool = require_tool("promtool")
    bad = b"# HELP vendorwatch_latency_ms x\n# TYPE vendorwatch_latency_ms counter\n"
    bad += b"vendorwatch_latency_ms 1\n"
    result = subprocess.run(
        [promtool, "check", "metrics"], input=bad, capture_output=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert b"_total" in result.stdout + result.stderr


def test_closed_label_sets_are_exported_at_zero() -> None:
    """Rejects and DLQ writes exist before the first one, so increase() sees the first one."""
    text = generate_latest(REGISTRY).decode()
    for reason in metrics.RejectReason:
        assert f'vendorwatch_events_rejected_total{{reason="{reason}"}}' in text
    for topic in (EVENTS_DLQ, ALERTS_DLQ):
        assert f'vendorwatch_dlq_messages_total{{topic="{topic}"}}' in text
    assert "_created" not in text.replace("process_", "")


def test_build_info_keeps_a_single_series() -> None:
    metrics.set_build_info("0.1.0", "policy-a")
    metrics.set_build_info("0.1.0", "policy-b")
    text = generate_latest(REGISTRY).decode()
    assert 'policy_version="policy-b"' in text
    assert 'policy_version="policy-a"' not in text


def test_forgetting_a_vendor_and_a_partition_drops_their_series() -> None:
    metrics.VENDOR_RISK_SCORE.labels(vendor="gone-vendor").set(50)
    metrics.set_vendor_severity("gone-vendor", "critical")
    metrics.CONSUMER_LAG.labels(topic="vendorwatch.events", partition="7").set(3)
    assert 'vendorwatch_vendor_severity{vendor="gone-vendor"} 4.0' in generate_latest().decode()
    metrics.forget_vendor("gone-vendor")
    metrics.forget_vendor("never-seen")  # no error for a vendor without series
    metrics.forget_partition("vendorwatch.events", 7)
    text = generate_latest(REGISTRY).decode()
    assert "gone-vendor" not in text
    assert 'partition="7"' not in text
