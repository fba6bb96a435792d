"""`/metrics` of a real worker that scored the demo scenario, checked number by number.

tests/deploy/test_metrics_conventions.py checks the *definitions* (names, labels, promtool on the
registry inside pytest). This checks the *wiring*: that the agents, the health sensor and the
HTTP API move the right series by the right amount on a real worker, and that the exposition a
Prometheus would scrape from it passes `promtool check metrics` with nothing reported. Expected
values come from the input itself (the demo file, the topics, the API's scores and alerts), not
from numbers copied out of an earlier run.

Counters and gauges are updated by different agents at different moments, so the test first
waits until the worker has *settled* (everything fed in consumed, lag 0, the alert gauge caught
up with the alerts topic) and then checks one scrape as a whole.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool  # tests/conftest.py: skip locally, fail in CI
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .workers import (
    INGEST_TOKEN,
    PARTITIONS,
    WorkerProcess,
    demo_lines,
    event_line,
    fresh_broker,
    produce,
    read_topic,
    require_tansu,
    start_worker,
    wait_for_demo_scored,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GARBAGE = b"\x00 definitely { not an event"
HTTP_EVENT = event_line(
    "metrics-test-http-registered",
    "vendor.registered",
    "metrics-test-vendor",
    {"name": "Metrics Test Vendor"},
    "2025-06-20T00:00:00Z",
)
CONSUMED_TOPICS = (topics.RAW, topics.ALERTS)
"""Topics the worker's agents consume: raw (validate and score), alerts (notify)."""
RECENT_S = 120.0

WorkerFactory = Callable[..., WorkerProcess]
Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


def scrape(worker: WorkerProcess) -> tuple[str, Samples]:
    """The exposition text and its samples keyed by (sample name, labels)."""
    text = worker.get("/metrics").text
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def series(samples: Samples, name: str) -> dict[Labels, float]:
    """Every series of a sample name, by label set."""
    return {labels: v for (n, labels), v in samples.items() if n == name}


def by(samples: Samples, name: str, *labels: str) -> dict[tuple[str, ...], float]:
    """The series of `name` keyed by the values of `labels`, e.g. by(s, m, "topic")."""
    return {
        tuple(dict(ls)[label] for label in labels): v for ls, v in series(samples, name).items()
    }


def firing_alerts(worker: WorkerProcess) -> dict[tuple[str, ...], float]:
    """(severity, rule) -> count of firing alerts over all vendors, as the HTTP API shows them."""
    counts: Counter[tuple[str, ...]] = Counter()
    for vendor in worker.get_json("/vendors"):
        for alert in worker.get_json(f"/vendors/{vendor['vendor_id']}")["alerts"]:
            if alert["status"] == "firing":
                counts[(alert["severity"], alert["rule"])] += 1
    return {key: float(n) for key, n in counts.items()}


@dataclass
class Fed:
    """A worker that scored the demo, took a garbage message and one event over HTTP."""

    worker: WorkerProcess
    bootstrap: str
    raw_messages: int


