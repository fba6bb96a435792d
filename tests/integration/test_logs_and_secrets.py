"""Logs and secrets, end to end: a real worker, a real broker, real failing HTTP receivers.

One worker runs with every secret configured (Slack webhook URL, signed-webhook URL and HMAC key,
ingest token), each a distinctive random value. It scores the demo scenario, meets garbage and
half-valid events on the raw topic and over HTTP, refuses wrong tokens, and delivers alerts to
local receivers that fail the way real ones do (500s, then Slack's `invalid_payload`) and whose
error bodies even quote the secret request path. Then everything the worker let out is searched:
its whole log (stdout and stderr, every line must be JSON), `/metrics`, both DLQ topics and the
HTTP error responses. None may contain a secret, and the log lines must carry the ids an operator
searches by.

Why one long scenario instead of many small tests: leaks happen where paths cross (a retry's
reason quoting a response body, httpx logging the URL of a failed attempt, a DLQ record built
from an exception), so the secrets must travel the failure paths together, as in production.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .workers import (
    WorkerProcess,
    demo_lines,
    event_line,
    produce,
    read_topic,
    wait_for_demo_scored,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WorkerFactory = Callable[..., WorkerProcess]

SLACK_FAILURES_BEFORE_INVALID_PAYLOAD = 2
WEBHOOK_FAILURES_BEFORE_OK = 1


def _random(prefix: str) -> str:
    """A value that cannot occur in a log by accident (and is long enough to be registered)."""
    return f"{prefix}{secrets.token_hex(16)}"


@dataclass(frozen=True)
class Secrets:
    """The secrets of one run. `fragments` are what must never be seen, alone or in a URL."""

    slack_path: str
    webhook_path: str
    webhook_query: str
    webhook_secret: str
    ingest_token: str
    wrong_token: str
    fragments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def generate(cls) -> Secrets:
        team, channel, hook = _random("T"), _random("B"), _random("xoxhook")
        path = _random("/hooks/vw")
        query = f"key={_random('q')}"
        webhook_secret, ingest, wrong = _random("whsec"), _random("ingest"), _random("wrong")
        slack_path = f"/services/{team}/{channel}/{hook}"
        fragments = {
            "slack webhook path": slack_path,
            "slack team id": team,
            "slack channel id": channel,
            "slack hook token": hook,
            "webhook URL path": path,
            "webhook URL query": query,
            "webhook HMAC secret": webhook_secret,
            "ingest token": ingest,
            # a presented credential is never logged either: a near miss of the real token,
            # or the token of another environment, is as sensitive as the real one
            "wrong ingest token": wrong,
        }
        return cls(slack_path, path, query, webhook_secret, ingest, wrong, fragments)

    def leaks(self, text: str) -> list[str]:
        """Names of the fragments that occur in `text`."""
        return [name for name, value in self.fragments.items() if value in text]


@dataclass
class Receivers:
    """Local stand-ins for Slack and a webhook receiver, failing the way real ones do.

    Slack: the first requests get 500 with a body that quotes the request path (as a misbehaving
    proxy would), every later one 400 `invalid_payload` (permanent: the alert goes to the DLQ).
    Webhook: the first request gets 500, later ones 200 if the HMAC signature verifies.
    """

    secrets: Secrets
    port: int = 0
    received: list[tuple[str, int]] = field(default_factory=list)
    bad_signatures: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answered(self, path: str, status: int) -> int:
        with self.lock:
            return sum(1 for p, s in self.received if p == path and s == status)

    def reply(self, path: str, headers: Any, body: bytes) -> tuple[int, bytes]:
        s = self.secrets
        with self.lock:
            seen = sum(1 for p, _ in self.received if p == path)
            if path == s.slack_path:
                if seen < SLACK_FAILURES_BEFORE_INVALID_PAYLOAD:
                    status, text = 500, f"upstream error for POST {path}"
                else:
                    status, text = 400, "invalid_payload"
            elif path == f"{s.webhook_path}?{s.webhook_query}":
                timestamp = headers.get("X-Vendorwatch-Timestamp", "")
                mac = hmac.new(
                    s.webhook_secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
                )
                if headers.get("X-Vendorwatch-Signature") != f"sha256={mac.hexdigest()}":
                    self.bad_signatures += 1
                    status, text = 401, "bad signature"
                elif seen < WEBHOOK_FAILURES_BEFORE_OK:
                    status, text = 500, f"temporarily unavailable: {path}"
                else:
                    status, text = 200, "ok"
            else:
                status, text = 404, "no such hook"
            self.received.append((path, status))
        return status, text.encode()


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """The fake Slack and webhook receiver on one free loopback port, in a server thread."""
    state = Receivers(Secrets.generate())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, text = state.reply(self.path, self.headers, body)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's own output is not what is searched, but keep it clean."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# --- what the worker is fed -------------------------------------------------------------------

GARBAGE = b"{this is not json \x00\xff"
RAW_SCHEMA_INVALID = event_line(
    "logs-test-raw-bad-classification",
    "data.shared",
    "scale-ai",
    {"dataset": "x", "classification": "top-secret", "records": 10},
    "2025-06-20T00:00:00Z",
)
HTTP_VALID = orjson.loads(
    event_line(
        "logs-test-http-ok",
        "vendor.registered",
        "logs-test-vendor",
        {"name": "Logs Test Vendor"},
        "2025-06-20T00:00:00Z",
    )
)
HTTP_SCHEMA_INVALID = {**HTTP_VALID, "id": "logs-test-http-bad-time", "time": "yesterday"}
HTTP_UNKNOWN_TYPE = {**HTTP_VALID, "id": "logs-test-http-unknown", "type": "vendor.teleported"}

EXPECTED_REJECTIONS = Counter(
    {
        # (origin, reason, event_id or None)
        ("kafka", "invalid_json", None): 1,
        ("kafka", "schema", "logs-test-raw-bad-classification"): 1,
        ("http", "schema", "logs-test-http-bad-time"): 1,
        ("http", "unknown_type", "logs-test-http-unknown"): 1,
        ("http", "invalid_json", None): 1,
    }
)
"""One `event_rejected` line per bad input, no more: two on the raw topic, three over HTTP."""


def post_events(worker: WorkerProcess, token: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return worker.post("/events", content=body, headers=headers)


def response_text(response: httpx.Response) -> str:
    """Everything a client sees of a response: status line, headers and body."""
    head = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.status_code}\n{head}\n{response.text}"


def log_records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The worker's log as JSON objects, and every line that is not one."""
    records, bad = [], []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad.append(line.decode(errors="replace")[:300])
            continue
        if isinstance(record, dict) and {"event", "level", "timestamp"} <= record.keys():
            records.append(record)
        else:
            bad.append(line.decode(errors="replace")[:300])
    return records, bad


