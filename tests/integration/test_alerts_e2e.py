"""Alerts end to end: a real worker subprocess on a real broker delivering to real local servers.

Delivery through the whole pipeline rather than one sink at a time: events go in
through `vendorwatch.events.raw`; the worker validates, scores, evaluates the rules, publishes
transitions to `vendorwatch.alerts`, groups them per vendor and delivers. What arrives is read
back from the receivers (a local HTTP server playing Slack, a signed-webhook receiver, the
Debian Alertmanager) and from `vendorwatch.alerts.dlq`.

Four workers' lives cover the six scenarios of the brief (each worker start costs seconds, so
sinks that can share a worker do, as they would in production): (a, f) Slack and the signed
webhook together, (b, e) Alertmanager next to a Slack that refuses every payload, (c) silences
across a restart, (d) kill -9 during a failing delivery.

Every "nothing (more) arrived" assertion waits for a positive sign first (another vendor's
message, the worker's `vendorwatch_alerts_active` gauge) and then a settle time longer than the
group wait plus Slack's one-message-per-second limit, so it cannot pass by looking too early.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.conftest import require_tool  # tests/conftest.py: skip locally, fail in CI
from vendorwatch.alerts.notification import Notification
from vendorwatch.alerts.sinks.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureError,
    verify_signature,
)
from vendorwatch.streams.core.policy import load_policy
from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .receivers import (
    SLACK_TOKEN,
    WEBHOOK_PATH,
    Receiver,
    Reply,
    Request,
    alertmanager,
    receiving,
)
from .workers import (
    VENDORWATCH,
    WorkerProcess,
    demo_lines,
    event_line,
    produce,
    read_topic,
    scenario_fold,
    wait_for_demo_scored,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.integration

DEMO_VENDORS = tuple(sorted({orjson.loads(line)["subject"] for line in demo_lines()}))
DEMO_RULES = {
    "competitor_stake",
    "score_jump",
    "key_person_to_competitor",
    "score_critical",
    "peer_pauses",
}
STAKE_EVENT = "demo-scale-ai-meta-stake"
SETTLE_S = 3.0
"""Longer than the default group wait (0.05 s) plus Slack's 1 s rate limit plus a margin: a
second (duplicate or split) message would have arrived by then."""
WEBHOOK_SECRET = "e2e-webhook-secret-3c9f1a7d"
ACTIVE = re.compile(r'^vendorwatch_alerts_active\{rule="([^"]+)",severity="([^"]+)"\} (\S+)$')
REF = re.compile(r"ref `([^`]+)`")


@pytest.fixture
def slack() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


def resumes() -> list[bytes]:
    """OpenAI and xAI resume work with Scale AI the day after OpenAI's pause. They arrive after
    the scenario's last events (stream time 2025-06-20 12:00), so the worker learns of them
    then: peer_pauses resolves at that instant, and score_jump, whose 7-day window has moved
    past the stake by then, resolves at the same time."""
    return [
        event_line(
            f"e2e-scale-ai-resumed-by-{client.lower()}",
            "client.resumed",
            "scale-ai",
            {"client": client, "reason": "Review finished"},
            f"2025-06-19T09:0{i}:00Z",
        )
        for i, client in enumerate(("OpenAI", "xAI"))
    ]


def quiet_vendor_alert(event_id: str, when: str) -> bytes:
    """Microsoft takes 20% of Handshake: an alert for a vendor nobody silenced (a control)."""
    return event_line(
        event_id,
        "ownership.stake_acquired",
        "handshake",
        {"investor": "Microsoft", "stake_pct": 20},
        when,
    )


def firing_after(lines: list[bytes]) -> dict[str, set[str]]:
    """vendor -> rules firing after these events, by the pure rules (what the worker must know)."""
    processor = scenario_fold(lines)
    return {v: set(a.firing) for v, a in processor.alerts.items() if a.firing}


def rule_counts(firing: dict[str, set[str]]) -> dict[str, float]:
    """rule -> how many vendors it fires for (the shape of the vendorwatch_alerts_active gauge)."""
    counts: dict[str, float] = {}
    for rules in firing.values():
        for rule in rules:
            counts[rule] = counts.get(rule, 0) + 1
    return counts


def vendors_named(request: Request) -> set[str]:
    """Demo vendor ids a Slack message is about (its status line shows the id in code)."""
    text = request.text()
    return {v for v in DEMO_VENDORS if f"`{v}`" in text}


def slack_ref(request: Request) -> str:
    """The notification's idempotency key, from the message's context line."""
    match = REF.search(request.text())
    assert match, request.text()[:500]
    return match.group(1)


def alerts_active(worker: WorkerProcess) -> dict[str, float]:
    """rule -> firing count, from the worker's /metrics (set after each notify batch)."""
    counts: dict[str, float] = {}
    for line in worker.get("/metrics").text.splitlines():
        match = ACTIVE.match(line)
        if match:
            counts[match.group(1)] = counts.get(match.group(1), 0) + float(match.group(3))
    return {rule: n for rule, n in counts.items() if n}


