"""Every Grafana panel's query returns data from a real Prometheus scraping vendorwatch metrics.

A real ``prometheus`` (Debian's package) runs on a free loopback port with the repository's
deploy/prometheus/prometheus.yml and rules, only the worker discovery swapped for a static target
and the intervals cut to one second. It scrapes sample_metrics_server.py, which serves the real
metric registry with realistic samples. Each query of deploy/grafana/generate.py's
``panel_queries()`` is then evaluated through /api/v1/query, ``$vendor`` set to one vendor.

That proves the metric names, the recording rules and the dashboards agree end to end. Then the
same helpers (``running_prometheus``, ``wait_for_panels``) scrape a real worker that has scored
the demo scenario and delivered its alerts through a webhook that answered 429 and 500 first:
every panel must return data from it too.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import require_tool  # tests/conftest.py: skip locally, fail in CI
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .receivers import WEBHOOK_PATH, Reply, receiving
from .workers import demo_lines, produce, wait_for_demo_scored

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RULES = REPO / "deploy" / "prometheus" / "rules" / "vendorwatch.rules.yml"
WORKER_JOB = "vendorwatch-worker"
SAMPLE_SERVER = Path(__file__).with_name("sample_metrics_server.py")

pytestmark = pytest.mark.integration


def load_generator() -> ModuleType:
    """Import deploy/grafana/generate.py by path (deploy/ is not a Python package)."""
    name = "vendorwatch_grafana_generate"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "deploy" / "grafana" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prometheus_config(targets: Sequence[str], interval: str = "1s") -> dict[str, Any]:
    """deploy/prometheus/prometheus.yml with static worker targets and short intervals.

    Everything else (job name, metrics path, rule files) is the deployed configuration, so the
    test exercises what compose runs. Alertmanager and the other jobs have no host here.
    """
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    config["global"].update(
        {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval}
    )
    config.pop("alerting", None)
    config["rule_files"] = [str(PROMETHEUS_CONFIG.parent / p) for p in config["rule_files"]]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == WORKER_JOB]
    job.pop("dns_sd_configs")
    job["static_configs"] = [{"targets": list(targets)}]
    config["scrape_configs"] = [job]
    return config


@contextmanager
def running_prometheus(
    targets: Sequence[str], workdir: Path, binary: str | None = None
) -> Iterator[str]:
    """Start Prometheus scraping ``targets``; yields its base URL and stops it afterwards."""
    binary = binary or require_tool("prometheus")
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(prometheus_config(targets)), encoding="utf-8")
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _get(f"{base}/-/ready", quiet=True) is not None, 30, process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


@contextmanager
def sample_metrics_server() -> Iterator[str]:
    """Run sample_metrics_server.py in its own process; yields its host:port."""
    process = subprocess.Popen(
        [sys.executable, str(SAMPLE_SERVER)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening "):
            process.kill()
            _, err = process.communicate(timeout=10)
            raise AssertionError(f"sample metrics server did not start: {line}{err}")
        yield f"127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _get(url: str, quiet: bool = False) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        if quiet:
            return None
        raise


def api(base: str, path: str, **params: str) -> Any:
    """GET a Prometheus HTTP API path; returns ``data`` of a successful answer."""
    query = urllib.parse.urlencode(params)
    body = _get(f"{base}{path}?{query}")
    assert body is not None
    answer = json.loads(body)
    assert answer["status"] == "success", answer
    return answer["data"]


def instant_query(base: str, expr: str) -> list[dict[str, Any]]:
    """Evaluate ``expr`` now; returns the vector (a scalar comes back as one unlabelled sample)."""
    data = api(base, "/api/v1/query", query=expr)
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    return data["result"]


def has_finite_value(result: list[dict[str, Any]]) -> bool:
    """True when some sample is a real number (histogram_quantile of nothing gives NaN)."""
    return any(math.isfinite(float(sample["value"][1])) for sample in result)


def wait_until(
    predicate: Any, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``predicate`` every 0.25 s; fail after ``timeout`` s or when ``process`` dies."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.25)


PanelQuery = tuple[str, str, str]
"""(dashboard, panel title, PromQL expr)."""


def wait_for_panels(
    base: str,
    variables: Mapping[str, str],
    timeout: float = 60,
    required: Callable[[PanelQuery], bool] = lambda query: True,
    accept: Callable[[list[dict[str, Any]]], bool] = has_finite_value,
) -> dict[PanelQuery, list[dict[str, Any]]]:
    """Evaluate every panel query until the ``required`` ones are ``accept``-ed, or timeout.

    Keys are (dashboard, panel title, expr with the variables substituted). Returns the last
    result of every query; the caller asserts on the ones that stayed empty, so a failure lists
    every broken panel at once.
    """
    generate = load_generator()
    queries = [
        (dashboard, title, generate.substitute(expr, variables))
        for dashboard, title, expr in generate.panel_queries()
    ]
    deadline = time.monotonic() + timeout
    while True:
        results = {query: instant_query(base, query[2]) for query in queries}
        done = all(accept(r) for q, r in results.items() if required(q))
        if done or time.monotonic() > deadline:
            return results
        time.sleep(0.5)


def recorded_sources() -> dict[str, set[str]]:
    """Recording-rule name -> the raw metric families its expressions read."""
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    sources: dict[str, set[str]] = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                sources.setdefault(rule["record"], set()).update(raw_metrics(rule["expr"]))
    return sources


def raw_metrics(expr: str) -> set[str]:
    """Metric families (histogram suffixes stripped) an expression reads directly."""
    names = re.findall(r"(?<![:\w])((?:vendorwatch_[a-z_]+)|up)\b(?![:(])", expr)
    return {re.sub(r"_(bucket|sum|count)$", "", name) for name in names}


def panel_sources(expr: str) -> set[str]:
    """Raw metric families behind a panel query, through the recording rules it reads."""
    sources = raw_metrics(expr)
    for record, raw in recorded_sources().items():
        if re.search(rf"(?<![\w:]){re.escape(record)}(?![\w:])", expr):
            sources |= raw
    return sources


def exported_families(exposition: str) -> set[str]:
    """Metric families that have at least one sample in a Prometheus text exposition."""
    families = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name = re.split(r"[{\s]", line, maxsplit=1)[0]
            families.add(re.sub(r"_(bucket|sum|count)$", "", name))
    return families


def test_every_panel_query_returns_data(tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    with sample_metrics_server() as target, running_prometheus([target], tmp_path, binary) as base:
        wait_until(lambda: instant_query(base, f'up{{job="{WORKER_JOB}"}} == 1') != [], 30)
        results = wait_for_panels(base, {"vendor": "scale-ai"})

        empty = [f"{d} / {t}: {e}" for (d, t, e), r in results.items() if not has_finite_value(r)]
        assert empty == [], "panels without data:\n" + "\n".join(empty)

        # The $vendor variable's query, the way Grafana's label_values() asks for it.
        vendors = api(
            base, "/api/v1/label/vendor/values", **{"match[]": "vendorwatch_vendor_risk_score"}
        )
        assert "scale-ai" in vendors
        assert len(vendors) == 5

        # The variable narrows the per-vendor panels to that vendor.
        per_vendor = [r for (_, t, _), r in results.items() if t.endswith("$vendor")]
        assert per_vendor
        for result in per_vendor:
            assert {sample["metric"]["vendor"] for sample in result} == {"scale-ai"}

        # Every rule group loaded and evaluates without error against real series.
        groups = api(base, "/api/v1/rules")["groups"]
        assert {g["name"] for g in groups} == {
            "vendorwatch-domain-recording",
            "vendorwatch-pipeline-recording",
            "vendorwatch-pipeline-alerts",
            "vendorwatch-site",
        }
        broken = [
            (rule["name"], rule.get("lastError"))
            for group in groups
            for rule in group["rules"]
            if rule["health"] != "ok"
        ]
        assert broken == []


def test_severity_distribution_counts_every_vendor(tmp_path: Path) -> None:
    """The recorded distribution adds up to the vendors scraped, one band each."""
    binary = require_tool("prometheus")
    with sample_metrics_server() as target, running_prometheus([target], tmp_path, binary) as base:
        expr = "severity:vendorwatch_vendors:count"

        def bands() -> dict[str, float]:
            return {
                s["metric"]["severity"]: float(s["value"][1]) for s in instant_query(base, expr)
            }

        # Before the first scrape the rule records 0 for every band (`or vector(0)`).
        wait_until(lambda: sum(bands().values()) > 0, 30)
        assert bands() == {"info": 1, "low": 1, "medium": 1, "high": 1, "critical": 1}


WORKER_MUST_EXPORT = {
    "vendorwatch_vendor_risk_score",
    "vendorwatch_vendor_severity",
    "vendorwatch_vendor_data_at_stake_ratio",
    "vendorwatch_events_consumed_total",
    "vendorwatch_events_accepted_total",
    "vendorwatch_events_rejected_total",
    "vendorwatch_dlq_messages_total",
    "vendorwatch_last_event_timestamp_seconds",
    "vendorwatch_score_publish_latency_seconds",
    "vendorwatch_scores_published_total",
    "vendorwatch_recovery_duration_seconds",
    "vendorwatch_rebalances_total",
}
"""What a worker that has scored the demo scenario exports at the least (grow it, never shrink)."""


WORKER_WITH_SINK_EXPORTS = WORKER_MUST_EXPORT | {
    "vendorwatch_alerts_active",
    "vendorwatch_consumer_lag_messages",
    "vendorwatch_last_commit_timestamp_seconds",
    "vendorwatch_notifications_total",
    "vendorwatch_delivery_latency_seconds",
    "vendorwatch_delivery_retries_total",
    "vendorwatch_delivery_rate_limited_total",
}
"""What the same worker exports once its health sensor has run and its webhook sink has
delivered, after a 429 and a 500 (the delivery panels chart retries and rate limiting)."""


def test_panels_against_a_running_worker(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, tmp_path: Path
) -> None:
    """Every panel returns data, scraped from a real worker that has scored the demo scenario
    and delivered its alerts to a webhook that first answered 429, then 500.

    Each query is evaluated through Prometheus's HTTP API; an idle worker's quantiles may be
    NaN, so any sample counts as data.
    """
    binary = require_tool("prometheus")
    with receiving(path=WEBHOOK_PATH) as hook:
        hook.script(Reply(429, "slow down"), Reply(500, "boom"))
        sinks = {"VENDORWATCH_WEBHOOK_URL": hook.url, "VENDORWATCH_WEBHOOK_SECRET": "s" * 32}
        worker = worker_factory(fresh_kafka.bootstrap_servers, env=sinks)
        worker.wait_ready()
        produce(fresh_kafka.bootstrap_servers, topics.RAW, demo_lines())
        wait_for_demo_scored(worker)
        metrics_url = worker.base_url + "/metrics"
        url = urllib.parse.urlsplit(metrics_url)
        assert url.path == "/metrics", "the scrape job uses the default metrics path"

        def exported() -> set[str]:
            body = _get(metrics_url)
            return exported_families(body.decode()) if body is not None else set()

        try:
            wait_until(lambda: exported() >= WORKER_WITH_SINK_EXPORTS, 90)
        except AssertionError:
            missing = sorted(WORKER_WITH_SINK_EXPORTS - exported())
            raise AssertionError(f"the worker never exported {missing}") from None
        assert len(hook.answered(200)) >= 1, "the webhook got its alerts after the errors"
        unsourced = sorted(
            f"{d} / {t}"
            for d, t, e in load_generator().panel_queries()
            if not panel_sources(e) <= exported() | {"up"}
        )
        assert unsourced == [], "panels fed by metrics the worker does not export: " + "; ".join(
            unsourced
        )
        with running_prometheus([url.netloc], tmp_path, binary) as base:
            wait_until(lambda: instant_query(base, f'up{{job="{WORKER_JOB}"}} == 1') != [], 30)
            results = wait_for_panels(base, {"vendor": "scale-ai"}, timeout=60, accept=bool)

    empty = [f"{d} / {t}: {e}" for (d, t, e), r in results.items() if not r]
    assert empty == [], "panels without data from a live worker:\n" + "\n".join(empty)
    per_vendor = [r for (_, t, _), r in results.items() if t.endswith("$vendor")]
    for result in per_vendor:
        assert {sample["metric"]["vendor"] for sample in result} == {"scale-ai"}