def named(records: list[dict[str, Any]], *events: str) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] in events]


def deliveries_concluded(path: Path) -> int | None:
    """How many notifications failed at Slack, once every firing alert is in a notification and
    every notification has a final delivery line per sink (None before that).

    A vendor's alerts can be split over two notifications when their transitions straddle a
    group wait, so the test waits for the log to say it is all over rather than for a count.
    """
    records = []
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(orjson.JSONDecodeError):  # the last line may be half written
            records.append(orjson.loads(line))
    records = [r for r in records if isinstance(r, dict)]
    fired = {
        r["fingerprint"] for r in named(records, "alert_transition") if r["status"] == "firing"
    }
    keys = {r["idempotency_key"] for r in named(records, "notification")}
    notified = {f for r in named(records, "notification") for f in r["fingerprints"]}
    final = named(records, "delivery.delivered", "delivery.failed", "delivery.duplicate")
    concluded = {(r["sink"], r["idempotency_key"]) for r in final}
    if not fired or not fired <= notified:
        return None
    if not {(sink, key) for sink in ("slack", "webhook") for key in keys} <= concluded:
        return None
    return sum(1 for r in final if r["sink"] == "slack" and r["event"] == "delivery.failed")


def lacking(record: dict[str, Any], *fields: str) -> list[str]:
    """The fields a log line should carry but does not (missing, null or empty)."""
    return [f for f in fields if record.get(f) in (None, "", [])]


# --- the test ---------------------------------------------------------------------------------


def secret_env(receivers: Receivers) -> dict[str, str]:
    """Every secret the worker knows, pointed at the local receivers."""
    s = receivers.secrets
    return {
        "VENDORWATCH_SLACK_WEBHOOK_URL": receivers.url(s.slack_path),
        "VENDORWATCH_WEBHOOK_URL": receivers.url(f"{s.webhook_path}?{s.webhook_query}"),
        "VENDORWATCH_WEBHOOK_SECRET": s.webhook_secret,
        "VENDORWATCH_INGEST_TOKEN": s.ingest_token,
    }