def settle(receiver: Receiver, seconds: float = SETTLE_S) -> list[Request]:
    time.sleep(seconds)
    return receiver.snapshot()


def start_with_sinks(
    factory: WorkerFactory,
    kafka: EmbeddedBroker,
    sinks: dict[str, str],
    *,
    name: str = "w1",
    web_port: int | None = None,
) -> WorkerProcess:
    """A ready worker whose sinks are set by environment, as in production
    (``{"VENDORWATCH_SLACK_WEBHOOK_URL": url}``)."""
    worker = factory(kafka.bootstrap_servers, name=name, env=sinks, web_port=web_port)
    worker.wait_ready()
    return worker


def restart(
    factory: WorkerFactory, kafka: EmbeddedBroker, old: WorkerProcess, sinks: dict[str, str]
) -> WorkerProcess:
    """The same worker again: same data dir (so its delivery ledger) and same web port."""
    return start_with_sinks(factory, kafka, sinks, name=old.data_dir.name, web_port=old.web_port)


# --- (a, f) Slack and the signed webhook: one message per incident, one when it resolves --------


def verifier(secret: str) -> Callable[[Request], str | None]:
    """What a receiver does (README): verify the raw body and timestamp before parsing."""

    def check(request: Request) -> str | None:
        try:
            verify_signature(
                secret,
                request.headers.get(TIMESTAMP_HEADER),
                request.headers.get(SIGNATURE_HEADER),
                request.body,
                now=time.time(),
            )
        except SignatureError as exc:
            return str(exc)
        return None

    return check


def test_slack_and_the_signed_webhook_get_one_message_for_scale_ai_then_the_resolution(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, slack: Receiver
) -> None:
    """Both sinks on one worker, as in production: delivered concurrently, each exactly once."""
    with receiving(path=WEBHOOK_PATH, check=verifier(WEBHOOK_SECRET)) as hook:
        sinks = {
            "VENDORWATCH_SLACK_WEBHOOK_URL": slack.url,
            "VENDORWATCH_WEBHOOK_URL": hook.url,
            "VENDORWATCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
        }
        worker = start_with_sinks(worker_factory, fresh_kafka, sinks)
        produce(fresh_kafka.bootstrap_servers, topics.RAW, demo_lines())
        wait_until(
            lambda: slack.snapshot() and hook.snapshot(),
            "a Slack message and a webhook call",
            timeout=30,
            describe=worker.describe,
        )
        wait_for_demo_scored(worker)
        received = settle(slack)

        # (a) exactly one Slack message, about scale-ai, saying why
        assert len(received) == 1, [r.text()[:300] for r in received]
        (page,) = received
        assert page.status == 200
        assert vendors_named(page) == {"scale-ai"}
        text = page.text()
        assert STAKE_EVENT in text
        assert "Meta" in text
        assert page.json()["blocks"][0]["text"]["text"].endswith("CRITICAL · Scale AI")
        assert all(f"*{rule}*" in text for rule in DEMO_RULES)
        assert "5 alerts firing" in text

        produce(fresh_kafka.bootstrap_servers, topics.RAW, resumes())
        wait_until(
            lambda: len(slack.snapshot()) >= 2 and len(hook.snapshot()) >= 2,
            "the resolution on both",
            timeout=30,
            describe=worker.describe,
        )
        received = settle(slack)
        calls = hook.snapshot()

    assert len(received) == 2, [r.text()[:300] for r in received]
    resolution = received[1]
    assert resolution.status == 200
    assert vendors_named(resolution) == {"scale-ai"}
    assert "✅ *peer_pauses* resolved at 2025-06-20 12:00 UTC" in resolution.text()
    assert "3 alerts firing" in resolution.text()
    assert slack_ref(resolution) != slack_ref(page)
    assert resolution.received_at - page.received_at >= 1.0  # never two a second per webhook

    # (f) the same two notifications reached the webhook, and every request verified
    assert [(r.verdict, r.status) for r in calls] == [(None, 200), (None, 200)]
    first, second = (Notification.from_json_bytes(r.body) for r in calls)
    assert first.vendor_id == "scale-ai"
    assert {a.rule for a in first.firing} == DEMO_RULES
    assert sorted(a.rule for a in second.resolved) == ["peer_pauses", "score_jump"]
    assert [first.idempotency_key, second.idempotency_key] == [
        slack_ref(page),
        slack_ref(resolution),
    ]
    for call, notification in zip(calls, (first, second), strict=True):
        assert call.headers[IDEMPOTENCY_HEADER] == notification.idempotency_key
        assert WEBHOOK_SECRET not in call.text()
    # the check is real: a wrong secret or one changed byte is refused
    call = calls[0]
    assert verifier("another-secret-of-16+chars")(call) == (
        "signature mismatch (wrong secret or modified body)"
    )
    tampered = Request(
        call.received_at, call.path, call.headers, call.body.replace(b"49", b"48", 1)
    )
    assert verifier(WEBHOOK_SECRET)(tampered) is not None


