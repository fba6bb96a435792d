"""The published contracts against real records: a real worker on a real broker scores the demo
scenario, rejects bad input, delivers to a Standard Webhooks receiver and fails to deliver to a
refusing Slack; `vendorwatch silence` adds and expires a silence. Every record on every topic
vendorwatch writes, and every webhook body, must validate against the committed JSON Schema."""

from __future__ import annotations

import base64
import subprocess
import time
from pathlib import Path
from typing import Any

import jsonschema
import orjson
from standardwebhooks import Webhook, WebhookVerificationError

from vendorwatch.streams.embedded.broker import EmbeddedBroker
from vendorwatch.streams.kafka_io import topics

from .conftest import WorkerFactory
from .receivers import SLACK_PATH, WEBHOOK_PATH, Reply, Request, receiving
from .workers import VENDORWATCH, demo_lines, produce, read_topic, wait_until, worker_env

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "json"
SECRET = "whsec_" + base64.b64encode(b"contract-test-secret-0123456789ab").decode()
EXPECTED = {
    topics.EVENTS: 20,
    topics.EVENTS_DLQ: 2,
    topics.SCORES: 5,
    topics.ALERTS: 5,
    topics.ALERTS_DLQ: 1,
    topics.SILENCES: 2,
}
"""At least this many records on each topic (the demo writes more than these minimums)."""


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = orjson.loads((SCHEMAS / name).read_bytes())
    return jsonschema.Draft202012Validator(schema)


def verified(request: Request) -> str | None:
    """A receiver written from the Standard Webhooks docs: the library checks the signature."""
    try:
        Webhook(SECRET).verify(request.body, request.headers)
    except WebhookVerificationError as exc:
        return str(exc)
    return None


def silence(bootstrap: str, *args: str) -> str:
    result = subprocess.run(
        [VENDORWATCH, "silence", *args, "--bootstrap-servers", bootstrap],
        capture_output=True,
        text=True,
        timeout=60,
        env=worker_env(),
        check=True,
    )
    return result.stdout


def test_every_record_and_webhook_body_matches_its_schema(
    fresh_kafka: EmbeddedBroker, worker_factory: WorkerFactory
) -> None:
    bootstrap = fresh_kafka.bootstrap_servers
    refusing = Reply(400, "invalid_payload")
    with (
        receiving(path=WEBHOOK_PATH, check=verified) as hook,
        receiving(path=SLACK_PATH, default=refusing) as slack,
    ):
        sinks = {
            "VENDORWATCH_WEBHOOK_URL": hook.url,
            "VENDORWATCH_WEBHOOK_SECRET": SECRET,
            "VENDORWATCH_SLACK_WEBHOOK_URL": slack.url,
        }
        worker = worker_factory(bootstrap, env=sinks)
        worker.wait_ready()
        produce(bootstrap, topics.RAW, [*demo_lines(), b'{"specversion": "1.0"', b"\xff\x00"])
        silence(
            bootstrap,
            "add",
            "--vendor",
            "acme",
            "--until",
            "2099-01-01T00:00:00Z",
            "--reason",
            "contract test",
        )
        listed = orjson.loads(silence(bootstrap, "list", "--json"))
        silence(bootstrap, "expire", listed[0]["id"])

        records: dict[str, list[Any]] = {}
        for topic, minimum in EXPECTED.items():
            records[topic] = read_topic(bootstrap, topic, at_least=minimum, timeout=45)
        deliveries = wait_until(lambda: hook.snapshot(), "a webhook delivery", timeout=30)
        time.sleep(0.5)
        deliveries = hook.snapshot()

    problems: list[str] = []
    for topic, found in records.items():
        check = validator(f"topics/{topic}.json")
        for record in found:
            for error in check.iter_errors(orjson.loads(record.value)):
                problems.append(f"{topic}@{record.partition}:{record.offset}: {error.message}")
    body = validator("webhook/notification.json")
    for delivery in deliveries:
        assert delivery.verdict is None, f"the library refused the signature: {delivery.verdict}"
        problems += [f"webhook body: {e.message}" for e in body.iter_errors(delivery.json())]
    assert not problems, "\n".join(problems[:20])
    assert {
        r["reason"] for r in map(lambda r: orjson.loads(r.value), records[topics.EVENTS_DLQ])
    } == {"invalid_json"}