def test_logs_are_json_with_ids_and_secrets_never_leave_the_worker(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, receivers: Receivers
) -> None:
    s = receivers.secrets
    bootstrap = fresh_kafka.bootstrap_servers
    # No VENDORWATCH_LOG_FORMAT: the production default must be JSON on its own. Debug level,
    # so that the per-score `score_changed` lines are written (and checked) too.
    worker = worker_factory(
        bootstrap, env={**secret_env(receivers), "VENDORWATCH_LOG_LEVEL": "debug"}
    )
    worker.wait_ready()

    produce(bootstrap, topics.RAW, [*demo_lines(), GARBAGE, RAW_SCHEMA_INVALID])
    wait_for_demo_scored(worker)

    responses = {
        "no token": post_events(worker, None, orjson.dumps(HTTP_VALID)),
        "wrong token": post_events(worker, s.wrong_token, orjson.dumps(HTTP_VALID)),
        "invalid events": post_events(
            worker,
            s.ingest_token,
            orjson.dumps([HTTP_VALID, HTTP_SCHEMA_INVALID, HTTP_UNKNOWN_TYPE]),
        ),
        "not JSON": post_events(worker, s.ingest_token, b"[{'single': 'quotes'}"),
        "valid": post_events(worker, s.ingest_token, orjson.dumps(HTTP_VALID)),
    }
    statuses = {name: r.status_code for name, r in responses.items()}
    assert statuses == {
        "no token": 401,
        "wrong token": 401,
        "invalid events": 400,
        "not JSON": 400,
        "valid": 202,
    }
    wait_until(
        lambda: worker.get("/vendors/logs-test-vendor").status_code == 200,
        "the event posted over HTTP to be scored",
        describe=worker.describe,
    )

    # Delivery: Slack fails (500s, then invalid_payload) into the alerts DLQ, the webhook
    # recovers after one 500. Both are awaited, so the failure paths really ran.
    wait_until(
        lambda: receivers.answered(s.slack_path, 400) and receivers.answered(s.slack_path, 500),
        "Slack to be tried, fail with 500 and then answer invalid_payload",
        timeout=60,
        describe=worker.describe,
    )
    webhook = f"{s.webhook_path}?{s.webhook_query}"
    wait_until(
        lambda: receivers.answered(webhook, 500) and receivers.answered(webhook, 200),
        "the webhook to fail once and then take the notification",
        timeout=60,
        describe=worker.describe,
    )
    assert receivers.bad_signatures == 0, "the webhook was not signed with the configured secret"
    failed_to_slack = wait_until(
        lambda: deliveries_concluded(worker.log_path),
        "every alert notified and every notification's delivery concluded at both sinks",
        timeout=60,
        describe=worker.describe,
    )
    alerts_dlq = read_topic(bootstrap, topics.ALERTS_DLQ, at_least=failed_to_slack, timeout=60)
    events_dlq = read_topic(bootstrap, topics.EVENTS_DLQ, at_least=2, timeout=30)
    metrics_text = worker.get("/metrics").text
    assert "vendorwatch_notifications_total" in metrics_text

    # Stopped before the log is read: shutdown lines (Faust, aiokafka, mode) must be JSON too.
    assert worker.stop(timeout=30) == 0, worker.describe()
    records, not_json = log_records(worker.log_path)

    # 1. Every line the worker wrote (stdout and stderr) is one JSON object.
    assert not_json == [], f"{len(not_json)} log line(s) are not JSON objects:\n" + "\n".join(
        not_json[:10]
    )
    assert {r["logger"].split(".")[0] for r in records} >= {"vendorwatch"}
    assert records, "the worker logged nothing"

    # 2. Lines about an event or an alert carry the ids an operator searches by.
    scored = named(records, "score_changed")
    transitions = named(records, "alert_transition")
    notifications = named(records, "notification")
    deliveries = [r for r in records if str(r["event"]).startswith("delivery.")]
    assert len(scored) >= len(demo_lines()) // 2
    assert transitions, "no alert_transition line"
    assert notifications, "no notification line"
    assert deliveries, "no delivery line"
    for record in scored:
        assert lacking(record, "event_id", "vendor_id") == [], record
    for record in transitions:
        assert lacking(record, "event_id", "vendor_id", "fingerprint") == [], record
    for record in notifications + deliveries:
        wanted = ("vendor_id", "fingerprints", "event_ids", "idempotency_key")
        assert lacking(record, *wanted) == [], record
    for record in records:  # whatever the line, an alert's fingerprint comes with its vendor
        if "fingerprint" in record or "fingerprints" in record:
            assert lacking(record, "vendor_id") == [], record
    fired = {r["fingerprint"] for r in transitions if r["status"] == "firing"}
    notified = {f for r in notifications for f in r["fingerprints"]}
    assert fired <= notified, f"alerts without a notification line: {fired - notified}"
    outcomes = Counter((r["sink"], r["event"]) for r in deliveries)
    assert outcomes[("slack", "delivery.retry")] >= 1, outcomes
    assert outcomes[("slack", "delivery.failed")] >= 1, outcomes
    assert outcomes[("webhook", "delivery.retry")] >= 1, outcomes
    assert outcomes[("webhook", "delivery.delivered")] >= 1, outcomes
    for record in named(records, "delivery.failed"):
        assert "invalid_payload" in record["reason"], record

    # 3. Exactly one `event_rejected` line per bad input, with its reason and origin.
    rejected = named(records, "event_rejected")
    seen = Counter((r.get("origin"), r.get("reason"), r.get("event_id")) for r in rejected)
    assert seen == EXPECTED_REJECTIONS, rejected
    for record in rejected:
        assert record["level"] == "warning", record
        assert lacking(record, "reason", "error") == [], record
        if record["origin"] == "kafka":
            assert record["topic"] == topics.RAW, record
            assert lacking(record, "partition", "offset") == [], record
        if record.get("event_id"):
            assert lacking(record, "vendor_id") == [], record
    origins = {
        (d["origin"]["partition"], d["origin"]["offset"], d["reason"])
        for d in (orjson.loads(m.value) for m in events_dlq)
    }
    logged = {(r["partition"], r["offset"], r["reason"]) for r in rejected if "offset" in r}
    assert logged == origins, "the log lines and the DLQ records must point at the same inputs"
    refused = named(records, "ingest_unauthorized")
    assert sorted(r["reason"] for r in refused) == ["no_bearer_token", "wrong_token"], refused

    # 4. No secret anywhere: log, metrics, both DLQs, HTTP error responses.
    places = {
        "the worker log": worker.log_path.read_text(encoding="utf-8", errors="replace"),
        "/metrics": metrics_text,
        topics.EVENTS_DLQ: "\n".join(m.value.decode(errors="replace") for m in events_dlq),
        topics.ALERTS_DLQ: "\n".join(m.value.decode(errors="replace") for m in alerts_dlq),
        **{
            f"HTTP response ({name})": response_text(r)
            for name, r in responses.items()
            if r.status_code >= 400
        },
    }
    found = {where: s.leaks(text) for where, text in places.items() if s.leaks(text)}
    assert found == {}, f"secrets leaked: {found}"
    # the DLQ records were really built from the failed Slack deliveries
    sinks = {orjson.loads(m.value)["sink"] for m in alerts_dlq}
    assert sinks == {"slack"}, sinks


