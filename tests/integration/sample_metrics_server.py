"""Serve vendorwatch's real metric registry on /metrics, with samples a busy worker would have.

Until the worker itself runs in the tests, this stands in for its /metrics endpoint so Prometheus
can scrape the real metric objects (names, types, labels, buckets) from streams/worker/metrics.py
and
alerts/metrics.py. Every scrape advances the counters and histograms a little, so rates and
quantiles are real numbers, not NaN.

Run as a program (a separate process, so the test's own registry stays untouched):
``python sample_metrics_server.py`` prints ``listening <port>`` once it accepts connections, then
serves until it is terminated. ``--port`` picks the port (default: any free one).
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from vendorwatch.streams.kafka_io import topics
from vendorwatch.streams.worker import metrics as m

VENDORS: dict[str, tuple[float, str, float]] = {
    "scale-ai": (86.5, "critical", 0.62),
    "handshake": (31.0, "low", 0.18),
    "appen": (44.0, "medium", 0.25),
    "turing": (12.5, "info", 0.05),
    "prolific": (67.0, "high", 0.33),
}
"""vendor -> (risk score, severity band, data at stake), after the demo scenario."""

EVENT_TYPES = ("vendor.registered", "data.shared", "ownership.stake_acquired", "client.paused")
SINKS = ("slack", "webhook", "alertmanager")
CONSUMED_TOPICS = (topics.RAW, topics.EVENTS, topics.SCORES)


def _delivery_metrics() -> tuple[Any, CollectorRegistry | None]:
    """alerts/metrics.py's collectors; a same-named stand-in only while that module is missing."""
    try:
        from vendorwatch.alerts import metrics as delivery
    except ImportError:
        registry = CollectorRegistry()
        return (
            SimpleNamespace(
                NOTIFICATIONS=Counter(
                    "vendorwatch_notifications_total",
                    "stand-in",
                    ["sink", "outcome"],
                    registry=registry,
                ),
                DELIVERY_LATENCY=Histogram(
                    "vendorwatch_delivery_latency_seconds", "stand-in", ["sink"], registry=registry
                ),
                RETRIES=Counter(
                    "vendorwatch_delivery_retries_total", "stand-in", ["sink"], registry=registry
                ),
                RATE_LIMITED=Counter(
                    "vendorwatch_delivery_rate_limited_total",
                    "stand-in",
                    ["sink"],
                    registry=registry,
                ),
            ),
            registry,
        )
    return delivery, None


class BusyWorker:
    """Moves the metrics the way a worker owning partitions 0-3 of every topic would."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        self.delivery, self.extra_registry = _delivery_metrics()
        self.lock = threading.Lock()
        self.ticks = itertools.count()
        m.set_build_info("0.1.0", "policy-3f2a9c")
        m.RECOVERY_DURATION.set(2.4)
        for vendor, (score, severity, at_stake) in VENDORS.items():
            m.VENDOR_RISK_SCORE.labels(vendor=vendor).set(score)
            m.set_vendor_severity(vendor, severity)
            m.VENDOR_DATA_AT_STAKE_RATIO.labels(vendor=vendor).set(at_stake)
        m.ALERTS_ACTIVE.labels(severity="critical", rule="competitor_stake").set(1)
        m.ALERTS_ACTIVE.labels(severity="high", rule="peer_clients_paused").set(1)
        m.ALERTS_ACTIVE.labels(severity="medium", rule="score_jump").set(0)

    def tick(self) -> None:
        """One scrape interval's worth of work."""
        with self.lock:
            n = next(self.ticks)
            now = time.time()
            rnd = self.random
            if n % 20 == 0:
                m.REBALANCES.inc()
            for topic in CONSUMED_TOPICS:
                m.EVENTS_CONSUMED.labels(topic=topic).inc(rnd.randint(5, 50))
                for partition in range(4):
                    labels = {"topic": topic, "partition": str(partition)}
                    m.CONSUMER_LAG.labels(**labels).set(rnd.randint(0, 30))
                    m.LAST_EVENT_TIMESTAMP.labels(**labels).set(now - rnd.uniform(0, 2))
                    m.LAST_COMMIT_TIMESTAMP.labels(**labels).set(now - rnd.uniform(0, 5))
            for event_type in EVENT_TYPES:
                m.EVENTS_ACCEPTED.labels(type=event_type).inc(rnd.randint(1, 10))
            for reason in m.RejectReason:
                m.EVENTS_REJECTED.labels(reason=reason).inc(rnd.randint(0, 2))
            m.EVENTS_REJECTED.labels(reason=m.RejectReason.SCHEMA).inc()
            m.DLQ_MESSAGES.labels(topic=topics.EVENTS_DLQ).inc(rnd.randint(1, 3))
            m.DLQ_MESSAGES.labels(topic=topics.ALERTS_DLQ).inc(rnd.randint(0, 1))
            for _ in range(20):
                m.SCORE_PUBLISH_LATENCY.observe(rnd.lognormvariate(-4.0, 1.0))
            m.SCORES_PUBLISHED.inc(20)
            d = self.delivery
            for sink in SINKS:
                d.NOTIFICATIONS.labels(sink=sink, outcome="delivered").inc(rnd.randint(1, 5))
                d.NOTIFICATIONS.labels(sink=sink, outcome="duplicate").inc(rnd.randint(0, 1))
                d.NOTIFICATIONS.labels(sink=sink, outcome="failed").inc(rnd.randint(0, 1))
                d.DELIVERY_LATENCY.labels(sink=sink).observe(rnd.uniform(0.05, 2.0))
                d.RETRIES.labels(sink=sink).inc(rnd.randint(0, 2))
                d.RATE_LIMITED.labels(sink=sink).inc(rnd.randint(0, 1))

    def exposition(self) -> bytes:
        """What /metrics returns: the default registry, plus the stand-in if one is in use."""
        body = generate_latest(REGISTRY)
        if self.extra_registry is not None:
            body += generate_latest(self.extra_registry)
        return body


def serve(port: int) -> None:
    """Serve /metrics on 127.0.0.1:port until terminated."""
    worker = BusyWorker()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            worker.tick()
            body = worker.exposition()
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    serve(parser.parse_args(argv).port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