# --- (g) a slow sink for one vendor does not hold back another vendor's messages -----------------

SLACK_HOLD_S = 4.0
"""How long the Slack stand-in sits on its first answer (under the 10 s client timeout)."""


def test_a_slow_slack_answer_for_one_vendor_does_not_delay_another_vendors_webhook(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, slack: Receiver, tmp_path: Path
) -> None:
    """Two vendors alert in one notify batch (a 1 s group wait makes that certain). Slack holds
    its answer to the first message for 4 s; the signed webhook must get both vendors' messages
    at once, not the second one only after Slack has let go of the first."""
    raw = load_policy(None).model_dump(mode="json")
    raw["alerts"]["group_wait_seconds"] = 1.0
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(raw))
    slack.script(Reply(200, "ok", hold_s=SLACK_HOLD_S))
    vendors = ("alpha-labs", "beta-data")
    data = {"dataset": "d", "classification": "restricted", "records": 1_000_000}
    stakes = [
        line
        for vendor in vendors
        for line in (
            # competitor_stake needs data at stake: a vendor holding nothing of ours is no risk
            event_line(f"g-{vendor}-data", "data.shared", vendor, data, "2025-06-01T10:00:00Z"),
            event_line(
                f"g-{vendor}-stake",
                "ownership.stake_acquired",
                vendor,
                {"investor": "Microsoft", "stake_pct": 20},
                "2025-06-12T10:00:00Z",
            ),
        )
    ]
    with receiving(path=WEBHOOK_PATH, check=verifier(WEBHOOK_SECRET)) as hook:
        sinks = {
            "VENDORWATCH_SLACK_WEBHOOK_URL": slack.url,
            "VENDORWATCH_WEBHOOK_URL": hook.url,
            "VENDORWATCH_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "VENDORWATCH_POLICY": str(policy),
        }
        worker = start_with_sinks(worker_factory, fresh_kafka, sinks)
        produce(fresh_kafka.bootstrap_servers, topics.RAW, stakes)
        wait_until(
            lambda: len(slack.answered(200)) >= 2 and len(hook.snapshot()) >= 2,
            "both vendors on both sinks",
            timeout=30,
            describe=worker.describe,
        )
        calls = hook.snapshot()
        messages = slack.snapshot()

    assert sorted(orjson.loads(call.body)["vendor_id"] for call in calls) == sorted(vendors)
    assert [(call.verdict, call.status) for call in calls] == [(None, 200), (None, 200)]
    # the webhook did not wait for Slack's held answer (the old serial sends made it ~4 s)
    assert abs(calls[1].received_at - calls[0].received_at) < 1.0
    # Slack itself still got one message a second at most, the held one first
    assert len(messages) == 2
    assert messages[1].received_at - messages[0].received_at >= 1.0


# --- (b, e) Alertmanager gets the alerts and their resolution; Slack refuses them into the DLQ --


def am_alerts(base: str, vendor: str = "scale-ai") -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base}/api/v2/alerts",
        params={"active": "true", "silenced": "true", "filter": f'vendor="{vendor}"'},
        timeout=5,
    )
    response.raise_for_status()
    return [a for a in response.json() if a["status"]["state"] == "active"]