def feed(worker: WorkerProcess, bootstrap: str) -> Fed:
    """One garbage message on the raw topic and one valid event over HTTP (which the API
    validates and puts on the raw topic), on top of the scored demo scenario."""
    produce(bootstrap, topics.RAW, [GARBAGE])
    response = worker.post(
        "/events",
        content=HTTP_EVENT,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code == 202, response.text
    return Fed(worker, bootstrap, len(demo_lines()) + 2)


@pytest.fixture(scope="module")
def fed_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    """A fed worker shared by the tests that only scrape it (a worker start costs seconds)."""
    require_tansu()
    with fresh_broker() as broker:
        worker = start_worker(broker.bootstrap_servers, tmp_path_factory.mktemp("fed"))
        try:
            worker.wait_ready()
            produce(broker.bootstrap_servers, topics.RAW, demo_lines())
            wait_for_demo_scored(worker)
            yield feed(worker, broker.bootstrap_servers)
        finally:
            worker.stop()


@pytest.fixture
def fed(fresh_kafka: EmbeddedBroker, running_worker: WorkerProcess) -> Fed:
    """A fed worker of the test's own, for a test that changes more than it reads."""
    return feed(running_worker, fresh_kafka.bootstrap_servers)


def settle(fed: Fed) -> tuple[str, Samples]:
    """Wait until the worker has consumed and committed everything and its alert gauge agrees
    with the alerts topic; return that scrape."""
    worker = fed.worker
    last: dict[str, Samples] = {"samples": {}}

    def consumed() -> dict[tuple[str, ...], float]:
        return by(scrape(worker)[1], "vendorwatch_events_consumed_total", "topic")

    def describe() -> str:
        keep = ("consumed", "lag", "alerts_active", "commit")
        lines = [
            f"{n} {dict(ls)} {v}"
            for (n, ls), v in last["samples"].items()
            if any(k in n for k in keep)
        ]
        return "last scrape:\n" + "\n".join(sorted(lines)) + "\n" + worker.describe()

    wait_until(
        lambda: consumed().get((topics.RAW,)) == fed.raw_messages,
        "the raw topic to be consumed",
        timeout=60,
        describe=worker.describe,
    )
    # Every event is scored now, so every alert transition is on the alerts topic.
    transitions = len(read_topic(fed.bootstrap, topics.ALERTS, at_least=1))

    def settled() -> tuple[str, Samples] | None:
        text, samples = scrape(worker)
        last["samples"] = samples
        counts = by(samples, "vendorwatch_events_consumed_total", "topic")
        lag = series(samples, "vendorwatch_consumer_lag_messages")
        active = {
            k: v
            for k, v in by(samples, "vendorwatch_alerts_active", "severity", "rule").items()
            if v
        }
        if counts.get((topics.ALERTS,)) != transitions:
            return None
        if not lag or any(lag.values()) or active != firing_alerts(worker):
            return None
        # committed after the last message it processed, on every partition (commits trail
        # processing by up to Faust's commit interval, and lag is only refreshed on commits)
        events = by(samples, "vendorwatch_last_event_timestamp_seconds", "topic", "partition")
        commits = by(samples, "vendorwatch_last_commit_timestamp_seconds", "topic", "partition")
        if any(commits.get(key, 0.0) < stamp for key, stamp in events.items()):
            return None
        return text, samples

    return wait_until(
        settled,
        "lag 0, everything committed and the alert gauge in line with the topic",
        timeout=60,
        describe=describe,
    )


def test_live_metrics_match_what_the_worker_did(fed_once: Fed) -> None:
    fed = fed_once
    _, samples = settle(fed)
    worker, now = fed.worker, time.time()

    # Throughput counters, from the input itself.
    accepted = by(samples, "vendorwatch_events_accepted_total", "type")
    expected = Counter(orjson.loads(line)["type"] for line in demo_lines())
    expected["vendor.registered"] += 1  # the one posted over HTTP
    assert accepted == {(t,): float(n) for t, n in expected.items()}
    rejected = by(samples, "vendorwatch_events_rejected_total", "reason")
    assert rejected.pop(("invalid_json",)) == 1
    assert set(rejected.values()) == {0}, rejected  # the other reasons exist, at 0
    dlq = by(samples, "vendorwatch_dlq_messages_total", "topic")
    assert dlq == {(topics.EVENTS_DLQ,): 1, (topics.ALERTS_DLQ,): 0}

    # Domain gauges agree with the API, which reads the scores topic.
    scores = by(samples, "vendorwatch_vendor_risk_score", "vendor")
    api = {(v["vendor_id"],): v["score"] for v in worker.get_json("/vendors")}
    assert scores == api
    scale = worker.get_json("/vendors/scale-ai")
    assert scores[("scale-ai",)] == scale["score"]
    assert by(samples, "vendorwatch_vendor_severity", "vendor")[("scale-ai",)] == 4  # critical
    build = by(samples, "vendorwatch_build_info", "policy_version")
    assert build == {(scale["policy_version"],): 1}

    # Active alerts: exactly what the API shows firing (settle waited for that); scale-ai's
    # rules are among them.
    active = by(samples, "vendorwatch_alerts_active", "severity", "rule")
    scale_rules = {a["rule"] for a in scale["alerts"] if a["status"] == "firing"}
    assert scale_rules, "the demo makes scale-ai fire alerts"
    assert scale_rules <= {rule for (_, rule), v in active.items() if v > 0}

    # Pipeline health: lag of every consumed partition present and 0; commits and the last
    # event of the input topic recent. Every message came keyed by vendor: none re-routed.
    assert by(samples, "vendorwatch_events_rerouted_total")[()] == 0
    lag = by(samples, "vendorwatch_consumer_lag_messages", "topic", "partition")
    wanted = {(t, str(p)) for t in CONSUMED_TOPICS for p in range(PARTITIONS)}
    assert wanted <= set(lag), wanted - set(lag)
    assert set(lag.values()) == {0}
    # The commit clock starts at assignment: every assigned partition has one, idle ones too.
    commits = by(samples, "vendorwatch_last_commit_timestamp_seconds", "topic", "partition")
    assert wanted <= set(commits), wanted - set(commits)
    for name in (
        "vendorwatch_last_commit_timestamp_seconds",
        "vendorwatch_last_event_timestamp_seconds",
    ):
        stamps = by(samples, name, "topic", "partition")
        assert topics.RAW in {t for t, _ in stamps}, (name, stamps)
        for key, stamp in stamps.items():
            assert now - RECENT_S < stamp <= now + 1, (name, key, now - stamp)

    # Every score an event caused observed its event-to-score latency; a score a deadline
    # published (decay across a band, an alert ending on time) has no event to measure from.
    published = by(samples, "vendorwatch_scores_published_total")[()]
    latency = by(samples, "vendorwatch_score_publish_latency_seconds_count")[()]
    records = [orjson.loads(r.value) for r in read_topic(fed_once.bootstrap, topics.SCORES)]
    by_events = [r for r in records if not r["caused_by"].startswith("time:")]
    assert published == len(records) > 0
    assert latency == len(by_events)


def test_live_exposition_passes_promtool_check_metrics(fed_once: Fed) -> None:
    """What Prometheus scrapes from a running worker (every family populated, vendors and
    partitions labelled) is clean: `promtool check metrics` reports nothing at all.
    (tests/deploy/test_metrics_conventions.py shows that promtool does flag a bad exposition.)"""
    promtool = require_tool("promtool")
    text, samples = settle(fed_once)
    assert series(samples, "vendorwatch_vendor_risk_score"), "scraped before scoring"
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    report = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0, report
    assert report.strip() == "", report


def test_pipeline_gauges_come_back_after_a_rebalance(
    fed: Fed, worker_factory: WorkerFactory
) -> None:
    """A second worker joins and leaves; the first gets every partition back, and its lag and
    last-commit series must cover them all again, idle ones included.

    Every rebalance revokes all partitions and drops their gauges. A partition that gets no new
    message afterwards is still committed (its offset is known from the group), and the
    "consumer stuck" alert needs its commit series: it must be exported again, not stay absent
    until the next message.
    """
    _, before = settle(fed)
    worker = fed.worker
    committed_before = set(
        by(before, "vendorwatch_last_commit_timestamp_seconds", "topic", "partition")
    )
    assert {t for t, _ in committed_before} >= {topics.RAW, topics.ALERTS}
    rebalances = by(before, "vendorwatch_rebalances_total")[()]

    def rebalanced_since(count: float) -> float | None:
        now = by(scrape(worker)[1], "vendorwatch_rebalances_total")[()]
        return now if now > count else None

    second = worker_factory(fed.bootstrap, name="w2")
    second.wait_ready()
    rebalances = wait_until(
        lambda: rebalanced_since(rebalances),
        "the first worker to rebalance when the second joins",
        timeout=60,
        describe=worker.describe,
    )
    assert second.stop(timeout=30) == 0
    wait_until(
        lambda: rebalanced_since(rebalances),
        "the first worker to rebalance when the second leaves",
        timeout=60,
        describe=worker.describe,
    )

    def all_back() -> Samples | None:
        samples = scrape(worker)[1]
        lag = set(by(samples, "vendorwatch_consumer_lag_messages", "topic", "partition"))
        commits = set(
            by(samples, "vendorwatch_last_commit_timestamp_seconds", "topic", "partition")
        )
        wanted_lag = {(t, str(p)) for t in CONSUMED_TOPICS for p in range(PARTITIONS)}
        return samples if wanted_lag <= lag and wanted_lag <= commits else None

    samples = wait_until(
        all_back,
        "lag and commit series for every partition again",
        timeout=60,
        describe=worker.describe,
    )
    now = time.time()
    for key, stamp in by(
        samples, "vendorwatch_last_commit_timestamp_seconds", "topic", "partition"
    ).items():
        assert now - RECENT_S < stamp <= now + 1, (key, now - stamp)