def test_library_lines_are_json_too_at_debug_level_and_through_a_broker_outage(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, receivers: Receivers
) -> None:
    """Faust, mode, aiokafka, httpx and httpcore write through the same JSON formatter.

    At the production level (info) those libraries say little, so this worker runs at debug,
    where they say most (httpcore describes every request it sends to the secret URLs), and
    then loses its broker, which makes aiokafka log connection errors in bulk. Every line must
    still be a JSON object, and none may carry a secret.
    """
    s = receivers.secrets
    worker = worker_factory(
        fresh_kafka.bootstrap_servers,
        env={**secret_env(receivers), "VENDORWATCH_LOG_LEVEL": "debug"},
    )
    worker.wait_ready()
    produce(fresh_kafka.bootstrap_servers, topics.RAW, [*demo_lines(), GARBAGE])
    wait_for_demo_scored(worker)
    wait_until(
        lambda: receivers.answered(s.slack_path, 400),
        "Slack to be tried until it answers invalid_payload",
        timeout=60,
        describe=worker.describe,
    )
    size = worker.log_path.stat().st_size
    fresh_kafka.stop()  # the outage
    wait_until(
        lambda: b'"aiokafka' in worker.log_path.read_bytes()[size:],
        "aiokafka to complain about the lost broker",
        describe=worker.describe,
    )
    worker.kill()  # its shutdown without a broker is not what this test is about

    records, not_json = log_records(worker.log_path)
    assert not_json == [], f"{len(not_json)} log line(s) are not JSON objects:\n" + "\n".join(
        not_json[:10]
    )
    libraries = {str(r.get("logger", "")).split(".")[0] for r in records}
    assert libraries >= {"faust", "mode", "aiokafka", "httpx", "httpcore", "vendorwatch"}, libraries
    text = worker.log_path.read_text(encoding="utf-8", errors="replace")
    assert s.leaks(text) == [], f"secrets in the debug log: {s.leaks(text)}"