def test_alertmanager_gets_the_alerts_and_resolution_while_slack_refusals_go_to_the_dlq(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, slack: Receiver, tmp_path: Path
) -> None:
    """Sinks are independent: Slack answering `invalid_payload` (a permanent error) costs one
    DLQ record per notification and does not hold back Alertmanager."""
    binary = require_tool("prometheus-alertmanager")
    slack.answer_with(Reply(400, "invalid_payload"))
    bootstrap = fresh_kafka.bootstrap_servers
    with alertmanager(binary, tmp_path / "am") as am:
        sinks = {"VENDORWATCH_ALERTMANAGER_URL": am, "VENDORWATCH_SLACK_WEBHOOK_URL": slack.url}
        worker = start_with_sinks(worker_factory, fresh_kafka, sinks)
        produce(bootstrap, topics.RAW, demo_lines())
        active = wait_until(
            lambda: (a := am_alerts(am)) and len(a) == 5 and a,
            "five active scale-ai alerts in Alertmanager",
            timeout=30,
            describe=worker.describe,
        )
        # (b) what Alertmanager stores: our labels, the why, event time
        by_rule = {a["labels"]["rule"]: a for a in active}
        assert set(by_rule) == DEMO_RULES
        stake = by_rule["competitor_stake"]
        assert stake["labels"]["vendor"] == "scale-ai"
        assert stake["labels"]["severity"] == "critical"
        assert stake["labels"]["alertname"] == "competitor_stake"
        assert "Meta" in stake["annotations"]["summary"]
        assert STAKE_EVENT in stake["annotations"]["event_ids"]
        assert datetime.fromisoformat(stake["startsAt"]) == datetime(2025, 6, 12, 14, tzinfo=UTC)
        assert by_rule["peer_pauses"]["labels"]["severity"] == "high"
        for vendor in DEMO_VENDORS:
            if vendor != "scale-ai":
                assert am_alerts(am, vendor) == []

        # (e) the refused Slack message is in the alerts DLQ, with the reason and no URL
        (record,) = read_topic(bootstrap, topics.ALERTS_DLQ, timeout=30)
        assert len(slack.snapshot()) == 1  # permanent: not retried
        dead = orjson.loads(record.value)
        assert dead["sink"] == "slack"
        assert dead["vendor_id"] == "scale-ai"
        assert dead["attempts"] == 1
        assert "invalid_payload" in dead["reason"]
        assert "400" in dead["reason"]
        assert {a["rule"] for a in dead["notification"]["alerts"]} == DEMO_RULES
        assert record.key == b"scale-ai"
        for secret in (SLACK_TOKEN, slack.url, f"127.0.0.1:{slack.port}"):
            assert secret.encode() not in record.value
            assert secret not in worker.log_path.read_text(errors="replace")

        # (b) the resolution reaches Alertmanager
        produce(bootstrap, topics.RAW, resumes())
        still = wait_until(
            lambda: (a := am_alerts(am)) and len(a) == 3 and a,
            "peer_pauses and score_jump to resolve in Alertmanager",
            timeout=30,
            describe=worker.describe,
        )
        assert {a["labels"]["rule"] for a in still} == DEMO_RULES - {"peer_pauses", "score_jump"}
        everything = httpx.get(f"{am}/api/v2/alerts", timeout=5).json()
        peer = [a for a in everything if a["labels"].get("rule") == "peer_pauses"]
        assert all(a["status"]["state"] != "active" for a in peer)
        if peer:  # Alertmanager keeps a resolved alert a while; it ended when the worker
            # learnt of the resumes: the stream time of their arrival, 2025-06-20 12:00
            ends = datetime.fromisoformat(peer[0]["endsAt"])
            assert ends == datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
        assert len(read_topic(bootstrap, topics.ALERTS_DLQ, at_least=2, timeout=30)) == 2


# --- (c) silences: nothing for a silenced vendor, and the silence survives a restart -------------


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(
        [VENDORWATCH, *args], capture_output=True, check=False, timeout=60, env=worker_env()
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done


def test_a_silenced_vendor_gets_nothing_and_the_silence_survives_a_restart(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, slack: Receiver
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    added = cli(
        "silence", "add", "--vendor", "scale-ai", "--until", until,
        "--reason", "Board briefed on the Meta deal", "--bootstrap-servers", bootstrap,
    )  # fmt: skip
    silence_id = re.search(rb"silence (s-[0-9a-f]{12})", added.stdout)
    assert silence_id, added.stdout
    sinks = {"VENDORWATCH_SLACK_WEBHOOK_URL": slack.url}
    worker = start_with_sinks(worker_factory, fresh_kafka, sinks)
    lines = [*demo_lines(), quiet_vendor_alert("e2e-handshake-ms-stake", "2025-06-21T09:00:00Z")]
    firing = firing_after(lines)
    assert set(firing) == {"scale-ai", "handshake"}
    produce(bootstrap, topics.RAW, lines)
    # The positive signs: the control vendor's message arrived and the notifier has taken in
    # every firing alert of both vendors.
    wait_until(lambda: slack.snapshot(), "handshake's message", timeout=30)
    wait_until(
        lambda: alerts_active(worker) == rule_counts(firing),
        "the notifier to know every firing alert",
        timeout=30,
        describe=worker.describe,
    )
    received = settle(slack)
    assert [vendors_named(r) for r in received] == [{"handshake"}]

    worker.stop()
    listed = orjson.loads(cli("silence", "list", "--json", "--bootstrap-servers", bootstrap).stdout)
    assert [(s["id"], s["vendor_id"], s["state"]) for s in listed] == [
        (silence_id.group(1).decode(), "scale-ai", "active")
    ]
    assert listed[0]["reason"] == "Board briefed on the Meta deal"

    worker = restart(worker_factory, fresh_kafka, worker, sinks)
    # Resolving peer_pauses would notify scale-ai, and a key person leaving Handshake for Meta
    # notifies handshake: only the second may arrive if the restarted worker kept the silence.
    handshake_move = event_line(
        "e2e-handshake-cto-to-meta",
        "person.moved",
        "handshake",
        {
            "person": "Pat Doe",
            "role": "CTO",
            "from_org": "Handshake",
            "to_org": "Meta",
            "seniority": "executive",
        },
        "2025-06-21T10:00:00Z",
    )
    more = [*resumes(), handshake_move]
    firing = firing_after([*lines, *more])
    assert "peer_pauses" not in firing["scale-ai"]
    produce(bootstrap, topics.RAW, more)
    wait_until(lambda: len(slack.snapshot()) >= 2, "handshake's second message", timeout=30)
    wait_until(
        lambda: alerts_active(worker) == rule_counts(firing),
        "the restarted notifier to take in the peer_pauses resolution",
        timeout=30,
        describe=worker.describe,
    )
    received = settle(slack)
    assert [vendors_named(r) for r in received] == [{"handshake"}, {"handshake"}]


# --- (d) kill -9 mid-delivery: delivered exactly once overall ------------------------------------


def test_kill_9_during_a_failing_delivery_then_restart_delivers_exactly_once(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory, slack: Receiver
) -> None:
    # Slack holds the first request 3 s and answers 500; it keeps failing until the worker is
    # dead, so the only way to a 200 is the restarted worker re-reading the unacknowledged batch.
    slack.answer_with(Reply(500, "internal_error"))
    slack.script(Reply(500, "internal_error", hold_s=3.0))
    sinks = {"VENDORWATCH_SLACK_WEBHOOK_URL": slack.url}
    worker = start_with_sinks(worker_factory, fresh_kafka, sinks)
    produce(fresh_kafka.bootstrap_servers, topics.RAW, demo_lines())
    first = wait_until(
        lambda: slack.answered(500), "the held request to be answered 500", timeout=30
    )
    worker.kill()
    assert slack.answered(200) == []
    failed_refs = {slack_ref(r) for r in slack.snapshot()}
    assert failed_refs == {slack_ref(first[0])}  # every attempt was the same notification

    slack.answer_with(Reply())
    worker = restart(worker_factory, fresh_kafka, worker, sinks)
    wait_until(lambda: slack.answered(200), "the delivery after the restart", timeout=60)
    settle(slack)
    delivered = slack.answered(200)
    assert len(delivered) == 1, [r.text()[:200] for r in delivered]
    assert slack_ref(delivered[0]) in failed_refs  # the same notification, not a new one
    assert vendors_named(delivered[0]) == {"scale-ai"}
    assert "5 alerts firing" in delivered[0].text()
